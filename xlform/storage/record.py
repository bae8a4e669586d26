"""A returned form as a structured record, and its JSON and CSV forms."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, fields

from ..errors import Problem
from ..outputs import csv_writer


@dataclass
class IndicatorRecord:
    id: str
    level1: str
    level2: str
    name: str
    target: str
    actual: float | None
    weight: float
    score: float | None
    deviation_reason: str | None
    extra: dict = field(default_factory=dict)   # the kind's own input columns


# The project fields every kind's record has, in this order; a kind adds its own after them (项目编码, 属性 …),
# found by name: whatever a record's project holds beyond these.
PROJECT_FIELDS = ("name", "department", "implementer", "year")


def own_fields(project: dict, extra: dict) -> dict:
    """A kind's own fields of one record (its project keys beyond PROJECT_FIELDS, then its own inputs), by
    name; for a Record and for its JSON form alike."""
    return {**{k: v for k, v in project.items() if k not in PROJECT_FIELDS}, **extra}


@dataclass
class Record:
    file: str
    sheet: str | None = None
    template: dict = field(default_factory=dict)     # id, version, form, hash
    project: dict = field(default_factory=dict)      # name, department, implementer, year
    funds: dict = field(default_factory=dict)        # weight, rows{fiscal|carryover|other|total}, rate, score
    goal: dict = field(default_factory=dict)         # expected, actual
    indicators: list[IndicatorRecord] = field(default_factory=list)
    total_score: float | None = None
    problems: list[Problem] = field(default_factory=list)
    grade: str | None = None                         # 评价等级
    extra: dict = field(default_factory=dict)        # the kind's own inputs (评价结论, 原因, signatures …)

    @property
    def own(self) -> dict:
        """The kind's own fields (项目编码, 评价结论, signatures …) by name: what the common columns lack."""
        return own_fields(self.project, self.extra)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def to_dict(self, parts: bool = True) -> dict:
        """Every field under its name (a field added to Record needs nothing here); by hand rather than
        dataclasses.asdict, whose deep copies cost more than reading the file. parts=False leaves out the
        indicators and the problems, which the collection database keeps in tables of their own."""
        d = {name: dict(v) if isinstance(v, dict) else v for name in (_FIELDS if parts else _HEAD)
             for v in [getattr(self, name)]}
        d["funds"] = {**self.funds, "rows": {k: dict(v) for k, v in self.funds.get("rows", {}).items()}} \
            if self.funds else {}
        if parts:
            d["indicators"] = [{**vars(i), "extra": dict(i.extra)} for i in self.indicators]
            d["problems"] = [{"severity": p.severity, "cell": p.where, "code": p.code, "message": p.message}
                             for p in self.problems]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


FIELDS = _FIELDS = tuple(f.name for f in fields(Record))   # a record's fields, in order
_PARTS = ("indicators", "problems")   # the fields that are lists of rows (tables of their own in the store)
_HEAD = tuple(name for name in _FIELDS if name not in _PARTS)


def record_from_dict(d: dict) -> Record:
    """A record back from its JSON form (the collection database stores them so), field by field: what an
    older xlform did not store takes its default."""
    known = {k: v for k, v in d.items() if k in _FIELDS}
    known["indicators"] = [IndicatorRecord(**i) for i in d.get("indicators", [])]
    known["problems"] = [Problem(p["cell"], "", p["message"], p["code"], p["severity"]) for p in d.get("problems", [])]
    return Record(**known)


def to_json(records: list[Record]) -> str:
    return json.dumps([r.to_dict() for r in records], ensure_ascii=False, indent=2)


def _total(r: Record, key: str):
    return r.funds.get("rows", {}).get("total", {}).get(key)


# The CSV's common columns, each declared once with what it holds: a record's, then an indicator's.
RECORD_COLUMNS = (
    ("file", lambda r: r.file), ("sheet", lambda r: r.sheet), ("template_id", lambda r: r.template.get("id")),
    ("version", lambda r: r.template.get("version")), ("form", lambda r: r.template.get("form")),
    ("project", lambda r: r.project.get("name")), ("department", lambda r: r.project.get("department")),
    ("implementer", lambda r: r.project.get("implementer")), ("year", lambda r: r.project.get("year")),
    ("funds_annual", lambda r: _total(r, "annual")), ("funds_executed", lambda r: _total(r, "executed")),
    ("funds_rate", lambda r: r.funds.get("rate")), ("funds_score", lambda r: r.funds.get("score")),
    ("total_score", lambda r: r.total_score), ("grade", lambda r: r.grade), ("errors", lambda r: len(r.errors)),
    ("warnings", lambda r: len(r.warnings)), ("goal_actual", lambda r: r.goal.get("actual")))
INDICATOR_COLUMNS = (("indicator_id", "id"), ("level1", "level1"), ("level2", "level2"), ("name", "name"),
                     ("target", "target"), ("actual", "actual"), ("weight", "weight"), ("score", "score"),
                     ("deviation_reason", "deviation_reason"))   # (column, IndicatorRecord attribute)
CSV_COLUMNS = [c for c, _ in RECORD_COLUMNS] + [c for c, _ in INDICATOR_COLUMNS]


def neutralise(value):
    """Text that a spreadsheet would run as a formula (= + - @, tab, CR) is prefixed with a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(records: list[Record]) -> str:
    """One row per indicator, the project's columns repeated; a record without indicators gets one row.
    Columns a kind adds (项目编码, 评价结论, an extra indicator column …) follow the common ones, by name."""
    project_extra = _union([list(r.own) for r in records])
    indicator_extra = _union([list(i.extra) for r in records for i in r.indicators])
    out = io.StringIO()
    w = csv_writer(out)
    w.writerow(CSV_COLUMNS + project_extra + [f"indicator.{k}" for k in indicator_extra])
    for r in records:
        own = r.own
        head = [value(r) for _, value in RECORD_COLUMNS]
        extra = [own.get(k) for k in project_extra]
        rows = [([getattr(i, a) for _, a in INDICATOR_COLUMNS], [i.extra.get(k) for k in indicator_extra])
                for i in r.indicators] or [([None] * len(INDICATOR_COLUMNS), [None] * len(indicator_extra))]
        for common, tail in rows:
            w.writerow([neutralise(v) for v in head + common + extra + tail])
    return out.getvalue()


def _union(lists) -> list[str]:
    seen: dict[str, None] = {}
    for keys in lists:
        seen.update(dict.fromkeys(keys))
    return list(seen)
