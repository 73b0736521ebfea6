"""Deterministic synthetic stores of N chunks, grown from the real chunks of an ingested corpus.

Embedding a million texts with the real models would take days on 2 cores, and what the search
benchmark measures (index sizes, posting-list lengths, metadata shapes) does not need real
embeddings of new text. So each synthetic chunk is a *variant* of a real one:

- text: the base chunk's context header, then its sentences shuffled with some replaced by
  sentences from a partner chunk (seeded), so BM25 sees the corpus's real vocabulary and
  term statistics, with realistic document-frequency growth;
- vectors (MiniLM 384-d and multilingual USE 512-d): ``0.8 * base + 0.2 * partner + noise``,
  re-normalised, so the dense space keeps the real clusters instead of uniform noise;
- metadata: the base chunk's, with ``file``/``doc_id`` moved to ``synthetic/vNNNN/...`` for
  every copy after the first, so documents (and per-page caps) multiply like a real library.

The first ``len(source)`` chunks are the real chunks unchanged (the dev queries' gold pages stay
findable). Stores are written straight into Chroma through :class:`ChunkStore` (same collection
names and metadata as an ingest), plus the manifest generation and the BM25 index, and cached
under ``bench/results/stores/`` keyed by size, seed and source fingerprint. Unlike an ingest,
the multilingual collection gets vectors and metadata but no text (search never reads it
there; it halves the write time). 1M chunks take ~13 GB on disk and ~70 min to write here.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS_DIR, ROOT
from s3assist.settings import Settings

CORPUS = ROOT.parent / "shared" / "corpus"
SOURCE_DIR = RESULTS_DIR / "source"
STORES_DIR = RESULTS_DIR / "stores"
BATCH = 5000
"""Chunks per Chroma ``add`` (below chromadb's max batch size)."""
MIX = 0.2
NOISE = 0.02
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")


@dataclass
class SourceChunks:
    """The real chunks the variants are made from (text, metadata, both embeddings)."""

    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    dense: np.ndarray
    multilingual: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for i in sorted(self.ids):
            h.update(i.encode())
        return h.hexdigest()[:12]


def ensure_source(data_dir: Path = SOURCE_DIR) -> Settings:
    """Settings of an ingested copy of the shared corpus (strategies + guidance), ingesting
    it once into ``data_dir`` when it is not there yet."""
    settings = store_settings(data_dir)
    from vectorstore.store import open_collection_info

    if open_collection_info(settings)["chunks"] == 0:
        from ingest.pipeline import Ingestor

        Ingestor(settings).ingest([CORPUS / "strategies", CORPUS / "guidance"])
    return settings


def load_source(settings: Settings, limit: int | None = None) -> SourceChunks:
    """Every chunk of the store with both embeddings (ids sorted: order-independent)."""
    from vectorstore.store import make_client

    client = make_client(settings)
    primary = client.get_collection(settings.collection)
    extra = client.get_collection(f"{settings.collection}__multilingual")
    got: Any = primary.get(include=["documents", "metadatas", "embeddings"])
    order = sorted(range(len(got["ids"])), key=lambda i: got["ids"][i])[:limit]
    ids = [got["ids"][i] for i in order]
    multi: Any = extra.get(ids=ids, include=["embeddings"])
    by_id = dict(zip(multi["ids"], multi["embeddings"], strict=True))
    return SourceChunks(
        ids=ids,
        texts=[got["documents"][i] or "" for i in order],
        metadatas=[dict(got["metadatas"][i] or {}) for i in order],
        dense=np.asarray([got["embeddings"][i] for i in order], dtype=np.float32),
        multilingual=np.asarray([by_id[i] for i in ids], dtype=np.float32),
    )


def _normalise(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip()]


def _variant_text(
    base: str,
    base_meta: dict[str, Any],
    partner: str,
    partner_meta: dict[str, Any],
    rng: np.random.Generator,
) -> tuple[str, int]:
    """(text, context_chars): the base header + shuffled base sentences, a third swapped."""
    cut = int(base_meta.get("context_chars", 0))
    header, body = base[:cut], base[cut:]
    own = _sentences(body)
    other = _sentences(partner[int(partner_meta.get("context_chars", 0)) :])
    rng.shuffle(own)
    if other:
        for j in range(len(own)):
            if rng.random() < 1 / 3:
                own[j] = other[int(rng.integers(len(other)))]
    return header + " ".join(own), len(header)


@dataclass
class Batch:
    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    dense: np.ndarray
    multilingual: np.ndarray


def generate(source: SourceChunks, n: int, seed: int = 0, batch: int = BATCH) -> Iterator[Batch]:
    """``n`` chunks in batches; the same (source, n, seed) always gives the same chunks."""
    m = len(source)
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        rng = np.random.default_rng([seed, start])
        idx = np.arange(start, stop)
        base = idx % m
        copy = idx // m
        partner = rng.integers(m, size=len(idx))
        real = copy == 0
        ids, texts, metas = [], [], []
        for i, b, p, c in zip(idx, base, partner, copy, strict=True):
            meta = dict(source.metadatas[b])
            if c == 0:
                ids.append(source.ids[b])
                texts.append(source.texts[b])
                metas.append(meta)
                continue
            text, ctx = _variant_text(
                source.texts[b], meta, source.texts[p], source.metadatas[p], rng
            )
            prefix = f"synthetic/v{c:04d}/"
            meta.update(
                file=prefix + str(meta.get("file", "")),
                doc_id=prefix + str(meta.get("doc_id", "")),
                context_chars=ctx,
                content_hash=hashlib.sha256(text.encode()).hexdigest(),
            )
            ids.append(hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
            texts.append(text)
            metas.append(meta)
        vectors = {}
        for name, table in (("dense", source.dense), ("multilingual", source.multilingual)):
            noise = rng.standard_normal((len(idx), table.shape[1])).astype(np.float32)
            mixed = (1 - MIX) * table[base] + MIX * table[partner] + NOISE * noise
            vectors[name] = np.where(real[:, None], table[base], _normalise(mixed))
        yield Batch(ids, texts, metas, vectors["dense"], vectors["multilingual"])


@dataclass
class ScaledStore:
    settings: Settings
    n: int
    build_s: float
    """Seconds it took to write (0 when reused from the cache)."""


def store_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings that open an existing store with the MiniLM backend its vectors came from.

    The cached stores were written with torch MiniLM vectors (1M chunks take ~70 min to
    write); an index refuses query vectors from another backend, so the benchmarks open each
    store as it was built. A new store gets the default backend."""
    from vectorstore.store import open_collection_info

    settings = Settings(data_dir=data_dir, **overrides)
    if (data_dir / "chroma").is_dir() and "embedding_backend" not in overrides:
        stamp = str(open_collection_info(settings)["metadata"].get("embedder") or "")
        if stamp.startswith("all-MiniLM-L6-v2"):
            backend = stamp.partition("@")[2] or "torch"
            settings = settings.model_copy(update={"embedding_backend": backend})
    return settings


def _add_chunk_table(settings: Settings, log: Any) -> None:
    """Stores cached before BM25 kept a chunk table get one (a BM25 rebuild from Chroma, as
    an ingest would do now), so the benchmark measures what the code does today."""
    from ingest.manifest import Manifest
    from vectorstore.bm25 import CHUNKS_DB, BM25Index, bm25_dir
    from vectorstore.embeddings import dense_embedder, multilingual_embedder
    from vectorstore.store import ChunkStore

    folder = bm25_dir(settings)
    if (folder / CHUNKS_DB).is_file():
        return
    t0 = time.perf_counter()
    store = ChunkStore(
        settings,
        dense_embedder(settings),
        extra={"multilingual": multilingual_embedder(settings)},
    )
    manifest = Manifest(settings.records_db)
    try:
        generation = manifest.generation()
    finally:
        manifest.close()
    BM25Index(folder).rebuild(store, generation)
    seconds = time.perf_counter() - t0
    log(f"  BM25 + chunk table rebuilt for {settings.data_dir.name}: {seconds:.0f} s")


def build_store(
    source: SourceChunks,
    n: int,
    seed: int = 0,
    root: Path = STORES_DIR,
    log: Any = print,
) -> ScaledStore:
    """The cached store of ``n`` synthetic chunks, written once (Chroma + manifest + BM25)."""
    from ingest.manifest import Manifest
    from vectorstore.bm25 import BM25Index, bm25_dir
    from vectorstore.embeddings import dense_embedder, multilingual_embedder
    from vectorstore.store import ChunkStore

    data_dir = root / f"n{n}-s{seed}-{source.fingerprint()}"
    settings = store_settings(data_dir)
    marker = data_dir / "scale.json"
    if marker.is_file():
        _add_chunk_table(settings, log)
        return ScaledStore(settings, n, 0.0)
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    t0 = time.perf_counter()
    # ChunkStore names and stamps the collections exactly as an ingest would; the embedders
    # are only asked for their name and dimension here, never loaded.
    store = ChunkStore(
        settings,
        dense_embedder(settings),
        extra={"multilingual": multilingual_embedder(settings)},
    )
    primary: Any = store.collection
    multi: Any = store.extra["multilingual"]._collection
    all_ids: list[str] = []
    all_texts: list[str] = []
    all_metas: list[dict[str, Any]] = []
    for b in generate(source, n, seed):
        primary.add(ids=b.ids, embeddings=b.dense, documents=b.texts, metadatas=b.metadatas)
        multi.add(ids=b.ids, embeddings=b.multilingual, metadatas=b.metadatas)
        all_ids += b.ids
        all_texts += b.texts
        all_metas += b.metadatas
        if len(all_ids) % 50_000 == 0:
            log(f"  {len(all_ids):,}/{n:,} chunks written ({time.perf_counter() - t0:.0f} s)")
    chroma_s = time.perf_counter() - t0
    manifest = Manifest(settings.records_db)
    try:
        generation = manifest.bump_generation()
    finally:
        manifest.close()
    BM25Index(bm25_dir(settings)).build(all_ids, all_texts, all_metas, generation)
    build_s = time.perf_counter() - t0
    marker.write_text(
        json.dumps(
            {
                "n": n,
                "seed": seed,
                "source": source.fingerprint(),
                "chroma_s": chroma_s,
                "build_s": build_s,
            },
            indent=2,
        )
    )
    log(f"  store of {n:,} chunks built in {build_s:.0f} s (Chroma {chroma_s:.0f} s)")
    return ScaledStore(settings, n, build_s)


def store_size_mb(settings: Settings) -> float:
    return sum(p.stat().st_size for p in Path(settings.data_dir).rglob("*") if p.is_file()) / 2**20
