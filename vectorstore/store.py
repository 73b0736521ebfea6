"""The chunk store: one Chroma collection (embedded or ``chroma run`` server) via langchain-chroma.

The collection's metadata records the embedder and chunking settings it was built with; opening
it with other settings raises :class:`EmbedderMismatchError` instead of silently mixing vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from ingest.errors import EmbedderMismatchError
from s3assist.settings import Settings
from vectorstore.embeddings import S3Embeddings, multilingual_embedder
from vectorstore.filters import matches

SCHEMA_VERSION = 1
POSTFILTER_MIN = 0.1
"""Filters passing at least this share of chunks are applied after an unfiltered HNSW search."""
POSTFILTER_MAX = 2000


@dataclass
class Hit:
    """One retrieved chunk, as the CLI and the assistant see it."""

    id: str
    file: str
    page: int
    text: str
    score: float
    metadata: dict[str, Any]
    retriever_scores: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = {
            "file": self.file,
            "page": self.page,
            "text": self.text,
            "score": round(self.score, 6),
            "metadata": self.metadata,
        }
        if self.retriever_scores:
            out["retriever_scores"] = {k: round(v, 6) for k, v in self.retriever_scores.items()}
        return out


def make_client(settings: Settings) -> chromadb.ClientAPI:
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    if settings.chroma_host:
        return chromadb.HttpClient(
            host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
        )
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


class _MirroredStore(VectorStore):
    """What LangChain's ``index()`` writes to: every chunk goes into each collection.

    The primary (MiniLM) collection holds text and metadata; each extra signal (the multilingual
    encoder) has its own collection with the same ids, so one record manager keeps them all in
    step and a delete removes a chunk everywhere.
    """

    def __init__(self, stores: list[Chroma]):
        self.stores = stores

    @property
    def embeddings(self) -> Embeddings | None:
        return self.stores[0].embeddings

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        ids: list[str] = []
        for store in self.stores:
            ids = store.add_documents(documents, **kwargs)
        return ids

    def add_texts(
        self, texts: Iterable[str], metadatas: list[dict] | None = None, **kwargs: Any
    ) -> list[str]:
        docs = [
            Document(page_content=t, metadata=(metadatas or [{}] * (i + 1))[i])
            for i, t in enumerate(texts)
        ]
        return self.add_documents(docs, **kwargs)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        for store in self.stores:
            store.delete(ids=ids, **kwargs)
        return True

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return self.stores[0].similarity_search(query, k, **kwargs)

    @classmethod
    def from_texts(cls, *args: Any, **kwargs: Any) -> _MirroredStore:
        raise NotImplementedError("build a ChunkStore instead")


class ChunkStore:
    def __init__(
        self,
        settings: Settings,
        embedder: S3Embeddings,
        client: Any = None,
        extra: dict[str, S3Embeddings] | None = None,
    ):
        """``extra`` maps a signal name to its embedder; by default the multilingual encoder
        when ``settings.multilingual_index`` is on."""
        self.settings = settings
        self.embedder = embedder
        self.client = client or make_client(settings)
        if extra is None:
            extra = {}
            if settings.multilingual_index:
                extra["multilingual"] = multilingual_embedder(settings)
        self.extra_embedders = extra
        self.expected = {
            "s3assist_schema": SCHEMA_VERSION,
            "embedder": embedder.name,
            "dimension": embedder.dimension,
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
            "tokenizer_encoding": settings.tokenizer_encoding,
            "extra_signals": ",".join(f"{k}={v.name}" for k, v in sorted(extra.items())),
        }
        self._check_existing(settings.collection, self.expected)
        self.vs = self._open(settings.collection, embedder, self.expected)
        self.extra: dict[str, Chroma] = {}
        for signal, emb in sorted(extra.items()):
            meta = {
                "s3assist_schema": SCHEMA_VERSION,
                "embedder": emb.name,
                "dimension": emb.dimension,
                "primary": settings.collection,
            }
            name = self.extra_collection_name(signal)
            self._check_existing(name, meta)
            self.extra[signal] = self._open(name, emb, meta)
        self.index_target = _MirroredStore([self.vs, *self.extra.values()])

    def extra_collection_name(self, signal: str) -> str:
        return f"{self.settings.collection}__{signal}"

    def _open(self, name: str, embedder: S3Embeddings, meta: dict[str, Any]) -> Chroma:
        return Chroma(
            client=self.client,
            collection_name=name,
            embedding_function=embedder,
            collection_metadata=meta,
            collection_configuration={"hnsw": {"space": "cosine"}},
        )

    def _check_existing(self, name: str, expected: dict[str, Any]) -> None:
        try:
            existing = self.client.get_collection(name)
        except Exception:  # NotFoundError differs between client kinds; absent is fine
            return
        found = dict(existing.metadata or {})
        diffs = {k: (found.get(k), v) for k, v in expected.items() if found.get(k) != v}
        if diffs:
            detail = ", ".join(
                f"{k}: index has {a!r}, settings say {b!r}" for k, (a, b) in diffs.items()
            )
            hint = ""
            built, wanted = (str(x or "") for x in diffs.get("embedder", ("", "")))
            if built and wanted and built.split("@")[0] == wanted.split("@")[0]:
                backend = built.partition("@")[2] or "torch"
                hint = f" Or set S3ASSIST_EMBEDDING_BACKEND={backend} to match the index."
            raise EmbedderMismatchError(
                f"collection '{name}' was built with other embedding settings ({detail}). "
                "Run `s3assist ingest --rebuild PATH...` to re-embed everything, or set "
                f"S3ASSIST_COLLECTION to use a separate collection.{hint}"
            )

    @property
    def collection(self) -> Any:
        return self.vs._collection

    def collections(self) -> list[Any]:
        return [self.vs._collection, *(c._collection for c in self.extra.values())]

    def count(self) -> int:
        return int(self.collection.count())

    @staticmethod
    def _ids(collection: Any) -> set[str]:
        ids: set[str] = set()
        offset, page = 0, 5000
        while True:
            got = collection.get(include=[], limit=page, offset=offset)
            ids.update(got["ids"])
            if len(got["ids"]) < page:
                return ids
            offset += page

    def all_ids(self) -> set[str]:
        """Ids in the primary collection."""
        return self._ids(self.collection)

    def ids_per_collection(self) -> list[set[str]]:
        return [self._ids(c) for c in self.collections()]

    def delete(self, ids: list[str]) -> None:
        for collection in self.collections():
            for start in range(0, len(ids), 5000):
                collection.delete(ids=ids[start : start + 5000])

    def get_documents(self, where: dict[str, Any] | None = None) -> list[Document]:
        got = self.collection.get(where=where, include=["documents", "metadatas"])
        return [
            Document(page_content=text or "", metadata=dict(meta or {}), id=id_)
            for id_, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]

    def search(
        self, query: str, k: int, where: dict[str, Any] | None = None, signal: str = "dense"
    ) -> list[Hit]:
        """Dense search with one signal ("dense" = MiniLM, or an extra such as
        "multilingual"); score = cosine similarity (1 - cosine distance)."""
        if signal == "dense":
            vector = self.embedder.embed_query(query)
            return self.search_by_vector(vector, k, where)
        if signal not in self.extra:
            raise ValueError(
                f"no '{signal}' index: enable it (S3ASSIST_MULTILINGUAL_INDEX=true) and re-ingest"
            )
        vector = self.extra_embedders[signal].embed_query(query)
        return self.search_by_vector(vector, k, where, signal)

    def search_by_vector(
        self,
        vector: list[float],
        k: int,
        where: dict[str, Any] | None = None,
        signal: str = "dense",
    ) -> list[Hit]:
        collection: Any = self.collection if signal == "dense" else self.extra[signal]._collection
        res = collection.query(
            query_embeddings=[vector],
            n_results=k,
            where=where or None,
            include=["distances"] if signal != "dense" else ["documents", "metadatas", "distances"],
        )
        ids = res["ids"][0]
        scores = [1.0 - float(d) for d in res["distances"][0]]
        if signal != "dense":  # text and metadata live in the primary collection
            return self.hits_for(ids, scores)
        return [
            make_hit(id_, text, meta, score)
            for id_, text, meta, score in zip(
                ids, res["documents"][0], res["metadatas"][0], scores, strict=True
            )
        ]

    def rank(
        self,
        query: str,
        k: int,
        where: dict[str, Any] | None = None,
        signal: str = "dense",
        filters: dict[str, Any] | None = None,
        selectivity: float | None = None,
        allowed_ids: Callable[[], list[str] | None] | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) for one signal, without fetching text: callers
        merging several rankings fetch the union once with :meth:`hits_for`.

        With a broad filter (``selectivity``, the share of chunks passing ``filters``, at or
        above ``POSTFILTER_MIN``) the HNSW graph is searched unfiltered for enough neighbours
        and the filter applied to their metadata: Chroma's ``where`` first materialises every
        matching id from SQLite, which costs more than the search itself on large stores.
        Otherwise the search is restricted to ``allowed_ids()``, the ids passing the filter
        (from BM25's metadata columns, so exact only while BM25 is current), or, without them,
        to Chroma's ``where``: the same result, several times slower on large stores."""
        if signal == "dense":
            collection, embedder = self.collection, self.embedder
        elif signal in self.extra:
            collection, embedder = self.extra[signal]._collection, self.extra_embedders[signal]
        else:
            raise ValueError(
                f"no '{signal}' index: enable it (S3ASSIST_MULTILINGUAL_INDEX=true) and re-ingest"
            )
        vector = embedder.embed_query(query)
        if where and filters and selectivity is not None and selectivity >= POSTFILTER_MIN:
            # Widen once before giving up: a query whose neighbourhood is mostly filtered out
            # (guidance-like questions under doc_type=strategy) needed Chroma's ``where`` path,
            # ~1 s at 100k chunks; four times the neighbours cost ~30 ms.
            first = min(int(k / selectivity * 2) + 10, POSTFILTER_MAX)
            for n in dict.fromkeys((first, min(first * 4, POSTFILTER_MAX))):
                res = collection.query(
                    query_embeddings=[vector], n_results=n, include=["distances", "metadatas"]
                )
                found = list(
                    zip(res["ids"][0], res["distances"][0], res["metadatas"][0], strict=True)
                )
                kept = [(i, 1.0 - float(d)) for i, d, m in found if matches(dict(m or {}), filters)]
                if len(kept) >= k or len(found) < n:
                    return kept[:k]
        allowed = allowed_ids() if where and allowed_ids is not None else None
        if allowed is not None:
            if not allowed:
                return []
            res = collection.query(
                query_embeddings=[vector],
                n_results=min(k, len(allowed)),
                ids=allowed,
                include=["distances"],
            )
        else:
            res = collection.query(
                query_embeddings=[vector], n_results=k, where=where or None, include=["distances"]
            )
        return [
            (i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)
        ]

    def hits_for(self, ids: list[str], scores: list[float]) -> list[Hit]:
        if not ids:
            return []
        got = self.collection.get(ids=ids, include=["documents", "metadatas"])
        by_id = {
            i: (t, m)
            for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        return [
            make_hit(i, by_id[i][0], by_id[i][1], s)
            for i, s in zip(ids, scores, strict=True)
            if i in by_id
        ]

    def drop(self) -> None:
        """Delete the collections (for a rebuild with new embedding settings)."""
        for name in [self.settings.collection, *map(self.extra_collection_name, self.extra)]:
            try:
                self.client.delete_collection(name)
            except Exception:  # already gone
                pass


def passage(text: str | None, meta: dict[str, Any]) -> str:
    """The chunk's own text, without the context header stored in front of it."""
    return (text or "")[int(meta.get("context_chars", 0)) :]


def make_hit(id_: str, text: str | None, meta: Any, score: float) -> Hit:
    meta = dict(meta or {})
    return Hit(
        id=id_,
        file=str(meta.get("file", "")),
        page=int(meta.get("page", 0)),
        text=passage(text, meta),
        score=score,
        metadata=meta,
    )


def open_collection_info(settings: Settings) -> dict[str, Any]:
    """Collection count and metadata without loading an embedder (for ``status``)."""
    client = make_client(settings)
    try:
        col = client.get_collection(settings.collection)
    except Exception:
        return {"chunks": 0, "metadata": {}}
    return {"chunks": int(col.count()), "metadata": dict(col.metadata or {})}
