"""Filled returns of an old template version -> the new version's workbook, every value that still has a
place carried over, and a report of what was carried, dropped (with its value), new and blank."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from ..definition.definition import Project
from ..errors import XlformError
from ..form.evaluate import Inputs
from ..form.layout import layout
from ..issue.registry import Registry
from ..issue.versions import match
from ..kinds.forms import FormKind, form_kind
from ..outputs import atomic_write, csv_writer, now
from ..scoring.scoring import TIERS
from ..storage.record import Record, neutralise
from ..xlsx.writer import SheetSpec, write
from .reader import read_file
from .sheet import issued_layout

CARRIED, DROPPED, NEW, BLANK = "已转入", "未转入", "新增", "空白"


@dataclass
class Line:
    category: str    # 已转入 | 未转入 | 新增 | 空白
    field: str       # what the value is, in the form's words
    old_cell: str
    new_cell: str
    value: object = None
    note: str = ""


@dataclass
class Migration:
    source: str
    output: Path | None = None
    sheets: list[tuple[str, str, int, int]] = field(default_factory=list)  # (sheet, id, from, to)
    lines: list[Line] = field(default_factory=list)
    error: str | None = None

    def count(self, category: str) -> int:
        return sum(1 for line in self.lines if line.category == category)

    def csv(self) -> str:
        out = io.StringIO()
        w = csv_writer(out)
        w.writerow(["类别", "内容", "原单元格", "新单元格", "值", "说明"])
        for line in self.lines:
            w.writerow([neutralise(v) for v in (line.category, line.field, line.old_cell, line.new_cell,
                                                 "" if line.value is None else line.value, line.note)])
        return out.getvalue()


def _carry_ok(kind: str, value) -> bool:
    """Does a carried 实际完成值 pass the new cell's validation?"""
    if kind == "tier":
        return isinstance(value, str) and value in {name for name, _, _ in TIERS}
    if not isinstance(value, (int, float)):
        return False
    return 0 <= value <= 1 if kind == "qualitative" else value >= 0


def carry(record: Record, old: Project, old_kind: FormKind, new: Project, new_kind: FormKind,
          sheet: str, issued=None) -> tuple[Inputs, list[Line]]:
    """The new form's inputs from an old record, and the report lines (the old cells as issued: `issued` is
    the registry's kept map of the old version, None in a registry of 0.1 or 0.2)."""
    old_lay, new_lay = issued_layout(old, old_kind, issued), layout(new, new_kind)
    lines: list[Line] = []
    inputs: Inputs = {}

    def cells(key_old, key_new):
        return (f"{sheet}!{old_lay.cell(key_old)}" if key_old else "", f"{sheet}!{new_lay.cell(key_new)}")

    def put(key_old, key_new, what, value):
        inputs[key_new] = value
        lines.append(Line(CARRIED if value not in (None, "") else BLANK, what, *cells(key_old, key_new), value))

    for section in new_lay.sections:  # the project's inputs, section by section; indicators matched below
        for key, value in section.values(record, new_lay).items():
            put(key if key in old_lay.fields else None, key, section.what(new_lay, key), value)
    if new.indicators and "indicators.0.actual" not in new_lay.fields:
        return inputs, lines   # a kind's own indicator table (the 监控表's) carried itself: Section.values
    pairs = match(old, new)
    extras = [c.key for c in new_kind.extra_inputs]
    for j, ind in enumerate(new.indicators):
        key_new = f"indicators.{j}"
        if j not in pairs:
            lines.append(Line(NEW, ind.name, "", f"{sheet}!{new_lay.cell(key_new + '.actual')}", None,
                              f"新增指标（{ind.target.text}，{ind.weight:g} 分），需填写"))
            continue
        i = pairs[j]
        key_old, was = f"indicators.{i}", record.indicators[i]
        old_kind = old_lay.fields[key_old + ".actual"].type
        new_kind_of = new_lay.fields[key_new + ".actual"].type
        label = ind.name if ind.name == was.name else f"{ind.name}（原 {was.name}）"
        if was.actual is None:
            lines.append(Line(BLANK, f"{label}·实际完成值", *cells(key_old + ".actual", key_new + ".actual")))
        elif old_kind != new_kind_of or not _carry_ok(new_kind_of, was.actual):
            lines.append(Line(DROPPED, f"{label}·实际完成值", *cells(key_old + ".actual", key_new + ".actual"),
                              was.actual, f"年度指标值由“{was.target}”改为“{ind.target.text}”，原值不再适用，请重新填写"))
        else:
            inputs[key_new + ".actual"] = was.actual
            lines.append(Line(CARRIED, f"{label}·实际完成值", *cells(key_old + ".actual", key_new + ".actual"),
                              was.actual))
        if was.deviation_reason:
            inputs[key_new + ".reason"] = was.deviation_reason
            lines.append(Line(CARRIED, f"{label}·偏差原因", *cells(key_old + ".reason", key_new + ".reason"),
                              was.deviation_reason))
        typed = all(lay.fields[k].role == "input" for lay, k in ((old_lay, key_old + ".score"),
                                                                  (new_lay, key_new + ".score")))
        tier_kept = new_kind_of != "tier" or key_new + ".actual" in inputs  # a tier's 得分 follows its tier
        if typed and tier_kept and isinstance(was.score, (int, float)) and 0 <= was.score <= ind.weight:
            inputs[key_new + ".score"] = was.score
            lines.append(Line(CARRIED, f"{label}·得分", *cells(key_old + ".score", key_new + ".score"), was.score))
        for c in extras:
            value = was.extra.get(c)
            if value not in (None, ""):
                inputs[f"{key_new}.{c}"] = value
                lines.append(Line(CARRIED, f"{label}·{new_lay.fields[f'{key_new}.{c}'].label}",
                                  f"{sheet}!{old_lay.cell(f'{key_old}.{c}')}" if f"{key_old}.{c}" in old_lay.fields
                                  else "", f"{sheet}!{new_lay.cell(f'{key_new}.{c}')}", value))
    for i, was in enumerate(record.indicators):
        if i in pairs.values():
            continue
        for part, value in (("实际完成值", was.actual), ("偏差原因", was.deviation_reason)):
            if value not in (None, ""):
                cell = old_lay.cell(f"indicators.{i}." + ("actual" if part == "实际完成值" else "reason"))
                lines.append(Line(DROPPED, f"{was.name}·{part}", f"{sheet}!{cell}", "", value, "指标已删除，此值无处转入"))
    return inputs, lines


def migrate(path: Path, registry: Registry, out_dir: Path, to: Project | None = None,
            password: str | None = None, taken: dict[Path, str] | None = None) -> Migration:
    """Migrate one filled workbook to the newest version of its template(s) (or to `to`).

    `taken` maps the workbooks a run has written to their inputs: a second input that would be written to
    the same file (two returns of one template) is refused, naming both, before anything is written."""
    result = Migration(str(path))
    records = read_file(Path(path), registry)
    specs, stamp = [], now()
    for record in records:
        if not record.project:
            result.error = "; ".join(p.message for p in record.errors) or "不是可识别的自评表"
            return result
        tid, version = record.template["id"], record.template["version"]
        issued = registry.lookup(tid, version)
        old, old_kind = issued["project"], issued["kind"] or form_kind(issued["project"].form)
        if to is not None and to.id == tid:
            new, new_kind = to, form_kind(to.form)
            new_version = registry.version_for(to, new_kind, stamp)
        else:
            latest = registry.lookup(tid)
            new, new_version = latest["project"], latest["version"]
            new_kind = latest["kind"] or form_kind(new.form)
        if new_kind.name != old_kind.name:
            raise XlformError(f"{path}: template {tid} moves from form kind {old_kind.name} to {new_kind.name}; "
                              "migration works within one kind: render the new kind's blank form instead")
        inputs, lines = carry(record, old, old_kind, new, new_kind, record.sheet, issued.get("issued"))
        result.lines += lines
        result.sheets.append((record.sheet, tid, version, new_version))
        specs.append(SheetSpec(new, new_kind, new_version, record.sheet, inputs))
    if to is not None and to.id not in {s.project.id for s in specs}:
        raise XlformError(f"{path}: holds no return of template {to.id}")
    if all(was == version for _, _, was, version in result.sheets):
        return result  # already on the version wanted: nothing to carry, nothing written (output stays None)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / (f"{specs[0].project.id}.xlsx" if len(specs) == 1 else Path(path).name)
    taken = {} if taken is None else taken
    if target in taken:
        raise XlformError(f"would be migrated to {target}, which this run already wrote from {taken[target]}; "
                          "migrate one of them on its own, with another folder (-o)")
    buffer = io.BytesIO()
    write(buffer, specs, password, stamp)
    atomic_write(target, buffer.getvalue())
    registry.record_files([(s.project, s.version, str(target), s.sheet) for s in specs], stamp)
    atomic_write(target.with_suffix(".migration.csv"), result.csv().encode("utf-8-sig"))
    result.output = target
    taken[target] = str(path)
    return result
