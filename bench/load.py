"""Load test of the real server: concurrent search clients, then a chat burst past the model.

``python -m bench.load`` (full: 32 clients for 60 s) or ``--clients/--duration`` for shorter
runs; ``tests/test_load.py`` runs a reduced form (32 clients x 10 s) in CI.

What it does, all on 127.0.0.1:

1. ingests a small real corpus (a PDF, a .txt, a .md from ``../shared/corpus``) into a fresh
   data dir with ``s3assist ingest``;
2. starts ``s3assist``'s app with uvicorn in a subprocess (``python -m bench.load serve``),
   waits for ``/health`` and warms the models with one search;
3. **search load**: N asyncio clients (httpx) each send ``GET /search`` back to back for D
   seconds; every status other than 200 or a transport error counts as an error; latency
   p50/p95/p99; the server's RSS is sampled every 0.5 s (psutil);
4. **chat burst**: more concurrent ``POST /v1/chat/completions`` with a model backend than the
   generation gate admits (capacity + queue + extra): the admitted ones answer (200), the rest
   get 429 with ``Retry-After`` at once; one refused client then waits ``Retry-After`` and
   retries (200).

The model backend of the burst is the real local GGUF model with ``--real-llm`` (~20 s per
answer on 2 cores); by default it is a paced generator behind the same ``Generator``
interface (``PacedGenerator``: sleeps ``--generation-s`` and answers with the first source
sentence), so the gate is exercised in seconds without loading a 1.5 GiB model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
CORPUS_FILES = (
    "guidance/OnlineS3_2.4_Benchmarking_Case_Study.pdf",
    "guidance/OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt",
    "guidance/S3CoP_Clusters_Interregional_Cooperation_slides.md",
)
QUERIES = (
    "benchmarking regions with similar structural conditions",
    "stakeholder engagement in the entrepreneurial discovery process",
    "interregional cooperation of clusters",
    "which variables were compared in the Düsseldorf case study",
    "quadruple helix involvement of civil society",
    "monitoring indicators for smart specialisation",
    "how to select regions for benchmarking",
    "cluster organisations and value chains",
    "Wie beteiligt man Interessengruppen?",
    "coopération interrégionale des clusters",
    "focus groups with businesses and researchers",
    "lessons learned from the case study",
)
CHAT_QUESTION = "How should a region engage stakeholders in its smart specialisation strategy?"
RESULTS = REPO / "bench" / "results"


@dataclass
class LoadConfig:
    clients: int = 32
    duration_s: float = 60.0
    burst_extra: int = 4
    generation_s: float = 2.0
    concurrency: int = 1
    queue: int = 2
    wait_s: float = 60.0
    real_llm: bool = False
    timeout_s: float = 120.0


@dataclass
class SearchLoad:
    clients: int
    duration_s: float
    requests: int
    errors: int
    error_kinds: dict[str, int]
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class Memory:
    samples: int
    start_mb: float
    mid_mb: float
    end_mb: float
    max_mb: float
    timeline_mb: list[float]
    """One sample per tenth of the run: growth that keeps going shows here."""


@dataclass
class ChatBurst:
    backend: str
    requests: int
    ok: int
    busy: int
    other: dict[str, int]
    retry_after: list[int]
    busy_max_ms: float
    retried_ok: bool
    capacity: int
    queue: int


@dataclass
class LoadReport:
    config: LoadConfig
    search: SearchLoad
    memory: Memory
    chat: ChatBurst
    server_start_s: float
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# -- the server under test -------------------------------------------------------------------
class PacedGenerator:
    """A :class:`assistant.backends.base.Generator` that takes ``seconds`` per answer and
    answers with the first sentence of source [1] (so the citation check keeps it): it holds a
    generation slot as long as a model would, without a model's CPU and memory."""

    name = "local"

    def __init__(self, seconds: float):
        self.seconds = seconds

    def stream(self, system: str, user: str) -> Iterator[str]:
        match = re.search(r"^\[1\] \([^)]*\)\n(.+?[.!?])(?:\s|$)", user, re.M | re.S)
        sentence = (match.group(1) if match else "The sources describe this.").strip()
        words = sentence.rstrip(".!?").split()
        step = self.seconds / max(len(words), 1)
        for i, word in enumerate(words):
            time.sleep(step)
            yield (" " if i else "") + word
        yield " [1]."


def serve_main(port: int, generation_s: float, real_llm: bool) -> None:
    """``python -m bench.load serve``: the real app (settings from ``S3ASSIST_*``) on
    127.0.0.1:port; the ``local`` backend is the paced generator unless ``real_llm``."""
    import uvicorn

    from app.server import create_app
    from app.services import AppServices
    from assistant.backends.base import Generator
    from assistant.pipeline import Assistant
    from s3assist.settings import Settings

    settings = Settings()
    generators: dict[str, Generator] = {}
    if not real_llm:
        generators["local"] = PacedGenerator(generation_s)

    def factory(s: Settings) -> Assistant:
        return Assistant(s, generators=generators)

    app = create_app(settings, AppServices(settings, assistant_factory=factory))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data_dir: Path, config: LoadConfig) -> dict[str, str]:
    return {
        **os.environ,
        "S3ASSIST_DATA_DIR": str(data_dir),
        "S3ASSIST_GENERATION_CONCURRENCY": str(config.concurrency),
        "S3ASSIST_GENERATION_QUEUE": str(config.queue),
        "S3ASSIST_GENERATION_WAIT_S": str(config.wait_s),
        "NO_PROXY": "127.0.0.1,localhost",
    }


def prepare_data(work: Path, config: LoadConfig) -> Path:
    """Copy the small corpus and ingest it with the real CLI; returns the data dir."""
    corpus = work / "corpus"
    for rel in CORPUS_FILES:
        target = corpus / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / rel, target)
        target.chmod(0o644)
    data_dir = work / "data"
    subprocess.run(
        [sys.executable, "-m", "s3assist.cli", "ingest", str(corpus), "--json"],
        env=_env(data_dir, config),
        check=True,
        capture_output=True,
        timeout=900,
    )
    return data_dir


class Server:
    """The app in a subprocess on a free loopback port; stopped (and waited for) on exit."""

    def __init__(self, data_dir: Path, config: LoadConfig):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "bench.load", "serve", "--port", str(self.port)]
        cmd += ["--generation-s", str(config.generation_s)]
        if config.real_llm:
            cmd.append("--real-llm")
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=_env(data_dir, config), stdout=self.log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout_s: float = 180.0) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}): {self.output()}")
            try:
                if httpx.get(self.url + "/health", timeout=5).status_code == 200:
                    return time.monotonic() - t0
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server not ready in {timeout_s} s: {self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-4000:]

    def rss_mb(self) -> float:
        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.log.close()


class RssSampler(threading.Thread):
    def __init__(self, server: Server, every_s: float = 0.5):
        super().__init__(daemon=True)
        self.server, self.every_s = server, every_s
        self.samples: list[float] = []
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.samples.append(self.server.rss_mb())
            except psutil.Error:
                return
            self.stop_event.wait(self.every_s)

    def memory(self) -> Memory:
        self.stop_event.set()
        self.join()
        s = self.samples or [0.0]
        step = max(len(s) // 10, 1)
        return Memory(
            len(self.samples),
            round(s[0], 1),
            round(s[len(s) // 2], 1),
            round(s[-1], 1),
            round(max(s), 1),
            [round(v, 1) for v in s[::step]],
        )


# -- the clients -----------------------------------------------------------------------------
def _percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def search_load(url: str, config: LoadConfig) -> SearchLoad:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + config.duration_s
    limits = httpx.Limits(max_connections=config.clients)

    async def client(i: int, http: httpx.AsyncClient) -> None:
        n = i
        while time.monotonic() < deadline:
            query = QUERIES[n % len(QUERIES)]
            n += 1
            t0 = time.perf_counter()
            try:
                r = await http.get("/search", params={"q": query, "k": 5})
                good = r.status_code == 200 and r.json().get("hits")
                kind = "" if good else f"http {r.status_code}"
            except httpx.HTTPError as exc:
                kind = type(exc).__name__
            if kind:
                errors[kind] = errors.get(kind, 0) + 1
            else:
                latencies.append((time.perf_counter() - t0) * 1000)

    t_start = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=config.timeout_s, limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(config.clients)))
    elapsed = time.monotonic() - t_start
    total = len(latencies) + sum(errors.values())
    return SearchLoad(
        clients=config.clients,
        duration_s=round(elapsed, 1),
        requests=total,
        errors=sum(errors.values()),
        error_kinds=errors,
        rps=round(total / elapsed, 2),
        p50_ms=round(_percentile(latencies, 50), 1),
        p95_ms=round(_percentile(latencies, 95), 1),
        p99_ms=round(_percentile(latencies, 99), 1),
        max_ms=round(max(latencies, default=0.0), 1),
    )


async def chat_burst(url: str, config: LoadConfig) -> ChatBurst:
    """capacity + queue + extra simultaneous model answers: the gate admits capacity + queue."""
    n = config.concurrency + config.queue + config.burst_extra
    body = {"model": "local", "messages": [{"role": "user", "content": CHAT_QUESTION}]}
    results: list[tuple[int, float, str | None]] = []

    async def one(http: httpx.AsyncClient) -> None:
        t0 = time.perf_counter()
        r = await http.post("/v1/chat/completions", json=body)
        took_ms = (time.perf_counter() - t0) * 1000
        results.append((r.status_code, took_ms, r.headers.get("retry-after")))

    timeout = config.timeout_s + config.wait_s
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as http:
        # One answer first: loads the model (real LLM) and lets the gate measure answer time.
        (await http.post("/v1/chat/completions", json=body)).raise_for_status()
        await asyncio.gather(*(one(http) for _ in range(n)))
        busy = [r for r in results if r[0] == 429]
        retried_ok = False
        if busy and busy[0][2] is not None:
            await asyncio.sleep(int(busy[0][2]))
            retried_ok = (await http.post("/v1/chat/completions", json=body)).status_code == 200
    other: dict[str, int] = {}
    for status, _, _ in results:
        if status not in (200, 429):
            other[str(status)] = other.get(str(status), 0) + 1
    return ChatBurst(
        backend="local (real GGUF model)" if config.real_llm else f"paced {config.generation_s} s",
        requests=n,
        ok=sum(r[0] == 200 for r in results),
        busy=len(busy),
        other=other,
        retry_after=sorted({int(r[2]) for r in busy if r[2] is not None}),
        busy_max_ms=round(max((r[1] for r in busy), default=0.0), 1),
        retried_ok=retried_ok,
        capacity=config.concurrency,
        queue=config.queue,
    )


def run_load(config: LoadConfig, work: Path) -> LoadReport:
    """The whole test in ``work`` (a scratch folder): ingest, serve, load, burst, stop."""
    data_dir = prepare_data(work, config)
    server = Server(data_dir, config)
    try:
        start_s = server.wait_ready()
        warm = httpx.get(server.url + "/search", params={"q": QUERIES[0]}, timeout=300)
        warm.raise_for_status()
        sampler = RssSampler(server)
        sampler.start()
        search = asyncio.run(search_load(server.url, config))
        memory = sampler.memory()
        chat = asyncio.run(chat_burst(server.url, config))
        if server.proc.poll() is not None:
            raise RuntimeError(f"the server died: {server.output()}")
    finally:
        server.stop()
    return LoadReport(config, search, memory, chat, round(start_s, 1))


def summary(report: LoadReport) -> str:
    s, m, c = report.search, report.memory, report.chat
    return "\n".join(
        [
            f"search: {s.clients} clients x {s.duration_s} s: {s.requests} requests "
            f"({s.rps}/s), {s.errors} errors {s.error_kinds or ''}",
            f"  latency ms: p50 {s.p50_ms}  p95 {s.p95_ms}  p99 {s.p99_ms}  max {s.max_ms}",
            f"  server RSS MB: start {m.start_mb}  mid {m.mid_mb}  end {m.end_mb}  max {m.max_mb} "
            f"({m.samples} samples)",
            f"chat burst ({c.backend}; capacity {c.capacity}, queue {c.queue}): {c.requests} "
            f"requests -> {c.ok} x 200, {c.busy} x 429 (Retry-After {c.retry_after}, "
            f"slowest 429 {c.busy_max_ms} ms), other {c.other or 'none'}; "
            f"retry after Retry-After -> {'200' if c.retried_ok else 'FAILED'}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description="Load test.")
    sub = parser.add_subparsers(dest="command")
    srv = sub.add_parser("serve", help="(internal) run the server under test")
    srv.add_argument("--port", type=int, required=True)
    srv.add_argument("--generation-s", type=float, default=2.0)
    srv.add_argument("--real-llm", action="store_true")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of search load")
    parser.add_argument("--generation-s", type=float, default=2.0, help="paced answer time")
    parser.add_argument("--real-llm", action="store_true", help="burst the real local model")
    parser.add_argument("--out", type=Path, help="JSON report (default bench/results/)")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve_main(args.port, args.generation_s, args.real_llm)
        return 0
    config = LoadConfig(
        clients=args.clients,
        duration_s=args.duration,
        generation_s=args.generation_s,
        real_llm=args.real_llm,
        wait_s=300.0 if args.real_llm else 60.0,
    )
    with tempfile.TemporaryDirectory(prefix="s3load-") as tmp:
        report = run_load(config, Path(tmp))
    print(summary(report))
    out = args.out or RESULTS / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.as_json(), indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")
    ok = report.search.errors == 0 and not report.chat.other and report.chat.retried_ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
