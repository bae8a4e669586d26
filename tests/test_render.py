"""Rendered workbooks opened with openpyxl: texts, merges, formulas, validation, protection, names, metadata."""
import openpyxl
from openpyxl.cell.cell import MergedCell
import pytest
from openpyxl.utils import range_boundaries

from helpers import definition, load_def, validation_at
from xlform.scoring import scoring
from xlform.form.evaluate import rules
from xlform.kinds.forms import form_kind
from xlform.form.layout import layout
from xlform.xlsx.metadata import parse_meta
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.definition.definition import template_hash
from xlform.xlsx.writer import password_hash

IDS = [f"xj-jrj-2019-0{i}" for i in range(1, 8)]


def meta_of(wb):
    rows = [[c.value for c in row] for row in wb["_xlform"].iter_rows()]
    return rows



@pytest.mark.parametrize("tid", IDS)
def test_texts_merges_and_fonts(rendered, examples, tid):
    p, wb = examples[tid], openpyxl.load_workbook(rendered[tid])
    ws = wb["自评表"]
    lay = layout(p)
    assert ws["A1"].value == "项目支出绩效自评表" and ws["A2"].value == "（2019 年度）"
    assert (ws["A3"].value, ws["C3"].value) == ("项目名称", p.project)
    assert (ws["C4"].value, ws["F4"].value, ws["H4"].value) == (p.department, "实施单位", p.implementer)
    # headings break only where form.yaml puts a line break, between words
    assert [ws.cell(5, c).value for c in range(4, 10)] == ["年初预算数", "全年\n预算数", "全年\n执行数", "分值", "执行率", "得分"]
    assert [ws[f"B{r}"].value for r in range(6, 10)] == ["年度资金总额", "其中：当年\n财政拨款", "上年结转资金", "其他资金"]
    assert ws["E6"].value == pytest.approx(p.funds.total.annual) and ws["G6"].value == p.funds.weight
    assert (ws["B10"].value, ws["F10"].value, ws["B11"].value) == ("预期目标", "实际完成情况", p.goal)
    assert [ws.cell(12, c).value for c in range(1, 10)] == [
        "绩效指标", "一级指标", "二级指标", "三级指标", "年度\n指标值", "实际\n完成值", "分值", "得分", "偏差原因分析\n及改进措施"]
    for i, ind in enumerate(p.indicators):
        assert ws[lay.cell(f"indicators.{i}.name")].value == ind.name
        assert ws[lay.cell(f"indicators.{i}.target")].value == ind.target.text
        assert ws[lay.cell(f"indicators.{i}.weight")].value == ind.weight
    total_row = lay.rows["total"] + 1
    assert ws[f"A{total_row}"].value == "总分" and ws[f"G{total_row}"].value == 100
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {"A1:I1", "A2:I2", "C3:I3", "A5:A9", "B11:E11", "F11:I11"} <= merged
    breaks = [b.id for b in ws.row_breaks.brk]   # 绩效指标 spans the table, page by page
    starts = [12] + [b + 1 for b in breaks if 12 < b + 1 <= total_row - 1]
    assert {f"A{a}:A{b - 1}" for a, b in zip(starts, starts[1:] + [total_row])} <= merged
    # a group split over two pages has its label on both
    for first, last, text in lay.groups("level1"):
        starts = [first + 1] + [b + 1 for b in breaks if first + 1 < b + 1 <= last + 1]
        for a, b in zip(starts, starts[1:] + [last + 2]):
            assert ws.cell(a, 2).value == text
            assert a == b - 1 or f"B{a}:B{b - 1}" in merged
    assert ws["A1"].font.name == "宋体" and ws["D13"].font.name == "宋体" and ws["A1"].font.b


@pytest.mark.parametrize("tid", IDS)
def test_formulas_come_from_the_rules(rendered, examples, tid):
    p, ws = examples[tid], openpyxl.load_workbook(rendered[tid])["自评表"]
    lay = layout(p)
    assert ws["F6"].value == '=IF(COUNT(F7:F9)=0,"",SUM(F7:F9))'
    assert ws["H6"].value == "=" + scoring.funds_rate_formula("F7:F9", "F6", "E6")
    assert ws["I6"].value == '=IF(ISNUMBER(H6),ROUND(G6*MIN(H6,1),2),"")'
    for i, rule in enumerate(rules(p, lay.profile)):
        x, w, s = (lay.cell(f"indicators.{i}.{k}") for k in ("actual", "weight", "score"))
        if rule.manual:
            assert ws[s].value is None and not ws[s].protection.locked   # typed by the department
        else:
            assert ws[s].value == "=" + rule.formula(x, w)
    last = lay.cell(f"indicators.{len(p.indicators) - 1}.score")
    assert ws[lay.cell("total_score")].value == f'=IF(COUNT(I6,H13:{last})=0,"",ROUND(SUM(I6,H13:{last}),2))'
    total = lay.cell("total_score")
    assert ws[lay.cell("grade")].value == (f'=IF(COUNT(I6,H13:{last})=0,"",IF({total}>=90,"优",IF({total}>=80,"良",'
                                          f'IF({total}>=60,"中","差"))))')
    assert ws[lay.cell("grade")].number_format == '"评价等级："@'


@pytest.mark.parametrize("tid", IDS)
def test_only_input_cells_are_unlocked_and_sheet_protected(rendered, examples, tid):
    p, wb = examples[tid], openpyxl.load_workbook(rendered[tid])
    ws = wb["自评表"]
    lay = layout(p)
    inputs = {f.cell for f in lay.inputs().values()}
    typed = sum(1 for i in p.indicators if i.manual or i.target.qualitative)   # tiers: the 得分 is typed
    assert inputs >= {"F7", "F8", "F9", "F11"} and len(inputs) == 4 + 2 * len(p.indicators) + typed
    for row in ws.iter_rows(min_row=1, max_row=lay.rows["total"] + 1, max_col=9):
        for c in row:
            if isinstance(c, MergedCell):  # covered by a merge: the anchor's protection applies
                continue
            assert c.protection.locked == (c.coordinate not in inputs), c.coordinate
    assert ws.protection.sheet and ws.protection.formatCells is not False
    assert wb.security.lockStructure
    assert wb["_xlform"].protection.sheet


@pytest.mark.parametrize("tid", IDS)
def test_every_input_cell_is_validated_with_chinese_prompts(rendered, examples, tid):
    p, ws = examples[tid], openpyxl.load_workbook(rendered[tid])["自评表"]
    lay = layout(p)
    for key, f in lay.inputs().items():
        dv = validation_at(ws, f.cell)
        assert dv.showInputMessage and dv.showErrorMessage and dv.errorStyle in (None, "stop")
        assert dv.promptTitle and dv.prompt and dv.errorTitle == "输入有误" and dv.error
        assert any("\u4e00" <= ch <= "\u9fff" for ch in dv.prompt + dv.error)
        if f.type in ("amount", "number", "percent"):
            assert (dv.type, dv.operator, dv.formula1) == ("decimal", "greaterThanOrEqual", "0"), key
        elif f.type == "qualitative":
            assert (dv.type, dv.formula1, dv.formula2) == ("decimal", "0", "1"), key
        elif f.type == "text":
            assert dv.type == "textLength" and dv.operator == "lessThanOrEqual", key
        elif f.type == "tier":
            assert dv.type == "list" and dv.formula1 == '"达成年度指标,部分达成年度指标并具有一定效果,未达成年度指标且效果较差"'
        elif key.endswith(".score"):   # a qualitative 得分 within its tier's range
            i = int(key.split(".")[1])
            x, w = lay.cell(f"indicators.{i}.actual"), lay.cell(f"indicators.{i}.weight")
            assert dv.type == "custom" and f'AND({x}="达成年度指标",{f.cell}>=0.8*{w},{f.cell}<=1*{w})' in dv.formula1
    for i, ind in enumerate(p.indicators):
        cell = ws[lay.cell(f"indicators.{i}.actual")]
        assert ("%" in cell.number_format) == ind.target.percent, ind.name


@pytest.mark.parametrize("tid", IDS)
def test_defined_names_and_hidden_metadata_find_every_field(rendered, examples, tid):
    p, wb = examples[tid], openpyxl.load_workbook(rendered[tid])
    ws, lay = wb["自评表"], layout(p)
    names = {n: d.attr_text for n, d in ws.defined_names.items()}
    for f in lay.inputs().values():
        col, row = f.cell.rstrip("0123456789"), f.cell[len(f.cell.rstrip("0123456789")):]
        assert names[f.name] == f"'自评表'!${col}${row}"
    assert wb["_xlform"].sheet_state == "veryHidden"
    meta = meta_of(wb)
    kv = {(r[0], r[1]): r[2] for r in meta}
    assert kv[("自评表", "template_id")] == p.id and kv[("自评表", "version")] == "1"
    assert kv[("自评表", "hash")] == template_hash(p, form_kind("project")) and kv[("自评表", "form")] == "project"
    assert kv[("xlform", "xlform_version")] and kv[("xlform", "generated")].startswith("20")
    parsed = parse_meta(meta)["自评表"]
    assert parsed["cells"] == {k: f.cell for k, f in lay.fields.items()}
    assert parsed["indicator_ids"] == [i.id for i in p.indicators]


@pytest.mark.parametrize("tid", IDS)
def test_cached_values_of_the_blank_form(rendered, tid):
    ws = openpyxl.load_workbook(rendered[tid], data_only=True)["自评表"]
    # a blank form shows no 0: 全年执行数, 得分, 总分 and 评价等级 are blank until something is typed
    total = 13 + sum(1 for row in ws.iter_rows(min_row=13, max_col=4) if row[3].value)
    for ref in ("F6", "H6", "I6", "H13", f"H{total}", f"I{total}"):
        assert ws[ref].value in (None, ""), ref
    assert ws[f"A{total}"].value == "总分"


@pytest.mark.parametrize("tid", IDS)
def test_a4_print_setup(rendered, tid):
    ws = openpyxl.load_workbook(rendered[tid])["自评表"]
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "portrait"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1)
    assert ws.page_setup.fitToHeight == 0 and ws.print_title_rows == "$12:$12"   # the indicator table's header
    assert ws.page_setup.blackAndWhite   # the input highlights do not print
    assert "第 1 版" in ws.oddFooter.left.text and ws.oddFooter.left.size == 7
    assert "&P" in ws.oddFooter.center.text and ws.oddFooter.right.text
    assert ws.oddHeader.center.text.startswith("项目名称：")
    assert ws.protection.formatRows is False   # False: the filler may resize rows (merged text cells)


def test_text_from_yaml_is_never_a_formula(tmp_path):
    p = load_def(tmp_path, definition([("产出指标", "数量指标", "=1+1", "=SUM(A1)", 90)],
                                      goal="=HYPERLINK(\"http://x\")", project="+cmd"))
    [issued] = render([p], tmp_path, registry=Registry(tmp_path / "r.db"))
    ws = openpyxl.load_workbook(issued.file)["自评表"]
    for ref, text in (("B11", '=HYPERLINK("http://x")'), ("C3", "+cmd"), ("D13", "=1+1"), ("E13", "=SUM(A1)")):
        assert ws[ref].data_type == "s" and ws[ref].value == text


def test_password_protects_sheets_and_structure(tmp_path):
    p = load_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥1次", 90)]))
    [issued] = render([p], tmp_path, password="s3cret", registry=Registry(tmp_path / "r.db"))
    wb = openpyxl.load_workbook(issued.file)
    assert wb["自评表"].protection.password == password_hash("s3cret")
    assert wb.security.workbookPassword == password_hash("s3cret") and wb.security.lockStructure


def test_per_department_workbooks_with_safe_names(tmp_path):
    defs = [definition([("产出指标", "数量指标", "a", "≥1次", 90)], id=f"d-{i}", department=dep, project=proj)
            for i, (dep, proj) in enumerate([("财政局/预算处", "项目:一[1]"), ("财政局/预算处", "项目:一[1]*"),
                                             ("教育局", "x" * 40)])]
    projects = [load_def(tmp_path, d, f"{d['id']}.yaml") for d in defs]
    issued = render(projects, tmp_path / "out", per="department", registry=Registry(tmp_path / "r.db"))
    assert sorted(i.file.name for i in issued) == ["教育局.xlsx", "财政局_预算处.xlsx"]
    wb = openpyxl.load_workbook(tmp_path / "out" / "财政局_预算处.xlsx")
    assert wb.sheetnames == ["项目_一_1_", "项目_一_1__", "_xlform"]
    meta = {(r[0], r[1]): r[2] for r in meta_of(wb)}
    assert meta[("项目_一_1_", "template_id")] == "d-0" and meta[("项目_一_1__", "template_id")] == "d-1"
    assert set(wb["项目_一_1_"].defined_names) == set(wb["项目_一_1__"].defined_names)
    long = openpyxl.load_workbook(tmp_path / "out" / "教育局.xlsx").sheetnames[0]
    assert long == "x" * 31


def test_registry_versions(tmp_path):
    reg = Registry(tmp_path / "r.db")
    d = definition([("产出指标", "数量指标", "a", "≥1次", 90)])
    [v1] = render([load_def(tmp_path, d)], tmp_path / "o", registry=reg)
    [again] = render([load_def(tmp_path, d)], tmp_path / "o", registry=reg)
    d["indicators"]["产出指标"]["数量指标"][0]["target"] = "≥2次"
    [v2] = render([load_def(tmp_path, d)], tmp_path / "o", registry=reg)
    assert [i.sheets[0][2] for i in (v1, again, v2)] == [1, 1, 2]
    assert reg.lookup("t-001")["version"] == 2 and reg.lookup("t-001", 1)["project"].indicators[0].target.text == "≥1次"
    files = reg.db.execute("SELECT id, version, sheet FROM issued_files").fetchall()
    assert files == [("t-001", 1, "自评表"), ("t-001", 1, "自评表"), ("t-001", 2, "自评表")]


def test_manual_score_is_an_unlocked_validated_input(tmp_path):
    p = load_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥1次", 50, {"rule": "manual"}),
                                       ("产出指标", "数量指标", "b", "≥1次", 40)]))
    [issued] = render([p], tmp_path, registry=Registry(tmp_path / "r.db"))
    ws = openpyxl.load_workbook(issued.file)["自评表"]
    assert ws["H13"].value is None and not ws["H13"].protection.locked
    dv = validation_at(ws, "H13")
    assert (dv.type, dv.formula1, dv.formula2) == ("decimal", "0", "50.0")
    assert ws["H14"].value.startswith("=IF(") and ws["H14"].protection.locked
    assert ws["H15"].value == '=IF(COUNT(I6,H13:H14)=0,"",ROUND(SUM(I6,H13:H14),2))'
    assert "XF_I001_SCORE" in ws.defined_names


def test_reason_cells_are_highlighted_by_the_rule(rendered, examples):
    ws = openpyxl.load_workbook(rendered["xj-jrj-2019-07"])["自评表"]
    rules_by_cell = {str(cf.sqref): [r.formula[0] for r in cf.rules] for cf in ws.conditional_formatting}
    assert rules_by_cell["I13"] == ["AND(ISBLANK(I13),ISNUMBER(H13),OR(H13<G13,AND(ISNUMBER(F13),F13>=130)))"]
    assert rules_by_cell["F7"] == ["AND(ISNUMBER(F7),F7>E7)"]


def test_row_heights_leave_room_for_wrapped_text(rendered, examples):
    ws = openpyxl.load_workbook(rendered["xj-jrj-2019-01"])["自评表"]
    assert ws.row_dimensions[11].height > 60      # the long 预期目标
    assert ws.row_dimensions[13].height < ws.row_dimensions[17].height  # a one-line vs a three-line name
    assert range_boundaries("A1:I1")  # sanity of the helper import


@pytest.mark.parametrize("tid", IDS)
def test_expected_cells_are_what_the_workbook_holds(rendered, examples, tid):
    """The reader's picture of an issued sheet (the writer run against a recorder) equals the file."""
    from xlform.xlsx.writer import SheetSpec, expected_cells
    from xlform.xlsx.reader import Package
    p = examples[tid]
    expected = expected_cells(SheetSpec(p, form_kind("project"), 1, "自评表"))
    with Package(rendered[tid]) as pkg:
        cells = pkg.sheet(pkg.sheets[0]).cells
    written = {ref: (c.value, c.formula) for ref, c in cells.items() if c.value not in (None, "") or c.formula}
    assert {ref: f for ref, (_, f) in written.items()} == {ref: f for ref, (_, f) in expected.items()}
    assert {ref: v for ref, (v, f) in written.items() if f is None} == {
        ref: v for ref, (v, f) in expected.items() if f is None}
    assert len(expected) > 80
