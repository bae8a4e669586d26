"""Small builders shared by the tests: definitions written to disk, filled inputs as cell values."""
from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from xlform.definition.definition import load
from xlform.kinds.forms import form_kind
from xlform.form.layout import layout

FUND_ROWS = ("fiscal", "carryover", "other")  # the national form's fund rows

# A hostile input must end in bounded time, but timing is the benchmark's job: a test's bound stays far
# from what the case takes (each case below 2 s on a quiet 2-core machine: 30x and more), so that a
# machine busy with other work never fails it.
FAR_SECONDS = 60


def write_def(folder: Path, data_or_text, name="def.yaml") -> Path:
    path = Path(folder) / name
    text = data_or_text if isinstance(data_or_text, str) else yaml.safe_dump(data_or_text, allow_unicode=True,
                                                                            sort_keys=False)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def definition(indicators, funds_weight=10, **top):
    """A definition dict; indicators: list of (level1, level2, name, target, weight[, extra dict])."""
    tree: dict = {}
    for item in indicators:
        level1, level2, name, target, weight = item[:5]
        extra = item[5] if len(item) > 5 else {}
        tree.setdefault(level1, {}).setdefault(level2, []).append(
            {"name": name, "target": target, "weight": weight, **extra})
    total = funds_weight + sum(i[4] for i in indicators)
    data = {"form": "project", "year": 2019, "id": "t-001", "project": "测试项目", "department": "测试局",
            "implementer": "测试局", "funds": {"weight": funds_weight, "fiscal": {"initial": 100, "annual": 100}},
            "goal": "完成年度任务", "indicators": tree}
    if total != 100:
        data["allow_total"] = total
    data.update(top)
    return data


def load_def(folder: Path, data, name="def.yaml"):
    return load(write_def(folder, data, name))


def make_inputs(executed=None, goal_actual=None, actual=(), reason=(), manual_score=(), **extra) -> dict:
    """Inputs keyed by field, from lists in indicator order (None: blank); `score` covers typed 得分."""
    inputs = {f"funds.{k}.executed": (executed or {}).get(k) for k in FUND_ROWS}
    inputs["goal.actual"] = goal_actual
    for name, values in (("actual", actual), ("reason", reason), ("score", manual_score)):
        for i, v in enumerate(values):
            inputs[f"indicators.{i}.{name}"] = v
    inputs.update(extra)
    return inputs


def lay_of(project):
    return layout(project, form_kind(project.form))


def cells_for(project, inputs: dict) -> dict:
    """The input cells a department would type, from inputs keyed by field (None clears a cell)."""
    lay = lay_of(project)
    cells = {}
    for key, f in lay.inputs().items():
        v = inputs.get(key)
        if f.type == "text" and not v:
            continue
        cells[f.cell] = v
    return cells


def inputs_from(project, record: dict) -> dict:
    """Inputs from a tests/data/published.yaml entry."""
    reasons = record.get("reason", {})
    scores = record.get("typed", {})
    n = len(project.indicators)
    return make_inputs(record["executed"], record.get("goal_actual", "按计划完成年度总体目标。"),
                       list(record["actual"]), [reasons.get(i) for i in range(n)],
                       [scores.get(i) for i in range(n)])


def fill_openpyxl(src, dst, cells: dict, sheet="自评表", edit=None):
    """Fill cells with openpyxl (which drops every cached formula value); `edit(wb)` may tamper further."""
    import openpyxl
    wb = openpyxl.load_workbook(src)
    ws = wb[sheet]
    for ref, v in cells.items():
        ws[ref] = v
    if edit:
        edit(wb)
    wb.save(dst)
    return dst


# A small form of four indicators (one of each kind of target), and a clean return of it: many tests tamper
# with one of these. Every target is met, so the return explains something (I16): all full marks with no
# narrative at all is a quality flag (xlform/returns/quality.py).
SMALL = [("产出指标", "数量指标", "培训次数", "≥4次", 30),
         ("产出指标", "质量指标", "覆盖率", "≥80%", 30),
         ("效益指标", "社会效益指标", "群众意识", "不断提高", 20),
         ("满意度指标", "满意度指标", "满意度", "95%", 10)]
GOOD = {"F7": 80, "F11": "完成", "F13": 4, "F14": 0.85, "F15": "达成年度指标", "H15": 20, "F16": 0.95,
        "I16": "发放问卷120份，满意率95%"}


def small_form(folder: Path, registry: Path | None = None):
    """The small form rendered into folder/issued: (project, workbook, registry)."""
    from xlform.issue.registry import Registry
    from xlform.issue.renderer import render
    p = load_def(folder, definition(SMALL))
    reg = Registry(registry or folder / "r.db")
    [issued] = render([p], folder / "issued", registry=reg)
    return p, issued.file, reg


def validation_at(ws, cell):
    """The one data validation of a cell (openpyxl)."""
    found = [dv for dv in ws.data_validations.dataValidation if cell in dv.sqref]
    assert len(found) == 1, f"{cell}: {len(found)} validations"
    return found[0]


def bench_return(folder: Path, indicators: int, template_id: str):
    """A return of the benchmark's definition (`indicators` indicators), filled as the benchmark fills it,
    rendered into `folder` and read back: its record."""
    from xlform.bench import definition_text, filled_inputs
    from xlform.issue.registry import Registry
    from xlform.returns.reader import read_return
    from xlform.xlsx.writer import SheetSpec, write
    (folder / "d.yaml").write_text(definition_text(indicators, template_id), encoding="utf-8")
    project, kind = load(folder / "d.yaml"), form_kind("project")
    reg = Registry(folder / "r.db")
    try:
        write(str(folder / "r.xlsx"), [SheetSpec(project, kind, reg.version_for(project, kind, "t"), "自评表",
                                                 filled_inputs(project, 1))], None, "")
        [record] = read_return(folder / "r.xlsx", reg)
    finally:
        reg.close()
    return record


def store_copies(db: Path, record, count: int, template_id, department):
    """A collection database of `count` copies of a read record, the n-th under template_id(n) and
    department(n): the store, open."""
    from dataclasses import replace
    from xlform.storage.store import Prepared, Store
    store = Store(db)
    with store.transaction():
        for n in range(count):
            r = replace(record, template={**record.template, "id": template_id(n)},
                        project={**record.project, "department": department(n)})
            store.add_file(f"r{n}.xlsx", f"{n:064x}", 1, "2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00",
                           [Prepared.of(r)])
    return store
