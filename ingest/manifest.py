"""The document manifest: one row per ingested file, beside LangChain's chunk record manager.

LangChain's ``SQLRecordManager`` knows chunks; this table knows files (hash, status, page and
chunk counts, metadata, last error), so an unchanged file is skipped before it is even parsed
and the library view can show "needs OCR" without touching the vector store. A row is marked
``indexing`` before its chunks are written and ``indexed`` after: a row left ``indexing`` means
a crash, and the next ingest re-runs that file and sweeps orphans.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s3assist.sqlite import immediate, migrate

MIGRATIONS = [
    (
        "001_documents",
        """
        CREATE TABLE documents (
            doc_id TEXT PRIMARY KEY,
            abs_path TEXT NOT NULL,
            file_hash TEXT NOT NULL,
            meta_hash TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            pages INTEGER NOT NULL DEFAULT 0,
            chunks INTEGER NOT NULL DEFAULT 0,
            metadata TEXT NOT NULL DEFAULT '{}',
            error TEXT NOT NULL DEFAULT '',
            error_kind TEXT NOT NULL DEFAULT '',
            updated_at REAL NOT NULL
        );
        CREATE INDEX documents_abs_path ON documents(abs_path);
        """,
    ),
    (
        "002_state",
        """
        CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO state VALUES ('generation', '0')
        """,
    ),
    (
        "003_overrides",
        """
        CREATE TABLE overrides (
            doc_id TEXT PRIMARY KEY,
            data TEXT NOT NULL,
            updated_at REAL NOT NULL
        )
        """,
    ),
]

INDEXED, INDEXING, FAILED = "indexed", "indexing", "failed"


@dataclass
class DocumentRow:
    doc_id: str
    abs_path: str
    file_hash: str
    meta_hash: str
    status: str
    pages: int
    chunks: int
    metadata: dict[str, Any]
    error: str
    error_kind: str
    updated_at: float


class Manifest:
    def __init__(self, db_path: Path):
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.db_path = db_path
        self.conn = sqlite3.connect(str(db_path), timeout=30, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def _migrate(self) -> None:
        """Named migrations, each applied once, in order."""
        migrate(self.conn, "manifest_migrations", MIGRATIONS)

    def transaction(self) -> AbstractContextManager[None]:
        return immediate(self.conn)

    def close(self) -> None:
        self.conn.close()

    @staticmethod
    def _row(r: tuple[Any, ...]) -> DocumentRow:
        return DocumentRow(
            doc_id=r[0],
            abs_path=r[1],
            file_hash=r[2],
            meta_hash=r[3],
            status=r[4],
            pages=r[5],
            chunks=r[6],
            metadata=json.loads(r[7] or "{}"),
            error=r[8],
            error_kind=r[9],
            updated_at=r[10],
        )

    _COLS = (
        "doc_id, abs_path, file_hash, meta_hash, status, pages, chunks, metadata, error, "
        "error_kind, updated_at"
    )

    def get(self, doc_id: str) -> DocumentRow | None:
        r = self.conn.execute(
            f"SELECT {self._COLS} FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        return self._row(r) if r else None

    def by_abs_path(self, abs_path: str) -> DocumentRow | None:
        r = self.conn.execute(
            f"SELECT {self._COLS} FROM documents WHERE abs_path = ?", (abs_path,)
        ).fetchone()
        return self._row(r) if r else None

    def duplicate_of(self, file_hash: str, meta_hash: str, doc_id: str) -> DocumentRow | None:
        """An indexed document other than ``doc_id`` with the same bytes and overrides."""
        r = self.conn.execute(
            f"SELECT {self._COLS} FROM documents WHERE file_hash = ? AND meta_hash = ? "
            "AND status = ? AND doc_id != ? ORDER BY doc_id LIMIT 1",
            (file_hash, meta_hash, INDEXED, doc_id),
        ).fetchone()
        return self._row(r) if r else None

    def all(self, status: str | None = None) -> list[DocumentRow]:
        sql = f"SELECT {self._COLS} FROM documents"
        args: tuple[Any, ...] = ()
        if status:
            sql += " WHERE status = ?"
            args = (status,)
        return [self._row(r) for r in self.conn.execute(sql + " ORDER BY doc_id", args)]

    def upsert(self, row: DocumentRow) -> None:
        self.conn.execute(
            f"INSERT OR REPLACE INTO documents ({self._COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                row.doc_id,
                row.abs_path,
                row.file_hash,
                row.meta_hash,
                row.status,
                row.pages,
                row.chunks,
                json.dumps(row.metadata, ensure_ascii=False, sort_keys=True),
                row.error,
                row.error_kind,
                time.time(),
            ),
        )

    def remove(self, doc_id: str) -> None:
        self.conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))

    def set_overrides(self, doc_id: str, data: dict[str, Any]) -> None:
        """Metadata an admin set in the app (highest precedence); an empty dict forgets them.
        They survive re-ingest; ``Ingestor.delete`` forgets them with the document."""
        if not data:
            self.conn.execute("DELETE FROM overrides WHERE doc_id = ?", (doc_id,))
            return
        self.conn.execute(
            "INSERT OR REPLACE INTO overrides VALUES (?, ?, ?)",
            (doc_id, json.dumps(data, ensure_ascii=False, sort_keys=True), time.time()),
        )

    def get_overrides(self, doc_id: str) -> dict[str, Any]:
        r = self.conn.execute("SELECT data FROM overrides WHERE doc_id = ?", (doc_id,)).fetchone()
        data = json.loads(r[0]) if r else {}
        return data if isinstance(data, dict) else {}

    def clear(self) -> None:
        self.conn.execute("DELETE FROM documents")
        self.bump_generation()

    def generation(self) -> int:
        """Bumped whenever the chunk set changes; derived indexes (BM25) compare against it."""
        row = self.conn.execute("SELECT value FROM state WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def bump_generation(self) -> int:
        self.conn.execute(
            "UPDATE state SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
        )
        return self.generation()
