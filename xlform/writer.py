"""Layout -> .xlsx with xlsxwriter: the form, its formulas with cached values, validation, protection,
defined names and the hidden metadata sheet."""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

import xlsxwriter
from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

from . import __version__, scoring
from .definition import FUND_ROWS, Project
from .errors import XlformError
from .evaluate import Inputs, evaluate, rules
from .forms import FormKind
from .layout import (DEPARTMENT, FUND_COL, FUND_ROW, FUNDS_HEADER, GOAL, GOAL_HEADER,
                     IND_COL, INDICATOR_HEADER, LAST_COL, NAME, SUBTITLE, TITLE, Layout, layout)
from .metadata import META_SHEET, meta_rows


@dataclass
class SheetSpec:
    project: Project
    kind: FormKind
    version: int
    sheet: str
    inputs: Inputs | None = None   # values to carry into the input cells (migration); None: blank


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
    wb = _Workbook(target, {"strings_to_numbers": False, "strings_to_formulas": False,
                            "strings_to_urls": False, "in_memory": True})
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
            meta.write_string(r, c, value)
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

    def add_worksheet(self, name=None):
        return self.sheet

    def __getattr__(self, name):
        return lambda *a, **k: 0


def text_width(text: str) -> float:
    """Display width in column units: a CJK character is about two digits wide."""
    return sum(1.9 if unicodedata.east_asian_width(ch) in "WF" else 1.0 for ch in text)


class _SheetWriter:
    def __init__(self, wb: _Workbook, spec: SheetSpec, password: str | None):
        self.wb, self.spec, self.password = wb, spec, password
        self.p, self.kind = spec.project, spec.kind
        self.lay: Layout = layout(spec.project)
        self.ws = wb.add_worksheet(spec.sheet)
        self.fmt = _formats(wb, spec.kind)
        self.widths = [float(spec.kind.spec["columns"][chr(65 + c)]) for c in range(LAST_COL + 1)]
        self.heights: dict[int, float] = {}
        # what the inputs (blank for an issued form) give: the cached values of every formula
        self.inputs = spec.inputs or Inputs.blank(spec.project)
        self.result = evaluate(spec.project, self.inputs, spec.kind.preset)

    # -- helpers -------------------------------------------------------------
    def text(self, row, col, value, fmt, last_row=None, last_col=None):
        """Write text as text (never a formula) and grow the row for it where it wraps."""
        last_row, last_col = last_row if last_row is not None else row, last_col if last_col is not None else col
        value = "" if value is None else str(value)
        if (last_row, last_col) != (row, col):
            _check(self.ws.merge_range(row, col, last_row, last_col, "", fmt))
        _check(self.ws.write_string(row, col, value, fmt) if value else self.ws.write_blank(row, col, None, fmt))
        if last_row == row:
            self.fit(row, value, sum(self.widths[col:last_col + 1]))

    def fit(self, row, value: str, width: float):
        lines = max(1, math.ceil(text_width(value) / max(width - 0.8, 1)))
        size = self.kind.spec["fonts"]["size"]
        self.heights[row] = max(self.heights.get(row, 0), lines * (size * 1.4) + 5)

    def formula(self, cell: str, text: str, value, fmt):
        _check(self.ws.write_formula(cell, "=" + text, fmt, "" if value is None else value))

    def validate(self, cell: str, kind: str, options: dict, **values):
        prompts = {"input_title": self.kind.prompt(kind, "title", **values),
                   "input_message": self.kind.prompt(kind, "message", **values),
                   "error_title": self.kind.prompt(kind, "error_title"),
                   "error_message": self.kind.prompt(kind, "error", **values)}
        for k, limit in (("input_title", 32), ("error_title", 32), ("input_message", 255), ("error_message", 255)):
            prompts[k] = _clip(prompts[k], limit)
        _check(self.ws.data_validation(cell, {**options, **prompts, "error_type": "stop"}))

    def name(self, key: str):
        f = self.lay.fields[key]
        row, col = xl_cell_to_rowcol(f.cell)
        sheet = self.spec.sheet.replace("'", "''")
        _check(self.wb.define_name(f"'{sheet}'!{f.name}", f"='{sheet}'!{xl_rowcol_to_cell(row, col, True, True)}"))

    # -- the form ------------------------------------------------------------
    def write(self):
        ws, k, f = self.ws, self.kind, self.fmt
        for c, w in enumerate(self.widths):
            ws.set_column(c, c, w)
        values = dict(year=self.p.year, id=self.p.id, version=self.spec.version, department=self.p.department)
        self.text(TITLE, 0, k.text("title", **values), f["title"], TITLE, LAST_COL)
        self.text(SUBTITLE, 0, k.text("subtitle", **values), f["subtitle"], SUBTITLE, LAST_COL)
        self.heights[TITLE] = k.spec["fonts"]["title_size"] * 1.8
        self.text(NAME, 0, k.label("project"), f["label"], NAME, 1)
        self.text(NAME, 2, self.p.project, f["text"], NAME, LAST_COL)
        self.text(DEPARTMENT, 0, k.label("department"), f["label"], DEPARTMENT, 1)
        self.text(DEPARTMENT, 2, self.p.department, f["text"], DEPARTMENT, 4)
        self.text(DEPARTMENT, 5, k.label("implementer"), f["label"], DEPARTMENT, 6)
        self.text(DEPARTMENT, 7, self.p.implementer, f["text"], DEPARTMENT, LAST_COL)
        self.write_funds()
        self.write_goal()
        self.write_indicators()
        for row, height in self.heights.items():
            ws.set_row(row, height)
        ws.set_paper(9)  # A4
        ws.set_portrait()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(TITLE, SUBTITLE)
        ws.center_horizontally()
        ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.7)
        ws.set_footer(_clip(k.text("footer", **values), 255))
        ws.protect(self.password or "", {"select_locked_cells": True, "select_unlocked_cells": True})

    def write_funds(self):
        k, f, lay, p = self.kind, self.fmt, self.lay, self.p
        inputs, result = self.inputs, self.result
        self.text(FUNDS_HEADER, 0, k.label("funds"), f["label"], FUND_ROW["other"], 0)
        self.text(FUNDS_HEADER, 1, "", f["label"], FUNDS_HEADER, 2)
        for part in ("initial", "annual", "executed", "weight", "rate", "score"):
            self.text(FUNDS_HEADER, FUND_COL[part], k.label(part), f["label"])
        for row_key in ("total",) + FUND_ROWS:
            r = FUND_ROW[row_key]
            self.text(r, 1, k.label(row_key), f["label"], r, 2)
            budget = p.funds.total if row_key == "total" else p.funds.rows[row_key]
            self.ws.write_number(lay.cell(f"funds.{row_key}.initial"), budget.initial, f["amount"])
            self.ws.write_number(lay.cell(f"funds.{row_key}.annual"), budget.annual, f["amount"])
            if row_key != "total":
                cell = lay.cell(f"funds.{row_key}.executed")
                self.input_number(cell, inputs.executed.get(row_key), f["in_amount"])
                self.validate(cell, "executed", {"validate": "decimal", "criteria": ">=", "value": 0},
                              row=k.label(row_key), annual=f"{budget.annual:g}")
                self.ws.conditional_format(cell, {"type": "formula", "format": f["warn"],
                                                  "criteria": f"=AND(ISNUMBER({cell}),{cell}>"
                                                              f"{lay.cell(f'funds.{row_key}.annual')})"})
                self.name(f"funds.{row_key}.executed")
                for part in ("weight", "rate", "score"):
                    self.text(r, FUND_COL[part], k.label("dash"), f["label"])
        cells = [lay.cell(f"funds.{r}.executed") for r in FUND_ROWS]
        span = f"{cells[0]}:{cells[-1]}"
        total_exec = lay.cell("funds.total.executed")
        self.formula(total_exec, f"SUM({span})", result.executed_total, f["amount"])
        self.ws.write_number(lay.cell("funds.weight"), p.funds.weight, f["number"])
        rate = lay.cell("funds.rate")
        self.formula(rate, scoring.funds_rate_formula(span, total_exec, lay.cell("funds.total.annual")),
                     result.rate, f["rate"])
        self.formula(lay.cell("funds.score"), scoring.funds_score_formula(rate, lay.cell("funds.weight")),
                     result.funds_score, f["score"])

    def write_goal(self):
        k, f, p = self.kind, self.fmt, self.p
        inputs = self.inputs
        self.text(GOAL_HEADER, 0, k.label("goal"), f["label"], GOAL, 0)
        self.text(GOAL_HEADER, 1, k.label("expected"), f["label"], GOAL_HEADER, 4)
        self.text(GOAL_HEADER, 5, k.label("actual"), f["label"], GOAL_HEADER, LAST_COL)
        self.text(GOAL, 1, p.goal, f["text"], GOAL, 4)
        self.text(GOAL, 5, inputs.goal_actual or "", f["in_text"], GOAL, LAST_COL)
        cell = self.lay.cell("goal.actual")
        limit = k.spec["limits"]["goal_actual"]
        self.validate(cell, "goal_actual", {"validate": "length", "criteria": "<=", "value": limit}, limit=limit)
        self.name("goal.actual")

    def write_indicators(self):
        k, f, lay, p = self.kind, self.fmt, self.lay, self.p
        inputs, result = self.inputs, self.result
        total_row = lay.total_row
        self.text(INDICATOR_HEADER, 0, k.label("indicators"), f["label"], total_row - 1, 0)
        for part, label in (("level1", "level1"), ("level2", "level2"), ("name", "name"), ("target", "target"),
                            ("actual", "actual_value"), ("weight", "weight"), ("score", "score"),
                            ("reason", "reason")):
            self.text(INDICATOR_HEADER, IND_COL[part], k.label(label), f["label"])
        for level in ("level1", "level2"):
            for first, last, text in lay.groups(level):
                self.text(first, IND_COL[level], text, f["label"], last, IND_COL[level])
        overshoot = f"{k.preset.overshoot:.0%}"
        limit = k.spec["limits"]["reason"]
        for i, (ind, rule) in enumerate(zip(p.indicators, rules(p, k.preset))):
            key, row = f"indicators.{i}", lay.row_of(i)
            self.text(row, IND_COL["name"], ind.name, f["text"])
            self.text(row, IND_COL["target"], ind.target.text, f["label"])
            x, w, s, why = (lay.cell(f"{key}.{part}") for part in ("actual", "weight", "score", "reason"))
            self.ws.write_number(w, ind.weight, f["number"])
            kind = lay.fields[f"{key}.actual"].kind
            self.input_number(x, inputs.actual[i], f["in_percent"] if kind != "number" else f["in_number"])
            values = dict(target=_clip(ind.target.text, 60), unit=ind.target.unit, weight=f"{ind.weight:g}")
            if kind == "qualitative":
                self.validate(x, "qualitative", {"validate": "decimal", "criteria": "between",
                                                  "minimum": 0, "maximum": 1}, **values)
            else:
                self.validate(x, kind, {"validate": "decimal", "criteria": ">=", "value": 0}, **values)
            self.name(f"{key}.actual")
            if rule.manual:
                self.input_number(s, inputs.manual_score[i], f["in_score"])
                self.validate(s, "manual", {"validate": "decimal", "criteria": "between",
                                             "minimum": 0, "maximum": ind.weight}, **values)
                self.name(f"{key}.score")
            else:
                self.formula(s, rule.formula(x, w), result.scores[i], f["score"])
            self.text(row, IND_COL["reason"], inputs.reason[i] or "", f["in_text"])
            self.validate(why, "reason", {"validate": "length", "criteria": "<=", "value": limit},
                          limit=limit, overshoot=overshoot)
            self.ws.conditional_format(why, {"type": "formula", "format": f["warn"],
                                             "criteria": "=" + rule.reason_formula(x, w, s, why)})
            self.name(f"{key}.reason")
        self.text(total_row, 0, k.label("total_score"), f["label"], total_row, IND_COL["weight"] - 1)
        scores = f"{lay.cell('indicators.0.score')}:{lay.cell(f'indicators.{len(p.indicators) - 1}.score')}"
        self.ws.write_number(lay.cell("total_weight"), p.funds.weight + sum(i.weight for i in p.indicators),
                             f["number"])
        self.formula(lay.cell("total_score"), scoring.total_formula(f"{lay.cell('funds.score')},{scores}"),
                     result.total, f["score"])
        self.text(total_row, IND_COL["reason"], "", f["label"])

    def input_number(self, cell, value, fmt):
        if value is None:
            _check(self.ws.write_blank(cell, None, fmt))
        else:
            _check(self.ws.write_number(cell, value, fmt))


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
        "amount": add(align="right", num_format="#,##0.00"),
        "number": add(align="center", num_format="General"),
        "rate": add(align="center", num_format="0.00%"),
        "score": add(align="center", num_format="0.00"),
        "in_amount": add(align="right", num_format="#,##0.00", **unlocked),
        "in_number": add(align="center", num_format="General", **unlocked),
        "in_percent": add(align="center", num_format="0.00%", **unlocked),
        "in_score": add(align="center", num_format="0.00", **unlocked),
        "in_text": add(align="left", **unlocked),
        "warn": wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
    }
    wb._xlform_formats = cache
    return cache


def _clip(text: str, limit: int) -> str:
    """Shorten to xlsxwriter's limits (counted in UTF-16 units), marking the cut."""
    if len(text.encode("utf-16-le")) // 2 <= limit:
        return text
    while len((text + "…").encode("utf-16-le")) // 2 > limit:
        text = text[:-1]
    return text + "…"


def _check(code):
    """xlsxwriter reports bad input with a negative return code instead of raising."""
    if isinstance(code, int) and code < 0:
        raise XlformError(f"xlsxwriter refused a write (code {code}); this is a bug in xlform")
    return code
