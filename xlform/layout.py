"""Where every field of a project's form goes: a pure cell map shared by the writer and the reader."""
from __future__ import annotations

from dataclasses import dataclass, field

from xlsxwriter.utility import xl_rowcol_to_cell

from .definition import FUND_ROWS, Project

# Fixed rows of the form (0-based, as xlsxwriter counts); the indicator table starts at FIRST_INDICATOR.
TITLE, SUBTITLE, NAME, DEPARTMENT = 0, 1, 2, 3
FUNDS_HEADER = 4
FUND_ROW = {"total": 5, "fiscal": 6, "carryover": 7, "other": 8}
GOAL_HEADER, GOAL = 9, 10
INDICATOR_HEADER, FIRST_INDICATOR = 11, 12
LAST_COL = 8  # A..I

# Columns (0-based) of the funds grid and of the indicator table.
FUND_COL = {"initial": 3, "annual": 4, "executed": 5, "weight": 6, "rate": 7, "score": 8}
IND_COL = {"level1": 1, "level2": 2, "name": 3, "target": 4, "actual": 5, "weight": 6, "score": 7,
           "reason": 8}


def ref(row: int, col: int) -> str:
    return xl_rowcol_to_cell(row, col)


@dataclass(frozen=True)
class Field:
    cell: str
    role: str          # input | formula | fixed
    kind: str = "text"  # text | amount | number | percent | qualitative | score
    name: str = ""     # defined name of an input cell


@dataclass
class Layout:
    project: Project
    fields: dict[str, Field] = field(default_factory=dict)

    @property
    def total_row(self) -> int:
        return FIRST_INDICATOR + len(self.project.indicators)

    def row_of(self, index: int) -> int:
        return FIRST_INDICATOR + index

    def cell(self, key: str) -> str:
        return self.fields[key].cell

    def inputs(self) -> dict[str, Field]:
        return {k: f for k, f in self.fields.items() if f.role == "input"}

    def groups(self, level: str) -> list[tuple[int, int, str]]:
        """Runs of consecutive indicators sharing a 一级 (level1) or 一级+二级 (level2): (first, last, text)."""
        out = []
        for i, ind in enumerate(self.project.indicators):
            key = (ind.level1,) if level == "level1" else (ind.level1, ind.level2)
            text = getattr(ind, level)
            row = self.row_of(i)
            if out and out[-1][3] == key:
                out[-1] = (out[-1][0], row, text, key)
            else:
                out.append((row, row, text, key))
        return [(a, b, t) for a, b, t, _ in out]


def indicator_kind(ind) -> str:
    if ind.target.qualitative:
        return "qualitative"
    return "percent" if ind.target.percent else "number"


def layout(project: Project) -> Layout:
    lay = Layout(project)
    f = lay.fields
    f["project.name"] = Field(ref(NAME, 2), "fixed")
    f["project.department"] = Field(ref(DEPARTMENT, 2), "fixed")
    f["project.implementer"] = Field(ref(DEPARTMENT, 7), "fixed")
    for row_key in ("total",) + FUND_ROWS:
        r = FUND_ROW[row_key]
        f[f"funds.{row_key}.initial"] = Field(ref(r, FUND_COL["initial"]), "fixed", "amount")
        f[f"funds.{row_key}.annual"] = Field(ref(r, FUND_COL["annual"]), "fixed", "amount")
        f[f"funds.{row_key}.executed"] = (
            Field(ref(r, FUND_COL["executed"]), "formula", "amount") if row_key == "total" else
            Field(ref(r, FUND_COL["executed"]), "input", "amount", f"XF_FUND_{row_key.upper()}_EXECUTED"))
    total = FUND_ROW["total"]
    f["funds.weight"] = Field(ref(total, FUND_COL["weight"]), "fixed", "number")
    f["funds.rate"] = Field(ref(total, FUND_COL["rate"]), "formula", "percent")
    f["funds.score"] = Field(ref(total, FUND_COL["score"]), "formula", "score")
    f["goal.expected"] = Field(ref(GOAL, 1), "fixed")
    f["goal.actual"] = Field(ref(GOAL, 5), "input", "text", "XF_GOAL_ACTUAL")
    for i, ind in enumerate(project.indicators):
        r, key, n = lay.row_of(i), f"indicators.{i}", f"XF_I{i + 1:03d}"
        for part in ("level1", "level2", "name", "target"):
            f[f"{key}.{part}"] = Field(ref(r, IND_COL[part]), "fixed")
        f[f"{key}.actual"] = Field(ref(r, IND_COL["actual"]), "input", indicator_kind(ind), f"{n}_ACTUAL")
        f[f"{key}.weight"] = Field(ref(r, IND_COL["weight"]), "fixed", "number")
        f[f"{key}.score"] = (Field(ref(r, IND_COL["score"]), "input", "score", f"{n}_SCORE") if ind.manual
                             else Field(ref(r, IND_COL["score"]), "formula", "score"))
        f[f"{key}.reason"] = Field(ref(r, IND_COL["reason"]), "input", "text", f"{n}_REASON")
    f["total_weight"] = Field(ref(lay.total_row, IND_COL["weight"]), "fixed", "number")
    f["total_score"] = Field(ref(lay.total_row, IND_COL["score"]), "formula", "score")
    return lay
