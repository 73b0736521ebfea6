"""The priority store: SQLite (WAL) under ``settings.data_dir``, next to the ingest manifest.

Three kinds of rows are kept apart so that a human correction always wins:

- ``priorities``: what import or extraction produced (re-import / re-extraction overwrite it);
- ``labels``: machine labels per priority, replaced per source (``model``/``llm`` by
  re-classification, ``imported`` by re-import);
- ``corrections``: the review log (who / when / why). It is never overwritten by the machine;
  :meth:`PriorityStore.get` replays it over the machine rows, so reviews survive
  re-classification, re-import and re-extraction (they key on the stable priority id).

Priority ids are derived from where a priority came from and its original title, so importing
or extracting the same thing again yields the same id.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import unicodedata
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from observatory.models import LABEL_FIELDS, Label, LabelField, LabelSource, Priority
from s3assist.sqlite import immediate, migrate

MIGRATIONS = [
    (
        "001_priorities",
        """
        CREATE TABLE priorities (
            priority_id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            region TEXT, country TEXT, nuts_code TEXT, territorial_level TEXT, language TEXT,
            doc_id TEXT, page INTEGER,
            source TEXT NOT NULL,
            keywords TEXT NOT NULL DEFAULT '[]',
            updated_at REAL NOT NULL
        );
        CREATE INDEX priorities_doc ON priorities(doc_id);
        CREATE INDEX priorities_nuts ON priorities(nuts_code);
        CREATE TABLE labels (
            priority_id TEXT NOT NULL,
            field TEXT NOT NULL,
            code TEXT NOT NULL,
            label TEXT NOT NULL,
            confidence REAL NOT NULL,
            evidence TEXT NOT NULL DEFAULT '[]',
            source TEXT NOT NULL,
            PRIMARY KEY (priority_id, field, code, source)
        );
        CREATE TABLE corrections (
            correction_id INTEGER PRIMARY KEY AUTOINCREMENT,
            priority_id TEXT NOT NULL,
            action TEXT NOT NULL,
            field TEXT NOT NULL DEFAULT '',
            code TEXT NOT NULL DEFAULT '',
            value TEXT NOT NULL DEFAULT '',
            who TEXT NOT NULL,
            at REAL NOT NULL,
            why TEXT NOT NULL DEFAULT '',
            UNIQUE (priority_id, action, field, code, value, who, at)
        );
        CREATE INDEX corrections_priority ON corrections(priority_id)
        """,
    ),
    (
        "002_doc_labels",
        """
        CREATE TABLE doc_labels (
            doc_id TEXT PRIMARY KEY,
            data TEXT NOT NULL,
            updated_at REAL NOT NULL
        )
        """,
    ),
]

ACTIONS = ("add_label", "remove_label", "edit_title", "edit_description")
MACHINE_SOURCES: tuple[LabelSource, ...] = ("model", "llm")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def make_priority_id(source: str, place: str | None, doc_id: str | None, title: str) -> str:
    """Stable id: the same priority imported or extracted again gets the same id."""
    key = "|".join([source, _fold(place or ""), doc_id or "", _fold(title)])
    return "p-" + hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Correction:
    """One human review action; replayed in ``at`` order over the machine rows."""

    priority_id: str
    action: str  # one of ACTIONS
    who: str
    why: str = ""
    field: str = ""  # label actions: the label field
    code: str = ""  # label actions: the code
    value: str = ""  # edits: the new text; add_label: the label name
    at: float = 0.0
    correction_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "correction_id": self.correction_id,
            "priority_id": self.priority_id,
            "action": self.action,
            "field": self.field,
            "code": self.code,
            "value": self.value,
            "who": self.who,
            "at": self.at,
            "why": self.why,
        }


class PriorityStore:
    def __init__(self, db_path: Path):
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.db_path = db_path
        self.conn = sqlite3.connect(
            str(db_path), timeout=30, isolation_level=None, check_same_thread=False
        )
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    @classmethod
    def for_settings(cls, settings: Any) -> PriorityStore:
        return cls(Path(settings.data_dir) / "observatory.sqlite")

    def _migrate(self) -> None:
        migrate(self.conn, "observatory_migrations", MIGRATIONS)

    def transaction(self) -> AbstractContextManager[None]:
        """One write transaction; nested calls join the outer one."""
        return immediate(self.conn)

    def close(self) -> None:
        self.conn.close()

    # -- machine rows ----------------------------------------------------------------------
    def upsert(self, priorities: Iterable[Priority], label_source: LabelSource = "imported") -> int:
        """Insert or overwrite priorities (import / extraction) and their ``label_source``
        labels. Model labels and corrections of existing ids are kept."""
        n = 0
        with self.transaction():
            for p in priorities:
                self.conn.execute(
                    "INSERT OR REPLACE INTO priorities VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        p.priority_id,
                        p.title,
                        p.description,
                        p.region,
                        p.country,
                        p.nuts_code,
                        p.territorial_level,
                        p.language,
                        p.doc_id,
                        p.page,
                        p.source,
                        json.dumps(p.keywords, ensure_ascii=False),
                        time.time(),
                    ),
                )
                labels = [lab for labs in p.labels.values() for lab in labs]
                self._replace_labels(p.priority_id, (label_source,), labels)
                n += 1
        return n

    def set_machine_labels(
        self, priority_id: str, labels: list[Label], keywords: list[str] | None = None
    ) -> None:
        """Replace the classifier's labels (and keywords) of one priority."""
        with self.transaction():
            self._replace_labels(priority_id, MACHINE_SOURCES, labels)
            if keywords is not None:
                self.conn.execute(
                    "UPDATE priorities SET keywords = ?, updated_at = ? WHERE priority_id = ?",
                    (json.dumps(keywords, ensure_ascii=False), time.time(), priority_id),
                )

    def _replace_labels(
        self, priority_id: str, sources: tuple[str, ...], labels: list[Label]
    ) -> None:
        marks = ",".join("?" * len(sources))
        self.conn.execute(
            f"DELETE FROM labels WHERE priority_id = ? AND source IN ({marks})",
            (priority_id, *sources),
        )
        for lab in labels:
            self.conn.execute(
                "INSERT OR REPLACE INTO labels VALUES (?,?,?,?,?,?,?)",
                (
                    priority_id,
                    lab.field,
                    lab.code,
                    lab.label,
                    float(lab.confidence),
                    json.dumps(list(lab.evidence), ensure_ascii=False),
                    lab.source if lab.source in sources else sources[0],
                ),
            )

    def delete(self, priority_ids: list[str]) -> None:
        """Forget priorities (not their corrections: a review outlives a re-extraction)."""
        with self.transaction():
            for pid in priority_ids:
                self.conn.execute("DELETE FROM priorities WHERE priority_id = ?", (pid,))
                self.conn.execute("DELETE FROM labels WHERE priority_id = ?", (pid,))

    def ids(self, doc_id: str | None = None, source: str | None = None) -> list[str]:
        sql, args = "SELECT priority_id FROM priorities WHERE 1=1", []
        if doc_id is not None:
            sql += " AND doc_id = ?"
            args.append(doc_id)
        if source is not None:
            sql += " AND source = ?"
            args.append(source)
        return [r[0] for r in self.conn.execute(sql + " ORDER BY priority_id", args)]

    # -- reading (machine rows + corrections) -----------------------------------------------
    _COLS = (
        "priority_id, title, description, region, country, nuts_code, territorial_level, "
        "language, doc_id, page, source, keywords"
    )

    def get(self, priority_id: str) -> Priority | None:
        rows = self._select("WHERE priority_id = ?", [priority_id])
        return rows[0] if rows else None

    def all(self) -> list[Priority]:
        return self._select("", [])

    def _select(self, where: str, args: list[Any]) -> list[Priority]:
        rows = self.conn.execute(
            f"SELECT {self._COLS} FROM priorities {where} ORDER BY country, nuts_code, "
            "doc_id, page, priority_id",
            args,
        ).fetchall()
        if not rows:
            return []
        ids = [r[0] for r in rows]
        labels = self._labels(ids if len(ids) < 500 else None)
        fixes = self._corrections(ids if len(ids) < 500 else None)
        out = []
        for r in rows:
            p = Priority(
                priority_id=r[0],
                title=r[1],
                description=r[2],
                region=r[3],
                country=r[4],
                nuts_code=r[5],
                territorial_level=r[6],
                language=r[7],
                doc_id=r[8],
                page=r[9],
                source=r[10],
                keywords=json.loads(r[11] or "[]"),
            )
            p.labels = _merge_labels(labels.get(p.priority_id, []))
            out.append(apply_corrections(p, fixes.get(p.priority_id, [])))
        return out

    def _labels(self, ids: list[str] | None) -> dict[str, list[Label]]:
        sql = "SELECT priority_id, field, code, label, confidence, evidence, source FROM labels"
        args: list[Any] = []
        if ids is not None:
            sql += f" WHERE priority_id IN ({','.join('?' * len(ids))})"
            args = list(ids)
        out: dict[str, list[Label]] = {}
        for r in self.conn.execute(sql, args):
            out.setdefault(r[0], []).append(
                Label(r[1], r[2], r[3], float(r[4]), tuple(json.loads(r[5] or "[]")), r[6])
            )
        return out

    # -- corrections ---------------------------------------------------------------------
    def add_correction(self, c: Correction) -> Correction:
        if c.action not in ACTIONS:
            raise ValueError(f"unknown review action {c.action!r}; one of {', '.join(ACTIONS)}")
        if c.action in ("add_label", "remove_label"):
            if c.field not in LABEL_FIELDS or not c.code:
                raise ValueError(f"{c.action} needs a label field ({', '.join(LABEL_FIELDS)}) "
                                 "and a code")  # fmt: skip
        elif not c.value.strip():
            raise ValueError(f"{c.action} needs the new text")
        if not c.who.strip():
            raise ValueError("a correction needs who made it")
        c = replace(c, at=c.at or time.time())
        with self.transaction():
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO corrections (priority_id, action, field, code, value, who, "
                "at, why) VALUES (?,?,?,?,?,?,?,?)",
                (c.priority_id, c.action, c.field, c.code, c.value, c.who, c.at, c.why),
            )
        return replace(c, correction_id=cur.lastrowid if cur.rowcount else None)

    def corrections(self, priority_id: str | None = None) -> list[Correction]:
        return [c for cs in self._corrections(
            [priority_id] if priority_id else None).values() for c in cs]  # fmt: skip

    def _corrections(self, ids: list[str] | None) -> dict[str, list[Correction]]:
        sql = (
            "SELECT correction_id, priority_id, action, field, code, value, who, at, why "
            "FROM corrections"
        )
        args: list[Any] = []
        if ids is not None:
            sql += f" WHERE priority_id IN ({','.join('?' * len(ids))})"
            args = list(ids)
        out: dict[str, list[Correction]] = {}
        for r in self.conn.execute(sql + " ORDER BY at, correction_id", args):
            out.setdefault(r[1], []).append(
                Correction(r[1], r[2], r[6], r[8], r[3], r[4], r[5], r[7], r[0])
            )
        return out

    # -- per-document labels (what `observatory apply` wrote to the chunks) --------------
    def set_doc_labels(self, doc_id: str, data: dict[str, list[str]]) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO doc_labels VALUES (?, ?, ?)",
            (doc_id, json.dumps(data, ensure_ascii=False, sort_keys=True), time.time()),
        )

    def doc_labels(self, doc_id: str) -> dict[str, list[str]]:
        r = self.conn.execute("SELECT data FROM doc_labels WHERE doc_id = ?", (doc_id,)).fetchone()
        return json.loads(r[0]) if r else {}


def _merge_labels(labels: list[Label]) -> dict[LabelField, list[Label]]:
    """One label per (field, code): an imported label beats a model one for the same code."""
    rank = {"review": 3, "imported": 2, "llm": 1, "model": 0}
    best: dict[tuple[str, str], Label] = {}
    for lab in labels:
        key = (lab.field, lab.code)
        if key not in best or rank[lab.source] > rank[best[key].source]:
            best[key] = lab
    out: dict[LabelField, list[Label]] = {}
    for lab in best.values():
        out.setdefault(lab.field, []).append(lab)
    for labs in out.values():
        labs.sort(key=lambda lab: (-lab.confidence, lab.code))
    return out


def apply_corrections(p: Priority, fixes: list[Correction]) -> Priority:
    """Replay the review log over the machine view: a human decision always wins."""
    for c in fixes:
        if c.action == "edit_title":
            p.title, p.source = c.value, "edited"
        elif c.action == "edit_description":
            p.description, p.source = c.value, "edited"
        elif c.action in ("add_label", "remove_label"):
            field: LabelField = c.field  # type: ignore[assignment]
            kept = [lab for lab in p.labels.get(field, []) if lab.code != c.code]
            if c.action == "add_label":
                why = (f"review by {c.who}: {c.why}" if c.why else f"review by {c.who}",)
                kept.insert(0, Label(field, c.code, c.value or c.code, 1.0, why, "review"))
            if kept:
                p.labels[field] = kept
            else:
                p.labels.pop(field, None)
    return p
