"""Hubei's 2020 variant of the 自评表 added as a newcomer would (issue 18): a folder with form.yaml and one
module, sections.py, in a folder named by XLFORM_TEMPLATES — docs/kinds/hubei, the walk-through of
docs/kinds.md — with no edit to the package. 全年执行数 is split into 财政拨款 and 其他资金 columns, an
input column 佐证材料 follows 偏差原因, and a footer of inputs 填表人 / 联系电话 / 填报日期 closes the form.
It renders, fills in LibreOffice, reads back, collects, exports, migrates and prints."""
import csv
import io
import shutil
from pathlib import Path

import openpyxl
import pdfplumber
import pytest
import yaml
from click.testing import CliRunner

from helpers import validation_at, write_def
from xlform.cli import main
from xlform.definition.definition import load
from xlform.errors import XlformError
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.kinds.forms import form_kind, kind_names
from xlform.printing.printer import print_pdfs
from xlform.returns.migration import migrate
from xlform.returns.reader import read

ROOT = Path(__file__).resolve().parent.parent
HUBEI = ROOT / "docs" / "kinds" / "hubei"
REACHED = "达成年度指标"
JAN_15 = 44211   # 2021-01-15 as a spreadsheet keeps a typed date (days since 1899-12-30)

DEFINITION = {
    "form": "hubei", "year": 2020, "id": "hb-2020-01", "project": "农村饮水安全巩固提升工程",
    "department": "湖北省水利厅", "implementer": "湖北省农村饮水安全中心",
    "funds": {"weight": 10, "fiscal": {"initial": 100, "annual": 120}, "other": {"initial": 20, "annual": 30}},
    "goal": "完成 50 处农村集中供水工程改造，提升农村供水保障水平。",
    "indicators": {
        "产出指标": {
            "数量指标": [{"name": "改造集中供水工程", "target": "≥50处", "weight": 20},
                         {"name": "受益人口", "target": "≥10万人", "weight": 10}],
            "质量指标": [{"name": "水质达标率", "target": "≥95%", "weight": 20}],
        },
        "效益指标": {"社会效益指标": [{"name": "农村供水保障水平", "target": "有效提升", "weight": 30}]},
        "满意度指标": {"服务对象满意度指标": [{"name": "受益群众满意度", "target": "≥90%", "weight": 10}]},
    },
}

# the cells of the form (1-based rows): funds header 5-6, 年度资金总额 7, goal 8-9, indicators 10-15, total 16,
# footer 17; the funds grid keeps to the right: 年初预算数 C … 得分 J
FILLED = {"F7": 110, "G7": 25, "F9": "完成 52 处工程改造。", "F11": 52, "I11": "两处工程提前完工", "J11": "验收报告", "F12": 12,
          "F13": 0.97, "J13": "检测报告", "F14": REACHED, "H14": 30, "F15": 0.93,
          "B17": "王芳", "E17": "027-87654321", "H17": JAN_15}


@pytest.fixture(scope="module")
def kinds(tmp_path_factory):
    """The Hubei folder copied into a templates folder of the office's own, named by XLFORM_TEMPLATES."""
    folder = tmp_path_factory.mktemp("kinds")
    shutil.copytree(HUBEI, folder / "hubei")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XLFORM_TEMPLATES", str(folder))
        yield folder


@pytest.fixture(scope="module")
def issued(kinds, tmp_path_factory):
    out = tmp_path_factory.mktemp("hubei")
    p = load(write_def(out, DEFINITION, "hb.yaml"))
    reg = Registry(out / "registry.db")
    [workbook] = render([p], out / "forms", registry=reg)
    return p, workbook.file, reg, out


@pytest.fixture(scope="module")
def filled(lo, issued, tmp_path_factory):
    _, path, _, _ = issued
    dst = tmp_path_factory.mktemp("filled") / "hb.xlsx"
    got = lo.fill(path, dst, FILLED, read=["E7", "I7", "J7", "H16", "I16"])
    return dst, got


def test_the_kind_is_a_folder_and_a_module_outside_the_package(kinds):
    assert not (ROOT / "templates" / "hubei").exists()
    k = form_kind("hubei")
    assert [m.name for m in k.modules] == ["sections.py"] and k.modules[0].parent == kinds / "hubei"
    assert k.sections == ("header", "funds", "goal", "indicators", "total", "footer")
    assert "hubei" in kind_names()


def test_the_form_shows_the_split_funds_the_evidence_column_and_the_footer(issued):
    p, path, _, _ = issued
    ws = openpyxl.load_workbook(path)["自评表"]
    assert ws["A1"].value == "湖北省项目支出绩效自评表"
    assert [ws.cell(5, c).value for c in range(3, 11)] == [
        "年初预算数", "全年\n预算数", "全年\n执行数", None, None, "分值", "执行率", "得分"]
    assert [ws.cell(6, c).value for c in range(5, 8)] == ["合计", "财政拨款", "其他资金"]
    assert (ws["B7"].value, ws["C7"].value, ws["D7"].value, ws["H7"].value) == ("年度资金总额", 120, 150, 10)
    assert ws["E7"].value == '=IF(COUNT(F7:G7)=0,"",SUM(F7:G7))'
    assert ws["I7"].value.startswith("=IF(AND(COUNT(F7:G7)>0,D7>0),E7/D7")
    assert "E5:G5" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["J10"].value == "佐证材料" and ws["I10"].value.startswith("偏差原因")
    assert [ws[c].value for c in ("A17", "D17", "G17")] == ["填表人", "联系电话", "填报日期"]
    for cell in ("F7", "G7", "J11", "B17", "E17", "H17"):
        assert not ws[cell].protection.locked, cell
        dv = validation_at(ws, cell)
        assert dv.prompt and dv.error and any("\u4e00" <= ch <= "\u9fff" for ch in dv.prompt), cell
    assert validation_at(ws, "H17").type == "date" and ws["H17"].number_format == "yyyy-mm-dd"
    assert validation_at(ws, "J11").type == "textLength"
    for cell in ("E7", "I7", "J7", "C7", "D7"):
        assert ws[cell].protection.locked, cell
    assert ws.protection.sheet


def test_a_filled_form_round_trips_through_libreoffice(issued, filled):
    _, _, reg, _ = issued
    path, got = filled
    [r] = read(path, reg)
    assert [(x.code, x.where) for x in r.problems] == []
    assert r.template["form"] == "hubei"
    assert r.funds["rows"]["fiscal"] == {"initial": 100, "annual": 120, "executed": 110}
    assert r.funds["rows"]["other"] == {"initial": 20, "annual": 30, "executed": 25}
    assert r.funds["rows"]["total"]["executed"] == got["E7"] == 135
    assert r.funds["rate"] == pytest.approx(got["I7"]) == pytest.approx(0.9)
    assert r.funds["score"] == got["J7"] == 9
    assert r.total_score == got["H16"] == 99 and got["I16"] == "评价等级：" + r.grade == "评价等级：优"
    assert [i.extra["evidence"] for i in r.indicators] == ["验收报告", None, "检测报告", None, None]
    assert (r.extra["filler"], r.extra["phone"], r.extra["date"]) == ("王芳", "027-87654321", "2021-01-15")


def test_its_problems_name_their_cells(lo, issued, tmp_path):
    _, path, reg, _ = issued
    bad = {**FILLED, "F7": 130, "B17": None, "H17": "下周"}   # over its 全年预算数; no 填表人; no date
    lo.fill(path, tmp_path / "bad.xlsx", bad)
    [r] = read(tmp_path / "bad.xlsx", reg)
    found = {(x.code, x.where) for x in r.problems}
    assert found == {("over_budget", "自评表!F7"), ("blank_text", "自评表!B17"), ("hubei_date", "自评表!H17")}
    date = next(x for x in r.problems if x.code == "hubei_date")
    assert date.severity == "error" and "填报日期“下周”不是有效日期" in date.message


def test_collect_and_export_carry_its_fields_by_name(issued, filled, tmp_path):
    _, _, _, out = issued
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(filled[0], inbox / "hb.xlsx")
    db = tmp_path / "c.db"
    r = CliRunner().invoke(main, ["collect", str(inbox), "--db", str(db), "--summary", str(tmp_path / "s.xlsx"),
                                  "--report", str(tmp_path / "reports"), "--registry", str(out / "registry.db"),
                                  "--jobs", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    ws = openpyxl.load_workbook(tmp_path / "s.xlsx")["汇总"]
    header = [c.value for c in ws[1]]
    [row] = [dict(zip(header, values)) for values in ws.iter_rows(min_row=2, values_only=True)]
    assert row["表样"] == "hubei" and (row["填表人"], row["填报日期"]) == ("王芳", "2021-01-15")
    table = list(csv.DictReader(io.StringIO(CliRunner().invoke(main, ["export", "--db", str(db)]).stdout)))
    assert {(t["filler"], t["phone"], t["date"]) for t in table} == {("王芳", "027-87654321", "2021-01-15")}
    assert [t["indicator.evidence"] for t in table] == ["验收报告", "", "检测报告", "", ""]


def test_migrate_carries_the_split_funds_the_evidence_and_the_footer(issued, filled, tmp_path):
    _, _, reg, _ = issued
    data = yaml.safe_load(yaml.safe_dump(DEFINITION))
    data["indicators"]["产出指标"]["数量指标"][0]["target"] = "≥55处"   # a new version of the definition
    m = migrate(filled[0], reg, tmp_path / "migrated", to=load(write_def(tmp_path, data, "hb-v2.yaml")))
    assert m.error is None and m.sheets == [("自评表", "hb-2020-01", 1, 2)]
    ws = openpyxl.load_workbook(m.output)["自评表"]
    assert (ws["F7"].value, ws["G7"].value, ws["J11"].value, ws["B17"].value, ws["E17"].value) == (
        110, 25, "验收报告", "王芳", "027-87654321")
    assert ws["H17"].value.date().isoformat() == "2021-01-15"
    carried = {line.field for line in m.lines if line.category == "已转入"}
    assert {"财政拨款·全年执行数", "其他资金·全年执行数", "填表人", "联系电话", "填报日期"} <= carried
    [r] = read(m.output, reg)
    assert (r.extra["date"], r.funds["rows"]["total"]["executed"]) == ("2021-01-15", 135)


def test_a_filled_form_prints_with_its_own_parts(filled, tmp_path):
    [done] = print_pdfs([filled[0]], tmp_path / "pdf")
    with pdfplumber.open(done.pdf) as doc:
        # in the order LibreOffice draws them, cell by cell: a label wrapped in its cell reads whole
        text = "".join(c["text"] for page in doc.pages for c in page.chars if c["text"].strip())
    for words in ("湖北省项目支出绩效自评表", "佐证材料", "验收报告", "财政拨款", "其他资金", "填报日期",
                  "2021-01-15", "王芳"):
        assert words in text, words


@pytest.mark.parametrize("edit, bad_line, words", [
    (lambda t: t.replace("footer: [filler, phone, date]", "footer: [filler, phone, date, a, b]"), "footer: [",
     "must hold 1 to 4 items"),
    (lambda t: t.replace("total, footer]", "total, fooder]"), "sections:", "'fooder' is not one of"),
    (lambda t: t.replace("  date: 填报日期\n", ""), "footer: [", "'date' has no label"),
])
def test_a_mistyped_form_yaml_is_one_file_line_error(kinds, tmp_path, edit, bad_line, words):
    folder = tmp_path / "own"
    shutil.copytree(HUBEI, folder / "hubei2")
    path = folder / "hubei2" / "form.yaml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    line = next(i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if bad_line in text)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XLFORM_TEMPLATES", str(folder))
        with pytest.raises(XlformError) as e:
            form_kind("hubei2")
        code = CliRunner().invoke(main, ["check", str(write_def(tmp_path, {**DEFINITION, "form": "hubei2"}, "d.yaml"))])
    assert str(e.value).startswith(f"{path}:{line}:") and words in str(e.value), str(e.value)
    assert code.exit_code == 1 and f"{path}:{line}:" in code.stderr and "Traceback" not in code.stderr


def test_a_broken_module_is_one_line_naming_it(tmp_path):
    folder = tmp_path / "own"
    shutil.copytree(HUBEI, folder / "hubei3")
    module = folder / "hubei3" / "sections.py"
    module.write_text(module.read_text(encoding="utf-8") + "\nSECTIONS = {'footer': 1}\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XLFORM_TEMPLATES", str(folder))
        with pytest.raises(XlformError, match=f"form kind 'hubei3': {module}: needs SECTIONS"):
            form_kind("hubei3")
        module.write_text("def broken(:\n", encoding="utf-8")
        with pytest.raises(XlformError, match=f"form kind 'hubei3': {module}: cannot load it: SyntaxError"):
            form_kind("hubei3")
