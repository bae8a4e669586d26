"""The summary's sheet 图表 for the director: native Excel charts of the 评价等级 counts and of the average
总分 and 执行率 per 主管部门, drawn from the data beside them, on either engine; LibreOffice prints them."""
import json
import re
import subprocess
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner

from test_postgres import collect, returns  # noqa: F401  (the module's returns fixture: five graded returns)
from xlform.cli import main

SHEET = "图表!"   # how a chart part names a range of the sheet 图表 (Excel quotes no letters)


def collected(db: str, returns, out):  # noqa: F811
    r = collect(db, returns["registry"], returns["inbox"], out=out)
    assert r.exit_code == 1 and "6 read" in r.stderr, r.output   # 1: the rejected text file
    exported = CliRunner().invoke(main, ["export", "--db", db, "--format", "json"])
    return out / "summary.xlsx", json.loads(exported.stdout)


@pytest.fixture()
def summary(db_url, returns, tmp_path):  # noqa: F811
    return collected(db_url, returns, tmp_path)


def test_chart_data_holds_the_numbers_of_the_current_returns(summary):
    path, records = summary
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["汇总", "图表", "指标", "问题", "质量", "未报送"]
    ws = wb["图表"]
    # the returns were filled to give 优 98 and 良 83 (甲局), 中 60.5, 差 38.5 and 优 98 (乙局)
    assert [tuple(row) for row in ws.iter_rows(min_row=1, max_row=6, max_col=2, values_only=True)] == [
        ("评价等级", "项目数"), ("优", 2), ("良", 1), ("中", 1), ("差", 1), ("有错误", 0)]
    departments = [row for row in ws.iter_rows(min_row=2, min_col=4, max_col=7, values_only=True) if row[0]]
    assert [(d, n) for d, n, _, _ in departments] == [("乙局", 3), ("甲局", 2)]
    assert [round(total, 2) for _, _, total, _ in departments] == [65.67, 90.5]
    assert [round(rate, 4) for _, _, _, rate in departments] == [0.5667, 0.8]
    assert ws["F2"].number_format == "0.00" and ws["G2"].number_format == "0.00%"
    # and they agree with the records themselves
    for d, n, total, rate in departments:
        mine = [r for r in records if r["project"]["department"] == d]
        assert len(mine) == n
        assert total == pytest.approx(sum(r["total_score"] for r in mine) / n)
        assert rate == pytest.approx(sum(r["funds"]["rate"] for r in mine) / n)
    assert {g: sum(r["grade"] == g for r in records) for g in "优良中差"} == {"优": 2, "良": 1, "中": 1, "差": 1}


def test_three_native_charts_on_the_sheet_reference_its_ranges(summary):
    path, _ = summary
    assert len(openpyxl.load_workbook(path)["图表"]._charts) == 3   # anchored on 图表, not elsewhere
    with zipfile.ZipFile(path) as z:
        charts = {n: z.read(n).decode("utf-8") for n in sorted(z.namelist())
                  if re.fullmatch(r"xl/charts/chart\d+\.xml", n)}
    assert len(charts) == 3
    found = {}
    for xml in charts.values():
        title = re.search(r"<c:title>.*?<a:t>(.*?)</a:t>", xml, re.S).group(1)
        axes = re.findall(r"<c:(?:valAx|catAx)>.*?<c:title>.*?<a:t>(.*?)</a:t>", xml, re.S)
        refs = re.findall(r"<c:f>(.*?)</c:f>", xml)
        kind = re.search(r"<c:barDir val=\"(\w+)\"/>", xml).group(1)
        found[title] = (kind, sorted(axes), refs)
    assert found == {
        "评价等级分布": ("col", ["评价等级", "项目数（个）"], [f"{SHEET}$A$2:$A$6", f"{SHEET}$B$2:$B$6"]),
        "各主管部门平均总分": ("bar", ["主管部门", "平均总分（分）"], [f"{SHEET}$D$2:$D$3", f"{SHEET}$F$2:$F$3"]),
        "各主管部门平均执行率": ("bar", ["主管部门", "平均执行率"], [f"{SHEET}$D$2:$D$3", f"{SHEET}$G$2:$G$3"])}


def test_libreoffice_prints_the_charts(returns, lo, tmp_path):  # noqa: F811
    path, _ = collected(str(tmp_path / "c.db"), returns, tmp_path)   # the engine does not change the print
    pdf = tmp_path / "summary.pdf"
    lo.pdf(path, pdf)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for title in ("评价等级分布", "各主管部门平均总分", "各主管部门平均执行率"):
        assert title in text, text[-3000:]


def test_no_current_return_no_chart(db_url, returns, tmp_path):  # noqa: F811
    empty = tmp_path / "empty"
    empty.mkdir()
    r = collect(db_url, returns["registry"], empty, out=tmp_path)
    assert r.exit_code == 0, r.output
    ws = openpyxl.load_workbook(tmp_path / "summary.xlsx")["图表"]
    with zipfile.ZipFile(tmp_path / "summary.xlsx") as z:
        assert not [n for n in z.namelist() if n.startswith("xl/charts/")]
    assert ws["A8"].value == "尚无已报送的项目，暂无图表。"
    assert [ws.cell(r, 2).value for r in range(2, 7)] == [0, 0, 0, 0, 0]


def test_a_return_with_errors_is_counted_as_such_not_by_its_grade(tmp_path):
    """A return with an error (2 trainings of ≥4 and no 偏差原因) has a 总分 and a grade, but the chart counts
    it under 有错误, as the desk's dashboard does."""
    from helpers import GOOD, fill_openpyxl, small_form
    _, issued, reg = small_form(tmp_path)
    reg.close()
    inbox = tmp_path / "in"
    inbox.mkdir()
    fill_openpyxl(issued, inbox / "wrong.xlsx", {**GOOD, "F13": 2})
    r = CliRunner().invoke(main, ["collect", str(inbox), "--db", str(tmp_path / "c.db"), "--summary",
                                  str(tmp_path / "s.xlsx"), "--report", str(tmp_path / "reports"),
                                  "--registry", str(reg.path)])
    assert r.exit_code == 1, r.output
    records = json.loads(CliRunner().invoke(main, ["export", "--db", str(tmp_path / "c.db"), "--format",
                                                   "json"]).stdout)
    assert [(r["grade"], [p["code"] for p in r["problems"]]) for r in records] == [("良", ["reason_missing"])]
    ws = openpyxl.load_workbook(tmp_path / "s.xlsx")["图表"]
    assert [tuple(row) for row in ws.iter_rows(min_row=1, max_row=6, max_col=2, values_only=True)] == [
        ("评价等级", "项目数"), ("优", 0), ("良", 0), ("中", 0), ("差", 0), ("有错误", 1)]
