"""The reader on workbooks filled or damaged with openpyxl and by hand: records, problems, bad files."""
import json
import re
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner

from helpers import GOOD, cells_for, definition, fill_openpyxl, inputs_from, load_def, small_form
from xlform import read as api_read
from xlform.cli import main
from xlform.messages import CATALOGUE
from xlform.returns.reader import read
from xlform.storage.record import to_csv
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.kinds.forms import form_kind
from xlform.definition.definition import template_hash


@pytest.fixture()
def form(tmp_path):
    """A small rendered form: (project, path, registry)."""
    return small_form(tmp_path)




def codes(record):
    return sorted((p.code, p.where) for p in record.problems)


def test_openpyxl_filled_form_reads_clean(form, tmp_path):
    p, path, reg = form
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", GOOD), reg)
    assert r.problems == []
    assert (r.template["id"], r.template["version"], r.template["hash"]) == ("t-001", 1, template_hash(p, form_kind("project")))
    assert r.project == {"name": "测试项目", "department": "测试局", "implementer": "测试局", "year": 2019}
    assert r.funds["rows"]["fiscal"] == {"initial": 100, "annual": 100, "executed": 80}
    assert r.funds["rows"]["total"]["executed"] == 80 and r.funds["rate"] == 0.8 and r.funds["score"] == 8
    assert [(i.name, i.actual, i.score) for i in r.indicators] == [
        ("培训次数", 4, 30), ("覆盖率", 0.85, 30), ("群众意识", "达成年度指标", 20), ("满意度", 0.95, 10)]
    assert r.total_score == 98 and r.goal == {"expected": "完成年度任务", "actual": "完成"}
    assert r.grade == "优" and r.template["form"] == "project"


def test_record_json_keys(form, tmp_path):
    _, path, reg = form
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", GOOD), reg)
    d = r.to_dict()
    assert set(d) == {"file", "sheet", "template", "project", "funds", "goal", "indicators", "total_score",
                      "grade", "extra", "problems"}
    assert set(d["indicators"][0]) == {"id", "level1", "level2", "name", "target", "actual", "weight", "score",
                                       "deviation_reason", "extra"}
    assert set(d["funds"]["rows"]) == {"fiscal", "carryover", "other", "total"}
    json.dumps(d, ensure_ascii=False)


def test_what_people_really_type_is_read_with_a_warning(form, tmp_path):
    _, path, reg = form
    cells = dict(GOOD, F7="８０", F13="4次", F14="85%", F16=" 95 % ")
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", cells), reg)
    assert [i.actual for i in r.indicators] == [4, 0.85, "达成年度指标", 0.95] and r.funds["rows"]["fiscal"]["executed"] == 80
    assert codes(r) == [("lenient_number", f"自评表!{c}") for c in ("F13", "F14", "F16", "F7")]
    assert "去掉单位“次”" in next(p.message for p in r.problems if p.where.endswith("F13"))


def test_thousands_separator_and_percent_text_without_sign(form, tmp_path):
    _, path, reg = form
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", dict(GOOD, F7="1,080.5", F14="85")), reg)
    assert r.funds["rows"]["fiscal"]["executed"] == 1080.5 and r.indicators[1].actual == 0.85
    assert ("over_budget", "自评表!F7") in codes(r)


@pytest.mark.parametrize("typed", ["完成", "八", "#N/A", "1.2.3"])
def test_unreadable_numbers_are_errors(form, tmp_path, typed):
    _, path, reg = form
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", dict(GOOD, F13=typed)), reg)
    assert codes(r) == [("not_a_number", "自评表!F13")]
    assert f"“{typed}”不是有效的数字" in r.problems[0].message
    assert r.indicators[0].actual is None and r.indicators[0].score is None


def test_a_long_text_where_a_number_goes_is_quoted_short(form, tmp_path):
    _, path, reg = form
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", dict(GOOD, F13="完成了" * 10_000)), reg)
    assert codes(r) == [("not_a_number", "自评表!F13")]
    assert "“" + "完成了" * 166 + "完成…”不是有效的数字" in r.problems[0].message and len(r.problems[0].message) < 600


@pytest.mark.parametrize("typed", [1.7e308, 1e15, -2e15, "9" * 400])
def test_a_number_of_more_than_15_digits_is_refused_at_its_cell(form, tmp_path, typed):
    """Three amounts at Excel's largest summed to inf: the record said so in its JSON (Infinity, no JSON) and the
    summary could not be written (test_collect.py). 400 digits typed as text read as inf."""
    _, path, reg = form
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", dict(GOOD, F7=typed, F8=typed, F9=typed)), reg)
    assert codes(r) == [("number_too_large", f"自评表!{c}") for c in ("F7", "F8", "F9")]
    assert "过大" in r.problems[0].message
    assert r.funds["rows"]["fiscal"]["executed"] is None and r.funds["rows"]["total"]["executed"] is None
    json.dumps(r.to_dict(), allow_nan=False)


@pytest.mark.parametrize("saved", ["nan", "inf", "-inf", "1e999", "1_000"])
def test_a_number_no_spreadsheet_writes_is_refused_at_its_cell(form, tmp_path, saved):
    """float() reads these (1e999 as inf); a score of NaN compares false everywhere and inf is no number to sum:
    the file is refused, naming the cell."""
    _, path, reg = form
    filled = fill_openpyxl(path, tmp_path / "f.xlsx", GOOD)
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(filled) as zin, zipfile.ZipFile(damaged, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":   # (F13 is 4, as openpyxl writes it)
                data, found = re.subn(rb'(<c r="F13"[^>]*>)<v>4</v>', rb"\1<v>%b</v>" % saved.encode(), data)
                assert found == 1
            zout.writestr(info, data)
    [r] = read(damaged, reg)
    assert [p.code for p in r.problems] == ["bad_xml"] and r.indicators == []
    assert "单元格 自评表!F13 的数值无法识别" in r.problems[0].message


def test_blank_inputs_missing_reasons_and_ranges(form, tmp_path):
    _, path, reg = form
    cells = {"F7": 120, "F13": 2, "F14": 1.2, "F15": "部分达成年度指标并具有一定效果", "H15": 17, "F16": None}
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", cells), reg)
    assert codes(r) == sorted([
        ("over_budget", "自评表!F7"), ("blank_goal_actual", "自评表!F11"),
        ("reason_missing", "自评表!I13"),         # 2 of ≥4次 scores 15 of 30
        ("reason_overshoot", "自评表!I14"),       # 120% of ≥80% is an overshoot of 30% or more
        ("score_out_of_tier", "自评表!H15"),      # 部分达成 allows 12 to below 16 of 20
        ("reason_tier", "自评表!I15"),            # a tier below 达成 asks why
        ("blank_actual", "自评表!F16")])
    assert "应在 12 至 16（不含） 之间" in next(p.message for p in r.problems if p.code == "score_out_of_tier")
    severity = {p.code: p.severity for p in r.problems}
    assert severity["reason_missing"] == "error" and severity["reason_overshoot"] == "warning"
    assert severity["over_budget"] == "warning" and severity["blank_actual"] == "error"


def test_reasons_given_clear_the_problems(form, tmp_path):
    _, path, reg = form
    cells = dict(GOOD, F13=2, F14=1.2, I13="疫情影响，下半年补办", I14="超额完成")
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", cells), reg)
    assert r.problems == [] and r.indicators[0].deviation_reason == "疫情影响，下半年补办"


def test_blank_budget_rows_need_no_execution_but_negative_is_an_error(form, tmp_path):
    _, path, reg = form
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", dict(GOOD, F8=-1)), reg)
    assert codes(r) == [("negative", "自评表!F8")]


@pytest.mark.parametrize("name, edit, expected", [
    ("weight", lambda ws: ws.__setitem__("G13", 40), [("locked_changed", "自评表!G13")]),
    ("target", lambda ws: ws.__setitem__("E13", "≥2次"), [("locked_changed", "自评表!E13")]),
    ("label", lambda ws: ws.__setitem__("D5", "预算"), [("locked_changed", "自评表!D5")]),
    ("formula", lambda ws: ws.__setitem__("H13", "=G13"), [("formula_changed", "自评表!H13")]),
    ("formula as value", lambda ws: ws.__setitem__("H22", 100), [("formula_changed", "自评表!H17")]),
    ("note in the form", lambda ws: ws.__setitem__("B5", "备注"), [("locked_changed", "自评表!B5")]),
    ("note outside", lambda ws: ws.__setitem__("K3", "备注"), [("extra_content", "自评表!K3")]),
])
def test_tampered_locked_cells_are_errors_naming_the_cell(form, tmp_path, name, edit, expected):
    _, path, reg = form

    def tamper(wb):
        ws = wb["自评表"]
        ws.protection.sheet = False  # what a department does first
        edit(ws)
        if name == "formula as value":
            ws["H17"] = 100
            del ws._cells[(22, 8)]
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", GOOD, edit=tamper), reg)
    assert codes(r) == sorted(expected + [("protection_removed", "自评表")])
    assert all(p.severity == "error" for p in r.problems if p.code != "extra_content")


def test_deleted_metadata_sheet_is_recognised_by_project_name(form, tmp_path):
    p, path, reg = form
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", GOOD, edit=lambda wb: wb.remove(wb["_xlform"])), reg)
    assert codes(r) == [("meta_missing", "_xlform")] and r.template["id"] == "t-001" and r.total_score == 98


def test_renamed_sheet_is_an_error_but_still_read(form, tmp_path):
    _, path, reg = form

    def rename(wb):
        wb["自评表"].title = "Sheet1"
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", GOOD, edit=rename), reg)
    assert codes(r) == [("sheet_renamed", "Sheet1!A1")] and r.sheet == "Sheet1" and r.total_score == 98


def test_unknown_template_and_hash_mismatch(form, tmp_path):
    _, path, reg = form

    def meta(wb, key, value):
        ws = wb["_xlform"]
        for row in ws.iter_rows():
            if row[1].value == key:
                row[2].value = value
    [r] = read(fill_openpyxl(path, tmp_path / "a.xlsx", GOOD, edit=lambda wb: meta(wb, "template_id", "zz-9")), reg)
    assert [(p.code, p.where) for p in r.problems] == [("unknown_template", "_xlform!C4")]
    assert "zz-9" in r.problems[0].message
    [r] = read(fill_openpyxl(path, tmp_path / "b.xlsx", GOOD, edit=lambda wb: meta(wb, "hash", "0" * 64)), reg)
    assert [(p.code, p.where) for p in r.problems] == [("hash_mismatch", "_xlform!C7")]
    [r] = read(fill_openpyxl(path, tmp_path / "c.xlsx", GOOD, edit=lambda wb: meta(wb, "version", "7")), reg)
    assert [p.code for p in r.problems] == ["unknown_version"]
    for version in ("inf", "nan", "1e999"):   # (int(float("inf")) raised OverflowError: an internal error)
        [r] = read(fill_openpyxl(path, tmp_path / "d.xlsx", GOOD, edit=lambda wb: meta(wb, "version", version)), reg)
        assert [(p.code, p.where) for p in r.problems] == [("unknown_version", "_xlform!C4")]


def test_empty_registry_knows_no_template(form, tmp_path):
    _, path, _ = form
    [r] = read(path, Registry(tmp_path / "none.db", create=False))
    assert [p.code for p in r.problems] == ["unknown_template"]
    assert not (tmp_path / "none.db").exists()


def test_outdated_version_is_a_warning(tmp_path):
    reg = Registry(tmp_path / "r.db")
    d = definition([("产出指标", "数量指标", "a", "≥1次", 90)])
    [v1] = render([load_def(tmp_path, d)], tmp_path / "v1", registry=reg)
    d["indicators"]["产出指标"]["数量指标"][0]["target"] = "≥2次"
    render([load_def(tmp_path, d)], tmp_path / "v2", registry=reg)
    [r] = read(fill_openpyxl(v1.file, tmp_path / "f.xlsx", {"F7": 100, "F11": "完成", "F13": 1,
                                                            "I13": "按计划完成一次"}), reg)
    assert [(p.code, p.severity) for p in r.problems] == [("outdated_version", "warning")]
    assert "第 1 版，当前为第 2 版" in r.problems[0].message and r.indicators[0].score == 90


def _xlsx_with(tmp_path, name, replace_part=None, extra=None):
    """A copy of a real workbook with one part replaced or added."""
    src = tmp_path / "src.xlsx"
    p = load_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥1次", 90)]))
    render([p], tmp_path, registry=Registry(tmp_path / "r.db"))
    (tmp_path / "t-001.xlsx").rename(src)
    out = tmp_path / name
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if replace_part and item.filename == replace_part[0]:
                data = replace_part[1](data)
            zout.writestr(item, data)
        for n, data in (extra or {}).items():
            zout.writestr(n, data)
    return out


def bad_files(tmp_path):
    files = {}
    files["text.xlsx"] = tmp_path / "text.xlsx"
    files["text.xlsx"].write_text("这不是工作簿", encoding="utf-8")
    files["empty.xlsx"] = tmp_path / "empty.xlsx"
    files["empty.xlsx"].write_bytes(b"")
    files["old.xls"] = tmp_path / "old.xls"
    files["old.xls"].write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1024)  # OLE2: .xls, .et, encrypted
    good = _xlsx_with(tmp_path, "good.xlsx")
    files["truncated.xlsx"] = tmp_path / "truncated.xlsx"
    files["truncated.xlsx"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    files["xxe.xlsx"] = _xlsx_with(tmp_path, "xxe.xlsx", ("xl/workbook.xml", lambda d: d.replace(
        b"<workbook", b'<!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]><workbook', 1)))
    files["bomb.xlsx"] = _xlsx_with(tmp_path, "bomb.xlsx", extra={"xl/media/big.bin": b"\0" * (300 * 2**20)})
    files["notxlsx.zip.xlsx"] = tmp_path / "notxlsx.zip.xlsx"
    with zipfile.ZipFile(files["notxlsx.zip.xlsx"], "w") as z:
        z.writestr("readme.txt", "hello")
    return files


def test_bad_files_each_get_one_clear_error(tmp_path):
    reg = Registry(tmp_path / "r.db")
    expected = {"text.xlsx": "not_zip", "empty.xlsx": "not_zip", "old.xls": "ole", "truncated.xlsx": "truncated",
                "xxe.xlsx": "hostile", "bomb.xlsx": "too_large", "notxlsx.zip.xlsx": "not_xlsx"}
    for name, path in bad_files(tmp_path).items():
        [r] = read(path, reg)
        assert [(p.code, p.severity) for p in r.problems] == [(expected[name], "error")], name
        assert r.problems[0].where == name and r.sheet is None
        message = r.problems[0].message
        assert "\n" not in message and "Traceback" not in message and message == CATALOGUE[expected[name]][1].format(
            detail="（" + message.split("（")[1].split("）")[0] + "）" if "{detail}" in CATALOGUE[expected[name]][1] else "")


def test_cli_read_reads_the_good_beside_the_bad(form, tmp_path):
    _, path, reg = form
    good = fill_openpyxl(path, tmp_path / "good.xlsx", GOOD)
    bad = tmp_path / "bad.xlsx"
    bad.write_text("x")
    out = tmp_path / "records.json"
    r = CliRunner().invoke(main, ["read", str(good), str(bad), "--registry", str(reg.path), "-o", str(out)])
    assert r.exit_code == 1, r.output
    records = json.loads(out.read_text(encoding="utf-8"))
    assert [x["total_score"] for x in records] == [98, None]
    assert records[1]["problems"][0]["code"] == "not_zip"
    assert "2 files, 2 records, 1 errors, 0 warnings" in r.output
    clean = CliRunner().invoke(main, ["read", str(good), "--registry", str(reg.path), "--format", "csv"])
    assert clean.exit_code == 0
    lines = clean.stdout.splitlines()
    assert lines[0].startswith("file,sheet,template_id,version") and len(lines) == 1 + 4 + 0
    assert CliRunner().invoke(main, ["read", str(tmp_path / "missing.xlsx")]).exit_code == 2
    lost = CliRunner().invoke(main, ["read", str(good), "--registry", str(tmp_path / "nowhere.db")])
    assert lost.exit_code == 2 and "Error: no registry at" in lost.stderr  # not every template unknown


def test_csv_neutralises_formula_text(form, tmp_path):
    _, path, reg = form
    def as_text(wb):  # text, as a department types it into a text-formatted cell
        wb["自评表"]["I13"].value = '=HYPERLINK("http://evil")'
        wb["自评表"]["I13"].data_type = "s"
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", dict(GOOD, F13=2, F11="+完成"), edit=as_text), reg)
    assert r.indicators[0].deviation_reason == '=HYPERLINK("http://evil")'
    text = to_csv([r])
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


def test_python_api(form, tmp_path):
    _, path, reg = form
    [r] = api_read(fill_openpyxl(path, tmp_path / "f.xlsx", GOOD), registry=reg)
    assert r.total_score == 98


def test_published_examples_filled_with_openpyxl(rendered, examples, published, tmp_path):
    """Without cached values (openpyxl drops them) the scores come from the rules all the same."""
    reg = Registry(rendered["xj-jrj-2019-01"].parent / "registry.db")
    p = examples["xj-jrj-2019-02"]
    [r] = read(fill_openpyxl(rendered[p.id], tmp_path / "f.xlsx", cells_for(p, inputs_from(p, published[p.id]))),
               reg)
    assert r.total_score == 98.13 and r.funds["score"] == 8.13   # the qualitative 30 typed, within 达成
    assert codes(r) == [("quality_all_full", "自评表!H20")]   # as the bureau returned it: 7 of 7 full, nothing said
    wb = openpyxl.load_workbook(tmp_path / "f.xlsx", data_only=True)
    assert wb["自评表"]["H24"].value is None  # really no cached value


def test_a_200_mb_workbook_is_refused_before_parsing(tmp_path):
    big = tmp_path / "big.xlsx"
    with open(big, "wb") as f:  # sparse: a zip header, then 200 MB of nothing
        f.write(b"PK\x03\x04")
        f.truncate(200 * 2**20)
    [r] = read(big, Registry(tmp_path / "r.db"))
    assert [(p.code, p.where) for p in r.problems] == [("too_large", "big.xlsx")]
    assert "100 MB" in r.problems[0].message


def test_inserted_rows_are_summed_up_not_listed_cell_by_cell(form, tmp_path):
    _, path, reg = form

    def insert_row(wb):
        ws = wb["自评表"]
        ws.protection.sheet = False
        ws.insert_rows(14)  # a department adds its own indicator line
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", GOOD, edit=insert_row), reg)
    locked = [p for p in r.problems if p.code in ("locked_changed", "formula_changed")]
    assert len(locked) == 10
    [summary] = [p for p in r.problems if p.code == "structure_changed"]
    assert summary.severity == "error" and "可能插入、删除或移动了行列" in summary.message
    assert int(summary.message.split("共有 ")[1].split(" 个")[0]) > 10


def test_a_formula_typed_into_an_input_cell(form, tmp_path):
    _, path, reg = form
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", dict(GOOD, F13="=2+2")), reg)
    # openpyxl saves no result for it: read as blank, and said why
    assert sorted((p.code, p.where, p.severity) for p in r.problems) == [
        ("blank_actual", "自评表!F13", "error"), ("input_formula", "自评表!F13", "warning")]
    assert "“=2+2”" in next(p.message for p in r.problems if p.code == "input_formula")
