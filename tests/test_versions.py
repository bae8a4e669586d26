"""Template versions: change a definition after forms went out, migrate filled returns, fill the new fields
in LibreOffice, read: every old value where it belongs, the report exact, the scores by the new rules."""
import copy
import csv
import io
import os
import time

import openpyxl
import pytest
from click.testing import CliRunner

from helpers import definition, load_def, make_inputs, write_def
from xlform.cli import main
from xlform.form.evaluate import evaluate_form
from xlform.form.layout import layout
from xlform.returns.migration import migrate
from xlform.returns.reader import read
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.issue.versions import diff, match

V1 = definition([
    ("产出指标", "数量指标", "培训次数", "≥4次", 20),
    ("产出指标", "数量指标", "宣传品数量", "≥1000份", 20),
    ("产出指标", "数量指标", "督查次数", "≥2次", 10),
    ("产出指标", "质量指标", "覆盖率", "≥80%", 20),
    ("效益指标", "社会效益指标", "群众意识", "不断提高", 10),
    ("满意度指标", "满意度指标", "满意度", "≥90%", 10)])
FILLED_V1 = {"F7": 90, "F11": "完成年度目标", "F13": 3, "I13": "下半年场地受限", "F14": 1200, "F15": 2,
             "F16": 0.85, "F17": "达成年度指标", "H17": 9, "F18": 0.95}


def items(d):
    return d["indicators"]


def change_target(d):
    items(d)["产出指标"]["数量指标"][1]["target"] = "≥1500份"


def change_weight(d):
    items(d)["产出指标"]["数量指标"][0]["weight"] = 25
    items(d)["产出指标"]["数量指标"][2]["weight"] = 5


def add_indicator(d):
    items(d)["产出指标"]["数量指标"].append({"name": "培训人数", "target": "≥100人", "weight": 10})
    d["allow_total"] = 110


def drop_indicator(d):
    del items(d)["产出指标"]["数量指标"][2]
    d["allow_total"] = 90


def rename_with_was(d):
    items(d)["产出指标"]["质量指标"][0].update(name="宣传覆盖率", was="覆盖率")


def rename_without_was(d):
    items(d)["产出指标"]["质量指标"][0]["name"] = "宣传覆盖率"


def number_to_percent(d):
    items(d)["产出指标"]["数量指标"][1]["target"] = "≥90%"


def move_level(d):
    moved = items(d)["产出指标"]["数量指标"].pop(2)
    items(d)["产出指标"]["时效指标"] = [dict(moved, id="产出指标/数量指标/督查次数")]


CASES = {
    # name: (edit, diff [(kind, what, field)], report {category: [field...]}, new cells to fill in v2)
    "target": (change_target, [("changed", "宣传品数量", "target")], {"未转入": [], "新增": []}, {"I14": "印刷延迟"}),
    "weight": (change_weight, [("changed", "培训次数", "weight"), ("changed", "督查次数", "weight")],
               {"未转入": [], "新增": []}, {}),
    "added": (add_indicator, [("added", "培训人数", "indicator")], {"未转入": [], "新增": ["培训人数"]}, {"F16": 120}),
    "dropped": (drop_indicator, [("removed", "督查次数", "indicator")],
                {"未转入": [("督查次数·实际完成值", 2)], "新增": []}, {}),
    "renamed": (rename_with_was, [("renamed", "宣传覆盖率", "name")], {"未转入": [], "新增": []}, {}),
    "renamed without was": (rename_without_was, [("removed", "覆盖率", "indicator"), ("added", "宣传覆盖率", "indicator")],
                            {"未转入": [("覆盖率·实际完成值", 0.85)], "新增": ["宣传覆盖率"]}, {"F16": 0.82}),
    "number to percent": (number_to_percent, [("changed", "宣传品数量", "target")],
                          {"未转入": [("宣传品数量·实际完成值", 1200)], "新增": []}, {"F14": 0.93}),
    "level": (move_level, [("changed", "督查次数", "level")], {"未转入": [], "新增": []}, {}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_change_migrate_fill_read(lo, tmp_path, name):
    edit, expected_diff, expected_report, new_cells = CASES[name]
    reg = Registry(tmp_path / "r.db")
    v1 = load_def(tmp_path, V1, "v1.yaml")
    [issued] = render([v1], tmp_path / "v1", registry=reg)
    filled = tmp_path / "filled-v1.xlsx"
    lo.fill(issued.file, filled, FILLED_V1)

    d2 = copy.deepcopy(V1)
    edit(d2)
    v2 = load_def(tmp_path, d2, "v2.yaml")
    assert [(c.kind, c.what, c.field) for c in diff(v1, v2)] == expected_diff

    m = migrate(filled, reg, tmp_path / "migrated", to=v2)
    assert m.error is None and m.sheets == [("自评表", "t-001", 1, 2)]
    report = list(csv.reader(io.StringIO(m.csv())))[1:]
    dropped = [(row[1], float(row[4])) for row in report if row[0] == "未转入"]
    assert dropped == [(f, float(v)) for f, v in expected_report["未转入"]]
    assert [row[1] for row in report if row[0] == "新增"] == expected_report["新增"]
    assert (m.output.with_suffix(".migration.csv")).is_file()

    # every old value that has a place is in its new cell, read from the migrated file as issued
    pairs = match(v1, v2)
    old_lay, new_lay = layout(v1), layout(v2)
    ws = openpyxl.load_workbook(m.output)["自评表"]
    dropped_fields = {f.split("·")[0] for f, _ in expected_report["未转入"]}
    for j, i in pairs.items():
        old_value = FILLED_V1.get(old_lay.cell(f"indicators.{i}.actual"))
        new_value = ws[new_lay.cell(f"indicators.{j}.actual")].value
        if v1.indicators[i].name in dropped_fields:
            assert new_value is None
        else:
            assert new_value == old_value, v2.indicators[j].name
        reason = FILLED_V1.get(old_lay.cell(f"indicators.{i}.reason"))
        assert ws[new_lay.cell(f"indicators.{j}.reason")].value == reason
    assert ws["F7"].value == 90 and ws["F11"].value == "完成年度目标"
    assert "第 2 版" in ws.oddFooter.left.text

    # the department fills the new fields in LibreOffice; the office reads it under v2
    done = tmp_path / "filled-v2.xlsx"
    score_cells = [new_lay.cell(f"indicators.{j}.score") for j in range(len(v2.indicators))]
    values = lo.fill(m.output, done, new_cells, read=score_cells + [new_lay.cell("total_score")])
    [r] = read(done, reg)
    assert r.template["version"] == 2
    typed = {**{new_lay.cell(f"indicators.{j}.actual"): FILLED_V1.get(old_lay.cell(f"indicators.{i}.actual"))
                for j, i in pairs.items()}, **new_cells}
    actual = [typed.get(new_lay.cell(f"indicators.{j}.actual")) for j in range(len(v2.indicators))]
    assert [i.actual for i in r.indicators] == actual
    # the typed 得分 of the qualitative indicator was carried with its tier
    assert r.indicators[[i.name for i in v2.indicators].index("群众意识")].score == 9
    expected = evaluate_form(new_lay, make_inputs(
        executed={"fiscal": 90}, goal_actual="完成年度目标", actual=actual,
        reason=[i.deviation_reason for i in r.indicators],
        manual_score=[9 if i.name == "群众意识" else None for i in v2.indicators]))
    scores = [expected[f"indicators.{j}.score"] for j in range(len(v2.indicators))]
    assert [i.score for i in r.indicators] == scores == [values[c] for c in score_cells]
    assert r.total_score == expected["total_score"] == values[new_lay.cell("total_score")]
    assert [p for p in r.problems if p.code in ("locked_changed", "formula_changed", "blank_actual", "stale_value")] == []


def test_unchanged_definition_keeps_its_version_and_migrate_to_latest(lo, tmp_path):
    reg = Registry(tmp_path / "r.db")
    v1 = load_def(tmp_path, V1, "v1.yaml")
    [issued] = render([v1], tmp_path / "v1", registry=reg)
    filled = tmp_path / "f.xlsx"
    lo.fill(issued.file, filled, FILLED_V1)
    [again] = render([load_def(tmp_path, V1, "v1.yaml")], tmp_path / "again", registry=reg)
    assert again.sheets[0][2] == 1
    d2 = copy.deepcopy(V1)
    change_target(d2)
    render([load_def(tmp_path, d2, "v2.yaml")], tmp_path / "v2", registry=reg)
    m = migrate(filled, reg, tmp_path / "m")   # no --to: the latest registered version
    assert m.sheets == [("自评表", "t-001", 1, 2)]
    [r] = read(m.output, reg)
    assert r.template["version"] == 2 and r.indicators[1].actual == 1200


def test_cli_diff_and_migrate(lo, tmp_path):
    reg_path = tmp_path / "r.db"
    v1_path = write_def(tmp_path, V1, "v1.yaml")
    d2 = copy.deepcopy(V1)
    drop_indicator(d2)
    v2_path = write_def(tmp_path, d2, "v2.yaml")
    runner = CliRunner()
    r = runner.invoke(main, ["diff", str(v1_path), str(v2_path)])
    assert r.exit_code == 1 and "removed" in r.output and "督查次数" in r.output and "≥2次, 10" in r.output
    assert runner.invoke(main, ["diff", str(v1_path), str(v1_path)]).exit_code == 0
    assert runner.invoke(main, ["render", str(v1_path), "-o", str(tmp_path / "o"), "--registry", str(reg_path)]).exit_code == 0
    lo.fill(tmp_path / "o" / "t-001.xlsx", tmp_path / "filled.xlsx", FILLED_V1)
    r = runner.invoke(main, ["migrate", str(tmp_path / "filled.xlsx"), "--to", str(v2_path), "-o", str(tmp_path / "m"),
                             "--registry", str(reg_path)])
    assert r.exit_code == 0, r.output
    assert "t-001 v1 -> v2" in r.output and "1 dropped" in r.output
    r = runner.invoke(main, ["diff", "t-001", "1", "2", "--registry", str(reg_path)])
    assert r.exit_code == 1 and "removed" in r.output
    assert runner.invoke(main, ["diff", "t-001", "1", "9", "--registry", str(reg_path)]).exit_code == 2
    bad = tmp_path / "bad.xlsx"
    bad.write_text("x")
    r = runner.invoke(main, ["migrate", str(bad), "--registry", str(reg_path), "-o", str(tmp_path / "m")])
    assert r.exit_code == 1 and "不是 Excel 工作簿" in r.output


def test_collect_across_versions(lo, tmp_path):
    """v1 and v2 returns of one template: the newer is current, both keep their own indicators."""
    reg = Registry(tmp_path / "r.db")
    v1 = load_def(tmp_path, V1, "v1.yaml")
    [issued] = render([v1], tmp_path / "v1", registry=reg)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lo.fill(issued.file, inbox / "v1.xlsx", FILLED_V1)
    past = time.time() - 3600
    os.utime(inbox / "v1.xlsx", (past, past))
    d2 = copy.deepcopy(V1)
    add_indicator(d2)
    m = migrate(inbox / "v1.xlsx", reg, tmp_path / "m", to=load_def(tmp_path, d2, "v2.yaml"))
    lo.fill(m.output, inbox / "v2.xlsx", {"F16": 120})
    r = CliRunner().invoke(main, ["collect", str(inbox), "--db", str(tmp_path / "c.db"), "--summary",
                                  str(tmp_path / "s.xlsx"), "--report", str(tmp_path / "rep"), "--registry",
                                  str(reg.path), "--jobs", "1"])
    assert "2 read" in r.output, r.output
    import sqlite3
    db = sqlite3.connect(tmp_path / "c.db")
    rows = db.execute("SELECT version, status, (SELECT COUNT(*) FROM indicators i WHERE i.submission_id = s.id) "
                      "FROM submissions s ORDER BY version").fetchall()
    assert rows == [(1, "superseded", 6), (2, "current", 7)]
    names = [r[0] for r in db.execute("SELECT name FROM indicators i JOIN submissions s ON s.id = i.submission_id "
                                      "WHERE s.version = 2 ORDER BY position")]
    assert "培训人数" in names and "督查次数" in names
    warn = db.execute("SELECT code FROM problems p JOIN submissions s ON s.id = p.submission_id "
                      "WHERE s.version = 1").fetchall()
    assert ("outdated_version",) in warn
    wb = openpyxl.load_workbook(tmp_path / "s.xlsx")
    assert [r[3] for r in wb["汇总"].iter_rows(min_row=2, values_only=True)] == [2]
    assert wb["指标"].max_row == 1 + 7


def test_was_never_guesses(tmp_path):
    v1 = load_def(tmp_path, V1, "v1.yaml")
    d2 = copy.deepcopy(V1)
    items(d2)["产出指标"]["质量指标"][0].update(name="覆盖率（新）", was="不存在的名称")
    v2 = load_def(tmp_path, d2, "v2.yaml")
    assert 3 not in match(v1, v2).values()


def test_migrate_a_department_workbook(tmp_path):
    """One sheet's template changes: that sheet moves to v2, the other stays on its version, values kept."""
    from helpers import fill_openpyxl
    reg = Registry(tmp_path / "r.db")
    a = copy.deepcopy(V1)
    b = dict(copy.deepcopy(V1), id="t-002", project="另一个项目")
    pa, pb = load_def(tmp_path, a, "a.yaml"), load_def(tmp_path, b, "b.yaml")
    [issued] = render([pa, pb], tmp_path / "out", per="department", registry=reg)
    filled = fill_openpyxl(issued.file, tmp_path / "filled.xlsx", FILLED_V1, sheet="测试项目")
    filled = fill_openpyxl(filled, tmp_path / "filled2.xlsx", {**FILLED_V1, "F13": 4}, sheet="另一个项目")
    change_target(a)
    m = migrate(filled, reg, tmp_path / "m", to=load_def(tmp_path, a, "a2.yaml"))
    assert m.output.name == "filled2.xlsx"
    assert m.sheets == [("测试项目", "t-001", 1, 2), ("另一个项目", "t-002", 1, 1)]
    first, second = read(m.output, reg)
    assert (first.template["version"], second.template["version"]) == (2, 1)
    assert first.indicators[1].actual == 1200 and second.indicators[0].actual == 4
    assert not [p for r in (first, second) for p in r.problems if p.code in ("locked_changed", "formula_changed")]


def test_a_migrated_form_with_long_reasons_reads_without_false_problems(tmp_path):
    """Carried 偏差原因 of 200 characters make rows tall; the page plan (and the 一级/二级 labels repeated at
    its breaks, locked cells) is still the blank version's, so the migrated form reads against its cells."""
    from pathlib import Path
    from helpers import fill_openpyxl, lay_of
    from xlform.definition.definition import load
    import yaml
    example = Path(__file__).resolve().parent.parent / "examples" / "jrjg-2019.yaml"
    p = load(example)
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path / "v1", registry=reg)
    lay = lay_of(p)
    reasons = {lay.cell(f"indicators.{i}.reason"): f"第{i}项：" + "受政策调整影响，进度较计划有所滞后" * 11
               for i in range(len(p.indicators))}
    fill_openpyxl(issued.file, tmp_path / "filled.xlsx", reasons)
    data = yaml.safe_load(example.read_text(encoding="utf-8"))
    data["indicators"]["产出指标"]["数量指标"][0]["target"] = "≥3次"
    m = migrate(tmp_path / "filled.xlsx", reg, tmp_path / "migrated", to=load_def(tmp_path, data, "v2.yaml"))
    assert m.error is None and m.count("已转入") >= len(p.indicators)
    [r] = read(m.output, reg)
    assert r.template["version"] == 2
    assert {x.code for x in r.problems} & {"locked_changed", "structure_changed", "formula_changed"} == set()
    assert [i.deviation_reason for i in r.indicators] == list(reasons.values())
