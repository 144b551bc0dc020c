"""SQLite the way every store here uses it: WAL, explicit transactions, a meta table.

WAL lets readers (RPC, explorer) run while a block is written; `BEGIN
IMMEDIATE` takes the write lock up front so a transaction never fails half
way on a busy database; `synchronous=FULL` makes a commit durable against
power loss, `NORMAL` only against a killed process (enough for indexes that
can be rebuilt).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path


def open_db(path: str | Path, synchronous: str = "FULL") -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """All of it or none of it, also when the caller raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class SqliteStore:
    """A database file with a schema and a `meta(key, value)` table."""

    def __init__(self, path: str | Path, schema: str, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.db = open_db(self.path, synchronous)
        self.db.executescript(schema)

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.db)

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
