"""One project sheet of a return, checked against its issued template: the locked cells and formulas as
issued, the display, the inputs read and every score recomputed by the rules."""
from __future__ import annotations

import functools
import math
import re
from typing import TYPE_CHECKING, NamedTuple

from .. import jsontext
from ..definition.definition import Project
from ..form.evaluate import Inputs, evaluate_form
from ..form.layout import KeptLayout, from_kept, kept_layout, layout
from ..form.layout import ref as cell_ref
from ..kinds.forms import FormKind
from ..caching import VersionCache
from ..messages import problem
from ..scoring.scoring import TIERS
from ..scoring.target import LARGEST
from ..storage.record import Record
from ..xlsx.metadata import META_SHEET, same_cells
from ..xlsx.reader import EMPTY, Cell, Sheet
from .values import NotANumber, TooLarge, read_number, read_text

if TYPE_CHECKING:
    from ..issue.registry import IssuedMap


_REF = re.compile(r"^([A-Z]+)(\d+)$")
MAX_LISTED = 10  # changed locked cells listed one by one; past that, one problem sums them up


def _row_col(ref: str) -> tuple[int, str]:
    m = _REF.match(ref)
    return int(m.group(2)), m.group(1).rjust(3)


_LAYOUTS: dict[tuple, object] = {}


def _layout(project: Project, kind: FormKind):
    """Layouts by definition and kind (registries of 0.1 and 0.2: placed by today's code)."""
    key = (project.hash, kind.fingerprint)
    found = _LAYOUTS.get(key)   # kept in a local: another thread of the desk may clear the cache meanwhile
    if found is None:
        if len(_LAYOUTS) > 64:
            _LAYOUTS.clear()
        found = _LAYOUTS[key] = layout(project, kind)
    return found


class _Placed(NamedTuple):
    """What the checks ask of a layout alone: the same for every version laid out alike."""
    inputs: frozenset     # input cells
    grade: frozenset      # 评价等级's cell: text, labelled by its format (a formula's value need not show)
    dates: frozenset      # date inputs
    formulas: list        # (key, field) of the formula fields


def _placed(lay) -> _Placed:
    inputs = frozenset(f.cell for f in lay.inputs().values())
    return _Placed(inputs, frozenset({lay.fields["grade"].cell} if "grade" in lay.fields else ()),
                   frozenset(f.cell for f in lay.inputs().values() if f.type == "date"),
                   [(key, f) for key, f in lay.fields.items() if f.role == "formula"])


class _Version(NamedTuple):
    """A version as the reader checks its returns: its layout, what the checks ask of the layout, and its
    locked cells as issued ({ref: (value, formula)}, inputs included: the checks skip them, so that a version
    met once costs no more than the parse of its JSON); with the very project and kind objects it was made of
    (kept, so that their ids in its key stand for them)."""
    lay: object
    placed: _Placed
    expected: dict
    project: Project
    kind: FormKind


_VERSIONS = VersionCache()   # of the registry's kept maps
_COMPUTED = VersionCache()   # of versions a registry of 0.1 or 0.2 keeps no map of
# layout key -> the layout parsed, and what the checks ask of it once placed (for the versions sharing it)
_KEPT: dict[str, tuple[KeptLayout | None, _Placed | None]] = {}


def _as_issued(project: Project, kind: FormKind, issued: IssuedMap) -> _Version:
    """The layout and locked cells of a version as the registry kept them at render time (registry.issued_map):
    no placement code, no writer run, once per version, and its layout parsed once for every version laid out
    alike. Keyed by the locked cells' text itself (two registries may keep one version's hash laid out by
    different xlform releases; a str hashes once) and by the very project and kind objects the registry made of
    the version: nothing is serialised or hashed again for a version met before."""
    key = (issued.expected, issued.layout_key, id(project), id(kind))
    found = _VERSIONS.get(key)
    if found is None:
        core, placed = _KEPT.get(issued.layout_key) or (None, None)
        data = None
        if core is None:   # not met yet, or kept before fields named their section: its JSON read and parsed once
            data = jsontext.loads(issued.layout_json)
            core = kept_layout(data)
        lay = from_kept(project, kind, core or data)
        if placed is None:
            placed = _placed(lay)
            if len(_KEPT) > 256:
                _KEPT.clear()
            # (a layout kept before fields named their section is read and placed per version: only that it is
            # one is kept)
            _KEPT[issued.layout_key] = (core, placed if core is not None else None)
        found = _VERSIONS.put(key, _Version(lay, placed, jsontext.loads(issued.expected), project, kind))
    return found


def _computed(project: Project, kind: FormKind, version: int, sheet_name: str) -> _Version:
    """A version a registry of 0.1 or 0.2 keeps no map of: laid out by today's code, its locked cells what the
    writer writes (run against a recorder)."""
    key = (project.hash, kind.fingerprint, version, sheet_name)
    found = _COMPUTED.get(key)
    if found is None:
        from ..xlsx.writer import SheetSpec, expected_cells
        lay = _layout(project, kind)
        cells = expected_cells(SheetSpec(project, kind, version, sheet_name))
        found = _COMPUTED.put(key, _Version(lay, _placed(lay), cells, project, kind))
    return found


def forget_versions():
    """Forget every version worked out, as a new process would (the tests read as collect's workers do)."""
    for cache in (_VERSIONS, _COMPUTED, _KEPT, _LAYOUTS):
        cache.clear()


def issued_layout(project: Project, kind: FormKind, issued: IssuedMap | None):
    """A version's layout as issued: the registry's kept map, else (registries of 0.1 and 0.2) today's."""
    return _as_issued(project, kind, issued).lay if issued else _layout(project, kind)


def _same(a, b) -> bool:
    if a in (None, "") or b in (None, ""):
        return a in (None, "") and b in (None, "")
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


_TEXT_OR_NUMBER = re.compile(r'("[^"]*")|(?<![A-Za-z0-9_$.])(\d+\.?\d*(?:E[+-]?\d+)?|\.\d+(?:E[+-]?\d+)?)')


def _norm_formula(f: str | None) -> str | None:
    """A formula as compared: spaces and case aside, and each number as its value (LibreOffice saves
    0.00007 as 7E-05); texts in quotes as they are."""
    if f is None:
        return None
    f = re.sub(r"\s+", "", f.lstrip("=")).upper()
    return _TEXT_OR_NUMBER.sub(lambda m: m.group(1) or repr(float(m.group(2))), f)


_NOT_PLACEHOLDERS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')


@functools.lru_cache(maxsize=256)   # a form has a few formats, met on every return
def _hides_value(code: str, date: bool = False) -> bool:
    """A number format with a section (positive; negative; zero) that shows no digit of the value (of a
    date input: no part of the date)."""
    shows = r"[ymd]" if date else r"[0#?@]|general"
    for section in code.split(";")[:3]:
        bare = _NOT_PLACEHOLDERS.sub("", section)
        if not re.search(shows, bare, re.I):
            return True
    return False


def _shown(cell: Cell) -> str:
    return ("=" + cell.formula) if cell.formula is not None else _show(cell.value)


def _show(v) -> str:
    if v is None:
        return "（空）"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)



class SheetReader:
    """Checks one project sheet against its issued template and reads its inputs: the locked cells and the
    display here, the inputs by the form's sections (kinds/sections.py), each reading, checking and filling
    its part of the record."""

    show = staticmethod(_show)

    def __init__(self, sheet: Sheet, actual_name: str, issued_name: str, project: Project, kind: FormKind,
                 version: int, entry: dict, record: Record, issued: IssuedMap | None = None):
        """`issued`: the registry's map of the version (registry.issued_map); a registry of xlform 0.1 or
        0.2 kept none, and its returns are read against the layout and cells the current code computes."""
        self.sheet, self.name, self.project, self.kind = sheet, actual_name, project, kind
        self.record, self.problems = record, record.problems
        self.entry = entry
        found = _as_issued(project, kind, issued) if issued else _computed(project, kind, version, issued_name)
        self.lay, self.placed, self.expected = found.lay, found.placed, found.expected
        self.invalid: set[str] = set()
        self.catalogue = {code: entry for s in self.lay.sections for code, entry in s.messages.items()} or None

    def at(self, cell: str) -> str:
        return f"{self.name}!{cell}"

    def add(self, code: str, cell: str, **values):
        """A problem at a cell of this sheet: of the catalogue (messages.py) or of the form's own sections."""
        self.problems.append(problem(code, self.at(cell), self.catalogue, **values))

    def cell(self, ref: str) -> Cell:
        return self.sheet.cells.get(ref, EMPTY)

    def value(self, cell: str):
        return self.sheet.cells.get(cell, EMPTY).value

    def read(self) -> Record:
        lay = self.lay
        cells = self.entry.get("cells")   # the text of the hidden sheet's cell map (reader.py: parse_meta)
        if cells is not None and not same_cells(cells, lay.cell_map()):
            self.problems.append(problem("cell_map_changed", META_SHEET))
        if not self.sheet.protected:
            self.problems.append(problem("protection_removed", self.name))
        self.check_locked_cells()
        self.check_display()
        inputs: Inputs = {}
        for section in lay.sections:
            section.read(self, inputs)
        result = evaluate_form(lay, inputs) if lay.scored else None
        self.check_fields(inputs)
        for section in lay.sections:
            section.check(self, inputs, result)
        if result is not None:
            self.check_cached(result)
        self.record.template["form"] = self.kind.name
        for section in lay.sections:
            section.fill(self, inputs, result)
        return self.record

    # -- what the department may not change ------------------------------------------------------
    def check_locked_cells(self):
        """Every locked cell and formula as issued; a flood (rows inserted or deleted) is summed up."""
        expected, inputs = self.expected, self.placed.inputs
        cells = self.sheet.cells
        changed = []
        for ref, (value, formula) in expected.items():
            if ref in inputs:
                continue
            got = cells.get(ref, EMPTY)
            if formula is not None:
                if got.formula != formula and _norm_formula(got.formula) != _norm_formula(formula):
                    changed.append(("formula_changed", ref, {"expected": formula, "actual": _shown(got)}))
            elif got.formula is not None or (got.value != value and not _same(value, got.value)):
                changed.append(("locked_changed", ref, {"expected": _show(value), "actual": _shown(got)}))
        last_row, last_col = self.lay.last_row + 1, cell_ref(0, self.lay.last_col)[:-1].rjust(3)
        extra = []
        for ref, got in cells.items():
            if ref in expected or ref in inputs or (got.value in (None, "") and got.formula is None):
                continue
            m = _REF.match(ref)
            shown = _shown(got)
            if m.group(1).rjust(3) <= last_col and int(m.group(2)) <= last_row:
                changed.append(("locked_changed", ref, {"expected": "（空）", "actual": shown}))
            else:
                extra.append((ref, shown) if len(extra) < MAX_LISTED else ref)
        for ref, shown in extra[:MAX_LISTED]:
            self.add("extra_content", ref, actual=shown)
        if len(extra) > MAX_LISTED:  # a sheet filled outside the form: one line sums up the rest
            self.add("extra_content_many", extra[MAX_LISTED], count=len(extra), listed=MAX_LISTED)
        changed.sort(key=lambda c: _row_col(c[1]))
        for code, ref, values in changed[:MAX_LISTED]:
            self.add(code, ref, **values)
        if len(changed) > MAX_LISTED:
            self.add("structure_changed", changed[MAX_LISTED][1], count=len(changed), listed=MAX_LISTED)

    def check_display(self):
        """What the printed form hides or fakes without changing a value: hidden rows or columns of the
        form, a number format that does not show the value (a literal "100.00", an empty section)."""
        last_col = self.lay.last_col + 1
        for row in sorted(r for r in getattr(self.sheet, "hidden_rows", ()) if r <= self.lay.last_row + 1):
            self.add("hidden_row", f"A{row}", row=row)
        for col in sorted(c for c in getattr(self.sheet, "hidden_cols", ()) if c <= last_col):
            letter = cell_ref(0, col - 1)[:-1]
            self.add("hidden_column", f"{letter}1", column=letter)
        # formulas and inputs must show their value (not 评价等级: a text, labelled by its format)
        expected, inputs, grade, dates = self.expected, self.placed.inputs, self.placed.grade, self.placed.dates
        hiding = [(ref, code) for ref, code in getattr(self.sheet, "cell_formats", {}).items()
                  if (ref in inputs or expected.get(ref, (None, None))[1] is not None) and ref not in grade
                  and _hides_value(code, ref in dates)]
        for ref, code in sorted(hiding, key=lambda x: _row_col(x[0])):
            self.add("number_format", ref, format=code)

    # -- inputs ------------------------------------------------------------------------------
    def number(self, key: str, percent: bool = False) -> float | None:
        cell = self.lay.cell(key)
        raw = self.value(cell)
        try:
            v, how = read_number(raw)
        except TooLarge:
            self.invalid.add(key)
            self.add("number_too_large", cell, value=_show(raw))
            return None
        except NotANumber:
            self.invalid.add(key)
            self.add("not_a_number", cell, value=_show(raw), hint="（百分比如 85%）" if percent else "（不带单位）")
            return None
        if how:
            if percent and isinstance(raw, str) and "%" not in raw and "％" not in raw and v is not None and v > 1:
                v, how = v / 100, how + "，按百分数读取"
            self.add("lenient_number", cell, value=_show(raw), parsed=f"{v * 100:g}%" if percent else f"{v:g}",
                     how=how)
        return v

    def tier(self, key: str) -> str | None:
        cell = self.lay.cell(key)
        text = read_text(self.value(cell))
        if text is not None and text not in {name for name, _, _ in TIERS}:
            self.invalid.add(key)
            self.add("not_a_tier", cell, value=text)
            return None
        return text

    def read_fields(self, section: str, inputs: Inputs, types: tuple | None = None) -> None:
        """The inputs a section placed (of those types of value, or all), each by its type; a formula typed
        into one is reported (its cached result is read: none after an openpyxl save)."""
        fields = self.lay.inputs()
        for key in self.lay.inputs_of(section):
            f = fields[key]
            if types is not None and f.type not in types:
                continue
            got = self.sheet.cells.get(f.cell, EMPTY)
            if got.formula is not None:
                self.add("input_formula", f.cell, formula=got.formula, value=_show(got.value))
            if f.type == "text":
                inputs[key] = read_text(got.value)
            elif f.type == "tier":
                inputs[key] = self.tier(key)
            elif type(got.value) is float and -LARGEST < got.value < LARGEST:   # a plain number, as `number` reads
                inputs[key] = got.value                                         # it (most inputs)
            else:
                inputs[key] = self.number(key, percent=f.type in ("percent", "qualitative"))

    def check_fields(self, inputs: Inputs) -> None:
        """What holds for every input read, whichever section placed it: a text within its limit, a number
        of the kind's own columns not below 0."""
        fields = self.lay.fields
        for key, v in inputs.items():
            f = fields[key]
            if f.type == "text" and v and f.limit and len(v) > f.limit:
                self.add("text_too_long", f.cell, limit=f.limit, length=len(v))
            elif f.type == "extra_number" and v is not None and v < 0:
                self.add("negative", f.cell, what=f.label, value=_show(v))

    def check_cached(self, result):
        """Cached formula values that disagree with the rules (stale, or computed by an edited formula)."""
        flagged = {p.where for p in self.problems if p.code == "formula_changed"}
        cells, values = self.sheet.cells, result.values
        for key, f in self.placed.formulas:
            if key not in values:
                continue
            value = values[key]
            got = cells.get(f.cell, EMPTY)
            if got.formula is None or got.value is None or (flagged and self.at(f.cell) in flagged):
                continue  # no cached value (openpyxl saves none), or already reported as a replaced formula
            if isinstance(got.value, float) and isinstance(value, float) and math.isclose(got.value, value,
                                                                                          abs_tol=1e-9):
                continue
            if got.value == "" and value is None or got.value == value:
                continue
            self.add("stale_value", f.cell, cached=_show(got.value), computed=_show(value))
