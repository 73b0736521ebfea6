"""One facade over the observatory for the CLI, the HTTP API and the web app.

Everything a caller needs — list/filter priorities, import, extract, classify, review, export,
push labels onto chunks, find partners — goes through :class:`ObservatoryService`; callers never
touch SQLite, Chroma or the models directly. Models load lazily, so listing and reviewing are
cheap.

Labels on chunks (``apply``): a strategy states its priorities on a few pages, but the whole
document is *about* them, so labels go **per document**: every chunk of a document gets the
union of the effective (reviewed) labels of the priorities extracted from it, in the list
fields ``nace_sections``, ``nace_divisions``, ``nabs_chapters``, ``ecosystems``, ``s3_topics``
of both Chroma collections. The ingest generation is then bumped so BM25 filter masks rebuild,
and the labels are kept per document so a re-ingest writes them onto the new chunks too.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from observatory.models import LABEL_FIELDS, Classification, Priority
from observatory.store import Correction, PriorityStore, make_priority_id

EXPORT_COLUMNS = ["priority_id", "title", "description", "region", "country", "nuts_code",
                  "territorial_level", "language", "doc_id", "page", "source",
                  *LABEL_FIELDS, "keywords"]  # fmt: skip


@dataclass
class ImportReport:
    file: str
    priorities: int
    new: int
    regions: int
    with_labels: int

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ExtractReport:
    documents: dict[str, int] = field(default_factory=dict)  # doc id -> priorities kept
    removed: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"documents": self.documents, "removed": self.removed, "failed": self.failed}


@dataclass
class RegionSummary:
    """One region with priorities, for the map and the partner picker."""

    key: str
    name: str
    country: str | None
    nuts_code: str | None
    territorial_level: str | None
    lat: float | None
    lon: float | None
    priorities: int
    labels: dict[str, dict[str, int]]  # field -> code -> number of priorities with it

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def doc_label_union(priorities: Sequence[Priority]) -> dict[str, list[str]]:
    """Per-document chunk metadata: the union of the priorities' label codes per field."""
    out: dict[str, list[str]] = {}
    for name in LABEL_FIELDS:
        codes = sorted({lab.code for p in priorities for lab in p.labels.get(name, [])})
        if codes:
            out[name] = codes
    return out


def matches_filters(p: Priority, filters: dict[str, Any]) -> bool:
    """Observatory filters: place/doc/source fields by equality (NUTS code also by prefix),
    label fields by code, ``q`` as a case-insensitive text/keyword search."""
    for key, raw in filters.items():
        if raw in (None, "", []):
            continue
        values = [str(v) for v in (raw if isinstance(raw, list | tuple | set) else [raw])]
        if key in LABEL_FIELDS:
            have = {lab.code.casefold() for lab in p.labels.get(key, [])}
            if not have & {v.casefold() for v in values}:
                return False
        elif key == "q":
            hay = " ".join([p.title, p.description, *p.keywords]).casefold()
            if not all(v.casefold() in hay for v in values):
                return False
        elif key == "nuts_code":
            if not any((p.nuts_code or "").upper().startswith(v.upper()) for v in values):
                return False
        elif key in ("country", "region", "territorial_level", "doc_id", "source", "language"):
            have_s = str(getattr(p, key) or "").casefold()
            if have_s not in {v.casefold() for v in values}:
                return False
        else:
            raise ValueError(f"unknown observatory filter {key!r}")
    return True


class ObservatoryService:
    def __init__(self, settings: Any, store: PriorityStore | None = None):
        self.settings = settings
        self.store = store or PriorityStore.for_settings(settings)
        self._classifier: Any = None

    def close(self) -> None:
        self.store.close()

    # -- reading ---------------------------------------------------------------------------
    def priorities(self, filters: dict[str, Any] | None = None) -> list[Priority]:
        """Effective priorities (reviews applied), filtered (see :func:`matches_filters`)."""
        return [p for p in self.store.all() if matches_filters(p, filters or {})]

    def priority(self, priority_id: str) -> Priority | None:
        return self.store.get(priority_id)

    def regions(self) -> list[RegionSummary]:
        from ingest.regions import load_gazetteer
        from observatory.partners import profiles

        gaz = load_gazetteer()
        out = []
        for key, prof in profiles(self.store.all()).items():
            region = gaz.by_code.get(key)
            counts: dict[str, dict[str, int]] = {}
            for name in LABEL_FIELDS:
                for p in prof.priorities:
                    for lab in p.labels.get(name, []):
                        counts.setdefault(name, {}).setdefault(lab.code, 0)
                        counts[name][lab.code] += 1
            first = prof.priorities[0]
            out.append(
                RegionSummary(
                    key=key,
                    name=prof.name,
                    country=prof.country,
                    nuts_code=first.nuts_code,
                    territorial_level=first.territorial_level,
                    lat=region.lat if region else None,
                    lon=region.lon if region else None,
                    priorities=len(prof.priorities),
                    labels=counts,
                )
            )
        return out

    # -- getting priorities in -------------------------------------------------------------
    def import_file(self, path: Path) -> ImportReport:
        from observatory.importers import import_file

        ps = import_file(path)
        known = set(self.store.ids())
        self.store.upsert(ps, label_source="imported")
        return ImportReport(
            file=path.name,
            priorities=len(ps),
            new=sum(p.priority_id not in known for p in ps),
            regions=len({p.nuts_code or p.region for p in ps}),
            with_labels=sum(bool(p.labels) for p in ps),
        )

    def extract(self, docs: Sequence[str] = (), min_score: float | None = None) -> ExtractReport:
        """Extract priorities from ingested documents (all strategies when ``docs`` is empty).

        Re-extracting a document replaces its extracted priorities; ones that are gone are
        dropped unless a reviewer corrected them (a review is never lost silently)."""
        from ingest.manifest import INDEXED, Manifest
        from observatory.extract import Extractor
        from vectorstore.embeddings import full_precision_embedder

        manifest = Manifest(self.settings.records_db)
        try:
            rows = [r for r in manifest.all(INDEXED)]
        finally:
            manifest.close()
        if docs:
            wanted = set(docs)
            rows = [
                r
                for r in rows
                if r.doc_id in wanted or Path(r.doc_id).name in wanted or r.abs_path in wanted
            ]
            missing = wanted - {r.doc_id for r in rows} - {Path(r.doc_id).name for r in rows}
            missing -= {r.abs_path for r in rows}
        else:
            rows = [r for r in rows if r.metadata.get("doc_type") == "strategy"]
            missing = set()
        report = ExtractReport(failed=[{"doc": d, "reason": "not ingested"} for d in missing])
        score = self.settings.observatory_extract_min_score if min_score is None else min_score
        extractor = Extractor(full_precision_embedder(self.settings), min_score=score)
        for row in rows:
            try:
                cands = extractor.extract_file(Path(row.abs_path))
            except Exception as exc:  # a broken file must not sink the batch
                report.failed.append({"doc": row.doc_id, "reason": f"{type(exc).__name__}: {exc}"})
                continue
            meta = row.metadata
            place = meta.get("nuts_code") or meta.get("country")
            ps = [
                Priority(
                    priority_id=make_priority_id("extracted", place, row.doc_id, c.title),
                    title=c.title,
                    description=c.context if c.context != c.title else "",
                    region=meta.get("region") or meta.get("country_name") or None,
                    country=meta.get("country") or None,
                    nuts_code=meta.get("nuts_code") or None,
                    territorial_level=meta.get("territorial_level") or None,
                    language=meta.get("language") or None,
                    doc_id=row.doc_id,
                    page=c.page,
                    source="extracted",
                )
                for c in cands
            ]
            new_ids = {p.priority_id for p in ps}
            reviewed = {c.priority_id for c in self.store.corrections()}
            gone = [
                pid
                for pid in self.store.ids(doc_id=row.doc_id, source="extracted")
                if pid not in new_ids and pid not in reviewed
            ]
            with self.store.transaction():
                self.store.delete(gone)
                self.store.upsert(ps, label_source="imported")
            report.documents[row.doc_id] = len(ps)
            report.removed += len(gone)
        return report

    # -- classification --------------------------------------------------------------------
    @property
    def classifier(self) -> Any:
        if self._classifier is None:
            from observatory.classify import PriorityClassifier

            self._classifier = PriorityClassifier(self.settings)
        return self._classifier

    def classify_text(self, text: str, language: str | None = None) -> Classification:
        return self.classifier.classify(text, language)

    def classify_all(self, priority_ids: Sequence[str] | None = None, apply: bool = True) -> int:
        """(Re-)classify stored priorities; model labels are replaced, imported labels and
        reviews are kept (and still win). Then ``apply`` pushes labels onto the chunks."""
        ps = [p for p in self.store.all() if not priority_ids or p.priority_id in priority_ids]
        results = self.classifier.classify_many([p.text for p in ps], [p.language for p in ps])
        with self.store.transaction():
            for p, res in zip(ps, results, strict=True):
                labels = [lab for labs in res.labels.values() for lab in labs]
                self.store.set_machine_labels(p.priority_id, labels, res.keywords)
        if apply:
            self.apply()
        return len(ps)

    # -- labels onto chunks ------------------------------------------------------------------
    def apply(self, doc_ids: Sequence[str] | None = None) -> dict[str, dict[str, list[str]]]:
        """Write each document's label union into its chunks' metadata (every collection) and
        bump the ingest generation so BM25 filter masks rebuild. Returns doc id -> labels."""
        from ingest.manifest import Manifest
        from vectorstore.store import make_client

        by_doc: dict[str, list[Priority]] = {}
        for p in self.store.all():
            if p.doc_id:
                by_doc.setdefault(p.doc_id, []).append(p)
        targets = list(doc_ids) if doc_ids else sorted(by_doc)
        client = make_client(self.settings)
        prefix = f"{self.settings.collection}__"
        collections = []
        for col in client.list_collections():
            name = col if isinstance(col, str) else col.name
            if name == self.settings.collection or name.startswith(prefix):
                collections.append(client.get_collection(name))
        out: dict[str, dict[str, list[str]]] = {}
        for doc_id in targets:
            labels = doc_label_union(by_doc.get(doc_id, []))
            meta: dict[str, Any] = {name: labels.get(name) for name in LABEL_FIELDS}
            for col in collections:
                ids = col.get(where={"doc_id": doc_id}, include=[])["ids"]
                for start in range(0, len(ids), 1000):
                    part = ids[start : start + 1000]
                    col.update(ids=part, metadatas=[dict(meta) for _ in part])
            self.store.set_doc_labels(doc_id, labels)
            out[doc_id] = labels
        manifest = Manifest(self.settings.records_db)
        try:
            manifest.bump_generation()
        finally:
            manifest.close()
        return out

    # -- review ------------------------------------------------------------------------------
    def add_label(
        self, priority_id: str, field: str, code: str, who: str, why: str = ""
    ) -> Correction:
        from observatory import review

        return review.add_label(self.store, priority_id, field, code, who, why)

    def remove_label(
        self, priority_id: str, field: str, code: str, who: str, why: str = ""
    ) -> Correction:
        from observatory import review

        return review.remove_label(self.store, priority_id, field, code, who, why)

    def edit(
        self,
        priority_id: str,
        who: str,
        why: str = "",
        title: str | None = None,
        description: str | None = None,
    ) -> list[Correction]:
        from observatory import review

        return review.edit_text(self.store, priority_id, who, why, title, description)

    def corrections(self, priority_id: str | None = None) -> list[Correction]:
        return self.store.corrections(priority_id)

    def export_review_csv(self, priority_id: str | None = None) -> str:
        from observatory import review

        return review.export_csv(self.store, priority_id)

    def import_review_csv(self, path: Path) -> tuple[int, int]:
        from observatory import review

        return review.import_csv(self.store, path)

    # -- export ------------------------------------------------------------------------------
    def export(self, fmt: str = "json", filters: dict[str, Any] | None = None) -> str:
        """Effective priorities as JSON (``{"priorities": [...]}`` with full labels) or CSV
        (label codes joined with ``;``; the CSV imports back with ``observatory import``)."""
        ps = self.priorities(filters)
        if fmt == "json":
            return json.dumps({"priorities": [p.as_json() for p in ps]}, ensure_ascii=False)
        if fmt != "csv":
            raise ValueError("export format is csv or json")
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for p in ps:
            row: dict[str, Any] = {c: getattr(p, c) for c in EXPORT_COLUMNS[:11]}
            for name in LABEL_FIELDS:
                row[name] = ";".join(lab.code for lab in p.labels.get(name, []))
            row["keywords"] = ";".join(p.keywords)
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return buf.getvalue()

    # -- partners ----------------------------------------------------------------------------
    def partners(self, query: str, k: int = 10, complementary: bool = False) -> list[Any]:
        """Regions ranked as partners for a region (NUTS code, country or name) or a priority
        id; :class:`observatory.partners.PartnerMatch` objects (``as_json`` for the API)."""
        from observatory.partners import PartnerFinder, resolve_query
        from vectorstore.embeddings import full_precision_embedder, multilingual_embedder

        q, others = resolve_query(query, self.store.all())
        finder = PartnerFinder(
            full_precision_embedder(self.settings), multilingual_embedder(self.settings)
        )
        return finder.rank(q, others, k=k, complementary=complementary)

    # -- measuring ---------------------------------------------------------------------------
    def extraction_recall(self, gold: Path, folder: Path | None = None) -> list[Any]:
        """Recall of a hand-made gold list (doc, page, title rows) per strategy, extracting
        from the PDFs in ``folder`` (default: the stored priorities of ingested docs)."""
        from observatory.extract import Extractor, load_gold, recall_against
        from vectorstore.embeddings import full_precision_embedder

        embedder = full_precision_embedder(self.settings)
        rows = []
        stored: dict[str, list[Priority]] = {}
        for p in self.store.all():
            if p.doc_id and p.source in ("extracted", "edited"):
                stored.setdefault(Path(p.doc_id).name, []).append(p)
        extractor = Extractor(embedder, self.settings.observatory_extract_min_score)
        for doc, gold_rows in load_gold(gold).items():
            found: list[tuple[str, int | None]]
            if folder is not None:
                cands = extractor.extract_file(folder / doc)
                found = [(c.title, c.page) for c in cands]
            elif doc in stored:
                found = [(p.title, p.page) for p in stored[doc]]
            else:
                continue  # not extracted here: no figure rather than a false zero
            rows.append(recall_against(gold_rows, found, doc, embedder))
        return rows
