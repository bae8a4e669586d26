"""A returned form as a structured record, and its JSON and CSV forms."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from .errors import Problem


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

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def to_dict(self) -> dict:
        # by hand rather than dataclasses.asdict, whose deep copies cost more than reading the file
        return {"file": self.file, "sheet": self.sheet, "template": dict(self.template),
                "project": dict(self.project),
                "funds": {**self.funds, "rows": {k: dict(v) for k, v in self.funds.get("rows", {}).items()}}
                if self.funds else {},
                "goal": dict(self.goal), "indicators": [vars(i).copy() for i in self.indicators],
                "total_score": self.total_score,
                "problems": [{"severity": p.severity, "cell": p.where, "code": p.code, "message": p.message}
                             for p in self.problems]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


def record_from_dict(d: dict) -> Record:
    """A record back from its JSON form (the collection database stores them so)."""
    problems = [Problem(p["cell"], "", p["message"], p["code"], p["severity"]) for p in d.get("problems", [])]
    return Record(d["file"], d.get("sheet"), d.get("template", {}), d.get("project", {}), d.get("funds", {}),
                  d.get("goal", {}), [IndicatorRecord(**i) for i in d.get("indicators", [])], d.get("total_score"),
                  problems)


def to_json(records: list[Record]) -> str:
    return json.dumps([r.to_dict() for r in records], ensure_ascii=False, indent=2)


CSV_COLUMNS = ["file", "sheet", "template_id", "version", "project", "department", "implementer", "year",
               "funds_annual", "funds_executed", "funds_rate", "funds_score", "total_score", "errors", "warnings",
               "goal_actual",
               "indicator_id", "level1", "level2", "name", "target", "actual", "weight", "score",
               "deviation_reason"]


def neutralise(value):
    """Text that a spreadsheet would run as a formula (= + - @, tab, CR) is prefixed with a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(records: list[Record]) -> str:
    """One row per indicator, the project's columns repeated; a record without indicators gets one row."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in records:
        total = r.funds.get("rows", {}).get("total", {})
        head = [r.file, r.sheet, r.template.get("id"), r.template.get("version"), r.project.get("name"),
                r.project.get("department"), r.project.get("implementer"), r.project.get("year"),
                total.get("annual"), total.get("executed"), r.funds.get("rate"), r.funds.get("score"),
                r.total_score, len(r.errors), len(r.warnings), r.goal.get("actual")]
        rows = [[i.id, i.level1, i.level2, i.name, i.target, i.actual, i.weight, i.score, i.deviation_reason]
                for i in r.indicators] or [[None] * 9]
        for tail in rows:
            w.writerow([neutralise(v) for v in head + tail])
    return out.getvalue()
