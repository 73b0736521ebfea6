"""The helpdesk: store round trip, reuse of approved answers (real MiniLM), concurrent writes,
and the API on a real server (drafts by the real extractive assistant; approval needs an admin).
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from app.helpdesk import APPROVED, CSV_COLUMNS, DRAFT, EDITED, HelpdeskStore
from app.server import create_app
from ingest.pipeline import Ingestor
from s3assist.settings import Settings
from tests.test_app_api import ADMIN, BENCH, QUESTION, app_settings, make_corpus, running

CITES = [{"n": 1, "file": "guidance/a.pdf", "page": 5, "text": "the passage"}]


class FakeAnswer:
    def __init__(self, question: str):
        self.answer = f"Drafted answer to: {question} [1]"
        self.refused = False
        self.related: list[Any] = []

    def citations(self) -> list[dict[str, Any]]:
        return CITES


class FakeAssistant:
    def __init__(self) -> None:
        self.backends: list[str | None] = []

    def ask(self, question: str, backend: str | None = None) -> FakeAnswer:
        self.backends.append(backend)
        return FakeAnswer(question)


@pytest.fixture
def fake() -> FakeAssistant:
    return FakeAssistant()


@pytest.fixture
def store(tmp_path: Path, fake: FakeAssistant, embedder: Any) -> HelpdeskStore:
    return HelpdeskStore(Settings(data_dir=tmp_path / "data"), lambda: fake, embedder)


class TestStore:
    def test_round_trip(self, store: HelpdeskStore, fake: FakeAssistant, tmp_path: Path) -> None:
        first = store.draft("How do regions run the entrepreneurial discovery process?")
        second = store.draft("Which variable was compared in the Düsseldorf benchmarking?")
        assert fake.backends == ["extractive", "extractive"]
        entry = store.get(first)
        assert entry.status == DRAFT and entry.citations == CITES
        assert entry.answer == entry.draft and entry.answer.startswith("Drafted answer")

        edited = store.update(first, "EDP is run with focus groups [1].", "clerk")
        assert edited.status == EDITED and edited.edited_by == "clerk"
        assert edited.draft.startswith("Drafted answer")  # the assistant's draft is kept
        approved = store.approve(first, "admin")
        assert approved.status == APPROVED and approved.approved_by == "admin"
        assert approved.approved_at

        # reopened: migrations run once, rows persist
        again = HelpdeskStore(Settings(data_dir=tmp_path / "data"))
        assert [e.id for e in again.list()] == [second, first]  # newest first
        assert [e.id for e in again.list(status=APPROVED)] == [first]
        assert [e.id for e in again.list(status=DRAFT)] == [second]
        assert [e.id for e in again.list(query="FOCUS groups")] == [first]  # answer, any case
        assert [e.id for e in again.list(query="düsseldorf")] == [second]  # question
        assert again.list(status=DRAFT, query="focus") == []
        with pytest.raises(ValueError, match="unknown status"):
            again.list(status="bogus")
        with pytest.raises(KeyError):
            again.approve(999, "admin")

        rows = list(csv.reader(io.StringIO(again.export_csv())))
        assert tuple(rows[0]) == CSV_COLUMNS
        by_id = {r[0]: dict(zip(CSV_COLUMNS, r, strict=True)) for r in rows[1:]}
        assert by_id[str(first)]["status"] == "approved"
        assert by_id[str(first)]["answer"] == "EDP is run with focus groups [1]."
        assert by_id[str(first)]["citations"] == "guidance/a.pdf p. 5"
        assert by_id[str(first)]["approved_by"] == "admin"
        assert by_id[str(second)]["approved_at"] == ""

    def test_edit_after_approval_needs_reapproval(self, store: HelpdeskStore) -> None:
        entry_id = store.add("q?", "a")
        store.approve(entry_id, "admin")
        entry = store.update(entry_id, "a, changed", "clerk")
        assert entry.status == EDITED and entry.approved_by == "" and entry.approved_at is None

    def test_similar_approved_finds_paraphrases_only(self, store: HelpdeskStore) -> None:
        edp = store.add(
            "How should a region organise its entrepreneurial discovery process?",
            "Through focus groups with the quadruple helix [1].",
        )
        store.approve(edp, "admin")
        store.add("What is a NUTS 2 region?", "A statistical territorial unit.")  # not approved

        found = store.similar_approved(
            "How can regions set up the entrepreneurial discovery process?"
        )
        assert [e.id for e, _ in found] == [edp]
        assert found[0][1] >= 0.75
        assert store.similar_approved("What is the deadline for the annual budget report?") == []
        assert store.similar_approved("What is a NUTS 2 region?") == []  # only approved entries
        assert store.similar_approved("", k=3) == []
        assert edp in store._vectors  # cached

    def test_concurrent_writes_lose_nothing(self, store: HelpdeskStore) -> None:
        ids: list[int] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def work(worker: int) -> None:
            try:
                for i in range(40):
                    entry_id = store.add(f"question {worker}-{i}", "a")
                    store.update(entry_id, f"answer {worker}-{i}", f"w{worker}")
                    with lock:
                        ids.append(entry_id)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        entries = store.list()
        assert len(entries) == 80 == len(set(ids))
        assert all(e.status == EDITED and e.answer.startswith("answer ") for e in entries)
        assert {e.question for e in entries} == {
            f"question {w}-{i}" for w in range(2) for i in range(40)
        }


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder) -> Iterator[tuple[str, Settings]]:  # type: ignore[no-untyped-def]
    root = make_corpus(tmp_path_factory.mktemp("corpus"))
    settings = app_settings(tmp_path_factory.mktemp("data"))
    ingestor = Ingestor(settings, embedder)
    ingestor.ingest([root])
    ingestor.close()
    with running(create_app(settings)) as url:
        yield url, settings


class TestApi:
    def test_draft_edit_approve_list_export(self, served: tuple[str, Settings]) -> None:
        with httpx.Client(base_url=served[0], timeout=120) as c:
            r = c.post("/helpdesk", json={"question": QUESTION})
            assert r.status_code == 201, r.text
            body = r.json()
            entry_id = body["id"]
            assert body["status"] == "draft" and "[1]" in body["answer"]
            assert body["citations"] and body["citations"][0]["file"] == BENCH
            assert body["similar_approved"] == []

            r = c.put(f"/helpdesk/{entry_id}", json={"answer": "The variable was X [1]."})
            assert r.status_code == 200 and r.json()["status"] == "edited"

            r = c.post(f"/helpdesk/{entry_id}/approve")
            assert r.status_code == 401 and "WWW-Authenticate" in r.headers
            r = c.post(f"/helpdesk/{entry_id}/approve", auth=("admin", "wrong"))
            assert r.status_code == 401
            r = c.post(f"/helpdesk/{entry_id}/approve", auth=ADMIN)
            assert r.status_code == 200 and r.json()["approved_by"] == "admin"
            assert c.post("/helpdesk/9999/approve", auth=ADMIN).status_code == 404

            listed = c.get("/helpdesk", params={"status": "approved", "q": "VARIABLE"}).json()
            assert [e["id"] for e in listed["entries"]] == [entry_id]
            assert c.get("/helpdesk", params={"status": "draft"}).json()["entries"] == []
            assert c.get("/helpdesk", params={"status": "bogus"}).status_code == 422

            # a paraphrase now shows the approved answer next to its draft
            paraphrase = "Which variable was compared in the Düsseldorf benchmarking case study?"
            again = c.post("/helpdesk", json={"question": paraphrase}).json()
            assert [e["id"] for e in again["similar_approved"]] == [entry_id]
            assert again["similar_approved"][0]["answer"] == "The variable was X [1]."

            r = c.get("/helpdesk/export.csv")
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
            rows = list(csv.reader(io.StringIO(r.text)))
            assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 3
            spec = c.get("/openapi.json").json()["paths"]
            assert "/helpdesk" in spec and "post" in spec["/helpdesk/{entry_id}/approve"]


def test_similar_namespace_helper_shares_one_store(tmp_path: Path) -> None:
    from app.helpdesk import helpdesk_of

    svc = SimpleNamespace(settings=Settings(data_dir=tmp_path), assistant=None)
    assert helpdesk_of(svc) is helpdesk_of(svc)
