"""A bounded, first-come-first-served gate in front of model generation.

A 1.5B model on two cores answers one question in ~20 s; requests beyond what it can serve
must not pile up until clients time out or memory runs out. The gate holds at most
``generation_concurrency`` generations at once and ``generation_queue`` waiting ones (in
arrival order); a request that finds the queue full, or waits longer than
``generation_wait_s``, gets :class:`GateBusy` — HTTP 429 with ``Retry-After`` in the API, a
"busy, retry" message in the UI. ``Retry-After`` is estimated from the recent generation times
and the position in the queue.

Handlers are plain ``def`` run in worker threads, so the gate is a ``threading.Condition``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

DEFAULT_HOLD_S = 20.0
"""Generation time assumed before any was measured (the local model on two cores)."""
SMOOTHING = 0.3


class GateBusy(RuntimeError):
    """No generation slot: the queue is full or the wait ran out."""

    def __init__(self, reason: str, retry_after: int, queued: int):
        super().__init__(reason)
        self.retry_after = retry_after
        self.queued = queued


@dataclass
class GateStats:
    active: int
    waiting: int
    capacity: int
    queue: int
    mean_hold_s: float


class Ticket:
    """One request's place: waiting in the queue, then holding a slot until released."""

    def __init__(self, gate: GenerationGate):
        self._gate = gate
        self.granted = False
        self.released = False
        self.granted_at = 0.0

    @property
    def position(self) -> int:
        """1 = next to get a slot; 0 once holding one."""
        return self._gate.position(self)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for a slot; True when it is held."""
        return self._gate._wait(self, timeout)

    def release(self) -> None:
        self._gate._release(self)


class GenerationGate:
    def __init__(self, capacity: int, queue: int, wait_s: float):
        self.capacity = capacity
        self.queue = queue
        self.wait_s = wait_s
        self._cond = threading.Condition()
        self._active = 0
        self._waiting: deque[Ticket] = deque()
        self._mean_hold: float | None = None

    def stats(self) -> GateStats:
        with self._cond:
            return GateStats(
                self._active, len(self._waiting), self.capacity, self.queue, self.mean_hold_s
            )

    @property
    def mean_hold_s(self) -> float:
        """Recent seconds per generation (smoothed); a default until one was measured."""
        return DEFAULT_HOLD_S if self._mean_hold is None else self._mean_hold

    def retry_after(self, position: int) -> int:
        """Seconds until about ``position`` more slots free up (at least 1)."""
        return max(1, math.ceil(self.mean_hold_s * max(position, 1) / self.capacity))

    def join(self) -> Ticket:
        """A slot at once if one is free and nobody waits, else a place in the queue;
        :class:`GateBusy` when the queue is full."""
        ticket = Ticket(self)
        with self._cond:
            if self._active < self.capacity and not self._waiting:
                self._grant(ticket)
                return ticket
            if len(self._waiting) >= self.queue:
                ahead = len(self._waiting) + 1
                raise GateBusy(
                    f"the assistant is busy ({self._active} answers being written, "
                    f"{len(self._waiting)} waiting); retry later",
                    self.retry_after(ahead),
                    len(self._waiting),
                )
            self._waiting.append(ticket)
            return ticket

    def acquire(self) -> Ticket:
        """A held slot (release it!), waiting up to ``wait_s``; :class:`GateBusy` otherwise."""
        ticket = self.join()
        if not ticket.wait(self.wait_s):
            position = self._give_up(ticket)
            if position == 0:  # granted just as the wait ran out
                return ticket
            raise GateBusy(
                f"the assistant is busy: no answer slot within {self.wait_s:g} s; retry later",
                self.retry_after(position),
                position,
            )
        return ticket

    @contextmanager
    def slot(self) -> Iterator[Ticket]:
        """Hold a slot for the ``with`` block; :class:`GateBusy` if none comes in time."""
        ticket = self.acquire()
        try:
            yield ticket
        finally:
            ticket.release()

    # -- internals (all under self._cond) -------------------------------------------------
    def position(self, ticket: Ticket) -> int:
        with self._cond:
            if ticket.granted:
                return 0
            try:
                return self._waiting.index(ticket) + 1
            except ValueError:
                return 0

    def _grant(self, ticket: Ticket) -> None:
        ticket.granted = True
        ticket.granted_at = time.monotonic()
        self._active += 1

    def _wait(self, ticket: Ticket, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: ticket.granted, timeout)

    def _give_up(self, ticket: Ticket) -> int:
        """Leave the queue; the position it had (0: it was granted meanwhile, kept)."""
        with self._cond:
            if ticket.granted:
                return 0
            position = self._waiting.index(ticket) + 1
            ticket.released = True
            self._waiting.remove(ticket)
            self._cond.notify_all()
            return position

    def _release(self, ticket: Ticket) -> None:
        with self._cond:
            if ticket.released:
                return
            ticket.released = True
            if ticket.granted:
                self._active -= 1
                held = time.monotonic() - ticket.granted_at
                prior = held if self._mean_hold is None else self._mean_hold
                self._mean_hold = (1 - SMOOTHING) * prior + SMOOTHING * held
            else:
                self._waiting.remove(ticket)
            while self._waiting and self._active < self.capacity:
                self._grant(self._waiting.popleft())
            self._cond.notify_all()
