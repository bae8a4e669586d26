"""The collection database (SQLite): every file seen, every record read, every problem, queryable by any
SQLite client. A file's records always go in together, in one transaction, so a killed run leaves no file
half-written."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .record import Record
from .sqlite import connect, transaction

DEFAULT = Path("output") / "collect.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (          -- one row per distinct file content
    sha256 TEXT PRIMARY KEY, path TEXT NOT NULL, size INTEGER, modified TEXT, received_at TEXT NOT NULL,
    status TEXT NOT NULL                    -- read | rejected
);
CREATE TABLE IF NOT EXISTS file_paths (     -- every path a content was found under (duplicates too)
    path TEXT PRIMARY KEY, sha256 TEXT NOT NULL REFERENCES files(sha256), seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (    -- one row per project sheet read (or per rejected file)
    id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL REFERENCES files(sha256), path TEXT NOT NULL,
    sheet TEXT, template_id TEXT, version INTEGER, department TEXT, project TEXT,
    modified TEXT, received_at TEXT NOT NULL,
    status TEXT NOT NULL,                   -- current | superseded | rejected
    errors INTEGER NOT NULL, warnings INTEGER NOT NULL, total_score REAL,
    record TEXT NOT NULL,                   -- the full record as JSON
    form TEXT, grade TEXT                   -- the form kind, the 评价等级
);
CREATE INDEX IF NOT EXISTS submissions_template ON submissions(template_id, status);
CREATE TABLE IF NOT EXISTS projects (
    submission_id INTEGER PRIMARY KEY REFERENCES submissions(id), template_id TEXT, version INTEGER,
    name TEXT, department TEXT, implementer TEXT, year INTEGER, goal_expected TEXT, goal_actual TEXT,
    funds_weight REAL, funds_rate REAL, funds_score REAL, total_score REAL
);
CREATE TABLE IF NOT EXISTS funds (
    submission_id INTEGER NOT NULL REFERENCES submissions(id), row TEXT NOT NULL,
    initial REAL, annual REAL, executed REAL, PRIMARY KEY (submission_id, row)
);
CREATE TABLE IF NOT EXISTS indicators (
    submission_id INTEGER NOT NULL REFERENCES submissions(id), position INTEGER NOT NULL,
    indicator_id TEXT, level1 TEXT, level2 TEXT, name TEXT, target TEXT, actual REAL, weight REAL,
    score REAL, deviation_reason TEXT, PRIMARY KEY (submission_id, position)
);
CREATE TABLE IF NOT EXISTS extra_values (  -- what a form kind adds: per project (position -1) or indicator
    submission_id INTEGER NOT NULL REFERENCES submissions(id), position INTEGER NOT NULL, key TEXT NOT NULL,
    value TEXT, PRIMARY KEY (submission_id, position, key)
);
CREATE TABLE IF NOT EXISTS problems (
    id INTEGER PRIMARY KEY, submission_id INTEGER NOT NULL REFERENCES submissions(id),
    cell TEXT, severity TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL
);
CREATE VIEW IF NOT EXISTS current AS
    SELECT s.*, p.implementer, p.funds_rate, p.funds_score FROM submissions s
    LEFT JOIN projects p ON p.submission_id = s.id WHERE s.status = 'current';
"""


@dataclass
class Prepared:
    """A record as database rows: built where the file was read (a worker), stored by the main process."""
    usable: bool
    template_id: str | None
    submission: tuple   # sheet, template_id, version, department, project, errors, warnings, total, JSON,
                        # form, grade
    project: tuple | None
    funds: list[tuple]
    indicators: list[tuple]
    problems: list[tuple]
    extras: list[tuple] = ()   # (position, key, value); position -1 for the project

    @classmethod
    def of(cls, r: Record) -> "Prepared":
        tid = r.template.get("id") or None
        p = r.project
        project = None
        if p:
            project = (tid, r.template.get("version"), p["name"], p["department"], p["implementer"], p["year"],
                       r.goal.get("expected"), r.goal.get("actual"), r.funds.get("weight"), r.funds.get("rate"),
                       r.funds.get("score"), r.total_score)
        return cls(bool(tid and p), tid,
                   (r.sheet, tid, r.template.get("version"), p.get("department"), p.get("name"), len(r.errors),
                    len(r.warnings), r.total_score, r.to_json(), r.template.get("form"), r.grade),
                   project,
                   [(k, v["initial"], v["annual"], v["executed"]) for k, v in r.funds.get("rows", {}).items()],
                   [(n, i.id, i.level1, i.level2, i.name, i.target, i.actual, i.weight, i.score, i.deviation_reason)
                    for n, i in enumerate(r.indicators)],
                   [(x.where, x.severity, x.code, x.message) for x in r.problems],
                   [(-1, k, _text(v)) for k, v in {**dict(list(p.items())[4:]), **r.extra}.items()] +
                   [(n, k, _text(v)) for n, i in enumerate(r.indicators) for k, v in i.extra.items()])

    @property
    def errors(self) -> int:
        return self.submission[5]

    @property
    def warnings(self) -> int:
        return self.submission[6]


def _text(v) -> str | None:
    return None if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


def db_path(url: str | None) -> Path:
    """A file path, or a sqlite:/// URL (sqlite:///relative.db, sqlite:////absolute.db)."""
    if not url:
        return DEFAULT
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):])
    if "://" in url:
        raise ValueError(f"only SQLite databases are supported (a path or sqlite:///PATH), not {url!r}")
    return Path(url)


class Store:
    def __init__(self, path: Path, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.exists():
            raise FileNotFoundError(f"no database at {self.path}")
        self.db = connect(self.path, _SCHEMA, readonly=not create)
        self.db.execute("PRAGMA foreign_keys=ON")
        if create:
            columns = {r[1] for r in self.db.execute("PRAGMA table_info(submissions)")}
            for column in ("form", "grade"):  # a database collected by xlform 0.1
                if column not in columns:
                    self.db.execute(f"ALTER TABLE submissions ADD COLUMN {column} TEXT")

    def close(self):
        self.db.close()

    def transaction(self):
        return transaction(self.db)

    def known(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT sha256 FROM files")}

    def add_path(self, path: str, sha: str, now: str):
        self.db.execute("INSERT OR REPLACE INTO file_paths VALUES (?,?,?)", (path, sha, now))

    def add_file(self, path: str, sha: str, size: int, modified: str, now: str,
                 records: list["Prepared"]) -> str | None:
        """Store one file and its records, inside the caller's transaction (see `batches`): 'read' or
        'rejected' (no usable record), None if its content was already stored."""
        status = "read" if any(r.usable for r in records) else "rejected"
        added = self.db.execute("INSERT OR IGNORE INTO files VALUES (?,?,?,?,?,?)",
                                (sha, path, size, modified, now, status)).rowcount
        self.add_path(path, sha, now)
        if not added:
            return None
        for r in records:
            self._add_record(r, sha, path, modified, now)
        return status

    def _add_record(self, r: "Prepared", sha, path, modified, now):
        status = self._claim_current(r.template_id, modified) if r.usable else "rejected"
        sheet, tid, version, department, project, errors, warnings, total, encoded, form, grade = r.submission
        sid = self.db.execute(
            "INSERT INTO submissions (sha256, path, sheet, template_id, version, department, project, modified, "
            "received_at, status, errors, warnings, total_score, record, form, grade) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (sha, path, sheet, tid, version, department, project, modified, now, status, errors, warnings, total,
             encoded, form, grade)).lastrowid
        if r.project:
            self.db.execute("INSERT INTO projects VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", (sid,) + r.project)
            self.db.executemany("INSERT INTO funds VALUES (?,?,?,?,?)", [(sid,) + row for row in r.funds])
            self.db.executemany("INSERT INTO indicators VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                                [(sid,) + row for row in r.indicators])
        self.db.executemany("INSERT INTO extra_values VALUES (?,?,?,?)", [(sid,) + row for row in r.extras])
        self.db.executemany("INSERT INTO problems (submission_id, cell, severity, code, message) VALUES (?,?,?,?,?)",
                            [(sid,) + row for row in r.problems])

    def _claim_current(self, template_id: str, modified: str) -> str:
        """The newest file of a template is current; an older one goes into history as superseded."""
        row = self.db.execute("SELECT id, modified FROM submissions WHERE template_id=? AND status='current'",
                              (template_id,)).fetchone()
        if row is None:
            return "current"
        if modified >= row[1]:
            self.db.execute("UPDATE submissions SET status='superseded' WHERE id=?", (row[0],))
            return "current"
        return "superseded"

    # -- queries ------------------------------------------------------------------------------
    def current_records(self) -> list[dict]:
        return [json.loads(r[0]) for r in self.db.execute(
            "SELECT record FROM submissions WHERE status='current' ORDER BY department, template_id")]

    def rows(self, sql: str, *args) -> list[tuple]:
        return self.db.execute(sql, args).fetchall()
