"""The collection database: every file seen, every record read, every problem, queryable by any SQLite or
PostgreSQL client. A file's records always go in together, in one transaction, so a killed run leaves no
file half-written. Every query of the collection is a method here (the engines differ only in xlform/storage/db.py).
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path

from .. import jsontext
from . import db as engines
from .db import CURRENT_LOCK, SQLITE, Database, Location
from .record import FIELDS as RECORD_FIELDS, Record

DEFAULT = Path("output") / "collect.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (          -- one row per distinct file content
    sha256 TEXT PRIMARY KEY, path TEXT NOT NULL, size {int8}, modified TEXT, received_at TEXT NOT NULL,
    status TEXT NOT NULL                    -- read | rejected
);
CREATE TABLE IF NOT EXISTS file_paths (     -- every path a content was found under (duplicates too)
    path TEXT PRIMARY KEY, sha256 TEXT NOT NULL REFERENCES files(sha256), seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (    -- one row per project sheet read (or per rejected file)
    id {serial}, sha256 TEXT NOT NULL REFERENCES files(sha256), path TEXT NOT NULL,
    sheet TEXT, template_id TEXT, version INTEGER, department TEXT, project TEXT,
    modified TEXT, received_at TEXT NOT NULL,
    status TEXT NOT NULL,                   -- current | superseded | rejected
    errors INTEGER NOT NULL, warnings INTEGER NOT NULL, total_score {real},
    record TEXT NOT NULL,                   -- the record as JSON, less its indicators and problems (their tables)
    form TEXT, grade TEXT                   -- the form kind, the 评价等级
);
CREATE INDEX IF NOT EXISTS submissions_template ON submissions(template_id, status);
-- at most one current submission per template, whoever writes at the same time
CREATE UNIQUE INDEX IF NOT EXISTS submissions_one_current ON submissions(template_id) WHERE status = 'current';
CREATE TABLE IF NOT EXISTS projects (
    submission_id {int8} PRIMARY KEY REFERENCES submissions(id), template_id TEXT, version INTEGER,
    name TEXT, department TEXT, implementer TEXT, year INTEGER, goal_expected TEXT, goal_actual TEXT,
    funds_weight {real}, funds_rate {real}, funds_score {real}, total_score {real}
);
CREATE TABLE IF NOT EXISTS funds (
    submission_id {int8} NOT NULL REFERENCES submissions(id), row TEXT NOT NULL,
    initial {real}, annual {real}, executed {real}, PRIMARY KEY (submission_id, row)
);
CREATE TABLE IF NOT EXISTS indicators (
    submission_id {int8} NOT NULL REFERENCES submissions(id), position INTEGER NOT NULL,
    indicator_id TEXT, level1 TEXT, level2 TEXT, name TEXT, target TEXT, actual {real}, weight {real},
    score {real}, deviation_reason TEXT,
    actual_text TEXT,                       -- a 实际完成值 that is text (a qualitative tier), not a number
    PRIMARY KEY (submission_id, position)
);
CREATE TABLE IF NOT EXISTS extra_values (  -- what a form kind adds: per project (position -1) or indicator
    submission_id {int8} NOT NULL REFERENCES submissions(id), position INTEGER NOT NULL, key TEXT NOT NULL,
    value TEXT,                             -- a text (a number is in `number`)
    number {real}, PRIMARY KEY (submission_id, position, key)
);
CREATE TABLE IF NOT EXISTS problems (
    id {serial}, submission_id {int8} NOT NULL REFERENCES submissions(id),
    cell TEXT, severity TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL
);
-- a submission's problems found without reading them all (the summary, the reports, a record rebuilt)
CREATE INDEX IF NOT EXISTS problems_submission ON problems(submission_id);
CREATE TABLE IF NOT EXISTS uploads (        -- every file sent to the desk (xlform serve), whatever became of it
    id {serial}, received_at TEXT NOT NULL, department TEXT NOT NULL,
    original_name TEXT NOT NULL,            -- as the browser named it: text only, never a path
    sha256 TEXT, size {int8} NOT NULL,
    result TEXT NOT NULL,                   -- stored | duplicate | rejected | refused | too_large | not_workbook
    errors INTEGER NOT NULL, warnings INTEGER NOT NULL,
    problems TEXT NOT NULL                  -- what the department was shown, as JSON
);
CREATE TABLE IF NOT EXISTS department_links (   -- the desk's private link of each 主管部门: a hash, never the token
    department TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, issued_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS desk_sessions (      -- the office's logins on the desk: a hash of each, never the id
    id_sha256 TEXT PRIMARY KEY, started_at TEXT NOT NULL, expires {real} NOT NULL   -- expires: Unix time
);
"""
_VIEWS = """
{view} current AS
    SELECT s.*, p.implementer, p.funds_rate, p.funds_score FROM submissions s
    LEFT JOIN projects p ON p.submission_id = s.id WHERE s.status = 'current';
"""
_ADDED = {"submissions": {"form": "TEXT", "grade": "TEXT"},   # columns a database of xlform 0.1 lacks
          "indicators": {"actual_text": "TEXT"},
          "extra_values": {"number": "{real}"}}   # and one of 0.2 (before each fact was stored once)


@dataclass
class Prepared:
    """A record as database rows: built where the file was read (a worker), stored by the process that read it.
    A table's rows are its values one after the other, each row the columns _WITH_ID names (a new column is
    added in ROW_COLUMNS, here and in _SCHEMA), its first, the submission id, left None for the store to fill
    in: a province's million rows go in without a tuple made per row."""
    usable: bool
    template_id: str | None
    submission: dict            # a submissions row, less what the store decides (sha256, path, times, status)
    values: dict[str, list]     # table -> its rows' values; "projects" only for a record with a project

    @classmethod
    def of(cls, r: Record) -> "Prepared":
        tid = r.template.get("id") or None
        version = _small(r.template.get("version"))
        p = r.project
        values = {}
        if p:
            values["projects"] = [None, tid, version, p["name"], p["department"], p["implementer"], p["year"],
                                  r.goal.get("expected"), r.goal.get("actual"), r.funds.get("weight"),
                                  r.funds.get("rate"), r.funds.get("score"), r.total_score]
        values["funds"] = funds = []
        for k, v in r.funds.get("rows", {}).items():   # (a 申报表's rows hold the 年初预算数 alone)
            funds += (None, k, v.get("initial"), v.get("annual"), v.get("executed"))
        values["indicators"] = indicators = []
        for n, i in enumerate(r.indicators):
            actual, actual_text = _number_or_text(i.actual)
            indicators += (None, n, i.id, i.level1, i.level2, i.name, i.target, actual, actual_text, i.weight,
                           i.score, i.deviation_reason)
        values["problems"] = problems = []
        errors = warnings = 0
        for x in r.problems:
            problems += (None, x.where, x.severity, x.code, x.message)
            errors += x.severity == "error"
            warnings += x.severity == "warning"
        values["extra_values"] = extras = []
        for n, k, v in [(-1, k, v) for k, v in r.own.items()] + \
                [(n, k, v) for n, i in enumerate(r.indicators) for k, v in i.extra.items()]:
            number, text = _number_or_text(v)
            extras += (None, n, k, text, number)
        return cls(bool(tid and p), tid,
                   {"sheet": r.sheet, "template_id": tid, "version": version, "department": p.get("department"),
                    "project": p.get("name"), "errors": errors, "warnings": warnings,
                    "total_score": r.total_score, "record": _head(r), "form": r.template.get("form"),
                    "grade": r.grade},
                   values)

    def rows(self, table: str) -> list[tuple]:
        """The rows of `table` as tuples of ROW_COLUMNS (less the submission id)."""
        width, values = len(_WITH_ID[table]), self.values.get(table, [])
        return [tuple(values[n + 1:n + width]) for n in range(0, len(values), width)]

    @property
    def errors(self) -> int:
        return self.submission["errors"]

    @property
    def warnings(self) -> int:
        return self.submission["warnings"]


# Each fact is stored once. The indicators and the problems, most of a record, are rows of their tables only;
# the record's JSON keeps the rest (the template's hash, the kind's own fields with their types, funds by row
# and goal, a little of it repeated in columns to be queried), and the order of the indicators' own keys.
# A database of xlform 0.2 kept each record whole in its JSON (with "indicators"): read as it is.
INDICATOR_KEYS = "indicator_keys"
PROBLEM_COUNTS = "problem_counts"   # (Store.records with whole=False)


def _head(r: Record) -> str:
    d = r.to_dict(parts=False)
    d[INDICATOR_KEYS] = list(dict.fromkeys(k for i in r.indicators for k in i.extra))
    return json.dumps(d, ensure_ascii=False)


# the columns of Prepared's rows, in their order (submission_id, which the store gives, goes first)
ROW_COLUMNS = {
    "projects": ("template_id", "version", "name", "department", "implementer", "year", "goal_expected",
                 "goal_actual", "funds_weight", "funds_rate", "funds_score", "total_score"),
    "funds": ("row", "initial", "annual", "executed"),
    "indicators": ("position", "indicator_id", "level1", "level2", "name", "target", "actual", "actual_text",
                   "weight", "score", "deviation_reason"),
    "problems": ("cell", "severity", "code", "message"),
    "extra_values": ("position", "key", "value", "number"),
}
_WITH_ID = {table: ("submission_id",) + columns for table, columns in ROW_COLUMNS.items()}


def _small(v):
    """An integer an INTEGER column takes on both engines (a hostile hidden sheet may claim version 1e30)."""
    return v if isinstance(v, int) and -2**31 <= v < 2**31 else None


def _number_or_text(v) -> tuple:
    """(number, None) or (None, text): a numeric column holds numbers only (PostgreSQL insists)."""
    if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)):
        return v, None
    return None, _text(v)


def _text(v) -> str | None:
    return None if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


def db_path(url) -> Location:
    """A file path, a sqlite:/// URL (sqlite:///relative.db, sqlite:////absolute.db) or a postgresql:// URL;
    ValueError for anything else."""
    return engines.locate(url, DEFAULT)


def exists(location: Location) -> bool:
    """Whether a collection database is there (a file; on a server, its tables)."""
    return engines.exists(location, "submissions", "--db")


def claim_current(db, table: str, template_id: str, modified: str) -> str:
    """The status of a row of `table` (submissions, review_returns) for a file of `template_id` modified at
    `modified`: the newest file of a template is current, the one it replaces goes into history as superseded,
    an older one is superseded at once. The transaction holds the template's lock (PostgreSQL), and the unique
    index allows one current."""
    row = db.one(f"SELECT id, modified FROM {table} WHERE template_id=? AND status='current'", template_id)
    if row is None:
        return "current"
    if modified >= row[1]:
        db.execute(f"UPDATE {table} SET status='superseded' WHERE id=?", (row[0],))
        return "current"
    return "superseded"


def _first(value):
    """A sort key putting None first, as SQLite's ORDER BY does: orders are made here, identical on both
    engines, whatever collation the server was given."""
    return (value is not None, value if value is not None else "")


# A rejection is final when the file alone decides it. These depend on what the registry knew when the file
# was read (it may have lacked the template, or been another registry): such a file is read again once the
# registry knows its template. Found through the problems table, which databases of xlform 0.1 have too.
RETRYABLE = ("unknown_template", "unknown_version")

GRADES = ("优", "良", "中", "差")   # the national 评价等级, shown even when no project has them


class Store:
    def __init__(self, location, create: bool = True):
        """Open (or create) the collection database: a path, sqlite:///PATH or postgresql://…; with
        create=False it is only read (a read-only SQLite file; a read-only PostgreSQL session)."""
        self.location = db_path(location)
        self.path = self.location.shown   # the path, or the URL without its password
        if not create and not exists(self.location):
            raise FileNotFoundError(f"no database at {self.path}")
        self.db = Database(self.location, readonly=not create, option="--db")
        self._rows: dict[str, list] | None = None
        if create:
            try:
                self.db.ensure(_SCHEMA, _ADDED, _VIEWS)
            except BaseException:
                self.db.close()
                raise

    def files(self) -> set[Path]:
        """The files the database is made of (not to be collected as returns)."""
        if self.location.engine != SQLITE:
            return set()
        return {Path(f"{self.location.target}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")}

    def close(self):
        self.db.close()

    @contextmanager
    def transaction(self, templates=()):
        """A write transaction; on PostgreSQL the templates whose current submission it may change are locked
        for it first, in one order for every writer (two writers never wait for each other in a circle).
        Every row's foreign keys are checked, here too: switching SQLite's check off for a record's rows (they
        name the submission just inserted) saved 5% of storing, not worth a key that nothing checks."""
        with self.db.transaction():
            for t in sorted({t for t in templates if t}):
                self.db.lock(CURRENT_LOCK, t)
            self._rows = {}   # the records' rows wait here, as values one after the other: inserted at the end
            try:
                yield
                for table, values in self._rows.items():
                    self.db.insert_values(table, _WITH_ID[table], values)
            finally:
                self._rows = None

    def retrying(self, step):
        """step() (a whole transaction), again when PostgreSQL chose it as a deadlock's victim."""
        return self.db.retrying(step)

    def known(self) -> set[str]:
        return {r[0] for r in self.db.all("SELECT sha256 FROM files")}

    def add_path(self, path: str, sha: str, now: str):
        self.db.execute("INSERT INTO file_paths VALUES (?,?,?) ON CONFLICT (path) DO UPDATE "
                        "SET sha256 = excluded.sha256, seen_at = excluded.seen_at", (path, sha, now))

    def add_file(self, path: str, sha: str, size: int, modified: str, now: str,
                 records: list["Prepared"]) -> str | None:
        """Store one file and its records, inside the caller's transaction (see `batches`): 'read' or
        'rejected' (no usable record), None if its content was already stored."""
        status = "read" if any(r.usable for r in records) else "rejected"
        added = self.db.execute("INSERT INTO files VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                                (sha, path, size, modified, now, status)).rowcount
        self.add_path(path, sha, now)
        if not added and not self._retake(sha, path, size, modified, now, status, records):
            return None
        for r in records:
            self._add_record(r, sha, path, modified, now)
        return status

    def _retake(self, sha: str, path: str, size: int, modified: str, now: str, status: str,
                records: list["Prepared"]) -> bool:
        """A file rejected only because the registry did not know its template, read again with a registry
        that does: the new reading replaces the rejection. The UPDATE claims the file (a writer of the same
        content at the same time waits for it, then finds the file read and stores nothing)."""
        if any(code in RETRYABLE for r in records for _, _, code, _ in r.rows("problems")):
            return False   # the registry still does not know it: the stored rejection stands, a duplicate
        stored = self.db.one("SELECT status FROM files WHERE sha256=?", sha)
        if stored is None or stored[0] != "rejected" or not self.db.one(
                "SELECT 1 FROM problems p JOIN submissions s ON s.id = p.submission_id WHERE s.sha256=? AND "
                "p.code IN (?,?) LIMIT 1", sha, *RETRYABLE):
            return False   # content already read, or rejected for good: a duplicate
        claimed = self.db.execute("UPDATE files SET path=?, size=?, modified=?, received_at=?, status=? "
                                  "WHERE sha256=? AND status='rejected'",
                                  (path, size, modified, now, status, sha)).rowcount
        if not claimed:
            return False
        for table in ("problems", "extra_values", "indicators", "funds", "projects"):
            self.db.execute(f"DELETE FROM {table} WHERE submission_id IN (SELECT id FROM submissions WHERE sha256=?)",
                            (sha,))
        self.db.execute("DELETE FROM submissions WHERE sha256=?", (sha,))
        return True

    def awaiting_registry(self) -> list[tuple[str, str | None, int | None]]:
        """(sha256, template id, version) of every file rejected only because the registry did not know its
        template: the collector reads it again once the registry knows it."""
        return self.db.all("SELECT s.sha256, s.template_id, s.version FROM problems p JOIN submissions s ON "
                           "s.id = p.submission_id JOIN files f ON f.sha256 = s.sha256 WHERE p.code IN (?,?) AND "
                           "f.status='rejected'", *RETRYABLE)

    def _add_record(self, r: "Prepared", sha, path, modified, now):
        status = claim_current(self.db, "submissions", r.template_id, modified) if r.usable else "rejected"
        sid = self.db.insert("submissions", {"sha256": sha, "path": path, "modified": modified, "received_at": now,
                                             "status": status, **r.submission}, returning="id")
        project = "projects" in r.values   # (a record without one has its problems and own fields only)
        for table, part in r.values.items():
            if not part or not (project or table in ("problems", "extra_values")):
                continue
            values = [] if self._rows is None else self._rows.setdefault(table, [])
            start, width = len(values), len(_WITH_ID[table])
            values += part
            values[start::width] = [sid] * (len(part) // width)   # the rows' first column, at once
            if self._rows is None:   # a transaction of the caller's own (the desk)
                self.db.insert_values(table, _WITH_ID[table], values)

    def reinstate(self, sha: str, modified: str) -> int:
        """A file sent again (the desk): its usable submissions become current again, as of `modified`,
        inside the caller's transaction (holding their templates' locks). Returns how many changed."""
        changed = 0
        for sid, tid in self.db.all("SELECT id, template_id FROM submissions WHERE sha256=? AND status='superseded'",
                                    sha):
            self.db.execute("UPDATE submissions SET status='superseded' WHERE template_id=? AND status='current'",
                            (tid,))
            self.db.execute("UPDATE submissions SET status='current', modified=? WHERE id=?", (modified, sid))
            changed += 1
        return changed

    # -- queries ------------------------------------------------------------------------------
    def current_records(self, form: str | None = None) -> list[dict]:
        """The record of every current submission (of one form kind if named), by department and template id."""
        return [r for part in self.records(self.current_ids(form)) for r in part]

    def current_ids(self, form: str | None = None) -> list[int]:
        """The current submissions' ids (of one form kind if named), by department and template id."""
        rows = self.db.all("SELECT id, department, template_id FROM submissions WHERE status='current'"
                           + (" AND form=?" if form else ""), *((form,) if form else ()))
        return [r[0] for r in sorted(rows, key=lambda r: (_first(r[1]), _first(r[2])))]

    def records(self, ids: list[int], chunk: int = 50, whole: bool = True):
        """The records of the submissions `ids`, in that order, a list of up to `chunk` at a time (however
        many there are, memory holds one chunk). whole=False: each record without its indicators and problems
        (not read), with instead INDICATOR_KEYS (the keys its indicators' `extra` have) and PROBLEM_COUNTS
        ({"errors": n, "warnings": n})."""
        for start in range(0, len(ids), chunk):
            part = ids[start:start + chunk]
            marks = ",".join("?" * len(part))
            rows = self.db.all(f"SELECT id, {self.db.utf8('record')}, errors, warnings FROM submissions "
                               f"WHERE id IN ({marks})", *part)
            heads = {sid: jsontext.loads(text) for sid, text, _, _ in rows}
            if not whole:
                counts = {sid: {"errors": e, "warnings": w} for sid, _, e, w in rows}
                yield [{**_head_of(heads[sid]), PROBLEM_COUNTS: counts[sid]} for sid in part]
                continue
            todo = [sid for sid in part if "indicators" not in heads[sid]]
            indicators, problems = self._parts(todo, {sid: heads[sid].get(INDICATOR_KEYS, []) for sid in todo})
            yield [_record(heads[sid], indicators.get(sid, []), problems.get(sid, [])) for sid in part]

    def indicator_groups(self, ids: list[int], extra_keys: list[str], chunk: int = 50):
        """The indicators of the submissions `ids`, in that order, as the summary's 指标 sheet has them, a group
        (lead, rows, ()) per submission with indicators: lead [主管部门, 项目名称, 模板编号, 版本], and a row per
        indicator [一级, 二级, 三级, 编号, 年度指标值, 实际完成值, 分值, 得分, 偏差原因] and its `extra_keys` values, as
        the records have them; a row may have more values past those (its submission id and position). Read
        `chunk` submissions at a time, straight from the tables (whole records of 10,000 returns took twice as
        long), each row as the database gives it where it can (650,000 of them at a province's scale), its texts
        as their UTF-8 bytes where the engine gives them so (SQLite: see _texts)."""
        for start in range(0, len(ids), chunk):
            part = ids[start:start + chunk]
            marks = ",".join("?" * len(part))
            heads = {sid: jsontext.loads(text) for sid, text in
                     self.db.all(f"SELECT id, {self.db.utf8('record')} FROM submissions WHERE id IN ({marks})", *part)}
            extras = self._indicator_extras(part) if extra_keys else {}
            # weight and score are REAL/DOUBLE PRECISION columns, floats as read
            rows = self.db.all(f"SELECT {self._texts('level1', 'level2', 'name', 'indicator_id', 'target')}, actual, "
                               f"weight, score, {self._texts('deviation_reason', 'actual_text')}, submission_id, "
                               f"position FROM indicators WHERE submission_id IN ({marks}) "
                               "ORDER BY submission_id, position", *part)
            found = {sid: list(its) for sid, its in groupby(rows, key=itemgetter(10))}
            for sid in part:
                head = heads[sid]
                lead = [head["project"]["department"], head["project"]["name"], head["template"]["id"],
                        head["template"]["version"]]
                if "indicators" in head:   # a whole record of xlform 0.2: its JSON's values, each row checked alone
                    for i in head["indicators"]:
                        yield (lead + [i["level1"], i["level2"], i["name"], i["id"], i["target"], i["actual"],
                                       i["weight"], i["score"], i["deviation_reason"]] +
                               [i.get("extra", {}).get(k) for k in extra_keys]), ((),), ()
                    continue
                mine = found.get(sid)
                if mine is None:
                    continue
                if extra_keys:
                    mine = [(*r[:5], r[5] if r[9] is None else r[9], *r[6:9],
                             *[extras.get((sid, r[11]), {}).get(k) for k in extra_keys]) for r in mine]
                elif any(r[9] is not None for r in mine):   # a 实际完成值 that is text
                    mine = [r if r[9] is None else (*r[:5], r[9], *r[6:]) for r in mine]
                yield lead, mine, ()

    def _texts(self, *columns: str) -> str:
        """Text columns to SELECT as their UTF-8 bytes where the engine gives them so (SQLite): for what writes
        them as UTF-8 (the summary's sheets), no text is decoded to be encoded again: 1.3 s to read a province's
        indicators, 0.97 s so."""
        return ", ".join(self.db.utf8(c) for c in columns)

    def _indicator_extras(self, ids: list[int]) -> dict[tuple[int, int], dict]:
        """{(submission id, indicator position): {key: value}}: what the kinds add to the indicators of `ids`."""
        extras: dict[tuple[int, int], dict] = {}
        for sid, position, key, value, number in self.db.all(
                "SELECT submission_id, position, key, value, number FROM extra_values WHERE position >= 0 AND "
                f"submission_id IN ({','.join('?' * len(ids))})", *ids):
            extras.setdefault((sid, position), {})[key] = value if number is None else number
        return extras

    def _parts(self, ids: list[int], keys: dict[int, list[str]]) -> tuple[dict, dict]:
        """{submission id: its indicators}, {submission id: its problems}, as the record's JSON has them."""
        indicators: dict[int, list[dict]] = {}
        problems: dict[int, list[dict]] = {}
        if not ids:
            return indicators, problems
        marks = ",".join("?" * len(ids))
        extras = self._indicator_extras(ids)
        for sid, position, *row in sorted(self.db.all(
                "SELECT submission_id, position, indicator_id, level1, level2, name, target, actual, actual_text, "
                f"weight, score, deviation_reason FROM indicators WHERE submission_id IN ({marks})", *ids)):
            own = extras.get((sid, position), {})
            order = keys[sid] + sorted(set(own) - set(keys[sid]))
            iid, level1, level2, name, target, actual, actual_text, weight, score, reason = row
            indicators.setdefault(sid, []).append(
                {"id": iid, "level1": level1, "level2": level2, "name": name, "target": target,
                 "actual": actual if actual_text is None else actual_text, "weight": _float(weight),
                 "score": _float(score), "deviation_reason": reason, "extra": {k: own[k] for k in order if k in own}})
        for sid, cell, severity, code, message, _ in sorted(self.db.all(
                "SELECT submission_id, cell, severity, code, message, id FROM problems WHERE "
                f"submission_id IN ({marks})", *ids), key=lambda r: r[5]):
            problems.setdefault(sid, []).append({"severity": severity, "cell": cell, "code": code, "message": message})
        return indicators, problems

    def current_templates(self) -> set[str]:
        return {r[0] for r in self.db.all("SELECT template_id FROM submissions WHERE status='current'")}

    def to_send_back(self) -> list[tuple]:
        """(id, department) of every current or rejected submission, by department, path and sheet: what the
        reports list, a department's details then read by sent_back (the details of 10,000 submissions took
        6.5 MB for as long as the reports were written)."""
        rows = self.db.all("SELECT id, department, path, sheet FROM submissions "
                           "WHERE status IN ('current', 'rejected')")
        rows.sort(key=lambda r: (_first(r[1]), _first(r[2]), _first(r[3])))
        departments: dict = {}   # (one str a department)
        return [(r[0], departments.setdefault(r[1], r[1])) for r in rows]

    def sent_back(self, ids: list[int]) -> list[tuple]:
        """(id, project, path, sheet, total_score, grade) of the submissions `ids`, in that order."""
        found = {}
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            found.update((r[0], r) for r in self.db.all(
                "SELECT id, project, path, sheet, total_score, grade FROM submissions "
                f"WHERE id IN ({','.join('?' * len(part))})", *part))
        return [found[sid] for sid in ids]

    def problems_by_file(self, chunk: int = 100):
        """The problems of every current or rejected submission, by department, path and the order found: a
        (submission, problems) per submission with problems, `chunk` submissions at a time (memory holds them):
        submission (department, project, path, sheet, status), problems a row per problem (cell, severity, code,
        message, submission id), its texts as their UTF-8 bytes where the engine gives them so (see _texts)."""
        order = self.db.all("SELECT id, department, path FROM submissions WHERE status IN ('current', 'rejected')")
        order.sort(key=lambda r: (_first(r[1]), _first(r[2]), r[0]))   # a file's problems in the order found
        # (the order only is held, the submissions read a chunk at a time: 10,000 of them took 6 MB)
        ids = [r[0] for r in order]
        del order
        for start in range(0, len(ids), chunk):
            part = ids[start:start + chunk]
            marks = ",".join("?" * len(part))
            subs = {r[0]: r[1:] for r in self.db.all("SELECT id, department, project, path, sheet, status FROM "
                                                     f"submissions WHERE id IN ({marks})", *part)}
            # (by submission in the index's order, then each submission's in the order found, without a sort key
            # per problem: 500,000 of them at a province's scale)
            rows = self.db.all(f"SELECT {self._texts('cell', 'severity', 'code', 'message')}, submission_id FROM "
                               f"problems WHERE submission_id IN ({marks}) ORDER BY submission_id, id", *part)
            found = {sid: list(its) for sid, its in groupby(rows, key=itemgetter(4))}
            for sid in part:
                if sid in found:
                    yield tuple(subs[sid]), found[sid]

    def unresolved(self) -> int:
        """Rejected files and current submissions with errors: what makes collect exit 1."""
        return self.db.one("SELECT COUNT(*) FROM submissions WHERE status='rejected' OR "
                           "(status='current' AND errors > 0)")[0]

    def grade_counts(self) -> list[tuple[str, int]]:
        """(评价等级, current projects) for 优 良 中 差, then any other grade a profile names; a return with errors
        is not graded: it has its own count, 有错误, last."""
        counts = dict(self.db.all("SELECT grade, COUNT(*) FROM submissions WHERE status='current' "
                                  "AND grade IS NOT NULL AND errors = 0 GROUP BY grade"))
        graded = [(g, counts.pop(g, 0)) for g in GRADES] + sorted(counts.items())
        graded.append(("有错误", self.db.one("SELECT COUNT(*) FROM submissions WHERE status='current' "
                                            "AND errors > 0")[0]))
        return graded

    def current_submissions(self) -> list[tuple]:
        """(id, template_id, department, project, errors, warnings, total_score, grade, received_at, form) of
        every current submission, by department and template id."""
        rows = self.db.all("SELECT id, template_id, department, project, errors, warnings, total_score, grade, "
                           "received_at, form FROM submissions WHERE status='current'")
        return sorted(rows, key=lambda r: (_first(r[2]), _first(r[1])))

    def each_problem(self, submission_ids, utf8: bool = False):
        """(submission id, cell, severity, code, message) of the submissions `ids`, by submission and in the order
        found, one at a time as the database gives them (utf8: the texts as their UTF-8 bytes where the engine
        gives them so, see _texts): the reports make each one's line as it comes, never holding a department's
        problems as read (5,000 rows, 7 MB, for 100 files)."""
        wanted = sorted(set(submission_ids))
        columns = self._texts("cell", "severity", "code", "message") if utf8 else "cell, severity, code, message"
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            yield from self.db.execute(f"SELECT submission_id, {columns} FROM problems WHERE "
                                       f"submission_id IN ({','.join('?' * len(part))}) ORDER BY submission_id, id",
                                       part)

    def problems_of(self, submission_ids) -> dict[int, list[tuple]]:
        """{submission id: [(cell, severity, code, message)]} in the order they were found."""
        return {sid: [r[1:] for r in its] for sid, its in groupby(self.each_problem(submission_ids), key=itemgetter(0))}

    # -- flags across returns (xlform/returns/quality.py) -------------------------------------------
    def current_texts(self, shortest: int, page: int = 500):
        """(submission id, department, project, template id, version, sheet, field key, indicator name, text)
        of every text of the current submissions at least `shortest` characters long: each 偏差原因 (key
        "indicators.N.reason"), the goal's 实际完成情况 ("goal.actual") and the kind's own texts (their keys).
        A generator, `page` submissions at a time: a large collection is never held whole."""
        ids = sorted(r[0] for r in self.db.all("SELECT id FROM submissions WHERE status='current'"))
        head = "SELECT s.id, s.department, s.project, s.template_id, s.version, s.sheet, "
        current = (" JOIN submissions s ON s.id = t.submission_id WHERE t.submission_id BETWEEN ? AND ? AND s.status='current' "
                   "AND LENGTH({}) >= ?")
        for start in range(0, len(ids), page):
            span = (ids[start], ids[min(start + page, len(ids)) - 1], shortest)
            rows = [(*r[:6], f"indicators.{r[6]}.reason", r[7], r[8]) for r in self.db.all(
                head + "t.position, t.name, t.deviation_reason FROM indicators t" +
                current.format("t.deviation_reason"), *span)]
            rows += [(*r[:6], "goal.actual", None, r[6]) for r in self.db.all(
                head + "t.goal_actual FROM projects t" + current.format("t.goal_actual"), *span)]
            rows += [(*r[:6], r[6], None, r[7]) for r in self.db.all(
                head + "t.key, t.value FROM extra_values t" + current.format("t.value") + " AND t.position = -1",
                *span)]
            yield from sorted(rows, key=lambda r: r[0])

    def replace_flags(self, code: str, flags: dict[int, list[dict]]) -> int:
        """Make `flags` ({submission id: [{cell, severity, code, message}]}) the only problems of `code` on the
        current submissions: in the problems table (what export and the summary read) and the warnings count. A flag across returns comes and goes as other returns come in. Returns how many
        submissions changed."""
        def write() -> int:
            changed = 0
            with self.db.transaction():
                old = {r[0] for r in self.db.all("SELECT DISTINCT p.submission_id FROM problems p JOIN submissions s "
                                                 "ON s.id = p.submission_id WHERE p.code=? AND s.status='current'",
                                                 code)}
                for sid in sorted(old | set(flags)):
                    row = self.db.one("SELECT record FROM submissions WHERE id=? AND status='current'", sid)
                    if row is None:
                        continue
                    new = [{"severity": p["severity"], "cell": p["cell"], "code": code, "message": p["message"]}
                           for p in flags.get(sid, [])]
                    had = [{"severity": sev, "cell": cell, "code": code, "message": message} for cell, sev, message in
                           self.db.all("SELECT cell, severity, message FROM problems WHERE submission_id=? AND code=? "
                                       "ORDER BY id", sid, code)]
                    if had == new:
                        continue
                    self.db.execute("DELETE FROM problems WHERE submission_id=? AND code=?", (sid, code))
                    self.db.insert_many("problems", [{"submission_id": sid, **p} for p in new])
                    counts = [self.db.one("SELECT COUNT(*) FROM problems WHERE submission_id=? AND severity=?",
                                          sid, severity)[0] for severity in ("error", "warning")]
                    record = json.loads(row[0])
                    if "problems" in record:   # a record stored whole by xlform 0.2: its problems are in it too
                        record["problems"] = [p for p in record["problems"] if p["code"] != code] + new
                        self.db.execute("UPDATE submissions SET record=? WHERE id=?",
                                        (json.dumps(record, ensure_ascii=False), sid))
                    self.db.execute("UPDATE submissions SET errors=?, warnings=? WHERE id=?", (*counts, sid))
                    changed += 1
            return changed
        return self.retrying(write)

    # -- the desk: uploads and department links -------------------------------------------------
    def add_upload(self, now: str, department: str, original_name: str, sha: str | None, size: int, result: str,
                   errors: int, warnings: int, problems: list[dict]) -> int:
        """Log one upload (inside the caller's transaction): its id."""
        return self.db.one("INSERT INTO uploads (received_at, department, original_name, sha256, size, result, "
                           "errors, warnings, problems) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
                           now, department, original_name, sha, size, result, errors, warnings,
                           json.dumps(problems, ensure_ascii=False))[0]

    def uploads(self, department: str | None = None, limit: int = 500, ids=None) -> list[dict]:
        """The newest uploads first (of one department, or all; only `ids` when given)."""
        sql = ("SELECT id, received_at, department, original_name, sha256, size, result, errors, warnings, problems "
               "FROM uploads WHERE 1=1")
        args: tuple = ()
        if department is not None:
            sql, args = sql + " AND department=?", (department,)
        if ids is not None:
            wanted = sorted({int(i) for i in ids})[:500] or [-1]
            sql, args = sql + f" AND id IN ({','.join('?' * len(wanted))})", args + tuple(wanted)
        rows = self.db.all(sql + " ORDER BY id DESC LIMIT ?", *args, int(limit))
        keys = ("id", "received_at", "department", "original_name", "sha256", "size", "result", "errors", "warnings")
        return [{**dict(zip(keys, r[:9])), "problems": json.loads(r[9])} for r in rows]

    def submissions_of(self, shas) -> dict[str, list[dict]]:
        """{sha256: its usable submissions (template_id, project, status, errors, total_score, grade)}, for the
        desk's answer to an upload and its history (which file is a template's current return)."""
        wanted = sorted({s for s in shas if s})
        found: dict[str, list[dict]] = {}
        keys = ("id", "template_id", "project", "status", "errors", "warnings", "total_score", "grade")
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            rows = self.db.all("SELECT sha256, id, template_id, project, status, errors, warnings, total_score, grade "
                               f"FROM submissions WHERE status <> 'rejected' AND sha256 IN ({','.join('?' * len(part))})",
                               *part)
            for r in sorted(rows, key=lambda r: r[1]):
                found.setdefault(r[0], []).append(dict(zip(keys, r[1:])))
        return found

    def set_link(self, department: str, token_sha256: str, now: str):
        """Issue (or replace: the old link stops working) a department's link, kept as its token's hash."""
        with self.db.transaction():
            self.db.execute("INSERT INTO department_links VALUES (?,?,?) ON CONFLICT (department) DO UPDATE "
                            "SET token_sha256 = excluded.token_sha256, issued_at = excluded.issued_at",
                            (department, token_sha256, now))

    def drop_link(self, department: str) -> bool:
        """Revoke a department's link; False when it had none."""
        with self.db.transaction():
            return self.db.execute("DELETE FROM department_links WHERE department=?", (department,)).rowcount > 0

    def links(self) -> list[tuple[str, str, str]]:
        """(department, token sha256, issued_at) of every link, by department."""
        return sorted(self.db.all("SELECT department, token_sha256, issued_at FROM department_links"),
                      key=lambda r: r[0])

    def add_session(self, id_sha256: str, now: str, expires: float, at: float):
        """An office login (its id's hash) until `expires`; logins that ended before `at` are dropped."""
        with self.db.transaction():
            self.db.execute("DELETE FROM desk_sessions WHERE expires < ?", (float(at),))
            self.db.execute("INSERT INTO desk_sessions VALUES (?,?,?)", (id_sha256, now, float(expires)))

    def session_alive(self, id_sha256: str, at: float) -> bool:
        return self.db.one("SELECT 1 FROM desk_sessions WHERE id_sha256=? AND expires >= ?", id_sha256, float(at)) is not None

    def drop_session(self, id_sha256: str):
        """Log out: the login ends for every copy of its cookie."""
        with self.db.transaction():
            self.db.execute("DELETE FROM desk_sessions WHERE id_sha256=?", (id_sha256,))

    def department_averages(self) -> list[tuple[str, int, float | None, float | None]]:
        """(主管部门, current projects, average 总分, average 执行率) by department, of the 自评表 (a 监控表's
        1-X月执行率 is no year's 执行率)."""
        rows = self.db.all(
            "SELECT s.department, COUNT(*), AVG(s.total_score), AVG(p.funds_rate) FROM submissions s "
            "LEFT JOIN projects p ON p.submission_id = s.id WHERE s.status='current' "
            "AND COALESCE(s.form, '') <> 'monitoring' GROUP BY s.department")
        return sorted(((d, n, _float(total), _float(rate)) for d, n, total, rate in rows), key=lambda r: _first(r[0]))


def _float(value):
    return None if value is None else float(value)


def _head_of(stored: dict) -> dict:
    if "indicators" not in stored:
        return stored
    head = {k: v for k, v in stored.items() if k not in ("indicators", "problems")}
    head[INDICATOR_KEYS] = list(dict.fromkeys(k for i in stored["indicators"] for k in i.get("extra", {})))
    return head


def _record(head: dict, indicators: list[dict], problems: list[dict]) -> dict:
    """A record's JSON form from its stored parts, its fields in Record's order (a whole record of xlform 0.2
    comes back as it was)."""
    if "indicators" in head:
        return head
    head.pop(INDICATOR_KEYS, None)
    parts = {"indicators": indicators, "problems": problems}
    return {name: parts[name] if name in parts else head[name] for name in RECORD_FIELDS if name in parts or name in head}

