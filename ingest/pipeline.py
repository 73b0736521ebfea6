"""Ingest files into the store: discover -> load -> clean -> metadata -> chunk -> index.

Per file, everything up to chunking happens in memory first, so a bad file fails before anything
is written. Writing goes through LangChain's indexing API (``index`` with a ``SQLRecordManager``,
one batch per document, incremental cleanup): unchanged chunks are not re-embedded, a changed
file's stale chunks are removed, and re-running after a crash completes the file.

With ``ingest_prefetch`` one background thread reads and chunks the next file that will really
be indexed while the main thread embeds and stores the current one: pypdf holds the GIL, the
embedders (torch, onnxruntime, numpy) mostly release it. See ``_Prefetcher``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.indexing import index

from ingest.chunking import Chunk, Chunker
from ingest.cleaning import clean_pages
from ingest.errors import EmptyFileError, IngestError, UnsupportedFileError
from ingest.loaders import SUPPORTED_SUFFIXES, LoadLimits, load_file
from ingest.manifest import FAILED, INDEXED, INDEXING, DocumentRow, Manifest
from ingest.metadata import (
    DocumentMetadata,
    apply_override_dict,
    apply_overrides,
    infer_metadata,
    read_manifest,
    sidecar_path,
)
from ingest.records import ChunkRecords
from s3assist.backup import writer_lock
from s3assist.settings import Settings
from vectorstore.bm25 import BM25Index, bm25_dir
from vectorstore.embeddings import (
    S3Embeddings,
    dense_embedder,
    multilingual_embedder,
)
from vectorstore.store import ChunkStore


@dataclass
class FileFailure:
    file: str
    reason: str
    kind: str = "error"


@dataclass
class StageTimes:
    """Seconds per stage. With ``ingest_prefetch`` the next file is parsed and chunked in a
    background thread while the current one is embedded, so the stages overlap and their sum
    can exceed the wall time (``IngestReport.seconds``); parse and chunk times are the worker's
    own, stretched a little when both threads want the GIL."""

    parse_s: float = 0.0
    chunk_s: float = 0.0
    embed_s: float = 0.0
    store_s: float = 0.0


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[FileFailure] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_removed: int = 0
    pages: int = 0
    chunks: int = 0
    seconds: float = 0.0
    times: StageTimes = field(default_factory=StageTimes)

    def as_json(self) -> dict[str, Any]:
        """The ``ingest --json`` schema (stable: other tools read it)."""
        return {
            "documents": {
                "added": len(self.added),
                "updated": len(self.updated),
                "unchanged": len(self.unchanged),
                "deleted": len(self.deleted),
            },
            "chunks_embedded": self.chunks_embedded,
            "failed": [{"file": f.file, "reason": f.reason} for f in self.failed],
            "seconds": round(self.seconds, 3),
            "pages": self.pages,
            "chunks": self.chunks,
            "times": {k: round(v, 3) for k, v in asdict(self.times).items()},
        }


class Progress:
    """Hooks the CLI implements with rich; the default does nothing."""

    def files(self, total: int) -> None: ...
    def file_done(self, name: str, status: str) -> None: ...
    def chunks(self, name: str, total: int) -> None: ...
    def chunks_done(self, n: int) -> None: ...


class _TimedEmbeddings(S3Embeddings):
    """Delegates to the real embedder in slices, reporting progress and time spent embedding."""

    SLICE = 256

    def __init__(self, inner: S3Embeddings, on_slice: Callable[[int], None], times: StageTimes):
        self.inner = inner
        self.name = inner.name
        self._on_slice = on_slice
        self.times = times

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    @property
    def tokenizer(self) -> Any:
        return self.inner.tokenizer

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), self.SLICE):
            t0 = time.perf_counter()
            part = texts[start : start + self.SLICE]
            out.extend(self.inner.embed_documents(part))
            self.times.embed_s += time.perf_counter() - t0
            self._on_slice(len(part))
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def printable_path(path: Path | str) -> str:
    """A path as text that SQLite, JSON and terminals accept (undecodable bytes become U+FFFD)."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _unusable(path: Path) -> FileFailure | None:
    """Names that cannot become a doc id, and links that lead nowhere, fail with a reason."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        reason = "file name is not valid UTF-8 (bytes from another charset); rename the file"
        return FileFailure(printable_path(path), reason, "bad_name")
    if path.is_symlink() and not path.exists():
        reason = "symbolic link that loops or points to a missing file"
        return FileFailure(printable_path(path), reason, "bad_link")
    return None


def discover(paths: list[Path], suffixes: tuple[str, ...]) -> tuple[list[Path], list[FileFailure]]:
    """Files to ingest. Explicit files of unknown type are failures; in folders they are skipped.

    Folder symlinks are not followed (no loops); hidden files are skipped; file names that are
    not UTF-8 and broken or looping file links are listed as failures, never crash the batch.
    """
    found: list[Path] = []
    failures: list[FileFailure] = []
    for path in paths:
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    p = Path(dirpath) / name
                    if name.startswith(".") or name.endswith(".meta.json"):
                        continue
                    if p.suffix.lower() not in suffixes:
                        continue
                    if failure := _unusable(p):
                        failures.append(failure)
                    elif p.is_file():
                        found.append(p)
        elif path.is_file() or path.is_symlink():
            if failure := _unusable(path):
                failures.append(failure)
            elif path.suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(path)
            else:
                failures.append(
                    FileFailure(str(path), f"unsupported file type '{path.suffix}'", "unsupported")
                )
        else:
            failures.append(FileFailure(str(path), "no such file or folder", "missing"))
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique, failures


def ingest_root(paths: list[Path]) -> Path:
    """Paths in chunk metadata are relative to this: the folder given, or the common parent."""
    resolved = [p.resolve() for p in paths]
    if len(resolved) == 1:
        return resolved[0] if resolved[0].is_dir() else resolved[0].parent
    return Path(os.path.commonpath([str(p) for p in resolved]))


class Ingestor:
    def __init__(
        self,
        settings: Settings,
        embedder: S3Embeddings | None = None,
        progress: Progress | None = None,
    ):
        self.settings = settings
        self.progress = progress or Progress()
        self.times = StageTimes()
        base = embedder or dense_embedder(settings)
        self.embedder = base
        self._timed = _TimedEmbeddings(base, self.progress.chunks_done, self.times)
        self._extra: dict[str, S3Embeddings] = {}
        if settings.multilingual_index:
            use = multilingual_embedder(settings)
            self._extra["multilingual"] = _TimedEmbeddings(use, lambda n: None, self.times)
        self.store = ChunkStore(settings, self._timed, extra=self._extra)
        self.records = ChunkRecords(settings)
        self.manifest = Manifest(settings.records_db)
        self.bm25 = BM25Index(bm25_dir(settings))
        self.limits = LoadLimits(
            max_bytes=int(settings.max_file_mb * 1e6),
            max_pages=settings.max_pages,
            min_text_chars=settings.min_text_chars,
            max_chars=settings.max_document_chars,
            max_decompressed_bytes=int(settings.max_decompressed_mb * 1e6),
            max_seconds=settings.max_parse_seconds,
            pdf_text_engine=settings.pdf_text_engine,
        )
        self._chunker: Chunker | None = None
        self._worker_chunker: Chunker | None = None

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            self._chunker = self._make_chunker(self.embedder.tokenizer)
        return self._chunker

    @property
    def worker_chunker(self) -> Chunker:
        """The prefetch thread's chunker, with its own copy of the model tokenizer: a Hugging
        Face fast tokenizer used by two threads at once raises "Already borrowed", and the
        embedder keeps using the original in the main thread (token-length batching)."""
        if self._worker_chunker is None:
            self._worker_chunker = self._make_chunker(copy.deepcopy(self.embedder.tokenizer))
        return self._worker_chunker

    def _make_chunker(self, tokenizer: Any) -> Chunker:
        return Chunker(
            self.settings.chunk_size,
            self.settings.chunk_overlap,
            self.settings.tokenizer_encoding,
            tokenizer,
            self.embedder.max_tokens,
        )

    # -- public operations ---------------------------------------------------------------
    def ingest(
        self,
        paths: list[Path],
        manifest_csv: Path | None = None,
        root: Path | None = None,
        prune: bool = True,
    ) -> IngestReport:
        with writer_lock(self.settings):
            return self._ingest(paths, manifest_csv, root, prune)

    def _ingest(
        self, paths: list[Path], manifest_csv: Path | None, root: Path | None, prune: bool
    ) -> IngestReport:
        start = time.perf_counter()
        self.times = StageTimes()  # each report keeps its own figures
        for timed in (self._timed, *self._extra.values()):
            if isinstance(timed, _TimedEmbeddings):
                timed.times = self.times
        report = IngestReport(times=self.times)
        self.repair_if_needed()
        overrides = read_manifest(manifest_csv) if manifest_csv else {}
        files, report.failed = discover(paths, self.settings.file_extensions)
        root = (root or ingest_root(paths)).resolve()
        self.progress.files(len(files))
        if self.settings.ingest_prefetch:
            with _Prefetcher(self, files, root, overrides) as prefetcher:
                for position, path in enumerate(files):
                    ahead = prefetcher.turn(position)
                    status = self._ingest_file(
                        path, root, overrides, report, prefetcher=prefetcher, ahead=ahead
                    )
                    if ahead is not None:  # unused (unchanged, duplicate, stale): drop it
                        ahead.future.cancel()
                    self.progress.file_done(path.name, status)
        else:
            for path in files:
                status = self._ingest_file(path, root, overrides, report)
                self.progress.file_done(path.name, status)
        if prune:
            for folder in (p.resolve() for p in paths if p.is_dir()):
                report.deleted.extend(self._prune_missing(folder, report))
        t0 = time.perf_counter()
        self.bm25.ensure(self.store, self.manifest.generation())
        self.times.store_s += time.perf_counter() - t0
        report.seconds = time.perf_counter() - start
        return report

    def reingest(self, doc_id: str) -> IngestReport:
        """Re-run one indexed (or failed) document from its file, keeping its doc id.

        The file is parsed again even when unchanged (new stored overrides, a fixed parser);
        chunks whose text and metadata are unchanged are still not re-embedded.
        Raises ``LookupError`` for an unknown id and ``FileNotFoundError`` when the file is gone.
        """
        row = self.manifest.get(doc_id)
        if row is None:
            raise LookupError(f"no ingested document {doc_id!r}")
        path = Path(row.abs_path)
        if not path.is_file():
            raise FileNotFoundError(f"the file of {doc_id!r} is gone: {row.abs_path}")
        with writer_lock(self.settings):
            return self._reingest(path)

    def _reingest(self, path: Path) -> IngestReport:
        start = time.perf_counter()
        self.times = StageTimes()
        for timed in (self._timed, *self._extra.values()):
            if isinstance(timed, _TimedEmbeddings):
                timed.times = self.times
        report = IngestReport(times=self.times)
        self.repair_if_needed()
        self.progress.files(1)
        status = self._ingest_file(path, path.parent, {}, report, force=True)
        self.progress.file_done(path.name, status)
        t0 = time.perf_counter()
        self.bm25.ensure(self.store, self.manifest.generation())
        self.times.store_s += time.perf_counter() - t0
        report.seconds = time.perf_counter() - start
        return report

    def delete(self, doc: str) -> list[str]:
        """Remove a document completely (chunks, records, manifest row, stored overrides).
        Returns doc ids."""
        with writer_lock(self.settings):
            rows = self.find(doc)
            for row in rows:
                self._remove(row.doc_id)
                self.manifest.set_overrides(row.doc_id, {})
            if rows:
                self.bm25.ensure(self.store, self.manifest.generation())
            return [r.doc_id for r in rows]

    def find(self, doc: str) -> list[DocumentRow]:
        """A document by id (its relative path), absolute path or bare file name."""
        if row := self.manifest.get(doc):
            return [row]
        path = Path(doc)
        if path.exists() and (row := self.manifest.by_abs_path(str(path.resolve()))):
            return [row]
        return [r for r in self.manifest.all() if Path(r.doc_id).name == doc]

    def rebuild(self) -> None:
        """Forget everything indexed with the current collection (new embedder or chunking)."""
        with writer_lock(self.settings):
            self.store.drop()
            self.records.clear()
            self.manifest.clear()
            self.store = ChunkStore(self.settings, self._timed, extra=self._extra)
            self.bm25.ensure(self.store, self.manifest.generation())

    def repair_if_needed(self, force: bool = False) -> int:
        """After a crash: drop chunks no record knows, forget records with no chunk.

        Returns how many inconsistencies were fixed. Cheap when the last run ended cleanly
        (no manifest row left ``indexing``), so it runs before every ingest.
        """
        if not force and not self.manifest.all(INDEXING):
            return 0
        per_collection = self.store.ids_per_collection()
        in_any = set().union(*per_collection)
        in_all = set.intersection(*per_collection)
        in_records = self.records.all_keys()
        orphans = sorted(in_any - in_records)
        missing = sorted(in_records - in_all)
        self.manifest.bump_generation()
        if orphans:
            self.store.delete(orphans)
        if missing:  # half-written chunks: forget them everywhere, the file is re-indexed
            self.store.delete(missing)
            self.records.delete_keys(missing)
        for row in self.manifest.all(INDEXING):
            row.status = FAILED
            row.error, row.error_kind = (
                "interrupted while indexing; will be re-ingested",
                "interrupted",
            )
            row.file_hash = ""
            self.manifest.upsert(row)
        return len(orphans) + len(missing)

    def close(self) -> None:
        self.manifest.close()

    # -- one file ------------------------------------------------------------------------
    def _ingest_file(
        self,
        path: Path,
        root: Path,
        overrides: dict[str, dict[str, str]],
        report: IngestReport,
        force: bool = False,
        prefetcher: _Prefetcher | None = None,
        ahead: _Ahead | None = None,
    ) -> str:
        """Index one file. ``ahead`` is its prefetch (``_Prefetcher``), used only if the file
        still has the hashes it was prefetched with; otherwise it is prepared here, as in a
        serial run."""
        existing = self.manifest.by_abs_path(str(path))
        doc_id = existing.doc_id if existing else _relative(path, root)
        stored = self.manifest.get_overrides(doc_id)
        try:
            if prefetcher is None:
                file_hash = file_sha256(path)
            else:  # a prefetched file is hashed again: it may have changed since
                file_hash = prefetcher.file_hash(path, fresh=ahead is not None)
            meta_hash = _override_hash(path, doc_id, overrides, stored)
        except FileNotFoundError:
            reason = "cannot read file: it vanished (deleted or moved)"
            report.failed.append(FileFailure(doc_id, reason, "missing"))
            return "failed"
        except OSError as exc:
            report.failed.append(FileFailure(doc_id, f"cannot read file: {exc.strerror or exc}"))
            return "failed"
        if (
            not force
            and existing
            and existing.status == INDEXED
            and existing.file_hash == file_hash
            and existing.meta_hash == meta_hash
        ):
            report.unchanged.append(doc_id)
            report.pages += existing.pages
            report.chunks += existing.chunks
            return "unchanged"
        if (twin := self.manifest.duplicate_of(file_hash, meta_hash, doc_id)) is not None and (
            Path(twin.abs_path).is_file()
        ):
            # Same bytes and metadata under another name: indexed once, or every hit would
            # come twice. The copy takes over if the first one is deleted or changed.
            if existing and existing.status == INDEXED:
                self._remove(doc_id)
            reason = f"same content as {twin.doc_id}; indexed once, under that name"
            return self._fail(report, None, doc_id, path, file_hash, reason, "duplicate")
        if ahead is not None and (ahead.doc_id, ahead.file_hash, ahead.meta_hash) != (
            doc_id,
            file_hash,
            meta_hash,
        ):
            ahead.future.cancel()  # stale: the file (or its overrides) changed since
            ahead = None
        try:
            if ahead is not None:  # the worker's exception, if any, is raised here
                docs, n_pages, metadata = self._documents(ahead.future.result(), doc_id)
            else:
                docs, n_pages, metadata = self._prepare(path, doc_id, overrides, stored)
        except IngestError as exc:
            return self._fail(report, existing, doc_id, path, file_hash, str(exc), exc.kind)
        except ValueError as exc:  # bad sidecar / manifest / stored override values
            return self._fail(report, existing, doc_id, path, file_hash, str(exc), "metadata")
        except FileNotFoundError:
            reason = "cannot read file: it vanished (deleted or moved)"
            return self._fail(report, existing, doc_id, path, file_hash, reason, "missing")
        except Exception as exc:  # a parser bug must not sink the batch
            reason = f"unexpected error while reading: {type(exc).__name__}: {exc}"
            return self._fail(report, existing, doc_id, path, file_hash, reason, "error")
        row = DocumentRow(
            doc_id,
            str(path),
            file_hash,
            meta_hash,
            INDEXING,
            n_pages,
            len(docs),
            metadata,
            "",
            "",
            0.0,
        )
        self.manifest.upsert(row)
        self.manifest.bump_generation()  # before writing: a crash leaves BM25 marked stale
        self.progress.chunks(path.name, len(docs))
        t0 = time.perf_counter()
        embed_before = self.times.embed_s
        result = index(
            docs,
            self.records.manager,
            self.store.index_target,
            cleanup="incremental",
            source_id_key="doc_id",
            batch_size=max(1, len(docs)),
            key_encoder="sha256",
        )
        self.times.store_s += (time.perf_counter() - t0) - (self.times.embed_s - embed_before)
        row.status = INDEXED
        self.manifest.upsert(row)
        report.chunks_embedded += result["num_added"]
        report.chunks_removed += result["num_deleted"]
        report.pages += n_pages
        report.chunks += len(docs)
        if existing and existing.status == INDEXED:
            report.updated.append(doc_id)
            return "updated"
        report.added.append(doc_id)
        return "added"

    def _prepare(
        self,
        path: Path,
        doc_id: str,
        overrides: dict[str, dict[str, str]],
        stored: dict[str, Any] | None = None,
    ) -> tuple[list[Document], int, dict[str, Any]]:
        prepared = _parse_and_chunk(path, doc_id, overrides, stored, self.limits, self.chunker)
        return self._documents(prepared, doc_id)

    def _documents(
        self, prepared: _Prepared, doc_id: str
    ) -> tuple[list[Document], int, dict[str, Any]]:
        """Chunks to LangChain documents, with the observatory labels (SQLite: main thread)."""
        self.times.parse_s += prepared.parse_s
        self.times.chunk_s += prepared.chunk_s
        if not prepared.chunks:
            raise EmptyFileError("no text left to index after cleaning")
        base = {**prepared.meta.as_chroma(), "doc_id": doc_id, "file": doc_id}
        base.update(_observatory_labels(self.settings, doc_id))
        docs = [
            Document(page_content=c.header + c.text, metadata={**base, **_chunk_meta(c)})
            for c in prepared.chunks
        ]
        return docs, prepared.pages, asdict(prepared.meta)

    def _fail(
        self,
        report: IngestReport,
        existing: DocumentRow | None,
        doc_id: str,
        path: Path,
        file_hash: str,
        reason: str,
        kind: str,
    ) -> str:
        report.failed.append(FileFailure(doc_id, reason, kind))
        if existing and existing.status == INDEXED:
            # Keep serving the last good version; record why the new one was refused.
            existing.error, existing.error_kind = reason, kind
            self.manifest.upsert(existing)
        else:
            self.manifest.upsert(
                DocumentRow(doc_id, str(path), file_hash, "", FAILED, 0, 0, {}, reason, kind, 0.0)
            )
        return "failed"

    def _remove(self, doc_id: str) -> None:
        self.manifest.bump_generation()
        keys = self.records.keys_for(doc_id)
        if keys:
            self.store.delete(keys)
            self.records.delete_keys(keys)
        self.manifest.remove(doc_id)

    def _prune_missing(self, folder: Path, report: IngestReport) -> list[str]:
        gone = []
        prefix = str(folder) + os.sep
        for row in self.manifest.all():
            if row.abs_path.startswith(prefix) and not Path(row.abs_path).exists():
                self._remove(row.doc_id)
                if row.status == INDEXED:
                    gone.append(row.doc_id)
        return gone


@dataclass
class _Prepared:
    """One file read, cleaned, described and chunked: the pure-CPU part of preparing it, made
    without SQLite or shared state so that it can run in the prefetch thread."""

    chunks: list[Chunk]
    pages: int
    meta: DocumentMetadata
    parse_s: float
    chunk_s: float


def _parse_and_chunk(
    path: Path,
    doc_id: str,
    overrides: dict[str, dict[str, str]],
    stored: dict[str, Any] | None,
    limits: LoadLimits,
    chunker: Chunker,
) -> _Prepared:
    t0 = time.perf_counter()
    loaded = load_file(path, limits)
    pages = clean_pages(loaded.pages)
    meta: DocumentMetadata = apply_overrides(infer_metadata(loaded, pages), path, doc_id, overrides)
    if stored:
        apply_override_dict(meta, stored, f"stored overrides for {doc_id}")
    t1 = time.perf_counter()
    chunks = chunker.chunk(pages, lambda section: context_header(meta, doc_id, section))
    return _Prepared(chunks, len(loaded.pages), meta, t1 - t0, time.perf_counter() - t1)


@dataclass
class _Ahead:
    """A prefetch: valid at its file's turn only if the file still has these hashes."""

    position: int
    doc_id: str
    file_hash: str
    meta_hash: str
    future: Future[_Prepared]


class _Prefetcher:
    """Prepares the next file that will really be indexed, in one background thread, while the
    main thread embeds and stores the current one.

    The main thread decides what to prefetch and reads everything from SQLite (manifest row,
    stored overrides; observatory labels are added when the file's turn comes): sqlite3
    connections belong to their thread. Unchanged files (same hashes as an indexed row) and
    duplicates are never prefetched, so re-ingesting an unchanged corpus parses nothing. At
    most one file is prepared ahead of the one being indexed; the main thread prepares a file
    itself only when its prefetch went stale. Each file is hashed once per run
    (its turn reuses the hash while size and mtime are unchanged), except a prefetched file,
    hashed again at its turn: a prefetch of a file rewritten or deleted since is dropped and the
    file is handled as in a serial run. The worker's exceptions are raised by
    ``Future.result()`` at the file's turn, so per-file failures are reported as before.
    """

    def __init__(
        self,
        ingestor: Ingestor,
        files: list[Path],
        root: Path,
        overrides: dict[str, dict[str, str]],
    ):
        self._ing = ingestor
        self._files = files
        self._root = root
        self._overrides = overrides
        self._hashes: dict[Path, tuple[tuple[int, int, int], str]] = {}
        self._scanned = 0  # files[:_scanned] were looked at by the look-ahead
        self._pending: _Ahead | None = None
        self._executor: ThreadPoolExecutor | None = None

    def __enter__(self) -> _Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop what is queued and wait for the file being read (bounded by the parse limits),
        so no thread outlives the run and the writer lock."""
        self._pending = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def file_hash(self, path: Path, fresh: bool = False) -> str:
        """sha256 of the file, memoised for the run while its size and mtime are unchanged."""
        st = path.stat()
        signature = (st.st_size, st.st_mtime_ns, st.st_ino)
        known = self._hashes.get(path)
        if known is not None and known[0] == signature and not fresh:
            return known[1]
        digest = file_sha256(path)
        self._hashes[path] = (signature, digest)
        return digest

    def turn(self, position: int) -> _Ahead | None:
        """The prefetch of ``files[position]`` (if any), after starting the next one. The first
        file to index is prepared by the worker too (the main thread waits for it), so the
        worker reads file n+1 exactly while the main thread embeds file n."""
        if self._pending is None:
            self._pending = self._next(position)
        ahead = None
        if self._pending is not None and self._pending.position == position:
            ahead, self._pending = self._pending, self._next(position + 1)
        return ahead

    def _next(self, start: int) -> _Ahead | None:
        for position in range(max(start, self._scanned), len(self._files)):
            self._scanned = position + 1
            try:
                if ahead := self._submit(position):
                    return ahead
            except OSError:  # vanished or unreadable: the file's own turn reports it
                continue
        return None

    def _submit(self, position: int) -> _Ahead | None:
        ing, path = self._ing, self._files[position]
        existing = ing.manifest.by_abs_path(str(path))
        doc_id = existing.doc_id if existing else _relative(path, self._root)
        stored = ing.manifest.get_overrides(doc_id)
        file_hash = self.file_hash(path)
        meta_hash = _override_hash(path, doc_id, self._overrides, stored)
        if (
            existing
            and existing.status == INDEXED
            and (existing.file_hash, existing.meta_hash) == (file_hash, meta_hash)
        ):
            return None
        twin = ing.manifest.duplicate_of(file_hash, meta_hash, doc_id)
        if twin is not None and Path(twin.abs_path).is_file():
            return None
        chunker = ing.worker_chunker  # made here, in the main thread
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="s3-prefetch")
        future = self._executor.submit(
            _parse_and_chunk, path, doc_id, self._overrides, stored, ing.limits, chunker
        )
        return _Ahead(position, doc_id, file_hash, meta_hash, future)


def reset_index(settings: Settings) -> None:
    """Forget everything indexed in the configured collection without opening it, so it works
    when the stored vectors come from another embedder (the point of ``--rebuild``)."""
    import shutil

    from vectorstore.store import make_client

    client = make_client(settings)
    prefix = f"{settings.collection}__"
    for col in client.list_collections():
        name = col if isinstance(col, str) else col.name
        if name == settings.collection or name.startswith(prefix):
            client.delete_collection(name)
    ChunkRecords(settings).clear()
    manifest = Manifest(settings.records_db)
    manifest.clear()
    manifest.close()
    shutil.rmtree(bm25_dir(settings), ignore_errors=True)


def _observatory_labels(settings: Settings, doc_id: str) -> dict[str, Any]:
    """Taxonomy labels ``s3assist observatory apply`` gave the document, so a re-ingest keeps
    them on the new chunks (list fields of ``vectorstore/filters.py``)."""
    path = Path(settings.data_dir) / "observatory.sqlite"
    if not path.is_file():
        return {}
    from observatory.store import PriorityStore

    store = PriorityStore(path)
    try:
        return dict(store.doc_labels(doc_id))
    finally:
        store.close()


def _chunk_meta(chunk: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "page": chunk.page,
        "chunk_index": chunk.chunk_index,
        "content_hash": chunk.content_hash,
    }
    if chunk.section:
        meta["section"] = chunk.section
    if chunk.header:
        meta["context_chars"] = len(chunk.header)
    return meta


def context_header(meta: DocumentMetadata, doc_id: str, section: str) -> str:
    """The line(s) stored and embedded before each chunk: file name, title, place, section.

    File names of S3 documents are often the most telling label ("NL_Northern_Netherlands_RIS3",
    "OnlineS3_2.7_SWOT_Analysis_Guideline"); titles extracted from PDFs are often generic.
    """
    name = Path(doc_id).stem.replace("_", " ")
    place = meta.region or meta.country_name
    title = meta.title[:100]
    parts = [name, "" if title.lower() in name.lower() else title, place]
    line = " | ".join(dict.fromkeys(p for p in parts if p))
    return f"{line}\n{section[:80]}\n" if section else f"{line}\n"


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def _override_hash(
    path: Path,
    doc_id: str,
    overrides: dict[str, dict[str, str]],
    stored: dict[str, Any] | None = None,
) -> str:
    parts: list[Any] = [overrides.get(doc_id) or overrides.get(path.name) or {}]
    if (sidecar := sidecar_path(path)) is not None:
        parts.append(sidecar.read_text(encoding="utf-8", errors="replace"))
    if stored:  # appended only when present: hashes of files without them stay as they were
        parts.append({"stored": stored})
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


__all__ = ["FileFailure", "IngestReport", "Ingestor", "Progress", "UnsupportedFileError"]
