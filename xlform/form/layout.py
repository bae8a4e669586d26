"""Where every field of a project's form goes: a pure cell map shared by the writer and the reader.

A form kind lists its sections and its grid of columns (templates/<kind>/form.yaml); each section is
placed below the previous one on that grid. The sections are the shared parts of the official forms:
header (title, 项目名称, 主管部门, 实施单位), funds (the funds grid), goal (年度总体目标), indicators (the
indicator table), total (总分 and 评价等级), text_rows (评价结论 and the like) and signatures.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from xlsxwriter.utility import xl_rowcol_to_cell

from ..definition.definition import Project
from ..kinds.forms import FormKind, form_kind
from ..scoring.scoring import Profile
from .evaluate import rules


def ref(row: int, col: int) -> str:
    return xl_rowcol_to_cell(row, col)


@dataclass(frozen=True)
class Field:
    cell: str
    role: str           # input | formula | fixed
    type: str = "text"  # of value: text | amount | number | percent | qualitative | tier | score | extra_number
    name: str = ""      # defined name of an input cell
    limit: int = 0      # text inputs: the most characters allowed
    label: str = ""     # what the field is, in the form's words (for messages)


@dataclass
class Layout:
    project: Project
    kind: FormKind
    profile: Profile
    fields: dict[str, Field] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)       # named rows (0-based)
    col: dict[str, int] = field(default_factory=dict)        # indicator table columns by key
    funds_col: dict[str, int] = field(default_factory=dict)  # funds grid columns by key
    declared: list = field(default_factory=list)  # declaration rows: (level1, level2, known Indicator or None)
    # derived once every section is placed (a collection asks for them several times per return)
    _inputs: dict = field(default_factory=dict, repr=False)
    _cell_map: dict = field(default_factory=dict, repr=False)
    _rules: list = field(default_factory=list, repr=False)

    @property
    def ncols(self) -> int:
        return len(self.kind.columns)

    @property
    def last_col(self) -> int:
        return self.ncols - 1

    @property
    def last_row(self) -> int:
        return self.rows["end"] - 1

    def row_of(self, index: int) -> int:
        return self.rows["first_indicator"] + index

    def cell(self, key: str) -> str:
        return self.fields[key].cell

    def inputs(self) -> dict[str, Field]:
        """The input fields (worked out once, when the layout is complete: see `layout`)."""
        return self._inputs

    def cell_map(self) -> dict[str, str]:
        """field -> cell, as the hidden sheet holds it."""
        return self._cell_map

    def rules(self) -> list:
        """The scoring rule of every indicator under this form's profile."""
        return self._rules

    def split(self) -> int:
        """The column where a two-part line (主管部门 | 实施单位) ends its first value."""
        return 2 + (self.ncols - 2) // 2 - 1

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


def actual_type(ind, profile: Profile) -> str:
    """The type of value an indicator's 实际完成值 takes: a number, a percent, a share of a qualitative target, a tier."""
    if ind.target.qualitative:
        return "tier" if profile.qualitative == "tiers" and not ind.manual else "qualitative"
    return "percent" if ind.target.percent else "number"


def typed_score(ind, profile: Profile) -> bool:
    """Is the 得分 typed into the form (rule: manual, or a qualitative indicator scored by tiers)?"""
    return ind.manual or (ind.target.qualitative and profile.qualitative == "tiers")


def layout(project: Project, kind: FormKind | None = None) -> Layout:
    """The cell map of a project's form (in its own form kind unless another, e.g. as issued, is given)."""
    kind = kind or form_kind(project.form)
    lay = Layout(project, kind, kind.profile.merged(project.scoring))
    lay.col = {c.key: i for i, c in enumerate(kind.columns)}
    row = 0
    for section in kind.sections:
        row = _PLACE[section](lay, row)
    lay.rows["end"] = row
    return _derive(lay)


def kept(lay: Layout) -> dict:
    """What the registry keeps of an issued version's layout: every field and the rows and columns the reader
    uses, so that a return is read against what was issued, whatever the placement code says later."""
    return {"fields": {k: [f.cell, f.role, f.type, f.name, f.limit, f.label] for k, f in lay.fields.items()},
            "rows": lay.rows, "col": lay.col, "funds_col": lay.funds_col}


def from_kept(project: Project, kind: FormKind, data: dict) -> Layout:
    """The Layout as issued, from what `kept` gave the registry (no placement code runs)."""
    lay = Layout(project, kind, kind.profile.merged(project.scoring))
    lay.fields = {k: Field(str(c), str(role), str(type_of), str(name), int(limit), str(label))
                  for k, (c, role, type_of, name, limit, label) in data["fields"].items()}
    lay.rows = {k: int(v) for k, v in data["rows"].items()}
    lay.col = {k: int(v) for k, v in data["col"].items()}
    lay.funds_col = {k: int(v) for k, v in data["funds_col"].items()}
    return _derive(lay)


def _derive(lay: Layout) -> Layout:
    lay._inputs = {k: f for k, f in lay.fields.items() if f.role == "input"}
    lay._cell_map = {k: f.cell for k, f in lay.fields.items()}
    lay._rules = rules(lay.project, lay.profile)
    return lay


def _header(lay: Layout, row: int) -> int:
    f = lay.fields
    lay.rows.update(title=row, subtitle=row + 1, name=row + 2, department=row + 3)
    f["project.name"] = Field(ref(row + 2, 2), "fixed")
    f["project.department"] = Field(ref(row + 3, 2), "fixed")
    f["project.implementer"] = Field(ref(row + 3, lay.split() + 3), "fixed")
    return row + 4


def _funds(lay: Layout, row: int) -> int:
    kind, f = lay.kind, lay.fields
    columns = kind.funds_columns
    lay.funds_col = {c: lay.ncols - len(columns) + i for i, c in enumerate(columns)}
    fc = lay.funds_col
    lay.rows["funds_header"] = row
    for n, row_key in enumerate(("total",) + kind.fund_rows):
        r = row + 1 + n
        lay.rows[f"funds.{row_key}"] = r
        f[f"funds.{row_key}.initial"] = Field(ref(r, fc["initial"]), "fixed", "amount")
        f[f"funds.{row_key}.annual"] = Field(ref(r, fc["annual"]), "fixed", "amount")
        f[f"funds.{row_key}.executed"] = (
            Field(ref(r, fc["executed"]), "formula", "amount") if row_key == "total" else
            Field(ref(r, fc["executed"]), "input", "amount", f"XF_FUND_{row_key.upper()}_EXECUTED",
                  label=kind.label(row_key).removeprefix("其中：")))
    total = row + 1
    f["funds.weight"] = Field(ref(total, fc["weight"]), "fixed", "number")
    f["funds.rate"] = Field(ref(total, fc["rate"]), "formula", "percent")
    f["funds.score"] = Field(ref(total, fc["score"]), "formula", "score")
    if "reason" in fc:
        f["funds.reason"] = Field(ref(total, fc["reason"]), "input", "text", "XF_FUND_REASON",
                                  kind.limit("funds_reason"), kind.label("funds_reason"))
    return row + 2 + len(kind.fund_rows)


def _goal(lay: Layout, row: int) -> int:
    lay.rows.update(goal_header=row, goal=row + 1)
    middle = (lay.ncols - 1) // 2
    lay.fields["goal.expected"] = Field(ref(row + 1, 1), "fixed")
    lay.fields["goal.actual"] = Field(ref(row + 1, middle + 1), "input", "text", "XF_GOAL_ACTUAL",
                                      lay.kind.limit("goal_actual"), lay.kind.label("actual"))
    return row + 2


def _indicators(lay: Layout, row: int) -> int:
    f, col, kind, profile = lay.fields, lay.col, lay.kind, lay.profile
    lay.rows.update(indicator_header=row, first_indicator=row + 1)
    shown = [c for c in ("level1", "level2", "name", "target", "nature", "target_value", "unit") if c in col]
    for i, ind in enumerate(lay.project.indicators):
        r, key, n = row + 1 + i, f"indicators.{i}", f"XF_I{i + 1:03d}"
        for part in shown:
            f[f"{key}.{part}"] = Field(ref(r, col[part]), "fixed")
        f[f"{key}.actual"] = Field(ref(r, col["actual"]), "input", actual_type(ind, profile), f"{n}_ACTUAL",
                                   label=ind.name)
        f[f"{key}.weight"] = Field(ref(r, col["weight"]), "fixed", "number")
        f[f"{key}.score"] = (Field(ref(r, col["score"]), "input", "score", f"{n}_SCORE", label=ind.name)
                             if typed_score(ind, profile) else Field(ref(r, col["score"]), "formula", "score"))
        f[f"{key}.reason"] = Field(ref(r, col["reason"]), "input", "text", f"{n}_REASON", kind.limit("reason"),
                                   kind.label("reason"))
        for c in kind.extra_inputs:
            f[f"{key}.{c.key}"] = Field(ref(r, col[c.key]), "input",
                                        "text" if c.input == "text" else "extra_number",
                                        f"{n}_{c.key.upper()}", c.limit, kind.label(c.key))
    return row + 1 + len(lay.project.indicators)


def _total(lay: Layout, row: int) -> int:
    col = lay.col
    lay.rows["total"] = row
    lay.fields["total_weight"] = Field(ref(row, col["weight"]), "fixed", "number")
    lay.fields["total_score"] = Field(ref(row, col["score"]), "formula", "score")
    if lay.profile.grades and col["score"] < lay.last_col:
        lay.fields["grade"] = Field(ref(row, col["score"] + 1), "formula", "text")
    return row + 1


def _text_rows(lay: Layout, row: int) -> int:
    spec = lay.kind.spec["text_rows"]
    for n, key in enumerate(spec["keys"]):
        lay.rows[f"text.{key}"] = row + n
        lay.fields[key] = Field(ref(row + n, 2), "input", "text", f"XF_{key.upper()}", int(spec["limit"]),
                                lay.kind.label(key))
    return row + len(spec["keys"])


def _signatures(lay: Layout, row: int) -> int:
    keys = lay.kind.spec["signatures"]
    lay.rows["signatures"] = row
    for key, c in zip(keys, (2, lay.split() + 3)):
        lay.fields[key] = Field(ref(row, c), "input", "text", f"XF_{key.upper()}", 50, lay.kind.label(key))
    return row + 1


def _attributes(lay: Layout, row: int) -> int:
    """项目属性 (新增/延续): a list input beside its label."""
    lay.rows["attributes"] = row
    lay.fields["attribute"] = Field(ref(row, 2), "input", "list", "XF_ATTRIBUTE", label=lay.kind.label("attribute"))
    return row + 1


def _declared_funds(lay: Layout, row: int) -> int:
    """资金情况（万元）: 年度资金总额 and the kind's fund rows, each with its 年初预算数 (locked)."""
    lay.rows["funds_header"] = row
    for n, row_key in enumerate(("total",) + lay.kind.fund_rows):
        lay.rows[f"funds.{row_key}"] = row + 1 + n
        lay.fields[f"funds.{row_key}.initial"] = Field(ref(row + 1 + n, lay.col["target"]), "fixed", "amount")
    return row + 2 + len(lay.kind.fund_rows)


def _declared_goal(lay: Layout, row: int) -> int:
    """年度绩效目标: an input, or the definition's goal (locked) where the bureau gave one."""
    lay.rows["goal"] = row
    lay.fields["goal.expected"] = (Field(ref(row, 1), "fixed") if lay.project.goal else
                                   Field(ref(row, 1), "input", "text", "XF_GOAL", lay.kind.limit("goal"),
                                         lay.kind.label("goal")))
    return row + 1


def declared_rows(project: Project, kind: FormKind) -> list[tuple[str, str, object]]:
    """The rows of a declaration's indicator table, in order: each 二级指标 of the kind's national set with
    its known indicators, then its blank rows (blank_rows: n, or {二级指标: n, default: n}; 0 and no known
    indicator leaves the 二级指标 out); known indicators under another 二级 or 一级 follow their 一级."""
    counts = project.extra.get("blank_rows", kind.spec.get("blank_rows", 3))
    counts = counts if isinstance(counts, dict) else {"default": counts}
    default = counts.get("default", kind.spec.get("blank_rows", 3))
    groups: dict[str, dict[str, list]] = {l1: {l2: [] for l2 in l2s} for l1, l2s in kind.spec["levels"].items()}
    for ind in project.indicators:
        groups.setdefault(ind.level1, {}).setdefault(ind.level2, []).append(ind)
    rows = []
    for level1, level2s in groups.items():
        for level2, known in level2s.items():
            rows += [(level1, level2, ind) for ind in known]
            rows += [(level1, level2, None)] * counts.get(level2, default)
    return rows


def _declared_indicators(lay: Layout, row: int) -> int:
    """The indicator table to fill: 一级 | 二级 | 三级指标 | 指标值 | 分值 | 备注, known rows locked, blank rows
    unlocked; then the 预算执行率 row (its 分值) and the 分值合计 (a formula)."""
    f, col, kind = lay.fields, lay.col, lay.kind
    lay.rows.update(indicator_header=row, first_indicator=row + 1)
    lay.declared = declared_rows(lay.project, kind)
    first: dict[tuple, int] = {}
    for n, (level1, level2, ind) in enumerate(lay.declared):
        r, key, name = row + 1 + n, f"declared.{n}", f"XF_D{n + 1:03d}"
        first.setdefault((level1,), r)
        first.setdefault((level1, level2), r)
        f[f"{key}.level1"] = Field(ref(first[(level1,)], col["level1"]), "fixed")
        f[f"{key}.level2"] = Field(ref(first[(level1, level2)], col["level2"]), "fixed")
        for part, kind_of in (("name", "text"), ("target", "text"), ("weight", "number")):
            f[f"{key}.{part}"] = (Field(ref(r, col[part]), "fixed", kind_of) if ind is not None else
                                  Field(ref(r, col[part]), "input", kind_of, f"{name}_{part.upper()}",
                                        kind.limit(part) if kind_of == "text" else 0, kind.label(part)))
        f[f"{key}.remark"] = Field(ref(r, col["remark"]), "input", "text", f"{name}_REMARK", kind.limit("remark"),
                                   kind.label("remark"))
    end = row + 1 + len(lay.declared)
    lay.rows.update(rate_row=end, weight_total=end + 1)
    f["funds.weight"] = Field(ref(end, col["weight"]), "fixed", "number")
    f["declared.total"] = Field(ref(end + 1, col["weight"]), "formula", "number")
    return end + 2


_PLACE = {"header": _header, "funds": _funds, "goal": _goal, "indicators": _indicators, "total": _total,
          "text_rows": _text_rows, "signatures": _signatures, "attributes": _attributes,
          "declared_funds": _declared_funds, "declared_goal": _declared_goal,
          "declared_indicators": _declared_indicators}
SECTIONS = tuple(_PLACE)
