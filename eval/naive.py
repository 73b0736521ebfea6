"""The baseline: the retrieval half of the LangChain RAG a user writes in an afternoon.

``PyPDFLoader`` pages (``TextLoader`` for .txt/.md) -> ``RecursiveCharacterTextSplitter``
(1000 characters, 200 overlap) -> ``HuggingFaceEmbeddings`` on the same packaged MiniLM in a
``langchain_chroma.Chroma`` collection (default L2 space, unnormalised vectors), plus
``BM25Retriever`` (whitespace tokens), fused by ``EnsembleRetriever`` (weighted RRF, 0.5/0.5),
k=10 each. No cleaning, no metadata, no token-aware sizing (1000 characters is ~250 MiniLM word
pieces, so some chunks are truncated by the model): that is the point of a baseline.

Only the parts a user would not write are added: pages become 1-based (PyPDFLoader's are
0-based), file ids are relative to the corpus root (as in the datasets), PDFs without a text
layer are skipped, and the Chroma folder is cached so repeated runs do not re-embed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import s3assist  # noqa: F401  (offline environment before any model library loads)

SUFFIXES = (".pdf", ".txt", ".md")
CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
COLLECTION = "naive_baseline"
MARKER = "naive_index.json"


def _file_fingerprint(files: list[tuple[str, Path]]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([CHUNK_SIZE, CHUNK_OVERLAP, "all-MiniLM-L6-v2"]).encode())
    for rel, path in files:
        h.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:16]


class NaiveRetriever:
    """The naive ensemble over ``corpus_root/<folders>``; its Chroma folder lives in ``cache_dir``.

    ``built`` tells whether this instance embedded the corpus (False: reused the cache);
    ``skipped`` lists files left out (no text layer).
    """

    def __init__(
        self,
        corpus_root: Path,
        cache_dir: Path,
        folders: tuple[str, ...] = ("strategies", "guidance"),
        k_each: int = 10,
        min_text_chars: int = 50,
    ):
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_classic.retrievers import EnsembleRetriever
        from langchain_community.retrievers import BM25Retriever
        from langchain_huggingface import HuggingFaceEmbeddings

        from vectorstore.embeddings import minilm_dir

        self.corpus_root = Path(corpus_root).resolve()
        self.cache_dir = Path(cache_dir)
        self.min_text_chars = min_text_chars
        self.skipped: list[str] = []
        self.built = False
        files = self._files(folders)
        fingerprint = _file_fingerprint(files)

        self.cache_dir.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(
            path=str(self.cache_dir / "chroma"),
            settings=ChromaSettings(anonymized_telemetry=False),
        )
        embeddings = HuggingFaceEmbeddings(model_name=str(minilm_dir()))
        marker_path = self.cache_dir / MARKER
        marker = json.loads(marker_path.read_text()) if marker_path.is_file() else {}
        vs = Chroma(collection_name=COLLECTION, embedding_function=embeddings, client=client)
        count = vs._collection.count()
        if count > 0 and marker.get("fingerprint") == fingerprint and marker.get("chunks") == count:
            docs = self._stored_documents(vs)
            self.skipped = list(marker.get("skipped", []))
        else:
            if count > 0:  # another corpus, or a build that did not finish
                client.delete_collection(COLLECTION)
                vs = Chroma(
                    collection_name=COLLECTION, embedding_function=embeddings, client=client
                )
            marker_path.unlink(missing_ok=True)
            docs = self._split(self._load(files))
            if docs:  # ids in corpus order, so a reused cache gives BM25 the same order
                vs.add_documents(docs, ids=[f"{i:07d}" for i in range(len(docs))])
            marker_path.write_text(
                json.dumps(
                    {"fingerprint": fingerprint, "chunks": len(docs), "skipped": self.skipped}
                )
            )
            self.built = True
        self.chunks = len(docs)
        dense = vs.as_retriever(search_kwargs={"k": k_each})
        if docs:
            bm25 = BM25Retriever.from_documents(docs, k=k_each)
            self.ensemble: Any = EnsembleRetriever(retrievers=[bm25, dense], weights=[0.5, 0.5])
        else:
            self.ensemble = None

    def _files(self, folders: tuple[str, ...]) -> list[tuple[str, Path]]:
        found = []
        for folder in folders:
            base = self.corpus_root / folder
            if not base.is_dir():
                continue
            for path in sorted(base.rglob("*")):
                if path.is_file() and path.suffix.lower() in SUFFIXES:
                    found.append((path.relative_to(self.corpus_root).as_posix(), path))
        return found

    def _load(self, files: list[tuple[str, Path]]) -> list[Any]:
        from langchain_community.document_loaders import PyPDFLoader, TextLoader

        pages: list[Any] = []
        for rel, path in files:
            if path.suffix.lower() == ".pdf":
                loaded = PyPDFLoader(str(path)).load()
                if sum(len(d.page_content.strip()) for d in loaded) < self.min_text_chars:
                    self.skipped.append(rel)  # image-only: nothing to retrieve
                    continue
                for d in loaded:
                    d.metadata = {"file": rel, "page": int(d.metadata.get("page", 0)) + 1}
            else:
                loaded = TextLoader(str(path), encoding="utf-8").load()
                for d in loaded:
                    d.metadata = {"file": rel, "page": 1}
            pages.extend(loaded)
        return pages

    @staticmethod
    def _split(pages: list[Any]) -> list[Any]:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(
            chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP
        )
        return [d for d in splitter.split_documents(pages) if d.page_content.strip()]

    @staticmethod
    def _stored_documents(vs: Any) -> list[Any]:
        from langchain_core.documents import Document

        got = vs._collection.get(include=["documents", "metadatas"])
        rows = sorted(zip(got["ids"], got["documents"], got["metadatas"], strict=True))
        return [
            Document(page_content=text or "", metadata=dict(meta or {})) for _, text, meta in rows
        ]

    def search(self, query: str, k: int = 10) -> list[tuple[str, int]]:
        """(file, page) of the fused chunks in rank order (at most 2 x k_each before ``k``)."""
        return [(file, page) for file, page, _ in self.search_chunks(query, k)]

    def search_chunks(self, query: str, k: int = 10) -> list[tuple[str, int, str]]:
        """(file, page, chunk text) in rank order: what a naive RAG stuffs into its prompt."""
        if self.ensemble is None:
            return []
        docs = self.ensemble.invoke(query)
        return [
            (str(d.metadata["file"]), int(d.metadata["page"]), str(d.page_content))
            for d in docs[:k]
        ]
