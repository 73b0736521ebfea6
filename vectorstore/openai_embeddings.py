"""Embeddings from any OpenAI-compatible ``/v1/embeddings`` server.

text-embeddings-inference, vLLM, llama.cpp's server, a hosted API: a large ingest then runs on
an existing serving engine (and its GPUs) instead of the 2 local cores. Batches go out
concurrently (bounded), 429 and 5xx answers are retried with backoff, and the embedder is
named after the server's model (``openai:<model>``) with the dimension the server returns, so
the store refuses to mix its vectors with MiniLM's or another server model's.

Chunk sizes are still guarded with the packaged MiniLM word-piece tokenizer: WordPiece splits
most text into more pieces than the BPE vocabularies of serving models, so a chunk within
``embedding_api_max_tokens`` MiniLM tokens fits the server's limit too.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any

import httpx
import numpy as np

from vectorstore.embeddings import S3Embeddings, minilm_tokenizer

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class EmbeddingServerError(RuntimeError):
    """The server refused a request, or kept failing after the retries."""


class OpenAICompatibleEmbeddings(S3Embeddings):
    """Batched, concurrent client of ``POST {base_url}/embeddings``; unit-length vectors."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        batch_size: int = 32,
        concurrency: int = 4,
        max_tokens: int = 510,
        timeout_s: float = 60.0,
        retries: int = 5,
        backoff_s: float = 0.5,
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{model}"
        self.batch_size = batch_size
        self.concurrency = concurrency
        self._max_tokens = max_tokens
        self.retries = retries
        self.backoff_s = backoff_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout_s, limits=limits
        )
        self._dimension: int | None = None
        self._lock = threading.Lock()

    # -- identity ----------------------------------------------------------------------------
    @property
    def dimension(self) -> int:
        """What the server returns (asked once with a probe text): recorded in the index."""
        if self._dimension is None:
            self._dimension = int(self._post(["dimension probe"]).shape[1])
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    @cached_property
    def tokenizer(self) -> Any:
        return minilm_tokenizer()

    # -- requests ----------------------------------------------------------------------------
    def _post(self, texts: list[str]) -> np.ndarray:
        """One request with retries; rows in input order, L2-normalised."""
        payload = {"model": self.model, "input": texts, "encoding_format": "float"}
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                resp = self._client.post("/embeddings", json=payload)
            except httpx.TransportError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code == 200:
                    return _vectors(resp.json(), len(texts))
                error = f"HTTP {resp.status_code}: {resp.text[:300]}"
                if resp.status_code not in RETRY_STATUS:
                    raise EmbeddingServerError(f"{self.base_url}/embeddings refused: {error}")
                retry_after = resp.headers.get("retry-after", "")
                if retry_after.replace(".", "", 1).isdigit():
                    delay = max(delay, float(retry_after))
            if attempt == self.retries:
                break
            time.sleep(min(delay, 30.0))
            delay *= 2
        raise EmbeddingServerError(
            f"{self.base_url}/embeddings failed after {self.retries + 1} attempts: {error}"
        )

    def embed_array(self, texts: list[str]) -> np.ndarray:
        """All texts, ``batch_size`` per request, at most ``concurrency`` requests in flight."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        batches = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        if len(batches) == 1:
            parts = [self._post(batches[0])]
        else:
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                parts = list(pool.map(self._post, batches))
        out = np.concatenate(parts).astype(np.float32, copy=False)
        with self._lock:
            if self._dimension is None:
                self._dimension = int(out.shape[1])
        if out.shape[1] != self.dimension:
            raise EmbeddingServerError(
                f"server returned {out.shape[1]}-d vectors, expected {self.dimension}-d"
            )
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()

    def close(self) -> None:
        self._client.close()


def _vectors(body: dict[str, Any], expected: int) -> np.ndarray:
    """Rows of an embeddings response in input order (``index``), normalised to unit length.

    A server running a model without pooling (llama.cpp ``--pooling none``) returns one vector
    per token; those are mean-pooled here so every text still gets one vector.
    """
    data = sorted(body.get("data") or [], key=lambda d: int(d.get("index", 0)))
    if len(data) != expected:
        raise EmbeddingServerError(f"server returned {len(data)} embeddings for {expected} texts")
    rows = []
    for item in data:
        vec = np.asarray(item["embedding"], dtype=np.float32)
        rows.append(vec.mean(axis=0) if vec.ndim == 2 else vec)
    out = np.vstack(rows)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.asarray(out / np.clip(norms, 1e-12, None), dtype=np.float32)


_CACHE: dict[tuple[Any, ...], OpenAICompatibleEmbeddings] = {}
_CACHE_LOCK = threading.Lock()


def openai_embedder(settings: Any) -> OpenAICompatibleEmbeddings:
    """The embeddings-server client named in settings (one per process and configuration)."""
    if not settings.embedding_api_base:
        raise ValueError("embedding_model 'openai' needs S3ASSIST_EMBEDDING_API_BASE")
    key_secret = settings.embedding_api_key
    api_key = key_secret.get_secret_value() if key_secret is not None else None
    key = (
        settings.embedding_api_base,
        settings.embedding_api_model,
        api_key,
        settings.embedding_batch_size,
        settings.embedding_api_concurrency,
        settings.embedding_api_max_tokens,
        settings.embedding_api_timeout_s,
    )
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = OpenAICompatibleEmbeddings(
                settings.embedding_api_base,
                settings.embedding_api_model,
                api_key,
                batch_size=settings.embedding_batch_size,
                concurrency=settings.embedding_api_concurrency,
                max_tokens=settings.embedding_api_max_tokens,
                timeout_s=settings.embedding_api_timeout_s,
            )
        return _CACHE[key]
