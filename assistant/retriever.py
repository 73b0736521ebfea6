"""Hybrid retrieval as a LangChain retriever: BM25 + MiniLM + multilingual USE, fused by RRF.

Each signal ranks ``settings.candidates`` chunks under the same filters; weighted reciprocal rank
fusion merges them; an optional second stage rescores the fused head; a per-page cap keeps the
list diverse. Every hit carries the score each signal gave it (``retriever_scores``).
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from assistant.diversity import cap_per_group
from assistant.fusion import reciprocal_rank_fusion, weighted_score_fusion
from ingest.manifest import Manifest
from s3assist.settings import Settings
from vectorstore.bm25 import BM25Index, bm25_dir
from vectorstore.embeddings import dense_embedder
from vectorstore.filters import build_where
from vectorstore.store import ChunkStore, Hit, make_hit

SIGNALS = ("bm25", "dense", "multilingual")
VARIANTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "bm25": (("bm25",), False),
    "dense": (("dense",), False),
    "multilingual": (("multilingual",), False),
    "hybrid": (SIGNALS, False),
    "hybrid_rescored": (SIGNALS, True),
}
KEYWORD = "keyword"
"""Filter key for must-contain text (case-insensitive), beside the metadata fields."""


class HybridRetriever(BaseRetriever):
    """``invoke(query)`` returns Documents; ``search`` returns scored :class:`Hit` objects."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: ChunkStore
    bm25: BM25Index
    settings: Settings
    signals: tuple[str, ...] = SIGNALS
    rescorer: Any = None
    k: int = 10
    filters: dict[str, Any] = Field(default_factory=dict)
    generation: Any = None
    """Callable returning the current ingest generation; BM25 reloads when it moves on."""

    def _bm25_ready(self, filtered: bool = False) -> bool:
        """Bring BM25 up to date when it is searched, or when a filter needs its metadata
        columns; True when it is known to match the store."""
        if ("bm25" in self.signals or filtered) and self.generation is not None:
            self.bm25.ensure(self.store, self.generation())
            return True
        return False

    def _rankings(
        self, query: str, fetch: int, filters: dict[str, Any], where: Any, current: bool = False
    ) -> dict[str, list[tuple[str, float]]]:
        """(id, score) per signal, computed concurrently: the two query encoders (torch and
        numpy), Chroma's HNSW and bm25s all release the GIL for their heavy parts."""
        keyword = str(filters.get(KEYWORD) or "").strip()
        meta_filters = {f: v for f, v in filters.items() if f != KEYWORD}

        selectivity = self.bm25.selectivity(meta_filters) if where else None
        allowed = None
        if where and current:
            allowed = functools.partial(self.bm25.matching_ids, meta_filters)

        def one(signal: str) -> list[tuple[str, float]]:
            if signal == "bm25":
                return self.bm25.search(f"{query} {keyword}".strip(), fetch, meta_filters)
            return self.store.rank(
                query, fetch, where, signal, meta_filters, selectivity, allowed_ids=allowed
            )

        if len(self.signals) == 1:
            return {self.signals[0]: one(self.signals[0])}
        futures = {s: _POOL.submit(one, s) for s in self.signals}
        return {s: f.result() for s, f in futures.items()}

    def search(
        self, query: str, k: int | None = None, filters: dict[str, Any] | None = None
    ) -> list[Hit]:
        k = k or self.k
        filters = dict(self.filters if filters is None else filters)
        query = query.strip()
        if not query:
            return []
        meta_filters = {f: v for f, v in filters.items() if f != KEYWORD}
        where = build_where(meta_filters)
        current = self._bm25_ready(filtered=bool(where))
        depth = max(self.settings.candidates, k * 3)  # room for the per-page cap
        keyword = str(filters.get(KEYWORD) or "").strip().lower()
        fetch = depth * 4 if keyword else depth  # room for the must-contain post-filter
        rankings = self._rankings(query, fetch, filters, where, current)
        # One fetch of text and metadata for the union of all signals' candidates.
        union = list(dict.fromkeys(i for ranked in rankings.values() for i, _ in ranked))
        known = self._known(union)
        per_signal: dict[str, list[Hit]] = {}
        for signal, ranking in rankings.items():
            hits = [
                Hit(i, known[i].file, known[i].page, known[i].text, s, known[i].metadata)
                for i, s in ranking
                if i in known and (not keyword or keyword in known[i].text.lower())
            ]
            per_signal[signal] = hits[:depth]
        weights = {
            "bm25": self.settings.bm25_weight,
            "dense": self.settings.dense_weight,
            "multilingual": self.settings.multilingual_weight,
        }
        if self.settings.fusion == "rrf":
            fused = reciprocal_rank_fusion(
                {s: [h.id for h in hits] for s, hits in per_signal.items()},
                weights,
                k=self.settings.rrf_k,
            )
        else:
            fused = weighted_score_fusion(
                {s: {h.id: h.score for h in hits} for s, hits in per_signal.items()}, weights
            )
        by_id: dict[str, Hit] = {}
        for signal, hits in per_signal.items():
            for h in hits:
                base = by_id.setdefault(h.id, Hit(h.id, h.file, h.page, h.text, 0.0, h.metadata))
                base.retriever_scores[signal] = h.score
        ranked: list[Hit] = []
        for doc_id, score in fused:
            hit = by_id[doc_id]
            hit.score = score if len(self.signals) > 1 else hit.retriever_scores[self.signals[0]]
            if len(self.signals) > 1:
                hit.retriever_scores["fused"] = score
            ranked.append(hit)
        if self.rescorer is not None:
            ranked = self.rescorer.rescore(query, ranked)
        ranked = cap_per_group(
            ranked,
            lambda h: (h.file, h.page),
            self.settings.max_per_page,
            self.settings.max_per_doc,
        )
        return ranked[:k]

    def _known(self, ids: list[str]) -> dict[str, Hit]:
        """Text and metadata of the candidates: from BM25's chunk table (current: BM25 was just
        brought up to the ingest generation), else from Chroma."""
        current = "bm25" in self.signals and self.generation is not None
        rows = self.bm25.chunks(ids) if current else None
        if rows is None:
            return {h.id: h for h in self.store.hits_for(ids, [0.0] * len(ids))}
        return {i: make_hit(i, text, meta, 0.0) for i, (text, meta) in rows.items()}

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filters: dict[str, Any] | None = None,
    ) -> list[Document]:
        """``invoke(query, k=5, filters={"country": "FI"})`` overrides the defaults per call."""
        return [
            Document(
                page_content=h.text,
                metadata={**h.metadata, "score": h.score, "retriever_scores": h.retriever_scores},
                id=h.id,
            )
            for h in self.search(query, k, filters)
        ]


_POOL = ThreadPoolExecutor(max_workers=len(SIGNALS), thread_name_prefix="retrieval")
"""Shared by every retriever: one thread per signal of a query."""
_STORES: dict[tuple[Any, ...], tuple[ChunkStore, BM25Index]] = {}
_LOCK = threading.Lock()


def build_retriever(settings: Settings, variant: str | None = None, k: int = 10) -> HybridRetriever:
    """The retriever for a variant name (default: ``settings.retrieval_variant``)."""
    variant = variant or settings.retrieval_variant
    if variant not in VARIANTS:
        raise ValueError(f"unknown retrieval variant {variant!r}; one of {sorted(VARIANTS)}")
    signals, rescore = VARIANTS[variant]
    if "multilingual" in signals and not settings.multilingual_index:
        if variant == "multilingual":
            raise ValueError("the multilingual index is off (S3ASSIST_MULTILINGUAL_INDEX=false)")
        signals = tuple(s for s in signals if s != "multilingual")
    key = (
        str(settings.data_dir.resolve()),
        settings.collection,
        settings.chroma_host,
        settings.chroma_port,
        settings.embedding_model,
        settings.multilingual_index,
    )
    with _LOCK:
        if key not in _STORES:
            embedder = dense_embedder(settings)
            _STORES[key] = (ChunkStore(settings, embedder), BM25Index(bm25_dir(settings)))
        store, bm25 = _STORES[key]
    manifest_path = settings.records_db

    def generation() -> int:
        manifest = Manifest(manifest_path)
        try:
            return manifest.generation()
        finally:
            manifest.close()

    rescorer = None
    if rescore:
        from assistant.rescoring import make_rescorer

        rescorer = make_rescorer(settings, store)
    return HybridRetriever(
        store=store,
        bm25=bm25,
        settings=settings,
        signals=signals,
        rescorer=rescorer,
        k=k,
        generation=generation,
    )
