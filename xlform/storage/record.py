"""A returned form as a structured record, and its JSON and CSV forms."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from ..errors import Problem


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
                "goal": dict(self.goal),
                "indicators": [{**vars(i), "extra": dict(i.extra)} for i in self.indicators],
                "total_score": self.total_score, "grade": self.grade, "extra": dict(self.extra),
                "problems": [{"severity": p.severity, "cell": p.where, "code": p.code, "message": p.message}
                             for p in self.problems]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


def record_from_dict(d: dict) -> Record:
    """A record back from its JSON form (the collection database stores them so)."""
    problems = [Problem(p["cell"], "", p["message"], p["code"], p["severity"]) for p in d.get("problems", [])]
    return Record(d["file"], d.get("sheet"), d.get("template", {}), d.get("project", {}), d.get("funds", {}),
                  d.get("goal", {}), [IndicatorRecord(**i) for i in d.get("indicators", [])], d.get("total_score"),
                  problems, d.get("grade"), d.get("extra", {}))


def to_json(records: list[Record]) -> str:
    return json.dumps([r.to_dict() for r in records], ensure_ascii=False, indent=2)


CSV_COLUMNS = ["file", "sheet", "template_id", "version", "form", "project", "department", "implementer", "year",
               "funds_annual", "funds_executed", "funds_rate", "funds_score", "total_score", "grade", "errors",
               "warnings", "goal_actual",
               "indicator_id", "level1", "level2", "name", "target", "actual", "weight", "score",
               "deviation_reason"]


def neutralise(value):
    """Text that a spreadsheet would run as a formula (= + - @, tab, CR) is prefixed with a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(records: list[Record]) -> str:
    """One row per indicator, the project's columns repeated; a record without indicators gets one row.
    Columns a kind adds (项目编码, 评价结论, an extra indicator column …) follow the common ones."""
    project_extra = _union([list(r.project)[4:] for r in records] + [list(r.extra) for r in records])
    indicator_extra = _union([list(i.extra) for r in records for i in r.indicators])
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS + project_extra + [f"indicator.{k}" for k in indicator_extra])
    for r in records:
        total = r.funds.get("rows", {}).get("total", {})
        head = [r.file, r.sheet, r.template.get("id"), r.template.get("version"), r.template.get("form"),
                r.project.get("name"), r.project.get("department"), r.project.get("implementer"),
                r.project.get("year"), total.get("annual"), total.get("executed"), r.funds.get("rate"),
                r.funds.get("score"), r.total_score, r.grade, len(r.errors), len(r.warnings), r.goal.get("actual")]
        extra = [r.project.get(k, r.extra.get(k)) for k in project_extra]
        rows = [[i.id, i.level1, i.level2, i.name, i.target, i.actual, i.weight, i.score, i.deviation_reason]
                + [i.extra.get(k) for k in indicator_extra] for i in r.indicators] or \
            [[None] * (9 + len(indicator_extra))]
        for tail in rows:
            w.writerow([neutralise(v) for v in head + tail[:9] + extra + tail[9:]])
    return out.getvalue()


def _union(lists) -> list[str]:
    seen: dict[str, None] = {}
    for keys in lists:
        seen.update(dict.fromkeys(keys))
    return list(seen)
