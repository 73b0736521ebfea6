"""The chunk store: one Chroma collection (embedded or ``chroma run`` server) via langchain-chroma.

The collection's metadata records the embedder and chunking settings it was built with; opening
it with other settings raises :class:`EmbedderMismatchError` instead of silently mixing vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.documents import Document

from ingest.errors import EmbedderMismatchError
from s3assist.settings import Settings
from vectorstore.embeddings import S3Embeddings

SCHEMA_VERSION = 1


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


class ChunkStore:
    def __init__(self, settings: Settings, embedder: S3Embeddings, client: Any = None):
        self.settings = settings
        self.embedder = embedder
        self.client = client or make_client(settings)
        self.expected = {
            "s3assist_schema": SCHEMA_VERSION,
            "embedder": embedder.name,
            "dimension": embedder.dimension,
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
            "tokenizer_encoding": settings.tokenizer_encoding,
        }
        self._check_existing()
        self.vs = Chroma(
            client=self.client,
            collection_name=settings.collection,
            embedding_function=embedder,
            collection_metadata=self.expected,
            collection_configuration={"hnsw": {"space": "cosine"}},
        )

    def _check_existing(self) -> None:
        try:
            existing = self.client.get_collection(self.settings.collection)
        except Exception:  # NotFoundError differs between client kinds; absent is fine
            return
        found = dict(existing.metadata or {})
        diffs = {k: (found.get(k), v) for k, v in self.expected.items() if found.get(k) != v}
        if diffs:
            detail = ", ".join(
                f"{k}: index has {a!r}, settings say {b!r}" for k, (a, b) in diffs.items()
            )
            raise EmbedderMismatchError(
                f"collection '{self.settings.collection}' was built with other embedding "
                f"settings ({detail}). Run `s3assist ingest --rebuild PATH...` to re-embed "
                "everything, or set S3ASSIST_COLLECTION to use a separate collection."
            )

    @property
    def collection(self) -> Any:
        return self.vs._collection

    def count(self) -> int:
        return int(self.collection.count())

    def all_ids(self) -> set[str]:
        ids: set[str] = set()
        offset, page = 0, 5000
        while True:
            got = self.collection.get(include=[], limit=page, offset=offset)
            ids.update(got["ids"])
            if len(got["ids"]) < page:
                return ids
            offset += page

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 5000):
            self.collection.delete(ids=ids[start : start + 5000])

    def get_documents(self, where: dict[str, Any] | None = None) -> list[Document]:
        got = self.collection.get(where=where, include=["documents", "metadatas"])
        return [
            Document(page_content=text or "", metadata=dict(meta or {}), id=id_)
            for id_, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]

    def search(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[Hit]:
        """Dense search; score = cosine similarity (1 - cosine distance)."""
        vector = self.embedder.embed_query(query)
        return self.search_by_vector(vector, k, where)

    def search_by_vector(
        self, vector: list[float], k: int, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        res = self.collection.query(
            query_embeddings=[vector],
            n_results=k,
            where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        hits = []
        for id_, text, meta, dist in zip(
            res["ids"][0],
            res["documents"][0],
            res["metadatas"][0],
            res["distances"][0],
            strict=True,
        ):
            meta = dict(meta or {})
            hits.append(
                Hit(
                    id=id_,
                    file=str(meta.get("file", "")),
                    page=int(meta.get("page", 0)),
                    text=text or "",
                    score=1.0 - float(dist),
                    metadata=meta,
                )
            )
        return hits

    def drop(self) -> None:
        """Delete the collection (for a rebuild with new embedding settings)."""
        try:
            self.client.delete_collection(self.settings.collection)
        except Exception:  # already gone
            pass


def open_collection_info(settings: Settings) -> dict[str, Any]:
    """Collection count and metadata without loading an embedder (for ``status``)."""
    client = make_client(settings)
    try:
        col = client.get_collection(settings.collection)
    except Exception:
        return {"chunks": 0, "metadata": {}}
    return {"chunks": int(col.count()), "metadata": dict(col.metadata or {})}
