"""Layout -> .xlsx with xlsxwriter: the form, its formulas with cached values, validation, protection,
defined names and the hidden metadata sheet."""
from __future__ import annotations

from dataclasses import dataclass

import xlsxwriter
from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

from .. import __version__
from ..definition.definition import Project, template_hash
from ..errors import XlformError
from ..form.evaluate import Inputs, evaluate_form
from ..form.layout import Layout, layout
from ..kinds.forms import FormKind
from ..scoring import scoring
from ..scoring.scoring import TIERS
from . import measure
from .metadata import META_SHEET, meta_rows


@dataclass
class SheetSpec:
    project: Project
    kind: FormKind
    version: int
    sheet: str
    inputs: Inputs | None = None   # values to carry into the input cells (migration); None: blank

    @property
    def hash(self) -> str:
        return template_hash(self.project, self.kind)


class _Workbook(xlsxwriter.Workbook):
    """xlsxwriter cannot lock the workbook structure; add <workbookProtection> where the schema wants it."""

    structure_password: str | None = None
    lock_structure = False

    def _write_book_views(self) -> None:
        if self.lock_structure:
            attrs = [("lockStructure", 1)]
            if self.structure_password:
                attrs.insert(0, ("workbookPassword", password_hash(self.structure_password)))
            self._xml_empty_tag("workbookProtection", attrs)
        super()._write_book_views()


class _Worksheet(xlsxwriter.worksheet.Worksheet):
    """Rows in `fitted_rows` are written with their height but without customHeight: LibreOffice and Excel
    then show the height given and still grow the row to fit what a department types (xlsxwriter marks
    every row it gives a height as custom, which freezes it)."""

    fitted_rows: frozenset = frozenset()

    def fit_rows_to_input(self, rows):
        self.fitted_rows = frozenset(rows)

    def _xml_start_tag_unencoded(self, tag, attributes=None):
        if tag == "row" and attributes and attributes[0][1] - 1 in self.fitted_rows:
            attributes = [a for a in attributes if a[0] != "customHeight"]
        super()._xml_start_tag_unencoded(tag, attributes)


def password_hash(password: str) -> str:
    """The legacy 16-bit protection hash (ECMA-376 Part 4, 14.7.1), as Excel writes it."""
    digest = 0
    for char in password[::-1]:
        digest = ((digest >> 14) & 0x01) | ((digest << 1) & 0x7FFF)
        digest ^= ord(char)
    digest = ((digest >> 14) & 0x01) | ((digest << 1) & 0x7FFF)
    digest ^= len(password) ^ 0xCE4B
    return f"{digest:X}"


def write(target, sheets: list[SheetSpec], password: str | None, generated: str) -> None:
    """Write one workbook (a path or a binary stream) holding the given project sheets."""
    fonts = sheets[0].kind.spec["fonts"]
    # the body font is the workbook's default: column widths are counted in its digits, in every client
    wb = _Workbook(target, {"strings_to_numbers": False, "strings_to_formulas": False,
                            "strings_to_urls": False, "in_memory": True,
                            "default_format_properties": {"font_name": fonts["body"], "font_size": fonts["size"]},
                            })
    wb.lock_structure, wb.structure_password = True, password or None
    wb.set_properties({"title": sheets[0].kind.text("title"), "comments": f"xlform {__version__}"})
    wb.set_custom_property("xlform", "1")
    layouts = []
    for spec in sheets:
        sheet = _SheetWriter(wb, spec, password)
        sheet.write()
        layouts.append(sheet.lay)
    meta = wb.add_worksheet(META_SHEET)
    for r, row in enumerate(meta_rows(sheets, layouts, generated)):
        for c, value in enumerate(row):
            if meta.write_string(r, c, value) < 0:  # xlsxwriter would cut it short without a word
                raise XlformError(f"{sheets[0].project.source}: cannot write {META_SHEET}!{xl_rowcol_to_cell(r, c)} "
                                  "(the hidden sheet): xlsxwriter refused it; please report it with this definition")
    meta.very_hidden()
    meta.protect(password or "")
    wb.close()


def expected_cells(spec: SheetSpec) -> dict:
    """What every cell of an issued sheet holds, {A1: (value, formula)}, without writing a file.

    The writer runs against a recorder instead of xlsxwriter, so the reader compares a return with exactly
    what the writer puts in each cell, at a fraction of the cost of writing and parsing a workbook.
    """
    wb = _Recorder()
    _SheetWriter(wb, spec, None).write()
    return {xl_rowcol_to_cell(r, c): v for (r, c), v in wb.sheet.cells.items() if v[0] not in (None, "") or v[1]}


class _SheetRecorder:
    """Stands in for an xlsxwriter worksheet: keeps cell contents, ignores everything else."""

    def __init__(self):
        self.cells: dict[tuple[int, int], tuple] = {}

    @staticmethod
    def _rc(args):
        if isinstance(args[0], str):
            return xl_cell_to_rowcol(args[0]), args[1:]
        return (args[0], args[1]), args[2:]

    def write_string(self, *args):
        rc, (value, *_) = self._rc(args)
        self.cells[rc] = (value, None)

    def write_number(self, *args):
        rc, (value, *_) = self._rc(args)
        self.cells[rc] = (float(value), None)

    def write_blank(self, *args):
        rc, _ = self._rc(args)
        self.cells[rc] = (None, None)

    def write_formula(self, *args):
        rc, (formula, _fmt, value) = self._rc(args)
        self.cells[rc] = (value, formula.lstrip("="))

    def merge_range(self, first_row, first_col, *_):
        self.cells[(first_row, first_col)] = (None, None)

    def __getattr__(self, name):
        return lambda *a, **k: 0


class _Recorder:
    """Stands in for the xlsxwriter workbook in expected_cells."""
    _xlform_formats = None

    def __init__(self):
        self.sheet = _SheetRecorder()

    def add_worksheet(self, name=None, worksheet_class=None):
        return self.sheet

    def __getattr__(self, name):
        return lambda *a, **k: 0


class _SheetWriter:
    def __init__(self, wb: _Workbook, spec: SheetSpec, password: str | None):
        self.wb, self.spec, self.password = wb, spec, password
        self.p, self.kind = spec.project, spec.kind
        self.lay: Layout = layout(spec.project, spec.kind)
        self.ws = wb.add_worksheet(spec.sheet, worksheet_class=_Worksheet)
        self.fmt = _formats(wb, spec.kind)
        self.widths = [c.width for c in spec.kind.columns]
        self.last = len(self.widths) - 1
        self.heights: dict[int, float] = {}    # estimated height of every row with text (points)
        self.auto_rows: set[int] = set()        # rows the client fits to their text itself
        # what the inputs (blank for an issued form) give: the cached values of every formula
        self.inputs = spec.inputs or {}
        self.result = evaluate_form(self.lay, self.inputs)

    # -- helpers -------------------------------------------------------------
    def check(self, code, row: int, col: int):
        """xlsxwriter reports what it will not write with a negative return code instead of raising: name the
        definition, the cell and what the cell is for. (`check` refuses every text too long for a cell.)"""
        if isinstance(code, int) and code < 0:
            cell = xl_rowcol_to_cell(row, col)
            what = self.what(row, col)
            why = _REFUSALS.get(code, "a value it does not accept")
            raise XlformError(f"{self.p.source or self.p.id}: cannot write {self.spec.sheet}!{cell}"
                              f"{f' ({what})' if what else ''}: xlsxwriter refused it (code {code}: {why}); "
                              "shorten that text in the definition, or report it if it is short")
        return code

    def warn(self, cell: str, criteria: str):
        """The cell turns the warning colour while `criteria` (a formula) holds."""
        self.check(self.ws.conditional_format(cell, {"type": "formula", "format": self.fmt["warn"],
                                                     "criteria": criteria}), *xl_cell_to_rowcol(cell))

    def what(self, row: int, col: int) -> str:
        """The field a cell holds (indicators.3.reason), or the part of the form its row belongs to."""
        cell = xl_rowcol_to_cell(row, col)
        found = next((k for k, f in self.lay.fields.items() if f.cell == cell), None)
        if found:
            return found
        first, n = self.lay.rows.get("first_indicator"), len(self.p.indicators)
        if first is not None and first <= row < first + n:
            column = next((k for k, c in self.lay.col.items() if c == col), "")
            return f"indicators.{row - first}" + (f".{column}" if column else "")
        return next((k for k, r in self.lay.rows.items() if r == row), "")

    def text(self, row, col, value, fmt, last_row=None, last_col=None):
        """Write text as text (never a formula) and grow the row for it where it wraps."""
        last_row, last_col = last_row if last_row is not None else row, last_col if last_col is not None else col
        value = "" if value is None else str(value)
        if (last_row, last_col) != (row, col):
            self.check(self.ws.merge_range(row, col, last_row, last_col, "", fmt), row, col)
        self.check(self.ws.write_string(row, col, value, fmt) if value else self.ws.write_blank(row, col, None, fmt),
                   row, col)
        if last_row == row:
            self.fit(row, value, sum(self.widths[col:last_col + 1]))

    def fit(self, row, value: str, width: float, at_least: int = 1):
        n = max(at_least, measure.lines(value, width))
        self.heights[row] = max(self.heights.get(row, 0), measure.height(n, self.kind.spec["fonts"]["size"]))

    def formula(self, cell: str, text: str, value, fmt):
        self.check(self.ws.write_formula(cell, "=" + text, fmt, "" if value is None else value), *xl_cell_to_rowcol(cell))

    def validate(self, cell: str, prompt: str, options: dict, **values):
        """The cell's data validation with the kind's Chinese prompts under `prompt` (prompts.<prompt>)."""
        prompts = {"input_title": self.kind.prompt(prompt, "title", **values),
                   "input_message": self.kind.prompt(prompt, "message", **values),
                   "error_title": self.kind.prompt(prompt, "error_title"),
                   "error_message": self.kind.prompt(prompt, "error", **values)}
        for k, limit in (("input_title", 32), ("error_title", 32), ("input_message", 255), ("error_message", 255)):
            prompts[k] = _clip(prompts[k], limit)
        self.check(self.ws.data_validation(cell, {**options, **prompts, "error_type": "stop"}), *xl_cell_to_rowcol(cell))

    def name(self, key: str):
        f = self.lay.fields[key]
        row, col = xl_cell_to_rowcol(f.cell)
        sheet = self.spec.sheet.replace("'", "''")
        self.check(self.wb.define_name(f"'{sheet}'!{f.name}", f"='{sheet}'!{xl_rowcol_to_cell(row, col, True, True)}"),
                   row, col)

    def text_input(self, key: str, last_col: int | None = None, prompt: str = "text"):
        """An unlocked text cell (merged up to last_col), limited in length, named."""
        f = self.lay.fields[key]
        row, col = xl_cell_to_rowcol(f.cell)
        last_col = col if last_col is None else last_col
        self.text(row, col, self.inputs.get(key) or "", self.fmt["in_text"], row, last_col)
        if last_col != col:  # no client fits a merged cell: reserve room to write in (the filler may resize)
            self.fit(row, "", sum(self.widths[col:last_col + 1]), at_least=self.kind.spec.get("reserve_lines", 3))
        self.validate(f.cell, prompt, {"validate": "length", "criteria": "<=", "value": f.limit},
                      label=f.label, limit=f.limit)
        self.name(key)

    def input_number(self, cell, value, fmt):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.check(self.ws.write_number(cell, value, fmt), *xl_cell_to_rowcol(cell))
        else:
            self.check(self.ws.write_blank(cell, None, fmt), *xl_cell_to_rowcol(cell))

    # -- the form ------------------------------------------------------------
    def write(self):
        ws, k = self.ws, self.kind
        for c, w in enumerate(self.widths):
            ws.set_column(c, c, w)
        self.values = dict(year=self.p.year, id=self.p.id, version=self.spec.version, department=self.p.department,
                           project=self.p.project, **self.p.extra)
        for section in k.sections:
            getattr(self, f"write_{section}")()
        plan = self.write_levels() if "indicators" in k.sections else measure.Plan([], {})
        for row, height in self.heights.items():
            ws.set_row(row, height)
        ws.fit_rows_to_input(self.auto_rows)
        rows = self.lay.rows
        ws.set_paper(9)  # A4
        ws.set_portrait()
        ws.fit_to_pages(1, 0)
        if "indicator_header" in rows:  # later pages start with the table's header; the page header names the project
            ws.repeat_rows(rows["indicator_header"])
        if plan.breaks:
            ws.set_h_pagebreaks(plan.breaks)
        ws.center_horizontally()
        ws.set_margins(**measure.MARGINS)
        ws.print_black_and_white()  # the input highlights are for the screen
        # in a header "&" starts a code (&D the date, &F the file): a definition's "R&D" is written "R&&D"
        literal = {key: v.replace("&", "&&") if isinstance(v, str) else v for key, v in self.values.items()}
        ws.set_header(_header(k.text("header", **literal)))
        ws.set_footer(_header(k.text("footer", **literal)))
        ws.protect(self.password or "", {"select_locked_cells": True, "select_unlocked_cells": True,
                                         "format_rows": True})  # merged text cells need the filler's resize

    def write_header(self):
        k, f, rows, last = self.kind, self.fmt, self.lay.rows, self.last
        self.text(rows["title"], 0, k.text("title", **self.values), f["title"], rows["title"], last)
        self.text(rows["subtitle"], 0, k.text("subtitle", **self.values), f["subtitle"], rows["subtitle"], last)
        self.heights[rows["title"]] = k.spec["fonts"]["title_size"] * 1.8
        name = k.text("project_line", **self.values) if "project_line" in k.spec["texts"] else self.p.project
        split = self.lay.split()
        self.text(rows["name"], 0, k.heading("project"), f["label"], rows["name"], 1)
        self.text(rows["name"], 2, name, f["text"], rows["name"], last)
        self.text(rows["department"], 0, k.heading("department"), f["label"], rows["department"], 1)
        self.text(rows["department"], 2, self.p.department, f["text"], rows["department"], split)
        self.text(rows["department"], split + 1, k.heading("implementer"), f["label"], rows["department"], split + 2)
        self.text(rows["department"], split + 3, self.p.implementer, f["text"], rows["department"], last)

    def write_funds(self):
        k, f, lay, p = self.kind, self.fmt, self.lay, self.p
        fc, header = lay.funds_col, lay.rows["funds_header"]
        first = min(fc.values())
        self.text(header, 0, k.heading("funds"), f["label"], lay.rows[f"funds.{k.fund_rows[-1]}"], 0)
        self.text(header, 1, "", f["label"], header, first - 1)
        for part, c in fc.items():
            self.text(header, c, k.heading("funds_reason" if part == "reason" else part), f["label"])
        for row_key in ("total",) + k.fund_rows:
            r = lay.rows[f"funds.{row_key}"]
            self.text(r, 1, k.heading(row_key), f["label"], r, first - 1)
            budget = p.funds.total if row_key == "total" else p.funds.rows[row_key]
            for part in ("initial", "annual"):  # a row without money prints blank, not 0
                self.input_number(lay.cell(f"funds.{row_key}.{part}"), getattr(budget, part) or None, f["amount"])
            if row_key == "total":
                continue
            key = f"funds.{row_key}.executed"
            cell = lay.cell(key)
            self.input_number(cell, self.inputs.get(key), f["in_amount"])
            self.validate(cell, "executed", {"validate": "decimal", "criteria": ">=", "value": 0},
                          row=k.label(row_key), annual=f"{budget.annual:g}")
            self.warn(cell, f"=AND(ISNUMBER({cell}),{cell}>{lay.cell(f'funds.{row_key}.annual')})")
            self.name(key)
            for part in ("weight", "rate", "score", "reason"):
                if part in fc:
                    self.text(r, fc[part], k.label("dash"), f["label"])
        cells = [lay.cell(f"funds.{r}.executed") for r in k.fund_rows]
        span = f"{cells[0]}:{cells[-1]}"
        total_exec = lay.cell("funds.total.executed")
        self.formula(total_exec, scoring.funds_executed_formula(span), self.result["funds.total.executed"],
                     f["amount"])
        self.check(self.ws.write_number(lay.cell("funds.weight"), p.funds.weight, f["number"]),
                   *xl_cell_to_rowcol(lay.cell("funds.weight")))
        rate = lay.cell("funds.rate")
        self.formula(rate, scoring.funds_rate_formula(span, total_exec, lay.cell("funds.total.annual")),
                     self.result["funds.rate"], f["rate"])
        self.formula(lay.cell("funds.score"), scoring.funds_score_formula(rate, lay.cell("funds.weight")),
                     self.result["funds.score"], f["score"])
        if "funds.reason" in lay.fields:
            self.text_input("funds.reason")
            below = k.spec["funds"]["reason_below"]
            cell = lay.cell("funds.reason")
            self.warn(cell, f"=AND(ISBLANK({cell}),{scoring.rate_below_formula(rate, below)})")

    def write_goal(self):
        k, f, p, rows = self.kind, self.fmt, self.p, self.lay.rows
        middle = (len(self.widths) - 1) // 2
        self.text(rows["goal_header"], 0, k.heading("goal"), f["label"], rows["goal"], 0)
        self.text(rows["goal_header"], 1, k.heading("expected"), f["label"], rows["goal_header"], middle)
        self.text(rows["goal_header"], middle + 1, k.heading("actual"), f["label"], rows["goal_header"], self.last)
        self.text(rows["goal"], 1, p.goal, f["text"], rows["goal"], middle)
        self.text_input("goal.actual", self.last, "goal_actual")

    def write_indicators(self):
        k, f, lay, p, col = self.kind, self.fmt, self.lay, self.p, self.lay.col
        header = lay.rows["indicator_header"]
        for key, c in col.items():
            if c:
                self.text(header, c, k.column_label(key), f["label"])
        overshoot = f"{lay.profile.overshoot:.0%}"
        limit = k.limit("reason")
        for i, (ind, rule) in enumerate(zip(p.indicators, lay.rules())):
            key, row = f"indicators.{i}", lay.row_of(i)
            self.auto_rows.add(row)  # single cells: every client fits the row to a typed 偏差原因
            self.text(row, col["name"], ind.name, f["text"])
            self.write_target(row, ind)
            x, w, s, why = (lay.cell(f"{key}.{part}") for part in ("actual", "weight", "score", "reason"))
            self.check(self.ws.write_number(w, ind.weight, f["number"]), *xl_cell_to_rowcol(w))
            actual_type = lay.fields[f"{key}.actual"].type
            values = dict(target=_clip(ind.target.text, 60), unit=ind.target.unit, weight=f"{ind.weight:g}")
            actual = self.inputs.get(f"{key}.actual")
            if actual_type == "tier":
                self.text(row, col["actual"], actual if isinstance(actual, str) else "", f["in_text"])
                self.validate(x, "tier", {"validate": "list", "source": [t for t, _, _ in TIERS]}, **values)
            else:
                self.input_number(x, actual, f["in_percent"] if actual_type != "number" else f["in_number"])
                if actual_type == "qualitative":
                    self.validate(x, "qualitative", {"validate": "decimal", "criteria": "between",
                                                      "minimum": 0, "maximum": 1}, **values)
                else:
                    self.validate(x, actual_type, {"validate": "decimal", "criteria": ">=", "value": 0}, **values)
            self.name(f"{key}.actual")
            if rule.manual:
                self.input_number(s, self.inputs.get(f"{key}.score"), f["in_score"])
                if actual_type == "tier":
                    bands = {name: f"{low * ind.weight:g}–{high * ind.weight:g}" for name, low, high in TIERS}
                    tiers = dict(zip(("high", "middle", "low"), bands.values()))
                    self.validate(s, "tier_score", {"validate": "custom",
                                                    "value": "=" + rule.validation_formula(x, w, s)},
                                  weight=f"{ind.weight:g}", **tiers)
                    self.warn(s, f"=AND(ISNUMBER({s}),NOT({rule.validation_formula(x, w, s)}))")
                else:
                    self.validate(s, "manual", {"validate": "decimal", "criteria": "between",
                                                 "minimum": 0, "maximum": ind.weight}, **values)
                self.name(f"{key}.score")
            else:
                self.formula(s, rule.formula(x, w), self.result[f"{key}.score"], f["score"])
            self.text(row, col["reason"], self.inputs.get(f"{key}.reason") or "", f["in_text"])
            self.validate(why, "reason", {"validate": "length", "criteria": "<=", "value": limit},
                          limit=limit, overshoot=overshoot)
            self.warn(why, "=" + rule.reason_formula(x, w, s, why))
            self.name(f"{key}.reason")
            for c in k.extra_inputs:
                self.write_extra(f"{key}.{c.key}", c)

    def write_levels(self) -> measure.Plan:
        """The merged 一级/二级 labels, drawn once the rows are known: page breaks fall between 二级 groups,
        and a group split over two pages has its labels again on the second."""
        lay, col, f = self.lay, self.lay.col, self.fmt
        for level in ("level1", "level2"):  # a one-row group is a plain wrapped cell: its row must hold it
            for first, last, text in lay.groups(level):
                if first == last:
                    self.fit(first, text, self.widths[col[level]])
        end = lay.rows["end"]
        heights = [self.heights.get(r, measure.height(1, self.kind.spec["fonts"]["size"])) for r in range(end)]
        plan = measure.plan_pages(heights, lay.rows["first_indicator"],
                                  [(a, b) for a, b, _ in lay.groups("level2")],
                                  heights[lay.rows["indicator_header"]])
        cuts = set(plan.breaks)
        header, last_row = lay.rows["indicator_header"], lay.rows["first_indicator"] + len(self.p.indicators) - 1
        starts = [header] + [r for r in sorted(cuts) if header < r <= last_row]
        for a, b in zip(starts, starts[1:] + [last_row + 1]):  # 绩效指标, on every page the table reaches
            self.text(a, 0, self.kind.heading("indicators"), f["label"], b - 1, 0)
        for level in ("level1", "level2"):
            for first, last, text in lay.groups(level):
                starts = [first] + [r for r in sorted(cuts) if first < r <= last]
                for a, b in zip(starts, starts[1:] + [last + 1]):
                    self.text(a, col[level], text, f["label"], b - 1, col[level])
        return plan

    def write_target(self, row, ind):
        """年度指标值 as one cell, or split into 指标性质 | 指标值 | 度量单位 where the kind has those columns."""
        f, col, t = self.fmt, self.lay.col, ind.target
        if "target" in col:
            self.text(row, col["target"], t.text, f["label"])
        if "nature" in col:
            self.text(row, col["nature"], self.kind.label("qualitative_nature") if t.qualitative else
                      {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "="}[t.op], f["label"])
        if "target_value" in col:
            shown = t.text if t.qualitative else f"{t.value * 100 if t.percent else t.value:.15g}" + \
                ("%" if t.percent else "")
            self.text(row, col["target_value"], shown, f["label"])
        if "unit" in col:
            self.text(row, col["unit"], t.unit, f["label"])

    def write_extra(self, key: str, column):
        fld = self.lay.fields[key]
        if column.input == "text":
            row, c = xl_cell_to_rowcol(fld.cell)
            self.text(row, c, self.inputs.get(key) or "", self.fmt["in_text"])
            self.validate(fld.cell, "text", {"validate": "length", "criteria": "<=", "value": fld.limit},
                          label=fld.label, limit=fld.limit)
        else:
            self.input_number(fld.cell, self.inputs.get(key), self.fmt["in_number"])
            self.validate(fld.cell, "extra_number", {"validate": "decimal", "criteria": ">=", "value": 0},
                          label=fld.label)
        self.name(key)

    def write_total(self):
        k, f, lay, p, col = self.kind, self.fmt, self.lay, self.p, self.lay.col
        row = lay.rows["total"]
        self.text(row, 0, k.heading("total_score"), f["label"], row, col["weight"] - 1)
        n = len(p.indicators)
        scores = f"{lay.cell('indicators.0.score')}:{lay.cell(f'indicators.{n - 1}.score')}"
        self.check(self.ws.write_number(lay.cell("total_weight"), p.funds.weight + sum(i.weight for i in p.indicators),
                                        f["number"]), *xl_cell_to_rowcol(lay.cell("total_weight")))
        total = lay.cell("total_score")
        self.formula(total, scoring.total_formula(f"{lay.cell('funds.score')},{scores}", lay.cell("funds.rate"),
                                                  lay.profile), self.result["total_score"], f["score"])
        if col["score"] < self.last:
            grade_col = col["score"] + 1
            if "grade" in lay.fields:
                if grade_col < self.last:
                    self.check(self.ws.merge_range(row, grade_col, row, self.last, "", f["grade"]), row, grade_col)
                self.formula(lay.cell("grade"), scoring.grade_formula(total, f"{lay.cell('funds.score')},{scores}",
                                                                      lay.profile),
                             self.result["grade"], f["grade"])
            else:
                self.text(row, grade_col, "", f["label"], row, self.last)

    def write_text_rows(self):
        k, f = self.kind, self.fmt
        for key in k.spec["text_rows"]["keys"]:
            row = self.lay.rows[f"text.{key}"]
            self.text(row, 0, k.heading(key), f["label"], row, 1)
            self.text_input(key, self.last)
            self.heights[row] = max(self.heights.get(row, 0), 3 * k.spec["fonts"]["size"] * 1.4 + 5)

    def write_signatures(self):
        k, f, row = self.kind, self.fmt, self.lay.rows["signatures"]
        split = self.lay.split()
        for key, (label_col, value_col, end) in zip(k.spec["signatures"], ((0, 2, split), (split + 1, split + 3,
                                                                                          self.last))):
            self.text(row, label_col, k.heading(key), f["label"], row, value_col - 1)
            self.text_input(key, end)

    # -- the 绩效目标申报表 (form kind declaration) ----------------------------------------------
    def write_attributes(self):
        k, f, row = self.kind, self.fmt, self.lay.rows["attributes"]
        self.text(row, 0, k.heading("attribute"), f["label"], row, 1)
        cell = self.lay.cell("attribute")
        self.text(row, 2, self.inputs.get("attribute") or "", f["in_text"], row, self.last)
        self.validate(cell, "attribute", {"validate": "list", "source": list(k.spec["attributes"])})
        self.name("attribute")

    def write_declared_funds(self):
        k, f, lay = self.kind, self.fmt, self.lay
        header, col = lay.rows["funds_header"], lay.col["target"]
        self.text(header, 0, k.heading("funds"), f["label"], lay.rows[f"funds.{k.fund_rows[-1]}"], 0)
        self.text(header, 1, "", f["label"], header, col - 1)
        self.text(header, col, k.heading("initial"), f["label"])
        self.text(header, col + 1, "", f["label"], header, self.last)
        for row_key in ("total",) + k.fund_rows:
            r = lay.rows[f"funds.{row_key}"]
            self.text(r, 1, k.heading(row_key), f["label"], r, col - 1)
            budget = self.p.funds.total if row_key == "total" else self.p.funds.rows[row_key]
            cell = lay.cell(f"funds.{row_key}.initial")
            self.check(self.ws.write_number(cell, budget.initial, f["amount"]), *xl_cell_to_rowcol(cell))
            self.text(r, col + 1, "", f["label"], r, self.last)

    def write_declared_goal(self):
        k, f, row = self.kind, self.fmt, self.lay.rows["goal"]
        self.text(row, 0, k.heading("goal"), f["label"])
        if self.lay.fields["goal.expected"].role == "fixed":
            self.text(row, 1, self.p.goal, f["text"], row, self.last)
        else:
            self.text_input("goal.expected", self.last, "goal")
        self.heights[row] = max(self.heights.get(row, 0), 4 * k.spec["fonts"]["size"] * 1.4 + 5)

    def write_declared_indicators(self):
        k, f, lay, col = self.kind, self.fmt, self.lay, self.lay.col
        header, first = lay.rows["indicator_header"], lay.rows["first_indicator"]
        rate_row, total_row = lay.rows["rate_row"], lay.rows["weight_total"]
        self.text(header, 0, k.heading("indicators"), f["label"], total_row, 0)
        for key in ("level1", "level2", "name", "target", "weight", "remark"):
            self.text(header, col[key], k.heading(key), f["label"])
        for level, part in (("level1", 0), ("level2", 1)):
            runs: list[list] = []
            for n, row in enumerate(lay.declared):
                group = row[:part + 1]
                if runs and runs[-1][0] == group:
                    runs[-1][2] = first + n
                else:
                    runs.append([group, first + n, first + n])
            for group, a, b in runs:
                self.text(a, col[level], group[-1], f["label"], b, col[level])
        split = {key: f"{v:g}" for key, v in lay.profile.weights.items()}
        shares = dict(output=split.get("产出指标", ""), benefit=split.get("效益指标", ""),
                      satisfaction=split.get("满意度指标", ""), funds=split.get("funds", ""))
        for n, (level1, level2, ind) in enumerate(lay.declared):
            key, row = f"declared.{n}", first + n
            if ind is not None:
                self.text(row, col["name"], ind.name, f["text"])
                self.text(row, col["target"], ind.target.text, f["label"])
                self.check(self.ws.write_number(row, col["weight"], ind.weight, f["number"]), row, col["weight"])
            else:
                # a text cell: =100% typed as a 指标值 stays text in Excel
                literal = f.setdefault("in_literal", self.wb.add_format(
                    {"font_name": k.spec["fonts"]["body"], "font_size": k.spec["fonts"]["size"], "valign": "vcenter",
                     "text_wrap": True, "border": 1, "locked": False, "bg_color": "#FFF9E0", "num_format": "@"}))
                for part in ("name", "target"):
                    fld = lay.fields[f"{key}.{part}"]
                    self.text(row, col[part], self.inputs.get(f"{key}.{part}") or "",
                              literal if part == "target" else f["in_text"])
                    self.validate(fld.cell, part, {"validate": "length", "criteria": "<=", "value": fld.limit},
                                  limit=fld.limit, level1=level1, level2=level2)
                    self.name(f"{key}.{part}")
                cell = lay.cell(f"{key}.weight")
                self.input_number(cell, self.inputs.get(f"{key}.weight"), f["in_number"])
                self.validate(cell, "weight", {"validate": "decimal", "criteria": ">", "value": 0}, **shares)
                self.name(f"{key}.weight")
            self.write_extra(f"{key}.remark", k.extra_inputs[0])
        self.text(rate_row, 1, k.heading("rate_row"), f["label"], rate_row, col["weight"] - 1)
        self.check(self.ws.write_number(lay.cell("funds.weight"), self.p.funds.weight, f["number"]),
                   *xl_cell_to_rowcol(lay.cell("funds.weight")))
        self.text(rate_row, col["weight"] + 1, "", f["label"], rate_row, self.last)
        self.text(total_row, 1, k.label("weight_total"), f["label"], total_row, col["weight"] - 1)
        weights = [ind.weight for _, _, ind in lay.declared if ind is not None] + \
            [self.inputs.get(f"declared.{n}.weight") for n, (_, _, ind) in enumerate(lay.declared) if ind is None]
        span = f"{lay.cell('funds.weight')}" + (f",{lay.cell('declared.0.weight')}:"
                                                f"{lay.cell(f'declared.{len(lay.declared) - 1}.weight')}"
                                                if lay.declared else "")
        total = self.p.funds.weight + sum(w for w in weights if isinstance(w, (int, float)))
        self.formula(lay.cell("declared.total"), f"SUM({span})", total, f["number"])
        self.text(total_row, col["weight"] + 1, "", f["label"], total_row, self.last)


def _formats(wb: _Workbook, kind: FormKind) -> dict:
    """One set of formats per workbook (xlsxwriter formats belong to their workbook)."""
    cache = getattr(wb, "_xlform_formats", None)
    if cache is not None:
        return cache
    fonts = kind.spec["fonts"]
    base = {"font_name": fonts["body"], "font_size": fonts["size"], "valign": "vcenter", "text_wrap": True,
            "border": 1}
    unlocked = {"locked": False, "bg_color": "#FFF9E0"}

    def add(**props):
        return wb.add_format({**base, **props})

    cache = {
        "title": wb.add_format({"font_name": fonts["title"], "font_size": fonts["title_size"], "bold": True,
                                "align": "center", "valign": "vcenter"}),
        "subtitle": wb.add_format({"font_name": fonts["body"], "font_size": fonts["size"] + 1,
                                   "align": "center", "valign": "vcenter"}),
        "label": add(align="center"),
        "text": add(align="left"),
        "amount": add(align="right", num_format="General"),   # amounts as typed: 105, 57.5, 89.974
        "number": add(align="center", num_format="General"),
        "rate": add(align="center", num_format="0.00%"),
        "score": add(align="center", num_format="0.00"),
        "in_amount": add(align="right", num_format="General", **unlocked),
        "in_number": add(align="center", num_format="General", **unlocked),
        "in_percent": add(align="center", num_format="0.00%", **unlocked),
        "in_score": add(align="center", num_format="0.00", **unlocked),
        "in_text": add(align="left", valign="top", **unlocked),   # typed text starts at the top, as on paper
        "warn": wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
        "grade": add(align="center", num_format=f'"{kind.label("grade")}："@'),
    }
    wb._xlform_formats = cache
    return cache


def _header(text: str) -> str:
    """A page header or footer within Excel's 255 characters; a cut never leaves half of an "&&"."""
    clipped = _clip(text, 255)
    return clipped if clipped == text else clipped[:-1].rstrip("&") + "…"


def _clip(text: str, limit: int) -> str:
    """Shorten to xlsxwriter's limits (counted in UTF-16 units), marking the cut."""
    if len(text.encode("utf-16-le")) // 2 <= limit:
        return text
    while len((text + "…").encode("utf-16-le")) // 2 > limit:
        text = text[:-1]
    return text + "…"


_REFUSALS = {-1: "outside the sheet's rows and columns", -2: "longer than Excel allows: a cell holds 32,767 "
             "characters", -3: "not in the form Excel needs"}
