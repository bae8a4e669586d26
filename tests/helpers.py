"""Small builders shared by the tests: definitions written to disk, filled inputs as cell values."""
from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from xlform.definition import FUND_ROWS, load
from xlform.evaluate import Inputs
from xlform.layout import layout


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


def cells_for(project, inputs: Inputs) -> dict:
    """The input cells a department would type, from an Inputs (None clears a cell)."""
    lay = layout(project)
    cells = {lay.cell(f"funds.{k}.executed"): inputs.executed.get(k) for k in FUND_ROWS}
    if inputs.goal_actual is not None:
        cells[lay.cell("goal.actual")] = inputs.goal_actual
    for i, ind in enumerate(project.indicators):
        cells[lay.cell(f"indicators.{i}.actual")] = inputs.actual[i]
        if inputs.reason[i]:
            cells[lay.cell(f"indicators.{i}.reason")] = inputs.reason[i]
        if ind.manual:
            cells[lay.cell(f"indicators.{i}.score")] = inputs.manual_score[i]
    return cells


def inputs_from(project, record: dict) -> Inputs:
    """Inputs from a tests/data/published.yaml entry."""
    n = len(project.indicators)
    reasons = record.get("reason", {})
    return Inputs(executed={k: record["executed"].get(k) for k in FUND_ROWS},
                  goal_actual=record.get("goal_actual", "按计划完成年度总体目标。"),
                  actual=list(record["actual"]), reason=[reasons.get(i) for i in range(n)],
                  manual_score=[None] * n)


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
