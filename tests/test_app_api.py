"""The HTTP API on a real uvicorn server over real PDFs, MiniLM/USE and Chroma.

The official ``openai`` client talks to ``/v1/chat/completions``; uploads and deletes go through
HTTP Basic auth. The small pieces behind the API (chat format, uploads, limits, feedback store,
page preview) are tested directly below the server tests.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from fastapi import FastAPI

from app.chat import (
    ChatMessage,
    ChatRequest,
    ConversationError,
    conversation,
    stream_events,
    strip_references,
)
from app.feedback import Feedback, FeedbackStore
from app.preview import find_span, render_page
from app.server import create_app
from app.uploads import UploadRejected, check_content, safe_name, save_upload
from assistant.answer import Answer, SentenceCheck, Source
from ingest.pipeline import Ingestor
from s3assist.settings import Settings
from tests.conftest import GUIDANCE

BENCH = "guidance/OnlineS3_2.4_Benchmarking_Case_Study.pdf"
ROADMAP = GUIDANCE / "OnlineS3_4.1_EDP_Focus_Groups_Roadmap.pdf"
QUESTION = "In the Düsseldorf benchmarking case study, which variable was compared?"
ADMIN = ("admin", "s3cret")


def make_corpus(root: Path) -> Path:
    """The 8-page benchmarking case study PDF, the stakeholder .txt and the slides .md."""
    (root / "guidance").mkdir(parents=True)
    for name in (
        "OnlineS3_2.4_Benchmarking_Case_Study.pdf",
        "OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt",
        "S3CoP_Clusters_Interregional_Cooperation_slides.md",
    ):
        shutil.copy(GUIDANCE / name, root / "guidance" / name)
        (root / "guidance" / name).chmod(0o644)
    return root


def app_settings(data_dir: Path, **extra: Any) -> Settings:
    return Settings(data_dir=data_dir, admin_users=[":".join(ADMIN)], **extra)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder) -> Iterator[tuple[str, Settings]]:  # type: ignore[no-untyped-def]
    root = make_corpus(tmp_path_factory.mktemp("corpus"))
    settings = app_settings(tmp_path_factory.mktemp("data"), max_upload_mb=1.0, max_request_kb=64)
    ingestor = Ingestor(settings, embedder)
    ingestor.ingest([root])
    ingestor.close()
    with running(create_app(settings)) as url:
        yield url, settings


@pytest.fixture
def client(served) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=served[0], timeout=120) as c:
        yield c


class TestHealthAndSpec:
    def test_health_counts_documents(self, client):
        body = client.get("/health").json()
        assert body["status"] == "ok" and body["documents"] == 3
        assert body["backends"]["extractive"] == ""

    def test_openapi_spec_validates_and_lists_the_routes(self, client):
        from openapi_spec_validator import validate

        spec = client.get("/openapi.json").json()
        validate(spec)
        paths = spec["paths"]
        for path in ("/v1/chat/completions", "/search", "/documents", "/health", "/feedback"):
            assert path in paths
        assert "delete" in paths["/documents/{doc_id}"]
        assert "post" in paths["/documents"]

    def test_root_redirects_to_the_ui(self, client):
        r = client.get("/", follow_redirects=False)
        assert r.status_code in (302, 307) and r.headers["location"] == "/ui/"
        assert client.get("/ui/").status_code == 200


class TestSearch:
    def test_filters_restrict_hits(self, client):
        hits = client.get("/search", params={"q": "reference region", "country": "DE"}).json()
        assert hits["hits"] and all(h["metadata"]["country"] == "DE" for h in hits["hits"])
        assert all(h["file"] == BENCH for h in hits["hits"])
        none = client.get("/search", params={"q": "reference region", "country": "FI"}).json()
        assert none["hits"] == []

    def test_keyword_must_appear_and_k_caps(self, client):
        r = client.get("/search", params={"q": "regions", "keyword": "Düsseldorf", "k": 2})
        hits = r.json()["hits"]
        assert 0 < len(hits) <= 2
        assert all("düsseldorf" in h["text"].lower() for h in hits)

    def test_bad_input_is_422(self, client):
        assert client.get("/search", params={"q": "x", "year": "soon"}).status_code == 422
        r = client.get("/search", params={"q": "x", "year": "soon"})
        assert "whole number" in r.json()["detail"]
        assert client.get("/search").status_code == 422
        assert client.get("/search", params={"q": "x", "k": 0}).status_code == 422
        assert client.get("/search", params={"q": "x" * 4001}).status_code == 422


class TestChat:
    def test_openai_client_gets_a_cited_answer(self, served):
        llm = openai.OpenAI(base_url=f"{served[0]}/v1", api_key="x", max_retries=0)
        resp = llm.chat.completions.create(
            model="extractive", messages=[{"role": "user", "content": QUESTION}]
        )
        content = resp.choices[0].message.content or ""
        assert "Human resources in science and technology" in content
        assert f"\n\n[1] {BENCH}, p. " in content
        extra = resp.model_extra or {}
        assert extra["refused"] is False
        assert extra["sources"][0]["file"] == BENCH and extra["sources"][0]["text"]
        assert {"n", "file", "page", "text"} <= set(extra["sources"][0])

    def test_openai_client_streams(self, served):
        llm = openai.OpenAI(base_url=f"{served[0]}/v1", api_key="x", max_retries=0)
        chunks = list(
            llm.chat.completions.create(
                model="extractive",
                messages=[{"role": "user", "content": QUESTION}],
                stream=True,
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert "[1]" in text and f"[1] {BENCH}, p. " in text
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert (chunks[-1].model_extra or {})["sources"]

    def test_raw_stream_ends_with_done(self, client):
        body = {
            "model": "extractive",
            "stream": True,
            "messages": [{"role": "user", "content": QUESTION}],
        }
        with client.stream("POST", "/v1/chat/completions", json=body) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            events = [line for line in r.iter_lines() if line.startswith("data: ")]
        assert events[-1] == "data: [DONE]"

    def test_out_of_corpus_question_is_refused(self, client):
        body = {
            "messages": [
                {"role": "user", "content": "What are the priorities of the Basque Country?"}
            ]
        }
        data = client.post("/v1/chat/completions", json=body).json()
        assert data["refused"] is True and data["sources"] == []
        assert data["model"] == "extractive"  # the configured default backend

    def test_unavailable_backend_falls_back_to_extractive_with_a_notice(self, client):
        body = {"model": "openai", "messages": [{"role": "user", "content": QUESTION}]}
        data = client.post("/v1/chat/completions", json=body).json()
        assert data["backend"] == "extractive" and data["model"] == "openai"
        assert any("S3ASSIST_OPENAI_BASE_URL" in n for n in data["notices"])
        assert data["sources"] and "[1]" in data["choices"][0]["message"]["content"]

    def test_bad_requests_are_422_and_413(self, client):
        ends_with_assistant = {"messages": [{"role": "assistant", "content": "hi"}]}
        assert client.post("/v1/chat/completions", json=ends_with_assistant).status_code == 422
        assert client.post("/v1/chat/completions", json={"messages": []}).status_code == 422
        long_q = {"messages": [{"role": "user", "content": "why " * 1200}]}
        r = client.post("/v1/chat/completions", json=long_q)
        assert r.status_code == 422 and "S3ASSIST_MAX_QUESTION_CHARS" in r.text
        huge = {"messages": [{"role": "user", "content": "x" * 70_000}]}
        r = client.post("/v1/chat/completions", json=huge)
        assert r.status_code == 413 and "S3ASSIST_MAX_REQUEST_KB" in r.json()["detail"]

    def test_bad_filter_is_422_before_answering(self, client):
        body = {"messages": [{"role": "user", "content": QUESTION}], "filters": {"colour": "red"}}
        r = client.post("/v1/chat/completions", json=body)
        assert r.status_code == 422 and "unknown filter field" in r.json()["detail"]


class TestDocuments:
    def test_list(self, client):
        docs = client.get("/documents").json()["documents"]
        assert {d["doc_id"] for d in docs} >= {BENCH}
        bench = next(d for d in docs if d["doc_id"] == BENCH)
        assert bench["status"] == "indexed" and bench["pages"] == 8 and bench["chunks"] > 0
        assert bench["metadata"]["country"] == "DE"

    def test_upload_and_delete_need_an_admin(self, client, served):
        settings: Settings = served[1]
        files = {"file": (ROADMAP.name, ROADMAP.read_bytes(), "application/pdf")}
        r = client.post("/documents", files=files)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        assert client.post("/documents", files=files, auth=("admin", "nope")).status_code == 401
        r = client.post("/documents", files=files, auth=ADMIN)
        assert r.status_code == 201, r.text
        report = r.json()
        doc_id = f"uploads/{ROADMAP.name}"
        assert report["doc_id"] == doc_id and report["documents"]["added"] == 1
        assert (settings.uploads_dir / ROADMAP.name).is_file()
        listed = {d["doc_id"] for d in client.get("/documents").json()["documents"]}
        assert doc_id in listed
        hits = client.get("/search", params={"q": "EDP focus groups roadmap", "k": 5}).json()
        assert doc_id in {h["file"] for h in hits["hits"]}

        assert client.delete(f"/documents/{doc_id}").status_code == 401
        r = client.delete(f"/documents/{doc_id}", auth=ADMIN)
        assert r.status_code == 200 and r.json()["deleted"] == [doc_id]
        assert not (settings.uploads_dir / ROADMAP.name).exists()
        listed = {d["doc_id"] for d in client.get("/documents").json()["documents"]}
        assert doc_id not in listed
        assert client.delete(f"/documents/{doc_id}", auth=ADMIN).status_code == 404

    def test_upload_type_and_size_are_checked(self, client):
        fake = {"file": ("report.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")}
        r = client.post("/documents", files=fake, auth=ADMIN)
        assert r.status_code == 415 and "not a PDF" in r.json()["detail"]
        exe = {"file": ("tool.exe", b"MZ", "application/octet-stream")}
        assert client.post("/documents", files=exe, auth=ADMIN).status_code == 415
        big = {"file": ("big.pdf", b"%PDF-1.4\n" + b"0" * 1_200_000, "application/pdf")}
        r = client.post("/documents", files=big, auth=ADMIN)
        assert r.status_code == 413 and "S3ASSIST_MAX_UPLOAD_MB" in r.json()["detail"]
        huge = {"file": ("huge.pdf", b"%PDF-1.4\n" + b"0" * 2_200_000, "application/pdf")}
        r = client.post("/documents", files=huge, auth=ADMIN)
        assert r.status_code == 413  # refused by the body limit before parsing

    def test_scanned_pdf_is_reported_as_needing_ocr(self, client):
        scan = GUIDANCE / "OnlineS3_4.1_EDP_Workshop_Review_Summary.pdf"
        r = client.post("/documents", files={"file": (scan.name, scan.read_bytes())}, auth=ADMIN)
        assert r.status_code == 422 and "needs OCR" in r.json()["failed"][0]["reason"]
        row = next(
            d
            for d in client.get("/documents").json()["documents"]
            if d["doc_id"].endswith(scan.name)
        )
        assert row["status"] == "failed" and "needs OCR" in row["error"]
        assert client.delete(f"/documents/{row['doc_id']}", auth=ADMIN).status_code == 200


class TestFeedbackRoute:
    def test_feedback_is_stored(self, client, served):
        body = {"verdict": "incorrect", "question": "q?", "answer": "a [1]", "comment": "page 2"}
        r = client.post("/feedback", json=body)
        assert r.status_code == 201
        rows = FeedbackStore(served[1].app_db).all()
        assert rows[-1].id == r.json()["id"] and rows[-1].comment == "page 2"
        assert client.post("/feedback", json={**body, "verdict": "meh"}).status_code == 422


class TestEmptyLibrary:
    def test_empty_index_answers_with_empty_results(self, tmp_path):
        from fastapi.testclient import TestClient

        from app.services import EMPTY_LIBRARY, AppServices
        from app.ui_library import LibraryTab

        settings = app_settings(tmp_path / "data")
        with TestClient(create_app(settings)) as c:
            assert c.get("/health").json()["documents"] == 0
            assert c.get("/documents").json() == {"documents": []}
            assert c.get("/search", params={"q": "regional innovation"}).json() == {"hits": []}
            body = {"messages": [{"role": "user", "content": QUESTION}]}
            assert c.post("/v1/chat/completions", json=body).json()["refused"] is True
        _, summary, *_ = LibraryTab(AppServices(settings)).refresh()
        assert EMPTY_LIBRARY in summary


class TestEditMetadata:
    def test_patch_overrides_and_reingests(self, tmp_path, embedder):
        from fastapi.testclient import TestClient

        root = make_corpus(tmp_path / "corpus")
        settings = app_settings(tmp_path / "data")
        ingestor = Ingestor(settings, embedder)
        ingestor.ingest([root])
        ingestor.close()
        doc = "guidance/OnlineS3_1.2_Stakeholder_Engagement_Guideline.txt"
        with TestClient(create_app(settings)) as c:
            change = {"nuts_code": "DEA1", "title": "Edited stakeholder guide"}
            assert c.patch(f"/documents/{doc}", json=change).status_code == 401
            r = c.patch(f"/documents/{doc}", json=change, auth=ADMIN)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["document"]["metadata"]["country"] == "DE"
            assert body["report"]["failed"] == []
            hits = c.get("/search", params={"q": "stakeholder engagement", "country": "DE"})
            assert hits.status_code == 200
            assert doc in {h["file"] for h in hits.json()["hits"]}
            assert (
                c.patch(f"/documents/{doc}", json={"colour": "red"}, auth=ADMIN).status_code == 422
            )
            bad = c.patch(f"/documents/{doc}", json={"doc_type": "novel"}, auth=ADMIN)
            assert bad.status_code == 422
            assert c.patch("/documents/nope.pdf", json={}, auth=ADMIN).status_code == 404
            again = c.post(f"/documents/{doc}/reingest", auth=ADMIN)
            assert again.status_code == 200 and again.json()["report"]["chunks_embedded"] == 0
            assert again.json()["document"]["metadata"]["nuts_code"] == "DEA1"
            assert c.post(f"/documents/{doc}/reingest").status_code == 401


# -- the pieces behind the API ----------------------------------------------------------------
class TestConversation:
    def test_last_user_message_is_the_question_and_pairs_are_history(self):
        req = ChatRequest(
            messages=[
                ChatMessage(role="system", content="be brief"),
                ChatMessage(role="user", content="Which government approved it?"),
                ChatMessage(role="assistant", content="The Government [1]\n\n[1] a.pdf, p. 2"),
                ChatMessage(role="user", content=[{"type": "text", "text": "And when?"}]),
            ]
        )
        question, history = conversation(req, 100)
        assert question == "And when?"
        assert history == [("Which government approved it?", "The Government [1]")]

    def test_refuses_unusable_conversations(self):
        with pytest.raises(ConversationError):
            conversation(ChatRequest(messages=[ChatMessage(role="user", content="  ")]), 100)
        with pytest.raises(ConversationError, match="limit is 5"):
            conversation(ChatRequest(messages=[ChatMessage(role="user", content="too long")]), 5)

    def test_strip_references_keeps_the_answer(self):
        assert strip_references("A [1].\n\n[1] x.pdf, p. 3\n[2] y.md, p. 1\n") == "A [1]."


class TestStreamEvents:
    @staticmethod
    def _answer(text: str) -> Answer:
        src = Source(1, "c1", "a.pdf", 3, "Passage.", 0.9)
        answer = Answer("q", "q", text, [src], False, "local", "en")
        answer.sentences = [SentenceCheck(text, [1], 0.9, True)]
        return answer

    @staticmethod
    def _events(items: list[Any]) -> list[Any]:
        out = []
        for event in stream_events(iter(items), "local"):
            assert event.startswith("data: ") and event.endswith("\n\n")
            body = event[6:].strip()
            out.append(body if body == "[DONE]" else json.loads(body))
        return out

    def test_generated_text_streams_then_the_checked_answer_and_references(self):
        events = self._events(["Gen", "erated.", self._answer("Checked [1].")])
        deltas = [e["choices"][0]["delta"].get("content", "") for e in events[:-1]]
        assert "".join(deltas) == "Generated.\n\nChecked answer:\nChecked [1].\n\n[1] a.pdf, p. 3"
        assert events[-2]["choices"][0]["finish_reason"] == "stop"
        assert events[-2]["sources"][0]["file"] == "a.pdf" and events[-1] == "[DONE]"

    def test_unchanged_generation_is_not_repeated(self):
        events = self._events(["Same [1].", self._answer("Same [1].")])
        text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1])
        assert text == "Same [1].\n\n[1] a.pdf, p. 3"

    def test_a_failure_mid_stream_is_reported_in_stream(self):
        def failing() -> Iterator[str]:
            yield "Part"
            raise RuntimeError("model crashed")

        events = list(stream_events(failing(), "local"))
        assert "model crashed" in events[-2] and events[-1] == "data: [DONE]\n\n"


class TestUploads:
    def test_safe_name(self, settings):
        assert safe_name("../../etc/pass wd;.pdf", settings) == "pass wd_.pdf"
        assert safe_name("C:\\Users\\me\\Plan.DOCX", settings) == "Plan.DOCX"
        with pytest.raises(UploadRejected) as exc:
            safe_name("run.sh", settings)
        assert exc.value.status == 415
        with pytest.raises(UploadRejected):
            safe_name(".pdf", settings)

    def test_check_content(self):
        check_content(b"%PDF-1.7 ...", ".pdf")
        check_content(b"PK\x03\x04...", ".docx")
        check_content("Grüße".encode(), ".txt")
        for head, suffix in (
            (b"<html>", ".pdf"),
            (b"%PDF", ".docx"),
            (b"a\0b", ".md"),
            (b"", ".txt"),
        ):
            with pytest.raises(UploadRejected):
                check_content(head, suffix)

    def test_save_upload_is_atomic_and_limited(self, tmp_path):
        settings = Settings(data_dir=tmp_path, max_upload_mb=0.001)
        path = save_upload(io.BytesIO(b"# Title\n\ntext"), "notes.md", settings)
        assert path == settings.uploads_dir / "notes.md" and path.read_text().startswith("# Title")
        with pytest.raises(UploadRejected) as exc:
            save_upload(io.BytesIO(b"x" * 2000), "big.txt", settings)
        assert exc.value.status == 413
        assert sorted(p.name for p in settings.uploads_dir.iterdir()) == ["notes.md"]


class TestFeedbackStore:
    def test_add_and_read_back(self, tmp_path):
        store = FeedbackStore(tmp_path / "app.sqlite")
        sources = [{"n": 1, "file": "a.pdf", "page": 2, "text": "t"}]
        first = store.add(Feedback("correct", "q?", "a [1]", sources, "extractive", "abc"))
        second = store.add(Feedback("wrong_evidence", "q2?", "b", [], comment=" wrong page "))
        rows = FeedbackStore(tmp_path / "app.sqlite").all()  # migrations run once
        assert [r.id for r in rows] == [first, second]
        assert rows[0].sources == sources and rows[0].settings_hash == "abc"
        assert rows[1].comment == "wrong page" and rows[1].created_at > 0

    def test_rejects_unknown_verdicts(self, tmp_path):
        with pytest.raises(ValueError, match="unknown verdict"):
            FeedbackStore(tmp_path / "f.sqlite").add(Feedback("meh", "q", "a", []))


class TestPreview:
    def test_find_span_ignores_spacing_and_hyphens(self):
        page = "Step 3: Bench-\r\nmarking analysis\r\nAs a next step"
        first, last = find_span(page, "Benchmarking analysis as a next") or (0, 0)
        assert page[first] == "B" and page[last] == "t"
        assert find_span(page, "nothing like this here") is None

    def test_render_page_marks_the_passage(self):
        pdf = GUIDANCE / "OnlineS3_2.4_Benchmarking_Case_Study.pdf"
        plain = render_page(pdf, 5, width=400)
        marked = render_page(pdf, 5, ["Step 3: Benchmarking analysis"], width=400)
        assert plain is not None and marked is not None and plain.width == 400
        assert plain.tobytes() != marked.tobytes()
        assert render_page(pdf, 99) is None
        assert (
            render_page(GUIDANCE / "S3CoP_Clusters_Interregional_Cooperation_slides.md", 1) is None
        )
