"""The SQLite settings and transactions the registry and the collection database share."""
from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

TIMEOUT = 60.0  # seconds a writer waits for another one


def connect(path: Path, schema: str | None = None, readonly: bool = False) -> sqlite3.Connection:
    """Autocommit mode (transactions are explicit), WAL so readers never block the writer, and
    synchronous=NORMAL: durable across a killed process, without an fsync per commit.

    Two processes may open a new database at the same moment: switching it to WAL takes a lock that
    SQLite does not wait for, so that is retried, and the schema is created in one write transaction.
    `readonly` opens an existing database without writing anything, even on a read-only file system.
    """
    path = Path(path)
    if readonly:
        return _open_readonly(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=TIMEOUT, isolation_level=None)
    try:
        _retry_locked(lambda: db.execute("PRAGMA journal_mode=WAL").fetchone())
        db.execute("PRAGMA synchronous=NORMAL")
        if schema:
            with transaction(db):
                for statement in schema.split(";"):
                    if statement.strip():
                        db.execute(statement)
    except BaseException:
        db.close()
        raise
    return db


def _retry_locked(step, timeout: float = TIMEOUT):
    deadline, pause = time.monotonic() + timeout, 0.005
    while True:
        try:
            return step()
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)


def _open_readonly(path: Path) -> sqlite3.Connection:
    """A connection that writes nothing (query_only). It is opened read-write where it can be: a read-write
    connection that closes last checkpoints the WAL and removes -wal and -shm, where a mode=ro connection
    would leave both behind beside the database. Else mode=ro; where even that cannot open (a WAL database
    on a read-only file system, whose -shm file cannot be created), immutable=1: nobody can be writing there."""
    if not path.is_file():
        raise sqlite3.OperationalError("unable to open database file")
    uri = path.resolve().as_uri()
    for flags in ("mode=rw", "mode=ro", "immutable=1"):
        db = sqlite3.connect(f"{uri}?{flags}", uri=True, timeout=TIMEOUT, isolation_level=None)
        try:
            db.execute("PRAGMA query_only=ON")
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            db.close()
            if flags == "immutable=1":
                raise
    raise AssertionError("unreachable")


@contextmanager
def transaction(db: sqlite3.Connection):
    """BEGIN IMMEDIATE (take the write lock now, not at the first write), COMMIT, or ROLLBACK on any exit."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled back itself (a full disk)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
