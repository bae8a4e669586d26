"""The SQLite settings and transactions the registry and the collection database share."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path


def connect(path: Path) -> sqlite3.Connection:
    """Autocommit mode (transactions are explicit), WAL so readers never block the writer, and
    synchronous=NORMAL: durable across a killed process, without an fsync per commit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


@contextmanager
def transaction(db: sqlite3.Connection):
    """BEGIN IMMEDIATE (take the write lock now, not at the first write), COMMIT, or ROLLBACK on any exit."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
