"""Returned workbooks -> checked records, every score recomputed by the rules, every problem at its cell."""
from __future__ import annotations

import math
import re
from pathlib import Path

from .definition import FUND_ROWS, Project
from .errors import XlformError
from .evaluate import Inputs, evaluate
from .forms import form_kind
from .layout import DEPARTMENT, LAST_COL, NAME, layout
from .layout import ref as cell_ref
from .messages import problem
from .metadata import META_SHEET, parse_meta
from .record import IndicatorRecord, Record
from .registry import Registry
from .values import NotANumber, read_number, read_text
from .xlsx import BadWorkbook, Cell, Package, Sheet

_REF = re.compile(r"^([A-Z]+)(\d+)$")
MAX_LISTED = 10  # changed locked cells listed one by one; past that, one problem sums them up


def _row_col(ref: str) -> tuple[int, str]:
    m = _REF.match(ref)
    return int(m.group(2)), m.group(1).rjust(3)
_EMPTY = Cell(None, None)


def read(path, registry: Registry | None = None) -> list[Record]:
    """Read one returned workbook: one record per project sheet (a failed file gives one record of errors)."""
    own = registry is None
    registry = registry or Registry(create=False)
    try:
        return read_file(Path(path), registry)
    finally:
        if own:
            registry.close()


def read_file(path: Path, registry: Registry) -> list[Record]:
    name = str(path)
    try:
        pkg = Package(path)
    except BadWorkbook as e:
        return [_failed(name, e.code, detail=e.detail)]
    except OSError as e:
        return [_failed(name, "not_found", detail=e.strerror or str(e))]
    try:
        return _WorkbookReader(pkg, name, registry).records()
    except BadWorkbook as e:
        return [_failed(name, e.code, detail=e.detail)]
    finally:
        pkg.close()


def _failed(file: str, code: str, **values) -> Record:
    return Record(file, problems=[problem(code, Path(file).name, **values)])


def _rows(sheet: Sheet) -> tuple[list[list], list[int]]:
    """A sheet's cells as rows of values (for the metadata sheet), and their row numbers."""
    rows: dict[int, dict[int, object]] = {}
    for ref, cell in sheet.cells.items():
        m = _REF.match(ref)
        col = 0
        for ch in m.group(1):
            col = col * 26 + ord(ch) - 64
        rows.setdefault(int(m.group(2)), {})[col - 1] = cell.value
    ordered = sorted(rows.items())
    return [[r.get(c) for c in range(max(r) + 1)] for _, r in ordered], [n for n, _ in ordered]


_EXPECTED: dict[tuple, Sheet] = {}
_LAYOUTS: dict[str, object] = {}


def _layout(project: Project):
    """Layouts by definition hash: a collection reads many returns of few templates."""
    if project.hash not in _LAYOUTS:
        if len(_LAYOUTS) > 256:
            _LAYOUTS.clear()
        _LAYOUTS[project.hash] = layout(project)
    return _LAYOUTS[project.hash]


def _expected(project: Project, version: int, sheet_name: str) -> Sheet:
    """The issued blank sheet: what every locked cell must hold (cached per template version and sheet)."""
    key = (project.hash, version, sheet_name)
    if key not in _EXPECTED:
        from .writer import SheetSpec, expected_cells
        cells = expected_cells(SheetSpec(project, form_kind(project.form), version, sheet_name))
        if len(_EXPECTED) > 256:
            _EXPECTED.clear()
        _EXPECTED[key] = Sheet(sheet_name, cells={ref: Cell(v, f) for ref, (v, f) in cells.items()})
    return _EXPECTED[key]


def _meta_cell(entry: dict, key: str) -> str:
    row = entry.get("rows", {}).get(key)
    return f"{META_SHEET}!C{row}" if row else META_SHEET


def _same(a, b) -> bool:
    if a in (None, "") or b in (None, ""):
        return a in (None, "") and b in (None, "")
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _norm_formula(f: str | None) -> str | None:
    return None if f is None else re.sub(r"\s+", "", f.lstrip("=")).upper()


def _show(v) -> str:
    if v is None:
        return "（空）"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


class _WorkbookReader:
    def __init__(self, pkg: Package, file: str, registry: Registry):
        self.pkg, self.file, self.registry = pkg, file, registry
        self.by_name = {s.name: s for s in pkg.sheets}

    def records(self) -> list[Record]:
        meta_info = self.by_name.get(META_SHEET)
        meta = parse_meta(*_rows(self.pkg.sheet(meta_info))) if meta_info else self.identify()
        if not meta:
            return [_failed(self.file, "not_xlform")]
        unclaimed = [s for s in self.pkg.sheets if s.name != META_SHEET and s.name not in meta]
        return [self.read_sheet(name, entry, unclaimed) for name, entry in meta.items()]

    def identify(self) -> dict[str, dict]:
        """No metadata sheet: recognise project sheets by 项目名称 and 主管部门 in the registry."""
        found = {}
        name_cell, department_cell = cell_ref(NAME, 2), cell_ref(DEPARTMENT, 2)
        for info in self.pkg.sheets:
            cells = self.pkg.sheet(info, {name_cell, department_cell}).cells
            name, dep = (read_text(cells.get(c, _EMPTY).value) for c in (name_cell, department_cell))
            reg = self.registry.find_project(name, dep) if name and dep else None
            if reg:
                found[info.name] = {"template_id": reg["id"], "version": reg["version"], "form": reg["form"],
                                    "hash": reg["hash"], "cells": None,
                                    "problems": [problem("meta_missing", META_SHEET, template_id=reg["id"],
                                                         version=reg["version"])]}
        return found

    def read_sheet(self, sheet_name: str, entry: dict, unclaimed: list) -> Record:
        problems = list(entry.get("problems", []))
        template_id = str(entry.get("template_id", ""))
        try:
            version = int(float(entry.get("version", 0)))
        except (TypeError, ValueError):
            version = 0
        record = Record(self.file, sheet_name, problems=problems,
                        template={"id": template_id, "version": version, "form": entry.get("form"),
                                  "hash": entry.get("hash")})
        info = self.by_name.get(sheet_name)
        if info is None:
            if len(unclaimed) == 1:
                info = unclaimed.pop()
                problems.append(problem("sheet_renamed", f"{info.name}!A1", sheet=sheet_name, actual=info.name))
                record.sheet = info.name
            else:
                problems.append(problem("sheet_missing", sheet_name, sheet=sheet_name))
                return record
        reg = self.registry.lookup(template_id, version)
        if reg is None:
            code = "unknown_version" if self.registry.latest_version(template_id) else "unknown_template"
            problems.append(problem(code, _meta_cell(entry, "template_id"), template_id=template_id, version=version))
            return record
        if entry.get("hash") != reg["hash"]:
            problems.append(problem("hash_mismatch", _meta_cell(entry, "hash"), template_id=template_id,
                                    version=version))
        latest = self.registry.latest_version(template_id)
        if latest > version:
            problems.append(problem("outdated_version", f"{info.name}!A1", template_id=template_id,
                                    version=version, current=latest))
        project = reg["project"]
        try:
            kind = form_kind(project.form)
        except XlformError as e:
            problems.append(problem("unsupported", info.name, detail=str(e)))
            return record
        return _SheetReader(self.pkg.sheet(info), info.name, sheet_name, project, kind, version, entry,
                            record).read()


class _SheetReader:
    """Checks one project sheet against its issued template and reads its inputs."""

    def __init__(self, sheet: Sheet, actual_name: str, issued_name: str, project: Project, kind, version: int,
                 entry: dict, record: Record):
        self.sheet, self.name, self.project, self.kind = sheet, actual_name, project, kind
        self.record, self.problems = record, record.problems
        self.lay = _layout(project)
        self.entry = entry
        self.expected = _expected(project, version, issued_name)
        self.invalid: set[str] = set()

    def at(self, cell: str) -> str:
        return f"{self.name}!{cell}"

    def add(self, code: str, cell: str, **values):
        self.problems.append(problem(code, self.at(cell), **values))

    def value(self, cell: str):
        return self.sheet.cells.get(cell, _EMPTY).value

    def read(self) -> Record:
        lay = self.lay
        if self.entry.get("cells") is not None and self.entry["cells"] != {k: f.cell for k, f in lay.fields.items()}:
            self.problems.append(problem("cell_map_changed", META_SHEET))
        if not self.sheet.protected:
            self.problems.append(problem("protection_removed", self.name))
        self.check_locked_cells()
        inputs = self.read_inputs()
        result = evaluate(self.project, inputs, self.kind.preset)
        self.check_inputs(inputs, result)
        self.check_cached(result)
        return self.build(inputs, result)

    # -- what the department may not change ------------------------------------------------------
    def check_locked_cells(self):
        """Every locked cell and formula as issued; a flood (rows inserted or deleted) is summed up."""
        inputs = {f.cell for f in self.lay.inputs().values()}
        changed = []
        for ref, exp in self.expected.cells.items():
            if ref in inputs:
                continue
            got = self.sheet.cells.get(ref, _EMPTY)
            shown = ("=" + got.formula) if got.formula is not None else _show(got.value)
            if exp.formula is not None:
                if _norm_formula(got.formula) != _norm_formula(exp.formula):
                    changed.append(("formula_changed", ref, {"expected": exp.formula, "actual": shown}))
            elif got.formula is not None or not _same(exp.value, got.value):
                changed.append(("locked_changed", ref, {"expected": _show(exp.value), "actual": shown}))
        last_row, last_col = self.lay.total_row + 1, cell_ref(0, LAST_COL)[:-1]
        extra = []
        for ref, got in self.sheet.cells.items():
            if ref in self.expected.cells or ref in inputs or (got.value in (None, "") and got.formula is None):
                continue
            m = _REF.match(ref)
            shown = ("=" + got.formula) if got.formula is not None else _show(got.value)
            if len(m.group(1)) == 1 and m.group(1) <= last_col and int(m.group(2)) <= last_row:
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

    # -- inputs ------------------------------------------------------------------------------
    def number(self, key: str, percent: bool = False) -> float | None:
        cell = self.lay.cell(key)
        raw = self.value(cell)
        try:
            v, how = read_number(raw)
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

    def check_input_formulas(self):
        """A formula typed into an input cell: its cached result is read (none after an openpyxl save)."""
        for f in self.lay.inputs().values():
            got = self.sheet.cells.get(f.cell, _EMPTY)
            if got.formula is not None:
                self.add("input_formula", f.cell, formula=got.formula, value=_show(got.value))

    def read_inputs(self) -> Inputs:
        lay, p = self.lay, self.project
        self.check_input_formulas()
        n = len(p.indicators)
        inputs = Inputs(executed={k: self.number(f"funds.{k}.executed") for k in FUND_ROWS},
                        goal_actual=read_text(self.value(lay.cell("goal.actual"))),
                        actual=[], reason=[], manual_score=[None] * n)
        for i, ind in enumerate(p.indicators):
            kind = lay.fields[f"indicators.{i}.actual"].kind
            inputs.actual.append(self.number(f"indicators.{i}.actual", percent=kind != "number"))
            inputs.reason.append(read_text(self.value(lay.cell(f"indicators.{i}.reason"))))
            if ind.manual:
                inputs.manual_score[i] = self.number(f"indicators.{i}.score")
        return inputs

    def check_inputs(self, inputs: Inputs, result):
        lay, p, k = self.lay, self.project, self.kind
        for row in FUND_ROWS:
            key, annual = f"funds.{row}.executed", p.funds.rows[row].annual
            v, cell, label = inputs.executed[row], lay.cell(key), k.label(row).removeprefix("其中：")
            if v is None and key not in self.invalid and annual > 0:
                self.add("blank_executed", cell, row=label, annual=f"{annual:g}")
            elif v is not None and v < 0:
                self.add("negative", cell, what="全年执行数", value=f"{v:g}")
            elif v is not None and v > annual + 1e-9:
                self.add("over_budget", cell, row=label, executed=f"{v:g}", annual=f"{annual:g}")
        goal_cell = lay.cell("goal.actual")
        if inputs.goal_actual is None:
            self.add("blank_goal_actual", goal_cell)
        elif len(inputs.goal_actual) > k.spec["limits"]["goal_actual"]:
            self.add("text_too_long", goal_cell, limit=k.spec["limits"]["goal_actual"],
                     length=len(inputs.goal_actual))
        limit = k.spec["limits"]["reason"]
        for i, ind in enumerate(p.indicators):
            key = f"indicators.{i}"
            x, cell = inputs.actual[i], lay.cell(f"{key}.actual")
            kind = lay.fields[f"{key}.actual"].kind
            if x is None and f"{key}.actual" not in self.invalid:
                self.add("blank_actual", cell, name=ind.name)
            elif x is not None and kind == "qualitative" and not 0 <= x <= 1:
                self.add("percent_range", cell, value=f"{x * 100:g}%")
            elif x is not None and x < 0:
                self.add("negative", cell, what="实际完成值", value=_show(x))
            if ind.manual:
                s, s_cell = inputs.manual_score[i], lay.cell(f"{key}.score")
                if s is None and f"{key}.score" not in self.invalid:
                    self.add("blank_score", s_cell, name=ind.name)
                elif s is not None and not 0 <= s <= ind.weight:
                    self.add("score_out_of_range", s_cell, score=f"{s:g}", weight=f"{ind.weight:g}")
            reason, why_cell = inputs.reason[i], lay.cell(f"{key}.reason")
            score = result.scores[i]
            if result.needs_reason[i] and not reason:
                if score is not None and score < ind.weight:
                    self.add("reason_missing", why_cell, name=ind.name, score=f"{score:g}", weight=f"{ind.weight:g}")
                else:
                    self.add("reason_overshoot", why_cell, name=ind.name, actual=_show(x), target=ind.target.text,
                             overshoot=f"{k.preset.overshoot:.0%}")
            if reason and len(reason) > limit:
                self.add("text_too_long", why_cell, limit=limit, length=len(reason))

    def check_cached(self, result):
        """Cached formula values that disagree with the rules (stale, or computed by an edited formula)."""
        lay = self.lay
        computed = {"funds.total.executed": result.executed_total, "funds.rate": result.rate,
                    "funds.score": result.funds_score, "total_score": result.total}
        computed.update({f"indicators.{i}.score": s for i, s in enumerate(result.scores)
                         if not self.project.indicators[i].manual})
        flagged = {p.where for p in self.problems if p.code == "formula_changed"}
        for key, value in computed.items():
            cell = lay.cell(key)
            got = self.sheet.cells.get(cell, _EMPTY)
            if got.formula is None or self.at(cell) in flagged or got.value is None:
                continue  # no cached value (openpyxl saves none), or already reported as a replaced formula
            if isinstance(got.value, float) and value is not None and math.isclose(got.value, value, abs_tol=1e-9):
                continue
            if got.value == "" and value is None:
                continue
            self.add("stale_value", cell, cached=_show(got.value), computed=_show(value))

    # -- the record ---------------------------------------------------------------------------
    def build(self, inputs: Inputs, result) -> Record:
        p, r = self.project, self.record
        r.project = {"name": p.project, "department": p.department, "implementer": p.implementer, "year": p.year}
        rows = {k: {"initial": p.funds.rows[k].initial, "annual": p.funds.rows[k].annual,
                    "executed": inputs.executed[k]} for k in FUND_ROWS}
        executed = [inputs.executed[k] for k in FUND_ROWS]
        rows["total"] = {"initial": p.funds.total.initial, "annual": p.funds.total.annual,
                         "executed": None if all(v is None for v in executed) else result.executed_total}
        r.funds = {"weight": p.funds.weight, "rows": rows, "rate": result.rate, "score": result.funds_score}
        r.goal = {"expected": p.goal, "actual": inputs.goal_actual}
        r.indicators = [IndicatorRecord(ind.id, ind.level1, ind.level2, ind.name, ind.target.text, inputs.actual[i],
                                        ind.weight, result.scores[i], inputs.reason[i])
                        for i, ind in enumerate(p.indicators)]
        r.total_score = result.total
        return r
