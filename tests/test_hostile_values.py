"""Hostile values of the family float() lets through (huge, tiny, inf, nan), on every path a file takes after the
reader's cells: the hidden sheet's version, the rules' arithmetic, the 复核 and the imports. Each was a crash
(an internal error, an exception) or NaN/Infinity in a record before its fix."""
import copy
import json

import openpyxl
import pytest
from click.testing import CliRunner

from helpers import GOOD, SMALL, definition, fill_openpyxl, small_form, write_def
from review_helpers import collection
from test_declaration import DECLARATION
from test_import import seed_workbook
from test_monitoring import DEFINITION as MONITORED, clean_fill
from xlform.cli import main
from xlform.definition.definition import load
from xlform.issue.monitoring import monitored
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.returns.reader import read
from xlform.scoring.scoring import xl_round


@pytest.fixture(scope="module")
def form(tmp_path_factory):
    return small_form(tmp_path_factory.mktemp("hostile_values"))


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def meta(wb, key, value):
    for row in wb["_xlform"].iter_rows():
        if row[1].value == key:
            row[2].value = value


@pytest.mark.parametrize("version", ["1e300", 1e300, 2 ** 70, "-1e300"])
def test_a_version_no_registry_holds_is_an_unknown_version(form, tmp_path, version):
    """int(float("1e300")) is an int of 301 digits: SQLite refused it (OverflowError), read raised it."""
    _, path, reg = form
    [r] = read(fill_openpyxl(path, tmp_path / "v.xlsx", GOOD, edit=lambda wb: meta(wb, "version", version)), reg)
    assert [(p.code, p.where) for p in r.problems] == [("unknown_version", "_xlform!C4")]
    json.dumps(r.to_dict(), allow_nan=False)


def monitoring_form(folder, target="≥1200米", annual=1200):
    """The 监控表 of test_monitoring.py, its first indicator's target and its fiscal 全年预算数 as given."""
    d = copy.deepcopy(MONITORED)
    d["indicators"]["产出指标"]["数量指标"][0]["target"] = target
    d["funds"]["fiscal"]["annual"] = annual
    reg = Registry(folder / "r.db")
    mp, kind = monitored(load(write_def(folder, d, "jk.yaml")))
    [issued] = render([mp], folder / "forms", registry=reg, kinds={mp.id: kind})
    return issued.file, reg


@pytest.mark.parametrize("target, annual", [("≥0.00000001米", 1200), ("≥1200米", 0.00000001)])
def test_a_ratio_of_more_than_15_digits_is_rounded_as_excel_rounds_it(tmp_path, target, annual):
    """1-X月执行情况 / (年度指标值 × 序时进度) of 1.7e22 (99999999999999 against 0.00000001): ROUND to 6 decimals
    raised InvalidOperation (the quantize wants 29 digits); Excel has no decimal left to round there."""
    path, reg = monitoring_form(tmp_path, target, annual)
    cells = dict(clean_fill(), F14=99999999999999, G7=99999999999999)
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", cells, sheet="监控表"), reg)
    assert r.indicators[0].extra["warning"] == "蓝" and r.funds["rows"]["fiscal"]["warning"] == "绿"
    json.dumps(r.to_dict(), allow_nan=False)


@pytest.mark.parametrize("x, digits, rounded", [(1.7142857142857142e22, 6, 1.71428571428571e22), (-1e15, 2, -1e15),
                                                (1e300, 2, 1e300), (2.675, 2, 2.68), (-0.005, 2, -0.01)])
def test_xl_round_keeps_15_digits_at_any_size(x, digits, rounded):
    assert xl_round(x, digits) == rounded


def test_a_self_score_of_the_smallest_double_leaves_the_review_report_whole(tmp_path):
    """A 自评得分 of 5e-324 (the lowest tier allows 0 to 12; Excel's smallest number is 2.2e-308) against a 复核评分 of
    10: the 偏离度 (5e-324 − 10) / 5e-324 is -inf, the formula's #NUM!, and the 复核报告 could not be written
    (xlsxwriter refuses INF: an internal error). It is no number, as ISNUMBER says of the formula's."""
    low = "未达成年度指标且效果较差"
    db, registry, _ = collection(tmp_path, {"甲局": 1}, edits={"p-000": {"F15": low, "H15": 5e-324, "I15": "原因"}})
    assert run("review", "sample", "--db", db, "--seed", 1, "--share", 1, "--min", 0).exit_code == 0
    assert run("review", "render", "--db", db, "--registry", registry, "-o", tmp_path / "ws").exit_code == 0
    (tmp_path / "filled").mkdir()
    fill_openpyxl(tmp_path / "ws" / "p-000.review.xlsx", tmp_path / "filled" / "p-000.review.xlsx",
                  {"I13": low, "J13": 10, "C17": "李审"}, sheet="复核表")
    collected = run("review", "collect", tmp_path / "filled", "--db", db, "--registry", registry)
    assert collected.exit_code == 0, collected.output
    report = run("review", "report", "--db", db, "-o", tmp_path / "report")
    assert report.exit_code == 0, report.output
    ws = openpyxl.load_workbook(tmp_path / "report" / "复核报告.xlsx").worksheets[0]
    assert any(c.value == "项目00" for row in ws.iter_rows() for c in row)


# -- a definition's numbers: 0, or from 1e-15 to below 1e15 in size -------------------------------------------
def _rows(amount):
    return {"weight": 10, **{row: {"initial": amount, "annual": amount} for row in ("fiscal", "carryover", "other")}}


def _first_target(target):
    data = definition(SMALL)
    data["indicators"]["产出指标"]["数量指标"][0]["target"] = target
    return data


@pytest.mark.parametrize("data, where, says", [
    # 执行数 / 全年预算数 of 1e-300: a 执行率 of inf in the record's JSON, and the summary unwritten
    (definition(SMALL, funds={"weight": 10, "fiscal": {"initial": 1e-300, "annual": 1e-300}}), "funds.fiscal.initial",
     "out of range"),
    (definition(SMALL, funds=_rows(1e308)), "funds.fiscal.initial", "out of range"),   # summed: inf, render failed
    (definition(SMALL, funds=_rows(10 ** 400)), "funds.fiscal.initial", "out of range"),   # math.isfinite raised
    (definition(SMALL, allow_total=1e300), "allow_total", "out of range"),
    (_first_target({"op": ">=", "value": 1e-300}), "target.value", "out of range"),   # 监控表 ratio: inf
    (_first_target("≥0." + "0" * 300 + "1次"), "target", "too large for a 年度指标值 (or too small)"),
    (definition(SMALL, scoring={"overshoot": 10 ** 400}), "scoring", "must be a number ≥ 0"),   # OverflowError
    (definition(SMALL, scoring={"overshoot": 1e300}), "scoring", "below 1e15"),   # ≥ target × 1e300: inf in a formula
    (definition(SMALL, scoring={"grades": {"优": 10 ** 400, "差": 0}}), "scoring", "not a finite number"),
    (definition(SMALL, scoring={"review_classes": {"一致": 10 ** 400, "严重偏差": "rest"}}), "scoring",
     "not a finite number"),
])
def test_a_definitions_number_past_15_digits_is_a_check_error(tmp_path, data, where, says):
    """Each was accepted (a 执行率 or ratio of inf later, a sum of inf at render) or an internal error of check."""
    path = write_def(tmp_path, data)
    r = run("check", path)
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]   # (one a number: six rows)
    assert errors and where in errors[0] and all(f"{path}:" in e and says in e for e in errors), errors


# -- imports: a year and a 分值 past what int() and Decimal take ---------------------------------------------
def imported(path, out):
    r = run("import", path, "-o", out, "--force")
    assert r.exit_code in (0, 1) and "意外错误" not in r.output and "internal" not in r.output, r.output
    return r


@pytest.mark.parametrize("year", ["²", "9" * 5000, "9" * 400])
def test_an_issued_forms_subtitle_year_that_int_refuses_is_no_year(form, tmp_path, year):
    """"²" is a digit to str.isdigit but not to int(); 5,000 digits are more than int() takes; 400 made a year that
    stopped the whole import (OverflowError). Each was an unexpected error; now the year is not found."""
    _, path, _ = form
    r = imported(fill_openpyxl(path, tmp_path / "y.xlsx", dict(GOOD, A2=f"（{year} 年度）")), tmp_path / "defs")
    assert r.exit_code == 1 and "year: must be a year such as 2019 (got None)" in r.output


def test_a_flat_lists_year_of_400_digits_is_no_year(tmp_path):
    """int(float("9" * 400)) raised OverflowError (an unexpected error for the file): the title's year stands."""
    ws_rows = [["2024年度项目绩效目标清单"], ["项目名称", "主管部门", "一级指标", "二级指标", "三级指标", "年度指标值", "分值",
                                      "年初预算数", "年度"]]
    for level1, level2, name, target, weight in SMALL:
        ws_rows.append(["培训项目", "测试局", level1, level2, name, target, weight, 100, "9" * 400])
    wb = openpyxl.Workbook()
    for row in ws_rows:
        wb.active.append(row)
    wb.save(tmp_path / "list.xlsx")
    imported(tmp_path / "list.xlsx", tmp_path / "defs")
    [written] = (tmp_path / "defs").glob("*.yaml")
    assert "\nyear: 2024\n" in written.read_text(encoding="utf-8")


def test_a_hand_made_funds_weight_of_400_digits_is_a_check_error_not_a_crash(tmp_path):
    """With no 分值 for the indicators and a 一级指标 outside the split, 100 − 分值 (inf) was spread over them:
    Decimal raised InvalidOperation (an unexpected error). Now check names the 分值 in the definition written."""
    wb = openpyxl.load_workbook(seed_workbook(tmp_path / "seed.xlsx", per_sheet=True))
    for extra in wb.worksheets[1:]:
        wb.remove(extra)
    ws = wb.worksheets[0]
    ws["F10"], ws["B17"] = "9" * 400, "其他指标"   # the 年度资金总额's 分值; a 一级指标 outside the split
    for row in ws.iter_rows(min_row=17, max_row=29):
        for cell in row[4:7]:   # 年度指标值, 实际完成值, 分值 (the 二级指标 row 27 on holds them one column left)
            if isinstance(cell.value, (int, float)):
                cell.value = 0
    wb.save(tmp_path / "seed.xlsx")
    r = imported(tmp_path / "seed.xlsx", tmp_path / "defs")
    assert r.exit_code == 1 and "funds.weight: inf is out of range" in r.output


@pytest.fixture(scope="module")
def declaration(tmp_path_factory):
    out = tmp_path_factory.mktemp("declaration")
    reg = Registry(out / "r.db")
    [issued] = render([load(write_def(out, DECLARATION))], out, registry=reg)
    reg.close()
    return issued.file


def with_cells(path, dst, change):
    def edit(wb):
        for row in wb["_xlform"].iter_rows():
            if row[1].value == "cells":
                cells = json.loads(row[2].value)
                change(cells)
                row[2].value = json.dumps(cells, ensure_ascii=False)
    return fill_openpyxl(path, dst, {}, sheet="_xlform", edit=edit)


@pytest.mark.parametrize("which, change", [
    ("declaration", lambda c: c.update({"declared.x.name": "A1"})),            # int("x")
    ("declaration", lambda c: c.update({"declared.².name": "A1"})),            # int("²")
    ("declaration", lambda c: c.update({"declared." + "9" * 5000 + ".name": "A1"})),   # past int()'s digits
    ("declaration", lambda c: c.update({"declared.99999999.name": "A1"})),     # a row looked up and not there
    ("declaration", lambda c: c.pop("funds.fiscal.initial")),                  # KeyError
    ("declaration", lambda c: c.update({"goal.expected": "B9\nError: 伪造的一行"})),   # a reference: into a line
    ("self", lambda c: c.update({"indicators.9.weight": "A1"})),                # rows 0-3 and 9: 4 looked up
])
def test_an_imported_cell_map_that_is_not_xlforms_is_refused_naming_it(form, declaration, tmp_path, which, change):
    """The import trusts the hidden sheet's cell map (no registry to compare it with): each of these was an
    unexpected error for the file, or a forged line. Now the map is refused at its cell (import_meta)."""
    source = declaration if which == "declaration" else form[1]
    r = imported(with_cells(source, tmp_path / "m.xlsx", change), tmp_path / "defs")
    assert r.exit_code == 1 and "_xlform!C9: 隐藏的模板信息表中 cells 的值" in r.output and "单元格对照表已损坏" in r.output
    assert "伪造的一行" not in r.output.replace("“", "\n").split("\n")[0] and "\nError: 伪造" not in r.output


@pytest.mark.parametrize("target", ["≥" + "9" * 20 + "人次", "≥" + "9" * 400 + "人次", "≥0." + "0" * 20 + "1人次"])
def test_a_declared_target_past_15_digits_is_unclear_at_its_cell(tmp_path, target):
    """A 指标值 of 1e20 read clean, and import wrote a definition that check refused (its YAML line): the
    department is told at its cell, as for any 指标值 that is no target."""
    out = tmp_path / "issued"
    out.mkdir()
    reg = Registry(out / "r.db")
    [issued] = render([load(write_def(out, DECLARATION))], out, registry=reg)
    cells = {"C5": "新增", "B11": "完成示范村建设。", "D14": "培训农民人次", "E14": target, "F14": 10}
    [r] = read(fill_openpyxl(issued.file, tmp_path / "f.xlsx", cells, sheet="申报表"), reg)
    reg.close()
    assert ("decl_target_unclear", "申报表!E14") in [(p.code, p.where) for p in r.problems]
    assert "10 的 15 次方" in next(p.message for p in r.problems if p.code == "decl_target_unclear")


@pytest.mark.parametrize("version", ["²", "9" * 20])
def test_diff_of_a_version_no_registry_holds_is_a_usage_error(tmp_path, version):
    """"²" passed str.isdigit and int() refused it; 20 digits made an int SQLite refused (OverflowError): both
    internal errors. Now the registry has no such version, as for 0."""
    _, _, reg = small_form(tmp_path)
    reg.close()
    r = run("diff", "t-001", version, "1", "--registry", tmp_path / "r.db")
    assert r.exit_code == 2 and f"the registry has no versions {version} and 1 of template t-001" in r.output


@pytest.mark.parametrize("option, value", [("--share", "nan"), ("--largest", "9" * 23), ("--min", "9" * 23)])
def test_a_review_sample_option_past_its_range_is_a_usage_error(tmp_path, option, value):
    """click's FloatRange(0, 1) lets nan through (math.ceil of it raised ValueError), and 10**23 was an int SQLite
    refused (OverflowError): internal errors. Each is now the usage error it is, before the store is opened."""
    r = run("review", "sample", "--db", tmp_path / "none.db", option, value)
    assert r.exit_code == 2 and f"Invalid value for '{option}'" in r.output


def test_a_small_amount_imported_reads_back_as_the_number_it_was(tmp_path):
    """A 年初预算数 of 0.00001 万元 (0.1 元) was written as 1e-05, a text to YAML 1.1 (it wants a point): check said
    the amount was no number. The definition now holds 1.0e-05 and loads with the amount as typed."""
    wb = openpyxl.Workbook()
    for row in [["2024年度项目绩效目标清单"], ["项目名称", "主管部门", "一级指标", "二级指标", "三级指标", "年度指标值", "分值",
                                     "年初预算数"]] + [["培训项目", "测试局", *i, 0.00001] for i in SMALL]:
        wb.active.append(row)
    wb.save(tmp_path / "list.xlsx")
    r = imported(tmp_path / "list.xlsx", tmp_path / "defs")
    assert r.exit_code == 0, r.output
    [written] = (tmp_path / "defs").glob("*.yaml")
    assert load(written).funds.rows["fiscal"].initial == 0.00001


def test_values_of_a_hand_made_form_over_a_budget_of_the_smallest_double_are_json(tmp_path):
    """--values: an 执行数 of 57 over a 全年预算数 of 5e-324 (Excel's smallest number is 2.2e-308) was a 执行率 of inf,
    written as Infinity, which is no JSON. The quotient past a double is no number (#NUM!), as in the 复核."""
    wb = openpyxl.load_workbook(seed_workbook(tmp_path / "seed.xlsx", per_sheet=True))
    for extra in wb.worksheets[1:]:
        wb.remove(extra)
    wb.worksheets[0]["D10"] = wb.worksheets[0]["D11"] = 5e-324   # 全年预算数 of the total and the fiscal row
    wb.save(tmp_path / "seed.xlsx")
    r = run("import", tmp_path / "seed.xlsx", "-o", tmp_path / "defs", "--values")
    assert r.exit_code == 1 and "funds.fiscal.annual: 5e-324 is out of range" in r.output, r.output
    [written] = (tmp_path / "defs").glob("*.record.json")
    [record] = json.loads(written.read_text(encoding="utf-8"), parse_constant=lambda c: pytest.fail(c))
    assert record["funds"]["rows"]["total"]["executed"] == 57 and record["funds"]["rate"] is None
