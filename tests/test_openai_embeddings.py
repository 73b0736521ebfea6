"""The OpenAI-compatible embeddings backend: retries and ordering against a scripted loopback
server, then a real llama-cpp-python server (the packaged GGUF) through ingest and search."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import numpy as np
import pytest

from ingest.errors import EmbedderMismatchError
from ingest.pipeline import Ingestor
from s3assist.settings import Settings
from vectorstore.openai_embeddings import EmbeddingServerError, OpenAICompatibleEmbeddings

GUIDANCE = Path("/work/shared/corpus/guidance")


class _Scripted(BaseHTTPRequestHandler):
    """Answers /v1/embeddings with one-hot-ish vectors in *reversed* order (``index`` set),
    after failing the first ``fail_first`` requests with ``fail_status``."""

    calls: ClassVar[list[dict[str, Any]]] = []
    fail_first = 0
    fail_status = 429

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append(body)
        if len(type(self).calls) <= type(self).fail_first:
            self.send_response(type(self).fail_status)
            self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(b'{"error": "busy"}')
            return
        data = [
            {"index": i, "embedding": [float(len(t)), 1.0, 0.0]}
            for i, t in enumerate(body["input"])
        ]
        out = json.dumps({"data": data[::-1], "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[type[_Scripted]]:
    handler = type("Handler", (_Scripted,), {"calls": [], "fail_first": 0, "fail_status": 429})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/v1"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()
    server.server_close()


def _expected(texts: list[str]) -> np.ndarray:
    raw = np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


class TestClient:
    def test_batches_concurrently_in_input_order(self, scripted) -> None:
        emb = OpenAICompatibleEmbeddings(scripted.url, "m", batch_size=3, concurrency=4)
        texts = ["a" * n for n in range(1, 11)]
        out = emb.embed_array(texts)
        # concurrent requests reach the server in any order
        assert sorted(len(c["input"]) for c in scripted.calls) == [1, 3, 3, 3]
        np.testing.assert_allclose(out, _expected(texts), rtol=1e-6)
        assert emb.dimension == 3 and emb.name == "openai:m"
        assert all(c["model"] == "m" for c in scripted.calls)

    def test_retries_429_then_succeeds(self, scripted) -> None:
        scripted.fail_first = 2
        emb = OpenAICompatibleEmbeddings(scripted.url, "m", retries=3, backoff_s=0.01)
        np.testing.assert_allclose(emb.embed_array(["xy"]), _expected(["xy"]), rtol=1e-6)
        assert len(scripted.calls) == 3

    def test_gives_up_after_retries(self, scripted) -> None:
        scripted.fail_first, scripted.fail_status = 10, 503
        emb = OpenAICompatibleEmbeddings(scripted.url, "m", retries=2, backoff_s=0.01)
        with pytest.raises(EmbeddingServerError, match="after 3 attempts: HTTP 503"):
            emb.embed_array(["xy"])
        assert len(scripted.calls) == 3

    def test_client_errors_are_not_retried(self, scripted) -> None:
        scripted.fail_first, scripted.fail_status = 10, 400
        emb = OpenAICompatibleEmbeddings(scripted.url, "m", retries=5, backoff_s=0.01)
        with pytest.raises(EmbeddingServerError, match="refused: HTTP 400"):
            emb.embed_documents(["xy"])
        assert len(scripted.calls) == 1

    def test_settings_select_it(self, tmp_path, scripted) -> None:
        from vectorstore.embeddings import dense_embedder

        settings = Settings(
            data_dir=tmp_path,
            embedding_model="openai",
            embedding_api_base=scripted.url,
            embedding_api_model="served",
            embedding_api_key="sk-test",
        )
        emb = dense_embedder(settings)
        assert isinstance(emb, OpenAICompatibleEmbeddings) and emb.name == "openai:served"
        assert "sk-test" not in repr(settings)
        with pytest.raises(ValueError, match="EMBEDDING_API_BASE"):
            dense_embedder(Settings(data_dir=tmp_path, embedding_model="openai"))


# -- a real server -------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with embeddings on, on a free loopback port,
    serving the packaged Qwen GGUF (a causal LM: per-token vectors, mean-pooled by the client)."""
    from assistant.backends.local_model import ensure_local_model, joined_model_path

    data_dir = tmp_path_factory.mktemp("embed-llm")
    settings = Settings(data_dir=data_dir)
    model = ensure_local_model(settings)
    port = _free_port()
    log = (data_dir / "server.log").open("w")
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
    cmd += ["--embedding", "true", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--n_ctx", "1024", "--n_batch", "1024", "--n_threads", "2", "--model_alias", "qwen"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {(data_dir / 'server.log').read_text()}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not start within 180 s")
            time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if model == joined_model_path(settings):
            model.unlink()  # don't leave 1.1 GB behind each session


@pytest.mark.slow
class TestLlamaCppServer:
    """One text per request: llama-cpp-python 0.3's server returns wrong per-token vectors for
    the 2nd+ input of a multi-input request when the model has no pooling (seen here: cosine
    ~0 to the same text sent alone). Multi-text batching is covered by ``TestClient``; a
    pooling embedding model (TEI, vLLM, llama.cpp with an embedding GGUF) takes batch_size 32."""

    def test_concurrent_requests_equal_one_by_one(self, llama_server: str) -> None:
        emb = OpenAICompatibleEmbeddings(llama_server, "qwen", batch_size=1, concurrency=3)
        texts = [
            "Smart specialisation strategy",
            "Regional innovation in Finland",
            "Budget of the action plan",
            "Stakeholders of the EDP",
            "Open data tools",
        ]
        batched = emb.embed_array(texts)
        single = np.vstack([emb.embed_query(t) for t in texts])
        assert batched.shape == (5, emb.dimension) and emb.dimension >= 256
        np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, rtol=1e-5)
        assert np.min(np.sum(batched * single, axis=1)) > 0.99  # same text, same vector
        off_diag = (batched @ batched.T)[~np.eye(5, dtype=bool)]
        assert off_diag.max() < 0.999  # different texts are not collapsed

    def test_ingest_search_and_refuse_mixed_embedders(self, llama_server, tmp_path) -> None:
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        shutil.copy(GUIDANCE / "S3CoP_Clusters_Interregional_Cooperation_slides.md", corpus)
        served = Settings(
            data_dir=tmp_path / "data",
            embedding_model="openai",
            embedding_api_base=llama_server,
            embedding_api_model="qwen",
            embedding_api_concurrency=2,
            embedding_batch_size=1,
            multilingual_index=False,
        )
        ingestor = Ingestor(served)
        report = ingestor.ingest([corpus])
        assert not report.failed and report.chunks_embedded == report.chunks > 0
        meta = ingestor.store.collection.metadata
        assert meta["embedder"] == "openai:qwen"
        assert meta["dimension"] == ingestor.embedder.dimension
        hits = ingestor.store.search("clusters interregional cooperation", k=3)
        assert hits and hits[0].file.endswith(".md")
        ingestor.close()
        with pytest.raises(EmbedderMismatchError, match="openai:qwen"):
            Ingestor(Settings(data_dir=tmp_path / "data", multilingual_index=False))
        with pytest.raises(EmbedderMismatchError, match="openai:qwen"):  # another served model
            Ingestor(served.model_copy(update={"embedding_api_model": "other"}))
