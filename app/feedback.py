"""Answer feedback from readers, kept in the app's SQLite file (WAL, one transaction a write).

Each row holds what is needed to review the answer later without the index: the question, the
answer text, the cited sources (file, page, passage), the backend and the settings hash.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from app.sqlite_store import SQLiteStore

VERDICTS = ("correct", "incorrect", "wrong_evidence")

MIGRATIONS = [
    (
        "001_feedback",
        """
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at REAL NOT NULL,
            verdict TEXT NOT NULL,
            comment TEXT NOT NULL DEFAULT '',
            question TEXT NOT NULL,
            answer TEXT NOT NULL,
            sources TEXT NOT NULL DEFAULT '[]',
            backend TEXT NOT NULL DEFAULT '',
            settings_hash TEXT NOT NULL DEFAULT ''
        )
        """,
    ),
]


@dataclass
class Feedback:
    verdict: str
    question: str
    answer: str
    sources: list[dict[str, Any]]
    backend: str = ""
    settings_hash: str = ""
    comment: str = ""
    id: int = 0
    created_at: float = 0.0


class FeedbackStore(SQLiteStore):
    """``add`` one verdict, ``all`` to read them back (newest last)."""

    MIGRATIONS = MIGRATIONS

    def add(self, item: Feedback) -> int:
        if item.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {item.verdict!r}; one of {', '.join(VERDICTS)}")
        if not item.question.strip():
            raise ValueError("feedback needs the question it is about")
        with self._connect() as conn, self._transaction(conn):
            cur = conn.execute(
                "INSERT INTO feedback (created_at, verdict, comment, question, answer, sources,"
                " backend, settings_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    item.verdict,
                    item.comment.strip(),
                    item.question,
                    item.answer,
                    json.dumps(item.sources, ensure_ascii=False),
                    item.backend,
                    item.settings_hash,
                ),
            )
            return int(cur.lastrowid or 0)

    def all(self) -> list[Feedback]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, created_at, verdict, comment, question, answer, sources, backend,"
                " settings_hash FROM feedback ORDER BY id"
            ).fetchall()
        return [
            Feedback(
                id=r[0],
                created_at=r[1],
                verdict=r[2],
                comment=r[3],
                question=r[4],
                answer=r[5],
                sources=json.loads(r[6]),
                backend=r[7],
                settings_hash=r[8],
            )
            for r in rows
        ]
