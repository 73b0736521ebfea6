"""The base of the app's SQLite stores (feedback, helpdesk): one file, WAL, named migrations.

Connections are short-lived because the app calls from many worker threads; every write is one
``BEGIN IMMEDIATE`` transaction; each migration is checked and applied inside its own
transaction, so two processes starting together apply it once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import ClassVar

from s3assist.sqlite import immediate, migrate


class SQLiteStore:
    MIGRATIONS: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, db_path: Path):
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.db_path = db_path
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            self._migrate(conn)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(str(self.db_path), timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            yield conn
        finally:
            conn.close()

    def _transaction(self, conn: sqlite3.Connection) -> AbstractContextManager[None]:
        return immediate(conn)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        migrate(conn, "app_migrations", self.MIGRATIONS)
