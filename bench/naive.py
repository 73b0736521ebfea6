"""The naive LangChain ingest a user writes in an afternoon: the ingest benchmark's baseline.

``PyPDFLoader`` pages (``TextLoader`` for .txt/.md) -> ``RecursiveCharacterTextSplitter``
(1000 characters, 200 overlap) -> ``HuggingFaceEmbeddings`` on the same packaged MiniLM ->
``Chroma.from_documents`` in a fresh folder. The same loader and splitter settings as the
retrieval baseline in ``eval/naive.py``; here nothing is cached, since building is what is timed.
The embeddings are wrapped only to time them apart from Chroma's writes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from eval.naive import CHUNK_OVERLAP, CHUNK_SIZE, SUFFIXES


class _Timed(Embeddings):
    def __init__(self, inner: Embeddings):
        self.inner = inner
        self.seconds = 0.0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        t0 = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - t0

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def corpus_files(root: Path, folders: tuple[str, ...]) -> list[Path]:
    """The files both pipelines ingest, in a stable order."""
    found = []
    for folder in folders:
        base = root / folder
        if base.is_dir():
            found += [
                p for p in sorted(base.rglob("*")) if p.is_file() and p.suffix.lower() in SUFFIXES
            ]
    return found


def naive_ingest(files: list[Path], persist_dir: Path) -> dict[str, Any]:
    """Build the naive index of ``files`` in ``persist_dir``; pages, chunks and stage times."""
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import PyPDFLoader, TextLoader
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from vectorstore.embeddings import minilm_dir

    start = time.perf_counter()
    pages: list[Any] = []
    for path in files:
        loader = PyPDFLoader(str(path)) if path.suffix.lower() == ".pdf" else TextLoader(str(path))
        pages.extend(loader.load())
    t_parse = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    chunks = [d for d in splitter.split_documents(pages) if d.page_content.strip()]
    t_chunk = time.perf_counter()
    embeddings = _Timed(HuggingFaceEmbeddings(model_name=str(minilm_dir())))
    Chroma.from_documents(chunks, embeddings, persist_directory=str(persist_dir))
    end = time.perf_counter()
    return {
        "seconds": end - start,
        "pages": len(pages),
        "chunks": len(chunks),
        "times": {
            "parse_s": t_parse - start,
            "chunk_s": t_chunk - t_parse,
            "embed_s": embeddings.seconds,
            "store_s": (end - t_chunk) - embeddings.seconds,
        },
    }
