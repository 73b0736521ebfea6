"""What the API and the UI share: the assistant, the document library and the feedback store.

Models load once, on first use (the app starts in seconds and answers ``/health`` at once).
Writes to the index (upload, delete) are serialised by one lock; reads run concurrently (a
search during a write may miss the document being written, never keep missing it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.feedback import FeedbackStore
from app.gate import GenerationGate
from app.uploads import is_upload
from assistant.pipeline import Assistant
from ingest.manifest import INDEXED, DocumentRow, Manifest
from ingest.metadata import DocumentMetadata, apply_override_dict
from ingest.pipeline import Ingestor, IngestReport
from s3assist.settings import Settings
from vectorstore.store import Hit

EDITABLE_FIELDS = (
    "title",
    "doc_type",
    "country",
    "region",
    "nuts_code",
    "territorial_level",
    "language",
    "year",
)


class DocumentNotFound(LookupError):
    """No ingested document has this id."""


EMPTY_LIBRARY = "No documents yet — ingest some (`s3assist ingest PATH`) or upload in Library."
FACET_FIELDS = ("country", "doc_type", "territorial_level", "language", "year")


def backend_status(settings: Settings) -> dict[str, str]:
    """Backend name -> "" if usable, else why not (cheap checks, nothing is loaded)."""
    try:
        from assistant.backends.factory import available_backends
    except ImportError:
        return {"extractive": ""}
    return available_backends(settings)


class AppServices:
    def __init__(
        self,
        settings: Settings,
        assistant_factory: Callable[[Settings], Assistant] = Assistant,
    ):
        self.settings = settings
        self.feedback = FeedbackStore(settings.app_db)
        self._assistant_factory = assistant_factory
        self._assistant: Assistant | None = None
        self._load_lock = threading.Lock()
        self.write_lock = threading.Lock()
        self.gate = GenerationGate(
            settings.generation_concurrency, settings.generation_queue, settings.generation_wait_s
        )

    @property
    def observatory(self) -> Any:
        """The observatory (priorities, review, partners), opened on first use."""
        with self._load_lock:
            if getattr(self, "_observatory", None) is None:
                from observatory.service import ObservatoryService

                self._observatory = ObservatoryService(self.settings)
            return self._observatory

    # -- answers and search ---------------------------------------------------------------
    @property
    def assistant(self) -> Assistant:
        with self._load_lock:
            if self._assistant is None:
                self._assistant = self._assistant_factory(self.settings)
            return self._assistant

    def search(self, query: str, k: int, filters: dict[str, Any]) -> list[Hit]:
        return self.assistant.retriever.search(query, k, filters)

    def backends(self) -> dict[str, str]:
        return backend_status(self.settings)

    def uses_model(self, backend: str | None) -> bool:
        """Whether answering with ``backend`` (None: the default) runs a model, and so must
        pass the generation gate; the extractive backend never does."""
        return (backend or self.settings.llm_backend) != "extractive"

    # -- library --------------------------------------------------------------------------
    def documents(self) -> list[DocumentRow]:
        manifest = Manifest(self.settings.records_db)
        try:
            return manifest.all()
        finally:
            manifest.close()

    def indexed_count(self) -> int:
        return sum(r.status == INDEXED for r in self.documents())

    def document_path(self, doc_id: str) -> Path | None:
        for row in self.documents():
            if row.doc_id == doc_id:
                return Path(row.abs_path)
        return None

    def facets(self) -> dict[str, list[str]]:
        """Distinct metadata values of the indexed documents, for the search filters."""
        values: dict[str, set[str]] = {f: set() for f in FACET_FIELDS}
        for row in self.documents():
            for field in FACET_FIELDS:
                value = row.metadata.get(field)
                if value not in (None, "", 0, -1):
                    values[field].add(str(value))
        return {f: sorted(v) for f, v in values.items()}

    def ingest(self, path: Path) -> tuple[str, IngestReport]:
        """Ingest one file under ``data_dir`` (its id is the path relative to ``data_dir``)."""
        root = self.settings.data_dir.resolve()
        with self.write_lock:
            ingestor = Ingestor(self.settings)
            try:
                report = ingestor.ingest([path.resolve()], root=root, prune=False)
                rows = ingestor.find(str(path.resolve()))
            finally:
                ingestor.close()
            self._invalidate_derived()
        doc_id = rows[0].doc_id if rows else path.resolve().relative_to(root).as_posix()
        return doc_id, report

    def _invalidate_derived(self) -> None:
        """Move the ingest generation on once more after a write: a BM25 index that a search
        rebuilt while chunks were still being written is then rebuilt on the next search."""
        manifest = Manifest(self.settings.records_db)
        try:
            manifest.bump_generation()
        finally:
            manifest.close()

    def delete(self, doc: str) -> list[DocumentRow]:
        """Remove a document (id, path or file name); returns the rows removed."""
        with self.write_lock:
            ingestor = Ingestor(self.settings)
            try:
                try:
                    rows = ingestor.find(doc)
                except OSError:  # not a usable path (name too long, NUL...): no such document
                    rows = []
                for row in rows:
                    ingestor.delete(row.doc_id)
                    if is_upload(Path(row.abs_path), self.settings):
                        Path(row.abs_path).unlink(missing_ok=True)  # our copy; corpus files stay
            finally:
                ingestor.close()
            if rows:
                self._invalidate_derived()
        return rows

    def overrides(self, doc_id: str) -> dict[str, Any]:
        manifest = Manifest(self.settings.records_db)
        try:
            return manifest.get_overrides(doc_id)
        finally:
            manifest.close()

    def edit_metadata(
        self, doc_id: str, changes: dict[str, Any]
    ) -> tuple[DocumentRow, IngestReport]:
        """Merge ``changes`` into the document's stored overrides (``None``/"" forgets a field,
        going back to the inferred value), then re-ingest it.

        ``ValueError`` for bad values (checked before anything is saved), ``DocumentNotFound``,
        ``FileNotFoundError`` when the document's file is gone.
        """
        unknown = set(changes) - set(EDITABLE_FIELDS)
        if unknown:
            raise ValueError(f"unknown metadata field(s) {sorted(unknown)}")
        with self.write_lock:
            ingestor = Ingestor(self.settings)
            try:
                row = ingestor.manifest.get(doc_id)
                if row is None:
                    raise DocumentNotFound(doc_id)
                merged = dict(ingestor.manifest.get_overrides(doc_id))
                for key, value in changes.items():
                    if value is None or value == "":
                        merged.pop(key, None)
                    else:
                        merged[key] = value
                base = row.metadata or {"title": Path(doc_id).stem}
                known = {
                    k: v for k, v in base.items() if k in DocumentMetadata.__dataclass_fields__
                }
                apply_override_dict(DocumentMetadata(**known), merged, "metadata")
                ingestor.manifest.set_overrides(doc_id, merged)
                report = ingestor.reingest(doc_id)
                new_row = ingestor.manifest.get(doc_id) or row
            finally:
                ingestor.close()
            self._invalidate_derived()
        return new_row, report

    def reingest(self, doc_id: str) -> tuple[DocumentRow, IngestReport]:
        """Re-run one document from its file (``DocumentNotFound``, ``FileNotFoundError``)."""
        with self.write_lock:
            ingestor = Ingestor(self.settings)
            try:
                if ingestor.manifest.get(doc_id) is None:
                    raise DocumentNotFound(doc_id)
                report = ingestor.reingest(doc_id)
                row = ingestor.manifest.get(doc_id)
            finally:
                ingestor.close()
            self._invalidate_derived()
        assert row is not None
        return row, report
