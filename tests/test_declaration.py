"""The 项目支出绩效目标申报表 (form kind declaration): rendered from a project block, filled in LibreOffice as a
department fills it, read back with every problem at its cell."""
import shutil

import openpyxl
import pytest
from click.testing import CliRunner

from helpers import validation_at, write_def
from xlform.cli import main
from xlform.definition.definition import load
from xlform.errors import DefinitionError
from xlform.returns.reader import read
from xlform.issue.registry import Registry
from xlform.issue.renderer import render

DECLARATION = """\
    form: declaration
    year: 2024
    id: sc-2024-07
    project: 乡村振兴专项资金
    department: 四川省农业农村厅
    implementer: 四川省农业农村厅
    funds:
      fiscal: {initial: 500}
      other: {initial: 20}
    blank_rows: {default: 2, 成本指标: 0, 生态效益指标: 0}
    indicators:
      产出指标:
        数量指标:
          - {name: 建设示范村数量, target: ≥20个, weight: 20}
    """

# rows of the rendered form (1-based): 13 the known indicator, then two blank rows per 二级指标 left in
BLANK = {"数量指标": (14, 15), "质量指标": (16, 17), "时效指标": (18, 19), "经济效益指标": (20, 21),
         "社会效益指标": (22, 23), "可持续影响指标": (24, 25), "服务对象满意度指标": (26, 27)}



@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    out = tmp_path_factory.mktemp("declaration")
    p = load(write_def(out, DECLARATION))
    reg = Registry(out / "registry.db")
    [workbook] = render([p], out, registry=reg)
    return p, workbook.file, reg


def test_a_definition_of_the_project_block_alone_is_accepted(tmp_path):
    p = load(write_def(tmp_path, """\
        form: declaration
        year: 2024
        id: d-1
        project: 项目
        department: 局
        implementer: 局
        funds: {fiscal: {initial: 105}}
        """))
    assert p.indicators == () and p.goal == "" and p.funds.rows["fiscal"].initial == 105
    # the 自评表 still needs its indicators and goal
    with pytest.raises(DefinitionError) as e:
        load(write_def(tmp_path, "form: project\nyear: 2024\nid: d-2\nproject: 项目\ndepartment: 局\n"
                                 "implementer: 局\nfunds: {fiscal: {initial: 1, annual: 1}}\n"))
    assert {x.code for x in e.value.problems} == {"missing"}
    assert {x.field for x in e.value.problems} == {"indicators", "goal"}


def test_known_weights_may_not_exceed_the_total_and_blank_rows_are_counts(tmp_path):
    with pytest.raises(DefinitionError) as e:
        load(write_def(tmp_path, DECLARATION.replace("weight: 20", "weight: 95")
                       .replace("成本指标: 0", "成本指标: -1")))
    assert sorted((x.code, x.field) for x in e.value.problems) == [("type", "blank_rows.成本指标")]
    with pytest.raises(DefinitionError) as e:
        load(write_def(tmp_path, DECLARATION.replace("weight: 20", "weight: 95")))
    assert [(x.code, x.field) for x in e.value.problems] == [("weight_total", "indicators")]


def test_the_blank_form_has_the_national_layout_locked_and_validated(issued):
    p, path, _ = issued
    ws = openpyxl.load_workbook(path)["申报表"]
    assert (ws["A1"].value, ws["A2"].value) == ("项目支出绩效目标申报表", "（2024 年度）")
    assert (ws["A3"].value, ws["C3"].value, ws["A4"].value, ws["E4"].value) == ("项目名称", "乡村振兴专项资金",
                                                                                "主管部门", "实施单位")
    assert ws["A5"].value == "项目属性" and validation_at(ws, "C5").type == "list"
    assert validation_at(ws, "C5").formula1 == '"新增,延续"'
    assert ws["A6"].value == "资金情况\n（万元）" and ws["E6"].value == "年初预算数"
    assert [(ws[f"B{r}"].value, ws[f"E{r}"].value) for r in range(7, 11)] == [
        ("年度资金总额", 520), ("其中：当年财政拨款", 500), ("上年结转资金", None), ("其他资金", 20)]
    assert ws["A11"].value == "年度\n绩效目标" and not ws["B11"].protection.locked
    assert [ws.cell(12, c).value for c in range(1, 8)] == ["绩效指标", "一级指标", "二级指标", "三级指标", "指标值",
                                                          "分值", "备注"]
    # the known indicator: pre-filled and locked
    assert [ws.cell(13, c).value for c in range(2, 7)] == ["产出指标", "数量指标", "建设示范村数量", "≥20个", 20]
    assert all(ws.cell(13, c).protection.locked for c in range(4, 7)) and not ws["G13"].protection.locked
    # every 二级指标 of the national set except those the definition leaves out, blank rows unlocked
    level2 = {ws[f"C{r}"].value: r for r in range(13, 28) if ws[f"C{r}"].value}
    assert level2 == {"数量指标": 13, "质量指标": 16, "时效指标": 18, "经济效益指标": 20, "社会效益指标": 22,
                      "可持续影响指标": 24, "服务对象满意度指标": 26}
    assert {ws[f"B{r}"].value: r for r in range(13, 28) if ws[f"B{r}"].value} == {"产出指标": 13, "效益指标": 20,
                                                                                "满意度指标": 26}
    for rows in BLANK.values():
        for r in rows:
            for c in "DEFG":
                assert not ws[f"{c}{r}"].protection.locked, f"{c}{r}"
            assert validation_at(ws, f"F{r}").type == "decimal" and validation_at(ws, f"F{r}").operator == "greaterThan"
            assert validation_at(ws, f"F{r}").formula1 == "0"
            assert validation_at(ws, f"D{r}").type == validation_at(ws, f"E{r}").type == "textLength"
            assert "大于 0" in validation_at(ws, f"F{r}").error
    assert "产出指标合计 50 分" in validation_at(ws, "F14").prompt
    assert (ws["B28"].value, ws["F28"].value) == ("预算执行率", 10)
    assert (ws["B29"].value, ws["F29"].value) == ("分值合计", "=SUM(F28,F13:F27)")
    assert ws.protection.sheet and ws["E8"].protection.locked and ws["C3"].protection.locked


FILLED = {"C5": "新增", "B11": "完成 20 个示范村建设，带动农民增收。",
          "D14": "培训农民人次", "E14": "≥3000人次", "F14": 10, "G14": "按省厅口径",
          "D16": "项目验收合格率", "E16": "=100%", "F16": 10,
          "D18": "资金拨付时间", "E18": "≤30天", "F18": 10,
          "D20": "带动农民增收", "E20": "有效带动", "F20": 15,
          "D22": "示范带动作用", "E22": "明显提升", "F22": 15,
          "D26": "农民满意度", "E26": "≥90%", "F26": 10}


def test_a_department_fills_it_in_libreoffice_and_it_reads_clean(lo, issued, tmp_path):
    p, path, reg = issued
    filled = tmp_path / "filled.xlsx"
    got = lo.fill(path, filled, FILLED, read=["F29"])
    assert got["F29"] == 100
    with pytest.raises(RuntimeError, match="locked"):
        lo.fill(path, tmp_path / "no.xlsx", {"E13": "≥10个"})
    [r] = read(filled, reg)
    assert [(x.code, x.where) for x in r.problems] == []
    assert r.template["form"] == "declaration" and r.project["attribute"] == "新增"
    assert r.goal["expected"] == "完成 20 个示范村建设，带动农民增收。"
    assert r.funds["rows"]["total"]["initial"] == 520
    assert [(i.level1, i.level2, i.name, i.target, i.weight) for i in r.indicators] == [
        ("产出指标", "数量指标", "建设示范村数量", "≥20个", 20), ("产出指标", "数量指标", "培训农民人次", "≥3000人次", 10),
        ("产出指标", "质量指标", "项目验收合格率", "=100%", 10), ("产出指标", "时效指标", "资金拨付时间", "≤30天", 10),
        ("效益指标", "经济效益指标", "带动农民增收", "有效带动", 15),
        ("效益指标", "社会效益指标", "示范带动作用", "明显提升", 15),
        ("满意度指标", "服务对象满意度指标", "农民满意度", "≥90%", 10)]
    assert r.indicators[1].extra == {"remark": "按省厅口径"}


def test_every_problem_names_its_cell_in_chinese(lo, issued, tmp_path):
    _, path, reg = issued
    cells = {"D14": "培训农民人次",                                   # no 指标值, no 分值
             "D15": "培训合格率", "E15": "不低于95%", "F15": 5,        # a comparison in words
             "E16": "≥1次", "F16": 3,                                 # a 指标值 and 分值 without a name
             "D18": "资金拨付时间", "E18": "≥百分之九十", "F18": 20,   # starts like a target, is none
             "D20": "带动农民增收", "E20": "有效带动", "F20": "十五",   # not a number
             "D22": "示范带动作用", "E22": "明显提升", "F22": 30}
    filled = tmp_path / "bad.xlsx"
    lo.fill(path, filled, cells)
    [r] = read(filled, reg)
    assert sorted((x.code, x.where) for x in r.problems) == sorted([
        ("decl_attribute", "申报表!C5"), ("decl_goal_missing", "申报表!B11"),
        ("decl_target_missing", "申报表!E14"), ("decl_weight_missing", "申报表!F14"),
        ("decl_target_unclear", "申报表!E15"), ("decl_name_missing", "申报表!D16"),
        ("decl_target_unclear", "申报表!E18"), ("not_a_number", "申报表!F20"),
        ("decl_split", "申报表!B13"),         # 产出: 20 + 5 + 20 of 50
        ("decl_too_few", "申报表!B26")])
    message = {(x.code, x.where): x.message for x in r.problems}
    assert message[("decl_target_unclear", "申报表!E15")].startswith("“培训合格率”的指标值“不低于95%”既不是可计分的目标值")
    assert "≥95%" in message[("decl_target_unclear", "申报表!E15")]
    assert message[("decl_target_missing", "申报表!E14")] == "“培训农民人次”的指标值未填写。"
    assert message[("decl_too_few", "申报表!B26")] == "满意度指标下至少需要填写一个三级指标。"
    assert message[("decl_split", "申报表!B13")] == ("产出指标的分值合计为 45，应为 50（预算执行率 10、产出 50、效益 30、"
                                                   "满意度 10）。")


def test_a_returned_declaration_is_collected_with_the_summary_and_reports(issued, tmp_path):
    """A 申报表's funds rows hold the 年初预算数 alone: storing it raised KeyError 'annual', and the summary's 汇总
    KeyError 'rate', so one 申报表 in a folder stopped collect with an internal error, nothing written."""
    _, path, reg = issued
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(path, inbox / "申报表.xlsx")
    r = CliRunner().invoke(main, ["collect", str(inbox), "--db", str(tmp_path / "c.db"), "--summary",
                                  str(tmp_path / "s.xlsx"), "--report", str(tmp_path / "rep"), "--registry",
                                  str(reg.path)])
    assert r.exit_code == 1, r.output   # (the blank form's problems: its 项目属性, 绩效目标 … not filled)
    rows = list(openpyxl.load_workbook(tmp_path / "s.xlsx", read_only=True)["汇总"].iter_rows(values_only=True))
    head, row = dict(zip(rows[0], range(len(rows[0])))), rows[1]
    assert (row[head["项目名称"]], row[head["表样"]], row[head["执行率"]]) == ("乡村振兴专项资金", "declaration", None)
    assert (tmp_path / "rep" / "四川省农业农村厅.html").read_text(encoding="utf-8").count("申报表!") >= 3
