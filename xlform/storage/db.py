"""The database engines under the registry and the collection store: SQLite (a file, the embedded default)
or PostgreSQL (a server that several machines and processes write at once). Every difference between the
two is here; the SQL of store.py and registry.py is written once, with `?` parameters, and runs on both.

What differs, and how it is bridged:
- parameters: `?` is rewritten to psycopg's `%s`;
- types: `{serial}` `{real}` `{int8}` in the schema (SQLite's REAL is PostgreSQL's DOUBLE PRECISION, not
  its 4-byte REAL); `{view}` (no CREATE VIEW IF NOT EXISTS in PostgreSQL);
- the columns of a table: PRAGMA table_info or information_schema;
- writers: SQLite has one at a time (BEGIN IMMEDIATE); PostgreSQL has many, so what must be decided by one
  writer at a time (which submission of a template is current, the next version of a template) takes a
  transaction-scoped advisory lock (`lock`); a deadlock or serialization failure is retried (`retrying`);
- errors: psycopg errors become one line naming the URL without its password (CannotRun, exit 2).
INSERT … ON CONFLICT, upserts and RETURNING are spelled the same in both (SQLite 3.35+).
"""
from __future__ import annotations

import random
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import CannotRun
from .sqlite import connect as sqlite_connect, transaction as sqlite_transaction

SQLITE, POSTGRES = "sqlite", "postgresql"
SCHEMA_LOCK, CURRENT_LOCK, VERSION_LOCK = 1, 2, 3   # advisory lock name spaces (PostgreSQL)
CONNECT_TIMEOUT = 10   # seconds
# Rows of one INSERT in SQLite (their values within its limit of 32,766 parameters): a statement per row,
# executemany, stored a return's 115 indicators and problems with a fifth more CPU (its per-row step, reset
# and parameter check).
ROWS_PER_INSERT = 64


@dataclass(frozen=True)
class Location:
    """Where a database is: a SQLite file or a PostgreSQL URL."""
    engine: str
    target: Path | str

    @property
    def shown(self):
        """What messages name: the path, or the URL without its password."""
        return self.target if self.engine == SQLITE else redact(self.target)

    def __str__(self):
        return str(self.shown)


def locate(value, default: Path) -> Location:
    """A path, sqlite:///PATH (sqlite:////absolute), or postgresql://user:password@host:port/database."""
    if isinstance(value, Location):
        return value
    if value is None or value == "":
        return Location(SQLITE, Path(default))
    if isinstance(value, Path):
        return Location(SQLITE, value)
    text = str(value)
    if text.startswith("sqlite:///"):
        return Location(SQLITE, Path(text[len("sqlite:///"):]))
    if text.startswith(("postgresql://", "postgres://")):
        return Location(POSTGRES, text)
    if "://" in text:
        raise ValueError(f"not a database this tool can use: {redact(text)} (a path, sqlite:///PATH or "
                         "postgresql://USER:PASSWORD@HOST/DATABASE)")
    return Location(SQLITE, Path(text))


def redact(url: str) -> str:
    """The URL without a password (in user:password@ or ?password=)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        auth, host = netloc.rsplit("@", 1)
        netloc = f"{auth.split(':', 1)[0]}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class Conflict(Exception):
    """Two PostgreSQL writers collided (deadlock, serialization failure): the transaction may be retried."""


def pg_reason(error: Exception) -> str:
    """libpq's message in a few words: 'Connection refused', 'password authentication failed for user "x"'."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = next((line for line in reversed(lines) if "failed:" in line), lines[0] if lines else type(error).__name__)
    text = text.rsplit("failed: ", 1)[-1] if "connection" in text and "failed: " in text else text
    return re.sub(r"^(FATAL|ERROR):\s*", "", text).strip()


def exists(location: Location, table: str, option: str = "") -> bool:
    """Whether the database is there and holds `table` (an xlform database, not merely a server)."""
    if location.engine == SQLITE:
        return Path(location.target).is_file()
    db = Database(location, readonly=True, option=option)
    try:
        return db.has(table)
    finally:
        db.close()


class Database:
    """One connection, in autocommit mode: transactions are explicit (`transaction`)."""

    def __init__(self, location: Location, readonly: bool = False, option: str = "--db"):
        self.location, self.engine = location, location.engine
        where = f"the URL given with {option}" if option else "the URL"
        self.fix = f"check the server and {where}; what is stored is kept: run the command again"
        if self.engine == SQLITE:
            self.con = sqlite_connect(Path(location.target), readonly=readonly)
            self.con.execute("PRAGMA foreign_keys=ON")
            return
        import psycopg
        try:
            self.con = psycopg.connect(location.target, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
            if readonly:
                self.con.execute("SET default_transaction_read_only = on")
        except psycopg.Error as e:
            raise CannotRun(f"cannot connect to the database {location}: {pg_reason(e)}; check that the server is "
                            f"running and {where} (user, password, host, port, database)") from None

    def close(self):
        self.con.close()

    # -- statements ----------------------------------------------------------------------------------
    def execute(self, sql: str, args=()):
        if self.engine == SQLITE:
            return self.con.execute(sql, args)
        with self._translated():
            return self.con.execute(_pg(sql), args)

    def executemany(self, sql: str, rows):
        rows = list(rows)
        if not rows:
            return
        if self.engine == SQLITE:
            self.con.executemany(sql, rows)
            return
        with self._translated():
            self.con.cursor().executemany(_pg(sql), rows)

    def insert(self, table: str, row: dict, returning: str | None = None):
        """INSERT one row given as {column: value}, naming its columns; the `returning` column's value."""
        sql = _insert(table, tuple(row), returning)
        if returning:
            return self.one(sql, *row.values())[0]
        self.execute(sql, tuple(row.values()))

    def insert_many(self, table: str, rows: list[dict]):
        """INSERT rows given as {column: value}, all with the columns of the first."""
        if rows:
            columns = tuple(rows[0])
            self.insert_rows(table, columns, [tuple(r[c] for c in columns) for r in rows])

    def insert_rows(self, table: str, columns: tuple[str, ...], rows: list[tuple]):
        """INSERT rows given as tuples of the `columns`, in their order."""
        self.insert_values(table, columns, [v for row in rows for v in row])

    def insert_values(self, table: str, columns: tuple[str, ...], values: list):
        """INSERT rows given one after the other in `values` (the `columns` of one row, then the next …), in
        their order (a serial id follows it). SQLite: ROWS_PER_INSERT rows a statement, the rest 8 then 1 at a
        time (a few statements of fixed sizes, each prepared once). PostgreSQL: psycopg's executemany, a row
        a statement in one pipeline (its statements of 64 rows took twice the CPU and time)."""
        width = len(columns)
        if len(values) % width:
            raise ValueError(f"{len(values)} values are no rows of {width} columns")
        if self.engine == POSTGRES:
            self.executemany(_insert(table, columns), [values[n:n + width] for n in range(0, len(values), width)])
            return
        start = 0
        for rows in sorted({ROWS_PER_INSERT, max(ROWS_PER_INSERT // 8, 1), 1}, reverse=True):
            step = width * rows
            if len(values) - start >= step:
                sql = _insert(table, columns, rows=rows)
                while len(values) - start >= step:
                    self.execute(sql, values[start:start + step])
                    start += step

    def one(self, sql: str, *args):
        rows = self.execute(sql, args).fetchall()   # read to the end: no statement left open in SQLite
        return rows[0] if rows else None

    def all(self, sql: str, *args) -> list[tuple]:
        return self.execute(sql, args).fetchall()

    def utf8(self, column: str) -> str:
        """A TEXT column's expression read as its UTF-8 bytes where the engine gives them without decoding
        (SQLite: bytes, NULL as None): what is parsed (JSON) or written (the summary) as UTF-8 is not decoded
        into a str to be encoded again. PostgreSQL's as its text (a bytea would come hex-encoded)."""
        return f"CAST({column} AS BLOB)" if self.engine == SQLITE else column

    @contextmanager
    def _translated(self):
        import psycopg
        from psycopg import errors
        try:
            yield
        except (errors.DeadlockDetected, errors.SerializationFailure) as e:
            raise Conflict(str(e)) from None
        except psycopg.Error as e:
            raise CannotRun(f"cannot use the database {self.location}: {pg_reason(e)}; {self.fix}") from None

    # -- transactions and locks -------------------------------------------------------------------------
    @contextmanager
    def transaction(self):
        """SQLite: BEGIN IMMEDIATE (the one writer from now on). PostgreSQL: BEGIN … COMMIT, ROLLBACK on any exit."""
        if self.engine == SQLITE:
            with sqlite_transaction(self.con):
                yield
            return
        self.execute("BEGIN")
        try:
            yield
        except BaseException:
            try:
                self.con.execute("ROLLBACK")
            except Exception:  # the connection is gone: the server rolls back itself
                pass
            raise
        self.execute("COMMIT")

    def lock(self, space: int, key: str):
        """Inside a transaction, until it ends: one writer at a time for `key` (a template id). SQLite's
        BEGIN IMMEDIATE already made this the only writer."""
        if self.engine == POSTGRES:
            self.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", (space, key))

    def retrying(self, step, attempts: int = 8):
        """step(), again after a PostgreSQL deadlock or serialization failure (its transaction rolled back)."""
        for attempt in range(attempts):
            try:
                return step()
            except Conflict as e:
                if attempt == attempts - 1:
                    raise CannotRun(f"cannot write the database {self.location}: {pg_reason(e)} "
                                    f"{attempts} times; run the command again") from None
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))

    # -- schema --------------------------------------------------------------------------------------
    def has(self, table: str) -> bool:
        if self.engine == SQLITE:
            return self.one("SELECT 1 FROM sqlite_master WHERE name=?", table) is not None
        return self.one("SELECT to_regclass(?)", table)[0] is not None

    def columns(self, table: str) -> set[str]:
        if self.engine == SQLITE:
            return {r[1] for r in self.all(f"PRAGMA table_info({table})")}
        return {r[0] for r in self.all("SELECT column_name FROM information_schema.columns "
                                       "WHERE table_schema = current_schema() AND table_name = ?", table)}

    def ensure(self, schema: str, added: dict[str, dict[str, str]] | None = None, views: str = ""):
        """Create what is missing: the tables of `schema`, the columns `added` since xlform 0.1 (table ->
        {column: type}), then the `views` (last: in PostgreSQL a view is bound to the columns it sees).
        Several processes may open a new database at once: one transaction (PostgreSQL: under a lock)."""
        tables, views = (_statements(text.format(**_TYPES[self.engine])) for text in (schema, views))
        added = added or {}
        if self.engine == POSTGRES and self._complete(tables + views, added):
            return  # no DDL on a ready database: it would lock tables other processes are writing
        with self.transaction():
            self.lock(SCHEMA_LOCK, "schema")
            for statement in tables:
                self.execute(statement)
            for table, columns in added.items():
                have = self.columns(table)
                for column, kind in columns.items():
                    if column not in have:
                        self.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind.format(**_TYPES[self.engine])}")
            for statement in views:
                self.execute(statement)

    def _complete(self, statements: list[str], added: dict[str, dict[str, str]]) -> bool:
        names = [m.group(1) for s in statements
                 for m in [re.search(r"(?:TABLE|INDEX|VIEW)\s+(?:IF NOT EXISTS\s+)?(\w+)", s)] if m]
        return all(self.has(n) for n in names) and all(set(c) <= self.columns(t) for t, c in added.items())


_TYPES = {
    SQLITE: {"serial": "INTEGER PRIMARY KEY", "real": "REAL", "int8": "INTEGER", "view": "CREATE VIEW IF NOT EXISTS"},
    POSTGRES: {"serial": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "real": "DOUBLE PRECISION",
               "int8": "BIGINT", "view": "CREATE OR REPLACE VIEW"},
}


@lru_cache(maxsize=256)
def _pg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


@lru_cache(maxsize=64)
def _insert(table: str, columns: tuple[str, ...], returning: str | None = None, rows: int = 1) -> str:
    """The INSERT naming its columns, of `rows` rows; the names are the code's own (store.py), never a file's
    text."""
    if not all(re.fullmatch(r"[a-z_][a-z0-9_]*", n) for n in (table, *columns, *([returning] if returning else []))):
        raise ValueError(f"not a column name: {table}{columns}")
    row = f"({','.join('?' * len(columns))})"
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES {','.join([row] * rows)}"
            + (f" RETURNING {returning}" if returning else ""))


def _statements(text: str) -> list[str]:
    return [s for s in text.split(";") if s.strip()]
