"""Answer feedback from readers, kept in the app's SQLite file (WAL, one transaction a write).

Each row holds what is needed to review the answer later without the index: the question, the
answer text, the cited sources (file, page, passage), the backend and the settings hash.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class FeedbackStore:
    """``add`` one verdict, ``all`` to read them back (newest last)."""

    def __init__(self, db_path: Path):
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.db_path = db_path
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            self._migrate(conn)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection: the app calls from many worker threads."""
        conn = sqlite3.connect(str(self.db_path), timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Named migrations, each applied once, in order."""
        conn.execute("CREATE TABLE IF NOT EXISTS app_migrations (name TEXT PRIMARY KEY, at REAL)")
        done = {r[0] for r in conn.execute("SELECT name FROM app_migrations")}
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with self._transaction(conn):
                conn.execute(sql)
                conn.execute("INSERT INTO app_migrations VALUES (?, ?)", (name, time.time()))

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
