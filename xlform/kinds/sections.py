"""The sections of a form: each one places its cells and spans on the kind's grid, draws them, reads its
inputs back, checks them and names the record fields they give. Writer, reader and migration only walk a
kind's sections; nothing else knows a section by name.

The shared sections of the official forms are here (header, funds, goal, indicators, total, text_rows,
signatures). A kind whose structure differs adds or overrides sections in a module beside its form.yaml
(templates/<kind>/sections.py, `SECTIONS = {name: class}`): see docs/kinds.md, "How to add a kind".

A section works with three objects it is handed, never imported here:
- the Layout (xlform/form/layout.py) it places fields on: `lay.fields`, `lay.rows`, `lay.col`, `lay.kind`;
- the pen (xlform/xlsx/writer.py, SheetWriter) it draws with: `pen.text`, `pen.text_input`, `pen.validate`,
  `pen.number`, `pen.formula`, `pen.warn`, `pen.name`, its formats `pen.fmt`, the inputs carried `pen.inputs`
  and the formulas' cached values `pen.result`;
- the reader (xlform/returns/sheet.py, SheetReader) it reads and checks with: `reader.read_fields`,
  `reader.add(code, cell, **values)`, `reader.invalid`.
"""
from __future__ import annotations

from typing import NamedTuple

from ..scoring import scoring
from ..scoring.scoring import TIERS
from ..storage.record import IndicatorRecord
from .schema import DEFAULT_SECTIONS, Keys, ListOf, Number, Text


def ref(row: int, col: int) -> str:
    """xlsxwriter's cell reference (E13), its function imported at the first call: the package is 17 ms of a
    reader's start, and an import statement in every call was 0.6 µs of each of a 120-indicator form's 2,949."""
    global _to_cell
    if _to_cell is None:
        from xlsxwriter.utility import xl_rowcol_to_cell as _to_cell
    return _to_cell(row, col)


_to_cell = None


class Field(NamedTuple):
    """One field of a form: a tuple, so that a version's thousand fields are rebuilt from the registry fast."""
    cell: str
    role: str           # input | formula | fixed
    type: str = "text"  # of value: text | amount | number | percent | qualitative | tier | score | extra_number | list
    name: str = ""      # defined name of an input cell
    limit: int = 0      # text inputs: the most characters allowed
    label: str = ""     # what the field is, in the form's words (for messages)
    section: str = ""   # the section that placed it
    last: int = -1      # the last column of its merged span (-1: the cell alone)


class Section:
    """One part of a form. `place` runs once per layout; the other methods use only what it placed (a
    return is read against the fields kept at issue time, so `check` and `fill` never use placement code)."""

    name = ""
    keys: dict = {}      # the form.yaml keys it owns, with their schema ({key: node}); see kinds/schema.py
    needs: tuple = ()    # of those, the ones a kind using the section must write
    scored = False       # its values take part in the scores (the reader evaluates the form)
    messages: dict = {}  # problems of its own, {code: (error|warning, Chinese message)}, beside messages.py's
    columns: tuple = ()  # indicator table column keys of its own (form.yaml `columns:`), beside the shared ones
    imports = True       # a return of a kind using it can become a definition (xlform import); a 监控表 cannot

    @classmethod
    def problems(cls, spec: dict) -> list[tuple[tuple, str]]:
        """What its keys of form.yaml must say of each other (a kind using it is refused otherwise):
        [(key path, message)]."""
        return []

    @classmethod
    def labelled(cls, spec: dict) -> list[tuple[tuple, str]]:
        """The keys it prints, each needing a label: [(key path in form.yaml, key)]."""
        return []

    def __init__(self, kind):
        self.kind = kind

    # -- placing and drawing ------------------------------------------------------------------------
    def place(self, lay, row: int) -> int:
        """Put its fields and named rows on the layout from `row`; return the row after it."""
        raise NotImplementedError

    def put(self, lay, key: str, row: int, col: int, role: str, type_of: str = "text", name: str = "",
            limit: int = 0, label: str = "", last: int = -1) -> None:
        lay.fields[key] = Field(ref(row, col), role, type_of, name, limit, label, self.name, last)

    def draw(self, pen) -> None:
        """Write its labels, values, formulas, validations and names."""

    def finish(self, pen) -> None:
        """After every section drew (all row heights known): what depends on the whole sheet."""

    # -- reading back ---------------------------------------------------------------------------------
    def read(self, reader, inputs: dict) -> None:
        """Its inputs from the sheet, by their type of value."""
        reader.read_fields(self.name, inputs)

    def check(self, reader, inputs: dict, result) -> None:
        """Problems of its inputs, each at its cell (the generic ones, length and sign, are the reader's)."""

    def fill(self, reader, inputs: dict, result) -> None:
        """Its fields of the record (`reader.record`). By default its inputs go under their field keys into
        record.extra."""
        for key in own_inputs(reader.lay, self.name):
            reader.record.extra[key] = inputs.get(key)

    def values(self, record, lay) -> dict:
        """The inverse of `fill`: what a record says its inputs held (a migration carries them over)."""
        return {key: record.extra.get(key) for key in own_inputs(lay, self.name)}

    def what(self, lay, key: str) -> str:
        """A field in the form's words (a migration's report)."""
        return lay.fields[key].label


def own_inputs(lay, section: str) -> list[str]:
    """The keys of the inputs a section placed (the layout groups them once)."""
    return lay.inputs_of(section)


def split(lay) -> int:
    """The column where a two-part line (主管部门 | 实施单位, two signatures) ends its first value."""
    return 2 + (lay.ncols - 2) // 2 - 1


class Header(Section):
    """Title, subtitle, 项目名称, 主管部门 | 实施单位."""
    name = "header"

    def place(self, lay, row):
        lay.rows.update(title=row, subtitle=row + 1, name=row + 2, department=row + 3)
        self.split = split(lay)
        self.put(lay, "project.name", row + 2, 2, "fixed", last=lay.last_col)
        self.put(lay, "project.department", row + 3, 2, "fixed", last=self.split)
        self.put(lay, "project.implementer", row + 3, self.split + 3, "fixed", last=lay.last_col)
        return row + 4

    def draw(self, pen):
        k, f, rows, last = self.kind, pen.fmt, pen.lay.rows, pen.last
        pen.text(rows["title"], 0, k.text("title", **pen.values), f["title"], rows["title"], last)
        pen.text(rows["subtitle"], 0, k.text("subtitle", **pen.values), f["subtitle"], rows["subtitle"], last)
        pen.heights[rows["title"]] = k.spec["fonts"]["title_size"] * 1.8
        name = k.text("project_line", **pen.values) if "project_line" in k.spec["texts"] else pen.p.project
        split = self.split
        pen.text(rows["name"], 0, k.heading("project"), f["label"], rows["name"], 1)
        pen.text(rows["name"], 2, name, f["text"], rows["name"], last)
        pen.text(rows["department"], 0, k.heading("department"), f["label"], rows["department"], 1)
        pen.text(rows["department"], 2, pen.p.department, f["text"], rows["department"], split)
        pen.text(rows["department"], split + 1, k.heading("implementer"), f["label"], rows["department"], split + 2)
        pen.text(rows["department"], split + 3, pen.p.implementer, f["text"], rows["department"], last)

    def fill(self, reader, inputs, result):
        p = reader.project
        reader.record.project = {"name": p.project, "department": p.department, "implementer": p.implementer,
                          "year": p.year, **p.extra}


class Funds(Section):
    """The funds grid: 年度资金总额 and the kind's fund rows; 全年执行数 typed per row, the total, 执行率 and
    its 得分 by formula; Sichuan's 原因 where the rate falls below the kind's threshold."""
    name = "funds"
    scored = True

    @classmethod
    def problems(cls, spec):
        if "reason" in spec["funds"]["columns"] and "reason_below" not in spec["funds"]:
            return [(("funds",), "the funds column reason needs funds.reason_below (e.g. 0.9: 原因 required "
                     "below 90% 预算执行率)")]
        return []

    def place(self, lay, row):
        kind = self.kind
        columns = kind.funds_columns
        lay.funds_col = fc = {c: lay.ncols - len(columns) + i for i, c in enumerate(columns)}
        lay.rows["funds_header"] = row
        for n, row_key in enumerate(("total",) + kind.fund_rows):
            r = row + 1 + n
            lay.rows[f"funds.{row_key}"] = r
            self.put(lay, f"funds.{row_key}.initial", r, fc["initial"], "fixed", "amount")
            self.put(lay, f"funds.{row_key}.annual", r, fc["annual"], "fixed", "amount")
            if row_key == "total":
                self.put(lay, "funds.total.executed", r, fc["executed"], "formula", "amount")
            else:
                self.put(lay, f"funds.{row_key}.executed", r, fc["executed"], "input", "amount",
                         f"XF_FUND_{row_key.upper()}_EXECUTED", label=kind.label(row_key).removeprefix("其中："))
        total = row + 1
        self.put(lay, "funds.weight", total, fc["weight"], "fixed", "number")
        self.put(lay, "funds.rate", total, fc["rate"], "formula", "percent")
        self.put(lay, "funds.score", total, fc["score"], "formula", "score")
        if "reason" in fc:
            self.put(lay, "funds.reason", total, fc["reason"], "input", "text", "XF_FUND_REASON",
                     kind.limit("funds_reason"), kind.label("funds_reason"))
        return row + 2 + len(kind.fund_rows)

    def draw(self, pen):
        k, f, lay, p = self.kind, pen.fmt, pen.lay, pen.p
        fc, header = lay.funds_col, lay.rows["funds_header"]
        first = min(fc.values())
        pen.text(header, 0, k.heading("funds"), f["label"], lay.rows[f"funds.{k.fund_rows[-1]}"], 0)
        pen.text(header, 1, "", f["label"], header, first - 1)
        for part, c in fc.items():
            pen.text(header, c, k.heading("funds_reason" if part == "reason" else part), f["label"])
        for row_key in ("total",) + k.fund_rows:
            r = lay.rows[f"funds.{row_key}"]
            pen.text(r, 1, k.heading(row_key), f["label"], r, first - 1)
            budget = p.funds.total if row_key == "total" else p.funds.rows[row_key]
            for part in ("initial", "annual"):  # a row without money prints blank, not 0
                pen.input_number(lay.cell(f"funds.{row_key}.{part}"), getattr(budget, part) or None, f["amount"])
            if row_key == "total":
                continue
            key = f"funds.{row_key}.executed"
            cell = lay.cell(key)
            pen.input_number(cell, pen.inputs.get(key), f["in_amount"])
            pen.validate(cell, "executed", {"validate": "decimal", "criteria": ">=", "value": 0},
                         row=k.label(row_key), annual=f"{budget.annual:g}")
            pen.warn(cell, f"=AND(ISNUMBER({cell}),{cell}>{lay.cell(f'funds.{row_key}.annual')})")
            pen.name(key)
            for part in ("weight", "rate", "score", "reason"):
                if part in fc:
                    pen.text(r, fc[part], k.label("dash"), f["label"])
        self.draw_formulas(pen)

    def draw_formulas(self, pen):
        """年度资金总额's 执行数, 执行率, 得分, and the 原因 they may ask for."""
        k, f, lay = self.kind, pen.fmt, pen.lay
        cells = [lay.cell(f"funds.{r}.executed") for r in k.fund_rows]
        span = f"{cells[0]}:{cells[-1]}"
        total_exec = lay.cell("funds.total.executed")
        pen.formula(total_exec, scoring.funds_executed_formula(span), pen.result["funds.total.executed"],
                    f["amount"])
        pen.number(lay.cell("funds.weight"), pen.p.funds.weight, f["number"])
        rate = lay.cell("funds.rate")
        pen.formula(rate, scoring.funds_rate_formula(span, total_exec, lay.cell("funds.total.annual")),
                    pen.result["funds.rate"], f["rate"])
        pen.formula(lay.cell("funds.score"), scoring.funds_score_formula(rate, lay.cell("funds.weight")),
                    pen.result["funds.score"], f["score"])
        if "funds.reason" in lay.fields:
            pen.text_input("funds.reason")
            pen.auto_rows.add(lay.rows["funds.total"])   # a single cell: the client grows its row to the 原因
            below = k.spec["funds"]["reason_below"]
            cell = lay.cell("funds.reason")
            pen.warn(cell, f"=AND(ISBLANK({cell}),{scoring.rate_below_formula(rate, below)})")

    def check(self, reader, inputs, result):
        lay, p, k = reader.lay, reader.project, self.kind
        words = dict(executed_label=k.label("executed"), annual_label=k.label("annual"))  # the kind's terms
        for row in k.fund_rows:
            key, annual = f"funds.{row}.executed", p.funds.rows[row].annual
            v, cell, label = inputs[key], lay.cell(key), lay.fields[key].label
            if v is None and key not in reader.invalid and annual > 0:
                reader.add("blank_executed", cell, row=label, annual=f"{annual:g}", **words)
            elif v is not None and v < 0:
                reader.add("negative", cell, what=words["executed_label"], value=f"{v:g}")
            elif v is not None and v > annual + 1e-9:
                reader.add("over_budget", cell, row=label, executed=f"{v:g}", annual=f"{annual:g}", **words)
        if result.needs.get("funds.reason") and not inputs.get("funds.reason"):
            reader.add("funds_reason_missing", lay.cell("funds.reason"), rate=f"{result['funds.rate']:.2%}",
                       threshold=f"{k.spec['funds']['reason_below']:.0%}")

    def fill(self, reader, inputs, result):
        p, k, lay, record = reader.project, self.kind, reader.lay, reader.record
        rows = {row: {"initial": p.funds.rows[row].initial, "annual": p.funds.rows[row].annual,
                      "executed": inputs[f"funds.{row}.executed"]} for row in k.fund_rows}
        executed = [inputs[f"funds.{row}.executed"] for row in k.fund_rows]
        rows["total"] = {"initial": p.funds.total.initial, "annual": p.funds.total.annual,
                         "executed": None if all(v is None for v in executed) else result["funds.total.executed"]}
        record.funds = {"weight": p.funds.weight, "rows": rows, "rate": result["funds.rate"],
                        "score": result["funds.score"]}
        if "funds.reason" in lay.fields:
            record.extra["funds.reason"] = inputs.get("funds.reason")

    def values(self, record, lay):
        rows = record.funds.get("rows", {})
        out = {f"funds.{row}.executed": rows.get(row, {}).get("executed") for row in self.kind.fund_rows}
        if "funds.reason" in lay.fields:
            out["funds.reason"] = record.extra.get("funds.reason")
        return out

    def what(self, lay, key):
        return f"{lay.fields[key].label}·全年执行数" if key.endswith(".executed") else lay.fields[key].label


class Goal(Section):
    """年度总体目标: the definition's 预期目标 beside the 实际完成情况 typed."""
    name = "goal"

    def place(self, lay, row):
        lay.rows.update(goal_header=row, goal=row + 1)
        self.middle = (lay.ncols - 1) // 2
        self.put(lay, "goal.expected", row + 1, 1, "fixed", last=self.middle)
        self.put(lay, "goal.actual", row + 1, self.middle + 1, "input", "text", "XF_GOAL_ACTUAL",
                 self.kind.limit("goal_actual"), self.kind.label("actual"), last=lay.last_col)
        return row + 2

    def draw(self, pen):
        k, f, rows, middle, last = self.kind, pen.fmt, pen.lay.rows, self.middle, pen.last
        pen.text(rows["goal_header"], 0, k.heading("goal"), f["label"], rows["goal"], 0)
        pen.text(rows["goal_header"], 1, k.heading("expected"), f["label"], rows["goal_header"], middle)
        pen.text(rows["goal_header"], middle + 1, k.heading("actual"), f["label"], rows["goal_header"], last)
        pen.text(rows["goal"], 1, pen.p.goal, f["text"], rows["goal"], middle)
        pen.text_input("goal.actual", "goal_actual")

    def check(self, reader, inputs, result):
        if inputs.get("goal.actual") is None:
            reader.add("blank_goal_actual", reader.lay.cell("goal.actual"))

    def fill(self, reader, inputs, result):
        reader.record.goal = {"expected": reader.project.goal, "actual": inputs.get("goal.actual")}

    def values(self, record, lay):
        return {"goal.actual": record.goal.get("actual")}


def group_label(pen):
    """The look of the merged 一级/二级 labels: set at the top of their rows (绩效指标 stays centred: at the
    top, it would show in the header row repeated atop each page as well as where `xlform print` repeats it). A spreadsheet
    prints a merged label where its rows are, page by page: centred in rows that a page break runs through,
    it was cut in two (11 labels on the seed's forms filled and printed from LibreOffice, none at the top)."""
    return pen.format("group_label", align="center", valign="top", text_wrap=True, border=1)


def actual_type(ind, profile) -> str:
    """The type of value an indicator's 实际完成值 takes: a number, a percent, a share of a qualitative target, a tier."""
    if ind.target.qualitative:
        return "tier" if profile.qualitative == "tiers" and not ind.manual else "qualitative"
    return "percent" if ind.target.percent else "number"


def typed_score(ind, profile) -> bool:
    """Is the 得分 typed into the form (rule: manual, or a qualitative indicator scored by tiers)?"""
    return ind.manual or (ind.target.qualitative and profile.qualitative == "tiers")


def prompt_values(pen, ind) -> dict:
    """What an indicator's prompts quote: its 年度指标值 (shortened), unit and 分值."""
    return dict(target=pen.clip(ind.target.text, 60), unit=ind.target.unit, weight=f"{ind.weight:g}")


def draw_actual(pen, key: str, values: dict) -> None:
    """An input of a 实际完成值 by its type of value: a tier chosen from the list, a share of 0–100%, a
    percent or a number not below 0; validated with the kind's prompt of that type, and named."""
    f, fld = pen.fmt, pen.lay.fields[key]
    typed = pen.inputs.get(key)
    if fld.type == "tier":
        from xlsxwriter.utility import xl_cell_to_rowcol
        row, col = xl_cell_to_rowcol(fld.cell)
        pen.text(row, col, typed if isinstance(typed, str) else "", f["in_text"])
        pen.validate(fld.cell, "tier", {"validate": "list", "source": [t for t, _, _ in TIERS]}, **values)
    else:
        pen.input_number(fld.cell, typed, f["in_percent"] if fld.type != "number" else f["in_number"])
        if fld.type == "qualitative":
            pen.validate(fld.cell, "qualitative", {"validate": "decimal", "criteria": "between", "minimum": 0,
                                                    "maximum": 1}, **values)
        else:
            pen.validate(fld.cell, fld.type, {"validate": "decimal", "criteria": ">=", "value": 0}, **values)
    pen.name(key)


class Indicators(Section):
    """The indicator table: one row per indicator, its 实际完成值 (and a typed 得分 where the rule wants one),
    its 得分 by formula, 偏差原因 asked for by the rules; the kind's own input columns; the merged 一级/二级
    labels and the repeated header once the heights of every row are known."""
    name = "indicators"
    scored = True

    def place(self, lay, row):
        col, kind, profile = lay.col, self.kind, lay.profile
        lay.rows.update(indicator_header=row, first_indicator=row + 1)
        shown = [c for c in ("level1", "level2", "name", "target", "nature", "target_value", "unit") if c in col]
        for i, ind in enumerate(lay.project.indicators):
            r, key, n = row + 1 + i, f"indicators.{i}", f"XF_I{i + 1:03d}"
            for part in shown:
                self.put(lay, f"{key}.{part}", r, col[part], "fixed")
            self.put(lay, f"{key}.actual", r, col["actual"], "input", actual_type(ind, profile), f"{n}_ACTUAL",
                     label=ind.name)
            self.put(lay, f"{key}.weight", r, col["weight"], "fixed", "number")
            if typed_score(ind, profile):
                self.put(lay, f"{key}.score", r, col["score"], "input", "score", f"{n}_SCORE", label=ind.name)
            else:
                self.put(lay, f"{key}.score", r, col["score"], "formula", "score")
            self.put(lay, f"{key}.reason", r, col["reason"], "input", "text", f"{n}_REASON", kind.limit("reason"),
                     kind.label("reason"))
            for c in kind.extra_inputs:
                self.put(lay, f"{key}.{c.key}", r, col[c.key], "input",
                         "text" if c.input == "text" else "extra_number", f"{n}_{c.key.upper()}", c.limit,
                         kind.label(c.key))
        return row + 1 + len(lay.project.indicators)

    def draw(self, pen):
        k, f, lay, p, col = self.kind, pen.fmt, pen.lay, pen.p, pen.lay.col
        header = lay.rows["indicator_header"]
        for key, c in col.items():
            if c:
                pen.text(header, c, k.column_label(key), f["label"])
        overshoot = f"{lay.profile.overshoot:.0%}"
        limit = k.limit("reason")
        for i, (ind, rule) in enumerate(zip(p.indicators, lay.rules())):
            key, row = f"indicators.{i}", lay.row_of(i)
            pen.auto_rows.add(row)  # single cells: every client fits the row to a typed 偏差原因
            pen.text(row, col["name"], ind.name, f["text"])
            self.draw_target(pen, row, ind)
            x, w, s, why = (lay.cell(f"{key}.{part}") for part in ("actual", "weight", "score", "reason"))
            pen.number(w, ind.weight, f["number"])
            type_of = lay.fields[f"{key}.actual"].type
            values = prompt_values(pen, ind)
            draw_actual(pen, f"{key}.actual", values)
            if rule.manual:
                pen.input_number(s, pen.inputs.get(f"{key}.score"), f["in_score"])
                if type_of == "tier":
                    bands = {name: f"{low * ind.weight:g}–{high * ind.weight:g}" for name, low, high in TIERS}
                    tiers = dict(zip(("high", "middle", "low"), bands.values()))
                    pen.validate(s, "tier_score", {"validate": "custom",
                                                   "value": "=" + rule.validation_formula(x, w, s)},
                                 weight=f"{ind.weight:g}", **tiers)
                    pen.warn(s, f"=AND(ISNUMBER({s}),NOT({rule.validation_formula(x, w, s)}))")
                else:
                    pen.validate(s, "manual", {"validate": "decimal", "criteria": "between",
                                                "minimum": 0, "maximum": ind.weight}, **values)
                pen.name(f"{key}.score")
            else:
                pen.formula(s, rule.formula(x, w), pen.result[f"{key}.score"], f["score"])
            pen.text(row, col["reason"], pen.inputs.get(f"{key}.reason") or "", f["in_text"])
            pen.validate(why, "reason", {"validate": "length", "criteria": "<=", "value": limit},
                         limit=limit, overshoot=overshoot)
            pen.warn(why, "=" + rule.reason_formula(x, w, s, why))
            pen.name(f"{key}.reason")
            for c in k.extra_inputs:
                pen.extra_input(f"{key}.{c.key}", c.input)

    def draw_target(self, pen, row, ind):
        """年度指标值 as one cell, or split into 指标性质 | 指标值 | 度量单位 where the kind has those columns."""
        f, col, t = pen.fmt, pen.lay.col, ind.target
        if "target" in col:
            pen.text(row, col["target"], t.text, f["label"])
        if "nature" in col:
            pen.text(row, col["nature"], self.kind.label("qualitative_nature") if t.qualitative else
                     {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "="}[t.op], f["label"])
        split = "unit" in col and t.percent and not t.qualitative and not t.unit   # 指标值 95 | 度量单位 %
        if "target_value" in col:
            shown = t.text if t.qualitative else f"{t.value * 100 if t.percent else t.value:.15g}" + \
                ("%" if t.percent and not split else "")
            pen.text(row, col["target_value"], shown, f["label"])
        if "unit" in col:
            pen.text(row, col["unit"], "%" if split else t.unit, f["label"])

    def finish(self, pen):
        """The merged 一级/二级 labels, and the table's header repeated atop every page.

        The workbook sets no page break: a department fills it and prints it from its spreadsheet, where the
        rows grow with what is typed, so breaks planned for the blank's heights would leave part-empty pages
        (34% measured); the spreadsheet breaks where each page is full. A label prints at the top of its group
        (see group_label); `xlform print` plans breaks between groups for the filled heights and repeats the
        labels of a group it splits."""
        lay, col = pen.lay, pen.lay.col
        for level in ("level1", "level2"):  # a one-row group is a plain wrapped cell: its row must hold it
            for first, last, text in lay.groups(level):
                if first == last:
                    pen.fit(first, text, pen.widths[col[level]])
        pen.repeat_row = header = lay.rows["indicator_header"]   # later pages start with the table's header
        last_row = lay.rows["first_indicator"] + len(pen.p.indicators) - 1
        look = group_label(pen)
        pen.text(header, 0, self.kind.heading("indicators"), pen.fmt["label"], last_row, 0)   # 绩效指标
        for level in ("level1", "level2"):
            for first, last, text in lay.groups(level):
                pen.text(first, col[level], text, look, last, col[level])

    def check(self, reader, inputs, result):
        for i, (ind, rule) in enumerate(zip(reader.project.indicators, reader.lay.rules())):
            self.check_indicator(reader, i, ind, rule, inputs, result)

    def check_indicator(self, reader, i, ind, rule, inputs, result):
        lay, key = reader.lay, f"indicators.{i}"
        x, cell = inputs[f"{key}.actual"], lay.cell(f"{key}.actual")
        type_of = lay.fields[f"{key}.actual"].type
        if x is None and f"{key}.actual" not in reader.invalid:
            reader.add("blank_actual", cell, name=ind.name)
        elif isinstance(x, float) and type_of == "qualitative" and not 0 <= x <= 1:
            reader.add("percent_range", cell, value=f"{x * 100:g}%")
        elif isinstance(x, float) and x < 0:
            reader.add("negative", cell, what="实际完成值", value=f"{x:g}")
        if rule.manual:
            s, s_cell = inputs[f"{key}.score"], lay.cell(f"{key}.score")
            if s is None and f"{key}.score" not in reader.invalid:
                reader.add("blank_score", s_cell, name=ind.name)
            elif s is not None and not 0 <= s <= ind.weight:
                reader.add("score_out_of_range", s_cell, score=f"{s:g}", weight=f"{ind.weight:g}")
            elif s is not None and not rule.valid_score(x, s, ind.weight):
                low, high, closed = rule.score_range(x, ind.weight)
                reader.add("score_out_of_tier", s_cell, score=f"{s:g}", tier=x,
                           range=f"{low:g} 至 {high:g}" + ("" if closed else "（不含）"))
        reason, why_cell = inputs[f"{key}.reason"], lay.cell(f"{key}.reason")
        score = result[f"{key}.score"]
        if result.needs[f"{key}.reason"] and not reason and not (type_of == "tier" and x is None):
            # (no tier chosen: blank_actual or not_a_tier said so; the reason is asked for once one is)
            if type_of == "tier" and x != TIERS[0][0]:
                reader.add("reason_tier", why_cell, name=ind.name, tier=x)
            elif score is not None and score < ind.weight:
                reader.add("reason_missing", why_cell, name=ind.name, score=f"{score:g}", weight=f"{ind.weight:g}")
            else:
                reader.add("reason_overshoot", why_cell, name=ind.name, actual=reader.show(x), target=ind.target.text,
                           overshoot=f"{lay.profile.overshoot:.0%}")

    def fill(self, reader, inputs, result):
        extras = [c.key for c in self.kind.extra_inputs]
        reader.record.indicators = [IndicatorRecord(ind.id, ind.level1, ind.level2, ind.name, ind.target.text,
                                                    inputs[f"indicators.{i}.actual"], ind.weight,
                                             result[f"indicators.{i}.score"], inputs[f"indicators.{i}.reason"],
                                             {c: inputs[f"indicators.{i}.{c}"] for c in extras})
                             for i, ind in enumerate(reader.project.indicators)]

    def values(self, record, lay):
        return {}   # carried indicator by indicator, matched across versions (returns/migration.py)


class Total(Section):
    """总分 (a formula over the funds and indicator 得分) and, where the profile grades, 评价等级."""
    name = "total"
    scored = True

    def place(self, lay, row):
        col = lay.col
        lay.rows["total"] = row
        self.put(lay, "total_weight", row, col["weight"], "fixed", "number")
        self.put(lay, "total_score", row, col["score"], "formula", "score")
        if lay.profile.grades and col["score"] < lay.last_col:
            self.put(lay, "grade", row, col["score"] + 1, "formula", "text", last=lay.last_col)
        return row + 1

    def draw(self, pen):
        k, f, lay, p, col = self.kind, pen.fmt, pen.lay, pen.p, pen.lay.col
        row = lay.rows["total"]
        pen.text(row, 0, k.heading("total_score"), f["label"], row, col["weight"] - 1)
        n = len(p.indicators)
        scores = f"{lay.cell('indicators.0.score')}:{lay.cell(f'indicators.{n - 1}.score')}"
        pen.number(lay.cell("total_weight"), p.funds.weight + sum(i.weight for i in p.indicators), f["number"])
        total = lay.cell("total_score")
        pen.formula(total, scoring.total_formula(f"{lay.cell('funds.score')},{scores}", lay.cell("funds.rate"),
                                                 lay.profile), pen.result["total_score"], f["score"])
        if col["score"] < pen.last:
            grade_col = col["score"] + 1
            if "grade" in lay.fields:
                if grade_col < pen.last:
                    pen.merge(row, grade_col, row, pen.last, f["grade"])
                pen.formula(lay.cell("grade"), scoring.grade_formula(total, f"{lay.cell('funds.score')},{scores}",
                                                                     lay.profile),
                            pen.result["grade"], f["grade"])
            else:
                pen.text(row, grade_col, "", f["label"], row, pen.last)

    def fill(self, reader, inputs, result):
        reader.record.total_score = result["total_score"]
        reader.record.grade = result["grade"]


class TextRows(Section):
    """Rows of text to write across the sheet (Sichuan's 评价结论, 存在问题, 改进措施), each required."""
    name = "text_rows"
    keys = {"text_rows": Keys({"keys": ListOf(Text(name=True), least=1), "limit": Number(1, 32767, whole=True)},
                              ("keys", "limit"))}
    needs = ("text_rows",)

    @classmethod
    def labelled(cls, spec):
        return [(("text_rows", "keys", i), k) for i, k in enumerate(spec["text_rows"]["keys"])]

    def place(self, lay, row):
        spec = self.kind.spec["text_rows"]
        for n, key in enumerate(spec["keys"]):
            lay.rows[f"text.{key}"] = row + n
            self.put(lay, key, row + n, 2, "input", "text", f"XF_{key.upper()}", int(spec["limit"]),
                     self.kind.label(key), last=lay.last_col)
        return row + len(spec["keys"])

    def draw(self, pen):
        k, f = self.kind, pen.fmt
        for key in k.spec["text_rows"]["keys"]:
            row = pen.lay.rows[f"text.{key}"]
            pen.text(row, 0, k.heading(key), f["label"], row, 1)
            pen.text_input(key)
            pen.heights[row] = max(pen.heights.get(row, 0), 3 * k.spec["fonts"]["size"] * 1.4 + 5)

    def check(self, reader, inputs, result):
        for key in own_inputs(reader.lay, self.name):
            if inputs.get(key) is None:
                reader.add("blank_text", reader.lay.cell(key), label=reader.lay.fields[key].label)


class Signatures(Section):
    """The foot: one or two signatures (项目负责人 | 财务负责人), left and right, each required."""
    name = "signatures"
    keys = {"signatures": ListOf(Text(name=True), least=1, most=2)}
    needs = ("signatures",)

    @classmethod
    def labelled(cls, spec):
        return [(("signatures", i), k) for i, k in enumerate(spec["signatures"])]

    def place(self, lay, row):
        lay.rows["signatures"] = row
        self.split = split(lay)
        self.places = ((0, 2, self.split), (self.split + 1, self.split + 3, lay.last_col))  # label, value, end
        for key, (_, value_col, end) in zip(self.kind.spec["signatures"], self.places):
            self.put(lay, key, row, value_col, "input", "text", f"XF_{key.upper()}", 50, self.kind.label(key),
                     last=end)
        return row + 1

    def draw(self, pen):
        k, f, row = self.kind, pen.fmt, pen.lay.rows["signatures"]
        for key, (label_col, value_col, _) in zip(k.spec["signatures"], self.places):
            pen.text(row, label_col, k.heading(key), f["label"], row, value_col - 1)
            pen.text_input(key)

    check = TextRows.check


SECTIONS = {s.name: s for s in (Header, Funds, Goal, Indicators, Total, TextRows, Signatures)}
DEFAULT = DEFAULT_SECTIONS
