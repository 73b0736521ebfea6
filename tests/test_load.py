"""Load and overload: the generation gate, the UI's busy message, and the real server under a
reduced form of ``python -m bench.load`` (32 search clients x 10 s, then a chat burst).

The burst's model backend is ``bench.load.PacedGenerator`` behind the real ``Generator``
interface (the local GGUF model takes ~20 s an answer here); everything else is real: uvicorn
in a subprocess, MiniLM/USE, Chroma, the ingested PDF/.txt/.md.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from app.gate import GateBusy, GenerationGate
from app.services import AppServices
from app.ui_ask import AskTab
from assistant.pipeline import Assistant
from bench.load import LoadConfig, PacedGenerator, run_load, summary
from ingest.pipeline import Ingestor
from s3assist.settings import Settings
from tests.conftest import GUIDANCE


class TestGate:
    def test_admits_capacity_then_queues_then_refuses(self):
        gate = GenerationGate(capacity=2, queue=1, wait_s=5)
        a, b = gate.join(), gate.join()
        assert a.position == 0 and b.position == 0
        waiting = gate.join()
        assert waiting.position == 1 and not waiting.wait(0.01)
        with pytest.raises(GateBusy) as busy:
            gate.join()
        assert busy.value.retry_after >= 1 and busy.value.queued == 1
        a.release()
        assert waiting.wait(1) and waiting.position == 0
        assert gate.stats().active == 2 and gate.stats().waiting == 0
        b.release()
        waiting.release()
        waiting.release()  # releasing twice is harmless
        assert gate.stats().active == 0

    def test_first_come_first_served(self):
        gate = GenerationGate(capacity=1, queue=3, wait_s=5)
        held = gate.join()
        first, second = gate.join(), gate.join()
        assert (first.position, second.position) == (1, 2)
        held.release()
        assert first.wait(1) and not second.wait(0.01) and second.position == 1
        first.release()
        assert second.wait(1)
        second.release()

    def test_wait_timeout_is_busy_and_leaves_the_queue(self):
        gate = GenerationGate(capacity=1, queue=2, wait_s=0.05)
        held = gate.join()
        with pytest.raises(GateBusy, match="no answer slot within"):
            gate.acquire()
        assert gate.stats().waiting == 0
        held.release()
        with gate.slot() as ticket:
            assert ticket.position == 0 and gate.stats().active == 1
        assert gate.stats().active == 0

    def test_retry_after_follows_measured_generation_time(self):
        gate = GenerationGate(capacity=2, queue=1, wait_s=1)
        assert gate.retry_after(4) == 40  # the 20 s default before anything was measured
        with gate.slot():
            pass
        assert gate.mean_hold_s < 1 and gate.retry_after(4) == 1

    def test_many_threads_never_exceed_capacity(self):
        gate = GenerationGate(capacity=2, queue=50, wait_s=30)
        active, peak, lock = [0], [0], threading.Lock()

        def work() -> None:
            with gate.slot():
                with lock:
                    active[0] += 1
                    peak[0] = max(peak[0], active[0])
                threading.Event().wait(0.01)
                with lock:
                    active[0] -= 1

        threads = [threading.Thread(target=work) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert peak[0] == 2 and gate.stats().active == 0 and gate.stats().waiting == 0


@pytest.fixture
def one_doc_services(tmp_path: Path, embedder) -> AppServices:  # type: ignore[no-untyped-def]
    root = tmp_path / "corpus"
    root.mkdir()
    shutil.copy(GUIDANCE / "OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt", root)
    settings = Settings(
        data_dir=tmp_path / "data",
        multilingual_index=False,
        generation_concurrency=1,
        generation_queue=1,
        generation_wait_s=1.5,
    )
    ingestor = Ingestor(settings, embedder)
    ingestor.ingest([root])
    ingestor.close()
    generators = {"local": PacedGenerator(0.2)}
    return AppServices(settings, lambda s: Assistant(s, generators=generators))  # type: ignore[arg-type]


@pytest.mark.slow
def test_ui_shows_queue_position_then_busy(one_doc_services: AppServices):
    tab = AskTab(one_doc_services)
    for name in ("question", "feedback_status", "turns", "sources", "pick", "image", "last"):
        setattr(tab, name, name)  # the component handles build() would create: dict keys here
    tab.chatbot = "chat"  # type: ignore[assignment]
    question = "How should stakeholders be engaged?"
    held = one_doc_services.gate.join()
    try:
        shown = [u["chat"][-1]["content"] for u in tab.respond(question, [], [], "local")]
        assert any("number 1 in the queue" in s for s in shown)
        assert shown[-1].startswith("**Busy:**") and "Please ask again in about" in shown[-1]
        blocker = one_doc_services.gate.join()  # fills the one queue place: refused at once
        try:
            shown = [u["chat"][-1]["content"] for u in tab.respond(question, [], [], "local")]
            assert shown[-1].startswith("**Busy:**") and "1 waiting" in shown[-1]
        finally:
            blocker.release()
    finally:
        held.release()
    assert one_doc_services.gate.stats().active == 0
    # A free slot: the paced model answers (cited), and the slot is given back.
    updates = list(tab.respond(question, [], [], "local"))
    assert "[1]" in updates[-1]["chat"][-1]["content"]
    extractive = list(tab.respond(question, [], [], "extractive"))  # needs no slot
    assert "Busy" not in extractive[-1]["chat"][-1]["content"]
    assert one_doc_services.gate.stats().active == 0


@pytest.mark.slow
def test_real_server_under_load(tmp_path: Path):
    """Reduced ``python -m bench.load``: 32 clients x 10 s, then 7 chats at a 1+2 gate."""
    report = run_load(LoadConfig(clients=32, duration_s=10, generation_s=1.0), tmp_path)
    print(summary(report))
    search, chat, memory = report.search, report.chat, report.memory
    assert search.errors == 0 and search.error_kinds == {}
    assert search.requests >= search.clients  # every client completed at least one search
    assert search.p50_ms <= search.p95_ms <= search.p99_ms <= search.max_ms
    # capacity 1 + queue 2 answered; the 4 beyond got 429 + Retry-After; nothing else.
    assert chat.other == {} and chat.ok == 3 and chat.busy == 4
    assert chat.retry_after and min(chat.retry_after) >= 1 and chat.retried_ok
    assert memory.samples > 5 and memory.max_mb >= memory.end_mb > 0
    assert memory.end_mb < 1.5 * memory.start_mb, "server memory grew by half during the load"
