"""Quality flags (质量提示, issue 20): warnings at their cells on returns that pass every check: a narrative that
says nothing, the same 偏差原因 on many indicators, all full marks with nothing explained, a 成本指标 with ≥, a
满意度 of exactly 100%, 实际完成值 = 年度指标值 throughout, and the same text in different departments' returns.
Every flag has a return that has it and one that does not, filled as real files (openpyxl, LibreOffice, or
written with cached values as Excel saves them)."""
import csv
import hashlib
import json
import os
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from helpers import cells_for, definition, fill_openpyxl, load_def, make_inputs
from xlform.cli import main
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.returns.quality import EMPTY_WORDS, SHORT_BELOW
from xlform.returns.reader import read

# rows 13-17 of the national form; E target, F 实际完成值, H 得分, I 偏差原因; 总分 in H18
INDICATORS = [("产出指标", "数量指标", "培训次数", "≥4次", 20),
              ("产出指标", "质量指标", "培训合格率", "≥90%", 20),
              ("产出指标", "成本指标", "人均培训成本", "≤500元", 10),
              ("效益指标", "社会效益指标", "群众防范意识", "不断提高", 20),
              ("满意度指标", "满意度指标", "群众满意度", "≥95%", 20)]
MET = [5, 0.92, 480, "达成年度指标", 0.96]   # every target met, none exactly (the 效益 tier scored 20 by hand)
REAL = "两场培训因场地未落实推迟到次年一季度"  # a 偏差原因 that explains


def issue(folder, indicators=INDICATORS, **top):
    """A form rendered into folder/issued with its own registry: (project, workbook, registry path)."""
    p = load_def(folder, definition(indicators, **top), name=f"{top.get('id', 't-001')}.yaml")
    reg = Registry(folder / "r.db")
    try:
        [issued] = render([p], folder / "issued", registry=reg)
    finally:
        reg.close()
    return p, issued.file, folder / "r.db"


def typed(actual=MET, reason=(None,) * 5, executed=95, goal="完成年度培训任务。", tier_score=20):
    return make_inputs({"fiscal": executed}, goal, list(actual), list(reason), [None, None, None, tier_score, None])


def returned(form, inputs, name="return.xlsx", lo=None):
    """Fill the form's input cells (openpyxl, or LibreOffice) and read the return back: its one record."""
    project, blank, registry = form
    dst = blank.parent.parent / name
    if lo:
        lo.fill(blank, dst, cells_for(project, inputs))
    else:
        fill_openpyxl(blank, dst, cells_for(project, inputs))
    [record] = read(dst, Registry(registry, create=False))
    assert not record.errors, record.errors
    return record


def at(record, code) -> list[str]:
    return [p.where for p in record.problems if p.code == code]


@pytest.fixture(scope="module")
def form(tmp_path_factory):
    return issue(tmp_path_factory.mktemp("quality"))


# -- a required narrative that says nothing --------------------------------------------------------------
@pytest.mark.parametrize("words", ["无", "暂无", "没有", "/", "—", "——", "无。", " 略 ", "N/A", "同上", "已完成"])
def test_a_required_reason_that_says_nothing_is_flagged(form, words):
    r = returned(form, typed([2, *MET[1:]], [words, None, None, None, None]))   # 2 of 4 trainings: asked for
    assert at(r, "quality_empty_text") == ["自评表!I13"]
    [p] = [p for p in r.problems if p.code == "quality_empty_text"]
    assert p.severity == "warning" and "培训次数" in p.message and words.strip() in p.message


def test_a_reason_that_explains_or_is_not_asked_for_is_not_flagged(form):
    r = returned(form, typed([2, *MET[1:]], [REAL, "无", "/", None, "暂无"]))   # "无" at full marks is an answer
    assert at(r, "quality_empty_text") == []
    assert r.problems == []


def test_the_shortest_narrative_that_counts_is_named(form):
    flagged = returned(form, typed([2, *MET[1:]], ["场地未定"[:SHORT_BELOW - 1], None, None, None, None]))
    counted = returned(form, typed([2, *MET[1:]], ["场地未定"[:SHORT_BELOW], None, None, None, None]))
    assert at(flagged, "quality_empty_text") == ["自评表!I13"] and at(counted, "quality_empty_text") == []
    assert "无" in EMPTY_WORDS and "暂无" in EMPTY_WORDS


# -- the same 偏差原因 on several indicators -----------------------------------------------------------------
def test_the_same_reason_on_three_indicators_is_flagged_at_each(form):
    short = [2, 0.8, 600, *MET[3:]]      # three targets missed: three reasons asked for
    r = returned(form, typed(short, ["受疫情影响，培训推迟", "受疫情影响 培训推迟。", "受疫情影响培训推迟", None, None]))
    assert at(r, "quality_same_reason") == ["自评表!I13", "自评表!I14", "自评表!I15"]
    assert all("另外 2 个指标" in p.message for p in r.problems if p.code == "quality_same_reason")
    r = returned(form, typed(short, ["受疫情影响，培训推迟", "受疫情影响，培训推迟", "合格率不达标因考核标准提高", None, None]))
    assert at(r, "quality_same_reason") == []


# -- every indicator at full marks, nothing explained --------------------------------------------------------
def test_all_full_marks_and_no_narrative_is_flagged_at_the_total(form):
    for reasons in [(None,) * 5, ("无", "/", "暂无", None, "—")]:
        r = returned(form, typed(MET, reasons))
        assert at(r, "quality_all_full") == ["自评表!H18"], reasons


def test_a_missed_target_or_an_explanation_is_not_flagged_as_all_full(form):
    assert at(returned(form, typed([2, *MET[1:]], [REAL, None, None, None, None])), "quality_all_full") == []
    assert at(returned(form, typed(MET, [None, None, None, "宣传覆盖全部社区，群众举报线索增加三成", None])),
              "quality_all_full") == []


# -- targets and actuals ------------------------------------------------------------------------------------
def test_a_cost_indicator_with_at_least_is_flagged_at_its_target(tmp_path, form):
    cost_up = [*INDICATORS[:2], ("产出指标", "成本指标", "人均培训成本", "≥500元", 10), *INDICATORS[3:]]
    flagged = issue(tmp_path, cost_up)
    r = returned(flagged, typed([2, 0.92, 520, *MET[3:]], [REAL, None, None, None, None]))
    assert at(r, "quality_cost_at_least") == ["自评表!E15"]
    r = returned(form, typed([2, *MET[1:]], [REAL, None, None, None, None]))   # ≤500元: as a cost should be
    assert at(r, "quality_cost_at_least") == []


def test_a_satisfaction_of_exactly_100_percent_is_flagged(form):
    r = returned(form, typed([2, *MET[1:4], 1.0], [REAL, None, None, None, None]))
    assert at(r, "quality_satisfaction_full") == ["自评表!F17"]
    r = returned(form, typed([2, *MET[1:4], 0.98], [REAL, None, None, None, None]))
    assert at(r, "quality_satisfaction_full") == []


def test_actuals_equal_to_every_target_are_flagged(form):
    r = returned(form, typed([4, 0.9, 500, "达成年度指标", 0.95], [None, None, None, "宣传覆盖全部社区", None]))
    assert at(r, "quality_actual_is_target") == ["自评表!F13"]
    assert "全部 4 个定量指标" in next(p.message for p in r.problems if p.code == "quality_actual_is_target")
    r = returned(form, typed([4, 0.9, 480, "达成年度指标", 0.95], [None, None, None, "宣传覆盖全部社区", None]))
    assert at(r, "quality_actual_is_target") == []


def test_a_sheet_renamed_with_braces_is_flagged_under_its_name(form, tmp_path):
    """The sheet's name is the workbook's data: "{0}" in it is text, never a format to fill."""
    project, blank, registry = form

    def rename(wb):
        wb["自评表"].title = "自评{0}表"
    dst = fill_openpyxl(blank, tmp_path / "renamed.xlsx", cells_for(project, typed(MET)), edit=rename)
    [r] = read(dst, Registry(registry, create=False))
    assert [(p.code, p.where) for p in r.problems] == [("sheet_renamed", "自评{0}表!A1"),
                                                       ("quality_all_full", "自评{0}表!H18")]


# -- LibreOffice-filled returns ------------------------------------------------------------------------------
def test_a_return_filled_in_libreoffice_has_its_flags_and_a_careful_one_none(lo, form, tmp_path):
    careless = returned(form, typed([4, 0.9, 500, "达成年度指标", 1.0], ["无", "无", "无", "无", "无"]), "careless.xlsx", lo)
    assert {p.code: p.where for p in careless.problems} == {"quality_all_full": "自评表!H18",
                                                            "quality_satisfaction_full": "自评表!F17"}
    assert all(p.severity == "warning" for p in careless.problems)
    lazy = returned(form, typed([2, *MET[1:]], ["暂无", None, None, None, None]), "lazy.xlsx", lo)
    assert [(p.code, p.where) for p in lazy.problems] == [("quality_empty_text", "自评表!I13")]
    careful = returned(form, typed([2, *MET[1:]], [REAL, None, None, None, None]), "careful.xlsx", lo)
    assert careful.problems == []
    # `xlform read` shows them, and exits 0: warnings, never errors
    out = CliRunner().invoke(main, ["read", str(form[1].parent.parent / "careless.xlsx"), "--registry", str(form[2])])
    assert out.exit_code == 0, out.output
    [shown] = json.loads(out.stdout)
    assert {(p["code"], p["cell"], p["severity"]) for p in shown["problems"]} == {
        ("quality_all_full", "自评表!H18", "warning"), ("quality_satisfaction_full", "自评表!F17", "warning")}


# -- the Sichuan form: 原因, 评价结论, 存在问题, 改进措施 ---------------------------------------------------------
def test_sichuan_narratives_that_say_nothing_are_flagged(tmp_path):
    data = yaml.safe_load((Path(__file__).parent.parent / "examples" / "sc-2023-01.yaml").read_text(encoding="utf-8"))
    p = load_def(tmp_path, data, "sc.yaml")
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path / "issued", registry=reg)
    reg.close()
    sheet = issued.sheets[0][0]
    PART = "部分达成年度指标并具有一定效果"     # a tier below the top: a 偏差原因 is asked for
    lay_inputs = {"funds.fiscal.executed": 400, "funds.special.executed": 20, "funds.unit.executed": 0,
                  "funds.other.executed": 0, "goal.actual": "完成示范村建设。",
                  **{f"indicators.{i}.actual": v for i, v in enumerate([22, 3100, 1.0, 25, PART, PART, 0.93])},
                  "indicators.4.score": 10, "indicators.5.score": 10,
                  "indicators.4.reason": "部分示范村产业项目尚在建设期，增收效果次年显现",
                  "indicators.5.reason": "示范带动覆盖面尚待扩大，下一年度继续推广经验",
                  "conclusion": "项目总体完成较好，达到预期目标。", "leader": "张三", "finance_leader": "李四"}

    def read_with(**texts):
        dst = tmp_path / "return.xlsx"
        fill_openpyxl(issued.file, dst, cells_for(p, {**lay_inputs, **texts}), sheet=sheet)
        [r] = read(dst, Registry(tmp_path / "r.db", create=False))
        assert not r.errors, r.errors
        return r
    # 执行率 420/510 = 82% < 90%: 原因 is asked for
    r = read_with(**{"funds.reason": "无", "problems": "暂无", "improvements": "——"})
    assert at(r, "quality_empty_text") == [f"{sheet}!K6", f"{sheet}!C23", f"{sheet}!C24"]
    assert any("存在问题" in p.message for p in r.problems)
    r = read_with(**{"funds.reason": "单位资金年底才到位，部分支付结转下年", "problems": "示范村之间进展不平衡",
                     "improvements": "加强对进度滞后示范村的督导"})
    assert at(r, "quality_empty_text") == []


# -- the same text in different departments' returns (collect) -----------------------------------------------
COPIED = "受疫情影响，部分培训活动未能如期开展，已调整至下半年集中完成"   # long enough not to be chance


def test_the_same_text_in_different_departments_is_flagged_in_the_summary_reports_and_export(tmp_path, db_url):
    forms = {}
    for tid, department in [("a-1", "甲局"), ("a-2", "甲局"), ("b-1", "乙局")]:
        p = load_def(tmp_path, definition(INDICATORS, id=tid, department=department, implementer=department,
                                          project=f"{department}项目{tid}"), name=f"{tid}.yaml")
        reg = Registry(tmp_path / "r.db")
        [issued] = render([p], tmp_path / "issued", registry=reg)
        reg.close()
        forms[tid] = (p, issued.file)
    inbox = tmp_path / "inbox"
    inbox.mkdir()

    def send(tid, reasons, name=None, when=1_700_000_000):
        p, blank = forms[tid]
        dst = inbox / f"{name or tid}.xlsx"
        fill_openpyxl(blank, dst, cells_for(p, typed([2, 0.8, *MET[2:]], reasons)))
        os.utime(dst, (when, when))

    def collect():
        out = CliRunner().invoke(main, ["collect", str(inbox), "--db", db_url, "--summary",
                                        str(tmp_path / "summary.xlsx"), "--report", str(tmp_path / "reports"),
                                        "--registry", str(tmp_path / "r.db"), "--jobs", "1", "--quiet"])
        assert out.exit_code == 0, out.output   # warnings only
        export = CliRunner().invoke(main, ["export", "--db", db_url, "--format", "json"])
        assert export.exit_code == 0, export.output
        return {r["template"]["id"]: r for r in json.loads(export.stdout)}

    def copied(records):
        return {tid: [p["cell"] for p in r["problems"] if p["code"] == "quality_copied"] for tid, r in records.items()}

    # one department writes the same text into two of its returns: not flagged
    send("a-1", [COPIED, "考核标准提高", None, None, None])
    send("a-2", [COPIED, "合格率未达标，考核标准提高后部分学员未通过", None, None, None])
    assert copied(collect()) == {"a-1": [], "a-2": []}
    # another department's return holds it too: flagged at each place it stands (the short text is chance)
    send("b-1", [COPIED, "考核标准提高", None, None, None])
    records = collect()
    assert copied(records) == {"a-1": ["自评表!I13"], "a-2": ["自评表!I13"], "b-1": ["自评表!I13"]}
    [flag] = [p for p in records["b-1"]["problems"] if p["code"] == "quality_copied"]
    assert flag["severity"] == "warning" and "甲局" in flag["message"] and "培训次数" in flag["message"]
    assert "其他 1 个部门" in flag["message"]
    # the summary: a 质量 sheet, the warnings counted in 汇总
    wb = openpyxl.load_workbook(tmp_path / "summary.xlsx")
    assert "质量" in wb.sheetnames
    quality = [r for r in wb["质量"].iter_rows(min_row=2, values_only=True)]
    assert wb["质量"]["F1"].value == "类别"
    assert sorted((r[0], r[4]) for r in quality if r[5] == "与其他部门雷同") == [
        ("乙局", "自评表!I13"), ("甲局", "自评表!I13"), ("甲局", "自评表!I13")]
    summary = {r[2]: r for r in wb["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["b-1"][11] == sum(p["severity"] == "warning" for p in records["b-1"]["problems"])
    assert summary["b-1"][12] == "通过（有提示）"
    # the department's report lists it
    html = (tmp_path / "reports" / "乙局.html").read_text(encoding="utf-8")
    assert "自评表!I13" in html and "不要照抄" in html
    with open(tmp_path / "reports" / "乙局.csv", encoding="utf-8-sig") as f:
        assert any(row[5] == "quality_copied" for row in csv.reader(f))
    # 乙局 sends a corrected return (newer): the flags go, from the export and the summary alike
    send("b-1", [REAL, "考核标准提高", None, None, None], name="b-1 修改", when=1_700_000_500)
    records = collect()
    assert copied(records) == {"a-1": [], "a-2": [], "b-1": []}
    wb = openpyxl.load_workbook(tmp_path / "summary.xlsx")
    assert [r for r in wb["质量"].iter_rows(min_row=2, values_only=True) if r[5] == "与其他部门雷同"] == []


# -- the desk -------------------------------------------------------------------------------------------------
def test_the_desk_answers_an_upload_with_its_flags_and_works_out_copies_across_departments(tmp_path, db_url):
    from desk_helpers import INDICATORS as DESK_INDICATORS, REASON_CELL, csrf_of, set_up
    from xlform.desk import auth
    from xlform.desk.app import DeskConfig, create_app
    from xlform.kinds.forms import form_kind
    from xlform.storage.db import locate
    from xlform.storage.store import Store
    from xlform.xlsx.writer import SheetSpec, write
    assert DESK_INDICATORS[0][2] == "培训次数" and REASON_CELL == "自评表!I13"
    office = set_up(tmp_path, db_url)
    app = create_app(DeskConfig(office["location"], locate(office["registry"], Path("unused")), tmp_path / "up",
                                auth.Password.of("口令-2026-质量")))
    client = app.test_client()

    def send(department, tid, reason):
        """Two trainings of four (a 偏差原因 asked for), saved as Excel saves a return, sent by its department."""
        project = office["forms"][tid][0]
        dst = tmp_path / f"{tid}.xlsx"
        typing = make_inputs({"fiscal": 100}, "按计划完成年度总体目标。", [2, 0.85, "达成年度指标", 0.95],
                             [reason, None, None, "发放问卷120份，满意率95%"], [None, None, 20, None])
        write(str(dst), [SheetSpec(project, form_kind(project.form), 1, "自评表", typing)], None,
              "2026-01-01T00:00:00+00:00")
        token = office["tokens"][department]
        page = client.get(f"/d/{token}")
        return client.post(f"/d/{token}/upload", data={"files": [(open(dst, "rb"), dst.name)],
                                                        "csrf": csrf_of(page.text)},
                           content_type="multipart/form-data", follow_redirects=True).text

    def copied():
        store = Store(office["location"], create=False)
        try:
            return {r["template"]["id"]: [p["cell"] for p in r["problems"] if p["code"] == "quality_copied"]
                    for r in store.current_records()}
        finally:
            store.close()

    # the answer shows the flag at its cell: received, with a 提示 to check
    html = send("甲局", "desk-a-01", "暂无")
    assert REASON_CELL in html and "“培训次数”的偏差原因只填写了“暂无”" in html and "有警告" in html
    # the same explanation from 甲局 and 乙局: flagged once the second is stored, and gone once corrected
    send("甲局", "desk-a-01", COPIED)
    assert copied() == {"desk-a-01": []}
    send("乙局", "desk-b-01", COPIED)
    assert copied() == {"desk-a-01": [REASON_CELL], "desk-b-01": [REASON_CELL]}
    copy = hashlib.sha256((tmp_path / "desk-b-01.xlsx").read_bytes()).hexdigest()
    send("乙局", "desk-b-01", "监管人员调整，两场培训推迟到次年")
    assert copied() == {"desk-a-01": [], "desk-b-01": []}
    # the office makes 乙局's earlier (copied) return current again: the copies are flagged again
    office_client = app.test_client()
    login = office_client.get("/admin/login")
    assert office_client.post("/admin/login", data={"csrf": csrf_of(login.text), "password": "口令-2026-质量"}
                              ).status_code == 302
    page = office_client.get("/admin")
    assert office_client.post("/admin/current", data={"csrf": csrf_of(page.text), "sha256": copy}).status_code == 303
    assert copied() == {"desk-a-01": [REASON_CELL], "desk-b-01": [REASON_CELL]}

