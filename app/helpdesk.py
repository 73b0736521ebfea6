"""The secretariat's helpdesk: drafted answers to incoming queries, edited and approved.

Rows live in the app's SQLite file (``settings.app_db``, WAL, one transaction a write) in their
own ``helpdesk`` table, created by a named migration as :mod:`app.feedback` does. A draft keeps
the question, the assistant's answer and its citations (JSON); an editor may rewrite the answer;
an admin approves it (the API and the UI check the admin, the store records who).

Approved answers are reused: :meth:`HelpdeskStore.similar_approved` embeds the stored questions
with the MiniLM embedder (vectors cached in memory by id, computed on first use) and returns the
approved entries whose question is close to a new one (cosine >= ``SIMILAR_MIN_SCORE``).
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.sqlite_store import SQLiteStore
from s3assist.settings import Settings

DRAFT, EDITED, APPROVED = "draft", "edited", "approved"
STATUSES = (DRAFT, EDITED, APPROVED)
# MiniLM cosine between two phrasings of the same question is typically 0.8-0.95; questions on
# merely related S3 topics score 0.4-0.7. 0.75 keeps paraphrases and drops the rest.
SIMILAR_MIN_SCORE = 0.75
CSV_COLUMNS = (
    "id",
    "status",
    "question",
    "answer",
    "citations",
    "created_at",
    "updated_at",
    "edited_by",
    "approved_by",
    "approved_at",
)

MIGRATIONS = [
    (
        "helpdesk_001",
        """
        CREATE TABLE helpdesk (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            status TEXT NOT NULL DEFAULT 'draft',
            question TEXT NOT NULL,
            draft TEXT NOT NULL DEFAULT '',
            answer TEXT NOT NULL DEFAULT '',
            citations TEXT NOT NULL DEFAULT '[]',
            refused INTEGER NOT NULL DEFAULT 0,
            edited_by TEXT NOT NULL DEFAULT '',
            approved_by TEXT NOT NULL DEFAULT '',
            approved_at REAL
        )
        """,
    ),
]
_COLUMNS = (
    "id, created_at, updated_at, status, question, draft, answer, citations, refused,"
    " edited_by, approved_by, approved_at"
)


@dataclass
class HelpdeskEntry:
    id: int
    question: str
    answer: str
    status: str = DRAFT
    draft: str = ""
    citations: list[dict[str, Any]] = field(default_factory=list)
    refused: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0
    edited_by: str = ""
    approved_by: str = ""
    approved_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "question": self.question,
            "answer": self.answer,
            "draft": self.draft,
            "citations": self.citations,
            "refused": self.refused,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "edited_by": self.edited_by,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at,
        }


Similar = list[tuple[HelpdeskEntry, float]]
Entries = list[HelpdeskEntry]


class EntryNotFound(KeyError):
    pass


def _entry(row: tuple[Any, ...]) -> HelpdeskEntry:
    return HelpdeskEntry(
        id=row[0],
        created_at=row[1],
        updated_at=row[2],
        status=row[3],
        question=row[4],
        draft=row[5],
        answer=row[6],
        citations=json.loads(row[7]),
        refused=bool(row[8]),
        edited_by=row[9],
        approved_by=row[10],
        approved_at=row[11],
    )


class HelpdeskStore(SQLiteStore):
    """``draft`` / ``update`` / ``approve`` entries, ``list`` and ``export_csv`` them.

    ``assistant`` returns the :class:`assistant.pipeline.Assistant` that drafts answers (the
    app passes its shared, lazily loaded one); ``embedder`` defaults to the settings' MiniLM.
    """

    MIGRATIONS = MIGRATIONS

    def __init__(
        self,
        settings: Settings,
        assistant: Callable[[], Any] | None = None,
        embedder: Any | None = None,
        backend: str = "extractive",
    ):
        self.settings = settings
        self._assistant = assistant
        self._embedder = embedder
        self.backend = backend
        self._vectors: dict[int, np.ndarray] = {}
        self._vec_lock = threading.Lock()
        super().__init__(settings.app_db)

    # -- writes ----------------------------------------------------------------------------
    def add(
        self,
        question: str,
        answer: str,
        citations: list[dict[str, Any]] | None = None,
        refused: bool = False,
    ) -> int:
        """Store a drafted answer as it is (``draft`` does this after asking the assistant)."""
        question = question.strip()
        if not question:
            raise ValueError("a helpdesk entry needs a question")
        now = time.time()
        with self._connect() as conn, self._transaction(conn):
            cur = conn.execute(
                "INSERT INTO helpdesk (created_at, updated_at, status, question, draft, answer,"
                " citations, refused) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now,
                    now,
                    DRAFT,
                    question,
                    answer,
                    answer,
                    json.dumps(citations or [], ensure_ascii=False),
                    int(refused),
                ),
            )
            return int(cur.lastrowid or 0)

    def draft(self, question: str) -> int:
        """Ask the assistant (extractive by default) and store its answer and citations."""
        if not question.strip():
            raise ValueError("a helpdesk entry needs a question")
        if self._assistant is None:
            raise RuntimeError("this helpdesk store has no assistant to draft answers")
        answer = self._assistant().ask(question.strip(), backend=self.backend)
        citations = answer.citations() or [s.citation() for s in getattr(answer, "related", [])]
        return self.add(question, answer.answer, citations, bool(answer.refused))

    def update(self, entry_id: int, answer_text: str, editor: str = "") -> HelpdeskEntry:
        """Replace the answer text; an approved entry goes back to ``edited`` (re-approve)."""
        with self._connect() as conn, self._transaction(conn):
            cur = conn.execute(
                "UPDATE helpdesk SET answer = ?, edited_by = ?, updated_at = ?, status = ?,"
                " approved_by = '', approved_at = NULL WHERE id = ?",
                (answer_text, editor.strip(), time.time(), EDITED, entry_id),
            )
            if cur.rowcount == 0:
                raise EntryNotFound(entry_id)
        return self.get(entry_id)

    def approve(self, entry_id: int, approver: str) -> HelpdeskEntry:
        """Mark the entry approved by ``approver`` (callers check that this is an admin)."""
        if not approver.strip():
            raise ValueError("approval needs the approver's name")
        now = time.time()
        with self._connect() as conn, self._transaction(conn):
            cur = conn.execute(
                "UPDATE helpdesk SET status = ?, approved_by = ?, approved_at = ?, updated_at = ?"
                " WHERE id = ?",
                (APPROVED, approver.strip(), now, now, entry_id),
            )
            if cur.rowcount == 0:
                raise EntryNotFound(entry_id)
        return self.get(entry_id)

    # -- reads -----------------------------------------------------------------------------
    def get(self, entry_id: int) -> HelpdeskEntry:
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM helpdesk WHERE id = ?", (entry_id,)
            ).fetchone()
        if row is None:
            raise EntryNotFound(entry_id)
        return _entry(row)

    def list(self, status: str | None = None, query: str | None = None) -> Entries:
        """Entries, newest first; ``status`` filters, ``query`` is a case-insensitive substring
        of the question or the answer."""
        if status and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
        where, args = [], []
        if status:
            where.append("status = ?")
            args.append(status)
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM helpdesk"
                + (" WHERE " + " AND ".join(where) if where else "")
                + " ORDER BY id DESC",
                args,
            ).fetchall()
        entries = [_entry(r) for r in rows]
        needle = (query or "").strip().casefold()
        if needle:
            entries = [
                e
                for e in entries
                if needle in e.question.casefold() or needle in e.answer.casefold()
            ]
        return entries

    def export_csv(self) -> str:
        """All entries (oldest first) as CSV with ``CSV_COLUMNS``; citations as ``file p. N``."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for e in reversed(self.list()):
            cites = "; ".join(f"{c.get('file', '')} p. {c.get('page', '')}" for c in e.citations)
            writer.writerow(
                [
                    e.id,
                    e.status,
                    e.question,
                    e.answer,
                    cites,
                    _iso(e.created_at),
                    _iso(e.updated_at),
                    e.edited_by,
                    e.approved_by,
                    _iso(e.approved_at),
                ]
            )
        return out.getvalue()

    # -- reuse of approved answers ---------------------------------------------------------
    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._embedder is None:
            from vectorstore.embeddings import dense_embedder

            self._embedder = dense_embedder(self.settings)
        vectors = np.asarray(self._embedder.embed_documents(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    def similar_approved(
        self,
        question: str,
        k: int = 3,
        min_score: float = SIMILAR_MIN_SCORE,
        exclude: int | None = None,
    ) -> Similar:
        """Approved entries whose question is closest to ``question`` (cosine >= min_score),
        best first, at most ``k``; ``exclude`` leaves out one entry (the draft being shown)."""
        if not question.strip():
            return []
        approved = [e for e in self.list(APPROVED) if e.id != exclude]
        if not approved:
            return []
        with self._vec_lock:
            missing = [e for e in approved if e.id not in self._vectors]
            if missing:
                for e, vec in zip(missing, self._embed([e.question for e in missing]), strict=True):
                    self._vectors[e.id] = vec
            matrix = np.stack([self._vectors[e.id] for e in approved])
        query = self._embed([question.strip()])[0]
        scores = matrix @ query
        ranked = sorted(zip(approved, scores.tolist(), strict=True), key=lambda p: -p[1])
        return [(e, float(s)) for e, s in ranked[:k] if s >= min_score]


def _iso(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else ""


_shared_lock = threading.Lock()


def helpdesk_of(svc: Any) -> HelpdeskStore:
    """The one store of an :class:`app.services.AppServices` (the API and the UI share it, and
    its vector cache); drafts use the app's shared assistant."""
    with _shared_lock:
        store = getattr(svc, "_helpdesk", None)
        if store is None:
            store = HelpdeskStore(svc.settings, lambda: svc.assistant)
            svc._helpdesk = store
        return store
