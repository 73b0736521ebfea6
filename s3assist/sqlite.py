"""The SQLite conventions every store shares (document manifest, app stores, observatory).

One writer transaction at a time (``BEGIN IMMEDIATE``, so a second process waits instead of
failing half-way), and named migrations, each checked and applied inside its own transaction so
two processes starting together apply it once. Kept here because three stores need exactly this
and neither sqlite3 nor SQLAlchemy's migration tools (alembic) are worth their weight for it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction on an autocommit connection; nested use joins the outer one."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection, table: str, migrations: Sequence[tuple[str, str]]) -> None:
    """Apply each ``(name, sql)`` not yet recorded in ``table`` (``;``-separated statements)."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (name TEXT PRIMARY KEY, applied REAL)")
    for name, sql in migrations:
        with immediate(conn):
            if conn.execute(f"SELECT 1 FROM {table} WHERE name = ?", (name,)).fetchone():
                continue
            for statement in filter(str.strip, sql.split(";")):
                conn.execute(statement)
            conn.execute(f"INSERT INTO {table} VALUES (?, ?)", (name, time.time()))
