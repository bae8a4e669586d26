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
        sheet = SheetWriter(wb, spec, password)
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
    SheetWriter(wb, spec, None).write()
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


class SheetWriter:
    """The pen a form's sections draw with (kinds/sections.py): one project sheet of a workbook."""

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
        self.plan = measure.Plan([], {})        # page breaks: a section that plans pages sets them (finish)
        self.repeat_row: int | tuple | None = None   # the row (first, last) printed atop every page: a section's
        self.landscape = False                  # printed across the page: a wide form's section sets it
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

    def text_input(self, key: str, prompt: str = "text"):
        """An unlocked text cell (merged over its span), limited in length, named."""
        f = self.lay.fields[key]
        row, col = xl_cell_to_rowcol(f.cell)
        last_col = col if f.last < 0 else f.last
        self.text(row, col, self.inputs.get(key) or "", self.fmt["in_text"], row, last_col)
        if last_col != col:  # room to write in by hand, kept until something is typed in the row
            self.fit(row, "", sum(self.widths[col:last_col + 1]), at_least=self.kind.spec.get("reserve_lines", 3))
            # no customHeight: LibreOffice grows a row to a text typed in a cell merged across it (never down
            # over rows); Excel does not fit merged cells, the filler resizes there
            self.auto_rows.add(row)
        self.validate(f.cell, prompt, {"validate": "length", "criteria": "<=", "value": f.limit},
                      label=f.label, limit=f.limit)
        self.name(key)

    def extra_input(self, key: str, input_type: str):
        """A kind's own input column (form.yaml `input: text|number`) in one row."""
        fld = self.lay.fields[key]
        if input_type == "text":
            row, c = xl_cell_to_rowcol(fld.cell)
            self.text(row, c, self.inputs.get(key) or "", self.fmt["in_text"])
            self.validate(fld.cell, "text", {"validate": "length", "criteria": "<=", "value": fld.limit},
                          label=fld.label, limit=fld.limit)
        else:
            self.input_number(fld.cell, self.inputs.get(key), self.fmt["in_number"])
            self.validate(fld.cell, "extra_number", {"validate": "decimal", "criteria": ">=", "value": 0},
                          label=fld.label)
        self.name(key)

    def input_number(self, cell, value, fmt):
        """A number where there is one, else a blank cell in that format."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.number(cell, value, fmt)
        else:
            self.check(self.ws.write_blank(cell, None, fmt), *xl_cell_to_rowcol(cell))

    def number(self, cell: str, value, fmt):
        self.check(self.ws.write_number(cell, value, fmt), *xl_cell_to_rowcol(cell))

    def merge(self, first_row, first_col, last_row, last_col, fmt):
        self.check(self.ws.merge_range(first_row, first_col, last_row, last_col, "", fmt), first_row, first_col)

    def format(self, name: str, **props):
        """A format of the workbook's body font made once, on first use (a kind's own look)."""
        found = self.fmt.get(name)
        if found is None:
            fonts = self.kind.spec["fonts"]
            found = self.fmt[name] = self.wb.add_format({"font_name": fonts["body"], "font_size": fonts["size"],
                                                         **props})
        return found

    clip = staticmethod(lambda text, limit: _clip(text, limit))
    line_height = staticmethod(measure.height)
    plan_pages = staticmethod(measure.plan_pages)

    # -- the form ------------------------------------------------------------
    def write(self):
        ws, k = self.ws, self.kind
        for c, w in enumerate(self.widths):
            ws.set_column(c, c, w)
        self.values = dict(year=self.p.year, id=self.p.id, version=self.spec.version, department=self.p.department,
                           project=self.p.project, **self.p.extra)
        for section in self.lay.sections:
            section.draw(self)
        for section in self.lay.sections:
            section.finish(self)
        for row, height in self.heights.items():
            ws.set_row(row, height)
        ws.fit_rows_to_input(self.auto_rows)
        ws.set_paper(9)  # A4
        ws.set_landscape() if self.landscape else ws.set_portrait()
        ws.fit_to_pages(1, 0)
        if self.repeat_row is not None:  # a section's header row(s) atop every page; the page header names the project
            ws.repeat_rows(*(self.repeat_row if isinstance(self.repeat_row, tuple) else (self.repeat_row,)))
        if self.plan.breaks:
            ws.set_h_pagebreaks(self.plan.breaks)
        ws.center_horizontally()
        ws.set_margins(**measure.MARGINS)
        ws.print_black_and_white()  # the input highlights are for the screen
        # in a header "&" starts a code (&D the date, &F the file): a definition's "R&D" is written "R&&D"
        literal = {key: v.replace("&", "&&") if isinstance(v, str) else v for key, v in self.values.items()}
        ws.set_header(_header(k.text("header", **literal)))
        ws.set_footer(_header(k.text("footer", **literal)))
        # the cursor goes from input to input (Tab, clicks): the on-screen cue of where to type, which no
        # printer prints (LibreOffice prints every fill, whatever the sheet's black-and-white setting)
        ws.protect(self.password or "", {"select_locked_cells": False, "select_unlocked_cells": True,
                                         "format_rows": True})  # the filler may resize rows


def _formats(wb: _Workbook, kind: FormKind) -> dict:
    """One set of formats per workbook (xlsxwriter formats belong to their workbook)."""
    cache = getattr(wb, "_xlform_formats", None)
    if cache is not None:
        return cache
    fonts = kind.spec["fonts"]
    base = {"font_name": fonts["body"], "font_size": fonts["size"], "valign": "vcenter", "text_wrap": True,
            "border": 1}
    unlocked = {"locked": False}   # no fill: LibreOffice would print it

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
