"""The 复核's tables in the collection database (issue 20): the samples drawn, the projects each one drew and
why, and the review worksheets read back with their indicators and problems. Created where missing when a
database is opened for writing, so that a database of an older xlform opens and gains them; every query of
the 复核 is a method here (SQL of both engines, as store.py)."""
from __future__ import annotations

import json

from .db import CURRENT_LOCK
from .store import Store, claim_current

_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_samples (     -- one row per `xlform review sample`, the newest in use
    id {serial}, drawn_at TEXT NOT NULL, seed {int8} NOT NULL, share {real} NOT NULL, least INTEGER NOT NULL,
    largest INTEGER NOT NULL, departments TEXT NOT NULL,   -- JSON list of the 主管部门 drawn from, [] for all
    population INTEGER NOT NULL, size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS review_sampled (     -- the projects a sample drew, and why
    sample_id {int8} NOT NULL REFERENCES review_samples(id), position INTEGER NOT NULL,
    submission_id {int8} NOT NULL REFERENCES submissions(id), template_id TEXT NOT NULL, department TEXT,
    project TEXT, annual {real}, why TEXT NOT NULL, PRIMARY KEY (sample_id, position)
);
CREATE TABLE IF NOT EXISTS review_returns (     -- one row per review worksheet read back
    id {serial}, sha256 TEXT NOT NULL, path TEXT NOT NULL, modified TEXT, received_at TEXT NOT NULL,
    template_id TEXT, version INTEGER, reviewed_template TEXT, submission_id {int8},   -- the return reviewed
    department TEXT, project TEXT,
    status TEXT NOT NULL,                       -- current | superseded | rejected
    errors INTEGER NOT NULL, warnings INTEGER NOT NULL,
    self_total {real}, review_total {real}, deviation {real}, class TEXT, reviewer TEXT,
    record TEXT NOT NULL                        -- the full record as JSON
);
CREATE UNIQUE INDEX IF NOT EXISTS review_returns_content ON review_returns(sha256);
CREATE UNIQUE INDEX IF NOT EXISTS review_returns_one_current ON review_returns(template_id) WHERE status = 'current';
CREATE TABLE IF NOT EXISTS review_indicators (
    review_id {int8} NOT NULL REFERENCES review_returns(id), position INTEGER NOT NULL,
    level1 TEXT, level2 TEXT, name TEXT, weight {real}, self_actual TEXT, self_score {real},
    review_actual TEXT, typed {real}, reason TEXT, note TEXT, review_score {real}, deviation {real},
    PRIMARY KEY (review_id, position)
);
CREATE TABLE IF NOT EXISTS review_problems (
    review_id {int8} NOT NULL REFERENCES review_returns(id), cell TEXT, severity TEXT NOT NULL, code TEXT NOT NULL,
    message TEXT NOT NULL
);
"""
TABLES = ("review_samples", "review_sampled", "review_returns", "review_indicators", "review_problems")
SAMPLED = ("submission_id", "template_id", "department", "project", "annual", "why")


def _text(v) -> str | None:
    return None if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


def _first(value):
    return (value is not None, value if value is not None else "")


class Reviews:
    """The 复核 tables of a collection database (a Store, open for writing or only for reading)."""

    def __init__(self, store: Store, create: bool = True):
        self.store, self.db = store, store.db
        if create:
            self.db.ensure(_SCHEMA)
        self.ready = create or all(self.db.has(t) for t in TABLES)

    # -- the sample ---------------------------------------------------------------------------------
    def population(self, departments=()) -> list[dict]:
        """The returns a sample draws from: every current 自评表 submission without errors that has a 总分
        (a 申报表 has none), with its 全年预算数; of the departments named, or all; by template id."""
        rows = self.db.all("SELECT s.id, s.template_id, s.department, s.project, f.annual, s.form FROM submissions s "
                           "LEFT JOIN funds f ON f.submission_id = s.id AND f.row = 'total' "
                           "WHERE s.status = 'current' AND s.errors = 0 AND s.total_score IS NOT NULL")
        wanted = set(departments)
        out = [dict(zip(("submission_id", "template_id", "department", "project", "annual", "form"), r)) for r in rows
               if not wanted or r[2] in wanted]
        return sorted(out, key=lambda r: r["template_id"])

    def save_sample(self, drawn_at: str, seed: int, share: float, least: int, largest: int, departments,
                    population: int, drawn: list[dict]) -> int:
        def write():
            with self.db.transaction():
                sid = self.db.insert("review_samples", {
                    "drawn_at": drawn_at, "seed": seed, "share": share, "least": least, "largest": largest,
                    "departments": json.dumps(sorted(departments), ensure_ascii=False), "population": population,
                    "size": len(drawn)}, returning="id")
                self.db.insert_many("review_sampled", [{"sample_id": sid, "position": n,
                                                        **{k: d[k] for k in SAMPLED}} for n, d in enumerate(drawn)])
                return sid
        return self.store.retrying(write)

    def latest_sample(self) -> tuple[dict, list[dict]] | None:
        """(the newest sample's settings, the projects it drew in order), or None before any sample."""
        if not self.ready:
            return None
        row = self.db.one("SELECT id, drawn_at, seed, share, least, largest, departments, population, size "
                          "FROM review_samples ORDER BY id DESC LIMIT 1")
        if row is None:
            return None
        sample = dict(zip(("id", "drawn_at", "seed", "share", "least", "largest", "departments", "population",
                           "size"), row))
        sample["departments"] = json.loads(sample["departments"])
        drawn = self.db.all(f"SELECT {', '.join(SAMPLED)} FROM review_sampled WHERE sample_id=? ORDER BY position",
                            sample["id"])
        return sample, [dict(zip(SAMPLED, r)) for r in drawn]

    def records_of(self, submission_ids) -> dict[int, dict]:
        """{submission id: its stored record, whole} (the returns a sample drew, to render their worksheets)."""
        wanted = sorted(set(submission_ids))
        return dict(zip(wanted, (r for part in self.store.records(wanted) for r in part)))   # rebuilt from its tables

    # -- the worksheets read back ---------------------------------------------------------------------
    def known(self) -> set[str]:
        return {r[0] for r in self.db.all("SELECT sha256 FROM review_returns")}

    def add(self, sha: str, path: str, modified: str, now: str, record) -> str | None:
        """Store one review worksheet's record: 'current', 'superseded' (an older file of a worksheet already
        stored) or 'rejected' (not a review worksheet of the registry); None when its content is stored already.
        The newest file of a worksheet is current, as collect does for returns."""
        tid = record.template.get("id") or None
        usable = bool(tid) and record.template.get("form") == "review" and bool(record.project)
        of = record.extra.get("review_of") or {}

        def write():
            with self.db.transaction():
                if tid:
                    self.db.lock(CURRENT_LOCK, f"review:{tid}")
                if self.db.one("SELECT 1 FROM review_returns WHERE sha256=?", sha):
                    return None
                status = claim_current(self.db, "review_returns", tid, modified) if usable else "rejected"
                rid = self.db.insert("review_returns", {
                    "sha256": sha, "path": path, "modified": modified, "received_at": now, "template_id": tid,
                    "version": record.template.get("version") if usable else None,
                    "reviewed_template": of.get("template_id"), "submission_id": of.get("submission_id"),
                    "department": record.project.get("department"), "project": record.project.get("name"),
                    "status": status, "errors": len(record.errors), "warnings": len(record.warnings),
                    "self_total": record.extra.get("self_total"), "review_total": record.total_score,
                    "deviation": record.extra.get("deviation"), "class": record.extra.get("class"),
                    "reviewer": _text(record.extra.get("reviewer")), "record": record.to_json()}, returning="id")
                self.db.insert_many("review_indicators", [{
                    "review_id": rid, "position": n, "level1": i.level1, "level2": i.level2, "name": i.name,
                    "weight": i.weight, "self_actual": _text(i.extra.get("self_actual")),
                    "self_score": i.extra.get("self_score"), "review_actual": _text(i.actual),
                    "typed": i.extra.get("typed"), "reason": i.extra.get("reason"), "note": i.deviation_reason,
                    "review_score": i.score, "deviation": i.extra.get("deviation")}
                    for n, i in enumerate(record.indicators)] if usable else [])
                self.db.insert_many("review_problems", [{"review_id": rid, "cell": p.where, "severity": p.severity,
                                                         "code": p.code, "message": p.message}
                                                        for p in record.problems])
                return status
        return self.store.retrying(write)

    def current(self) -> list[dict]:
        """The record of every current review worksheet, by department and template id."""
        if not self.ready:
            return []
        rows = self.db.all("SELECT department, template_id, record FROM review_returns WHERE status='current'")
        return [json.loads(r[2]) for r in sorted(rows, key=lambda r: (_first(r[0]), _first(r[1])))]

    def by_template(self) -> dict[str, dict]:
        """{reviewed template id: its current review's errors, review_total, deviation, class}."""
        if not self.ready:
            return {}
        rows = self.db.all("SELECT reviewed_template, errors, review_total, deviation, class FROM review_returns "
                           "WHERE status='current' AND reviewed_template IS NOT NULL")
        return {r[0]: dict(zip(("errors", "review_total", "deviation", "class"), r[1:])) for r in rows}
