"""The 复核 (issue 20): `xlform review sample | render | collect | report` on a collection of generated returns.
The sample is the same for the same seed, another for another seed, and keeps to the 主管部门 strata; the
review worksheet is the return's values locked beside the reviewer's inputs; filled worksheets read back with
their problems by cell; the report ranks and counts. Every expected value is written down here.
(LibreOffice's agreement with the Python rules at every reason and class boundary: test_review_libreoffice.py.)"""
from __future__ import annotations

import json
import re

import openpyxl
import pytest
from click.testing import CliRunner

from helpers import validation_at
from review_helpers import collection
from xlform.cli import main
from xlform.issue.registry import Registry
from xlform.review.sample import Settings, allocate, draw, size
from xlform.scoring.scoring import profile_values
from xlform.storage.review import Reviews
from xlform.storage.store import Store

# seed 7 with --largest 2 on review_helpers.SIZES: the two largest by 全年预算数 (乙局's 900 and 800), then
# 丙局 2 of 4, 乙局 2 of its other 4 and 甲局 4 of 10 in the order of sha256("7:<template id>")
SEED_7 = ["p-010", "p-011", "p-016", "p-018", "p-013", "p-015", "p-000", "p-009", "p-005", "p-003"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def drawn(output: str) -> list[str]:
    return [line.split("\t")[0] for line in output.splitlines() if "\t" in line]


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """20 returns of three departments collected, one more (p-020's department 丁局) with an error."""
    folder = tmp_path_factory.mktemp("review")
    db, registry, departments = collection(folder, {"甲局": 10, "乙局": 6, "丙局": 4, "丁局": 1},
                                           edits={"p-020": {"F13": -1}})   # a negative 实际完成值: an error
    return folder, db, registry, departments


# -- the sample ---------------------------------------------------------------------------------------------
def test_size_share_rounded_up_at_least_min_at_most_all():
    assert size(20, Settings(1, 0.15, 0)) == 3
    assert size(70, Settings(1, 0.15, 10)) == 11      # 10.5 rounded up
    assert size(70, Settings(1, 0.10, 10)) == 10      # 7 is below --min
    assert size(5, Settings(1, 0.15, 10)) == 5        # no more than were returned
    assert size(20, Settings(1, 0.0, 0, largest=4)) == 4


def test_allocation_is_proportional_with_largest_remainders():
    assert allocate(10, {"甲": 10, "乙": 6, "丙": 4}) == {"甲": 5, "乙": 3, "丙": 2}
    assert allocate(8, {"甲": 10, "乙": 4, "丙": 4}) == {"甲": 4, "乙": 2, "丙": 2}
    assert allocate(3, {"d": 1, "c": 1, "b": 1, "a": 1}) == {"a": 1, "b": 1, "c": 1, "d": 0}   # ties by name
    assert allocate(0, {"a": 3}) == {"a": 0}


def test_same_seed_same_sample_other_seed_other_sample(collected):
    _, db, _, departments = collected
    first, again, other = (run("review", "sample", "--db", db, "--seed", s, "--largest", 2) for s in (7, 7, 8))
    assert first.exit_code == again.exit_code == other.exit_code == 0, first.output
    assert drawn(first.output) == drawn(again.output) == SEED_7
    assert drawn(other.output) != SEED_7
    assert drawn(other.output)[:2] == ["p-010", "p-011"]          # the largest, whatever the seed
    assert "sample 3: 10 of 20 returns, seed 8" in other.output   # p-020 has an error: not drawn
    lines = first.output.splitlines()
    assert lines[0] == "p-010\t乙局\t项目10\tlargest 全年预算数 #1 (900 万元)"
    assert "p-016\t丙局\t项目16\t主管部门 丙局: 2 of 4 drawn (seed 7)" in lines
    assert "p-000\t甲局\t项目00\t主管部门 甲局: 4 of 10 drawn (seed 7)" in lines


def test_strata_respected_for_every_seed(collected):
    _, db, _, departments = collected
    store = Store(db, create=False)
    try:
        population = Reviews(store, create=False).population()
    finally:
        store.close()
    assert len(population) == 20
    for seed in range(30):
        plain = draw(population, Settings(seed, 0.15, 10))
        counts = {d: sum(departments[r["template_id"]] == d for r in plain) for d in ("甲局", "乙局", "丙局")}
        assert counts == {"甲局": 5, "乙局": 3, "丙局": 2}
        big = draw(population, Settings(seed, 0.15, 10, largest=2))
        assert [r["template_id"] for r in big[:2]] == ["p-010", "p-011"]
        counts = {d: sum(departments[r["template_id"]] == d for r in big) for d in ("甲局", "乙局", "丙局")}
        assert counts == {"甲局": 4, "乙局": 4, "丙局": 2}
        assert len({r["template_id"] for r in big}) == 10


def test_sample_of_named_departments_is_stored(collected):
    _, db, _, _ = collected
    result = run("review", "sample", "--db", db, "--seed", 3, "--department", "丙局", "--department", "乙局",
                 "--min", 0, "--share", 0.5)
    assert result.exit_code == 0, result.output
    assert {re.split(r"\t", line)[1] for line in result.output.splitlines() if "\t" in line} == {"乙局", "丙局"}
    store = Store(db, create=False)
    try:
        sample, rows = Reviews(store, create=False).latest_sample()
    finally:
        store.close()
    assert (sample["seed"], sample["share"], sample["least"], sample["departments"], sample["population"],
            sample["size"]) == (3, 0.5, 0, ["丙局", "乙局"], 10, 5)
    assert [r["template_id"] for r in rows] == drawn(result.output)
    assert all(r["why"] for r in rows)


def test_sample_without_returns_or_database_is_one_line_exit_2(tmp_path, collected):
    _, db, _, _ = collected
    missing = run("review", "sample", "--db", tmp_path / "none.db")
    assert missing.exit_code == 2 and missing.output.count("\n") == 1
    assert "no collection database" in missing.output
    nobody = run("review", "sample", "--db", db, "--department", "戊局")
    assert nobody.exit_code == 2 and "no current 自评表 returns" in nobody.output


# -- render, fill, collect, report ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reviewed(collected):
    """Seed 7's sample rendered; five worksheets filled (openpyxl) and collected."""
    folder, db, registry, _ = collected
    assert run("review", "sample", "--db", db, "--seed", 7, "--largest", 2).exit_code == 0
    rendered = run("review", "render", "--db", db, "--registry", registry, "-o", folder / "worksheets")
    assert rendered.exit_code == 0, rendered.output
    filled = folder / "filled"
    filled.mkdir()
    fills = {
        # I11 3 of ≥4次 (30 × 3/4 = 22.5); K12 无佐证 (0); J13 17 within 达成年度指标's 16–20
        "p-010": {"I11": 3, "K12": "无佐证", "N12": "未提供检测报告", "J13": 17},
        "p-000": {},                                           # everything accepted
        "p-003": {"I14": 0.855},                               # 10 × 0.855/0.95 = 9
        "p-005": {"K11": "指标与项目无关"},                      # no 说明: an error
        "p-009": {"K14": "随便"},                              # not a reason: an error
    }
    for tid, cells in fills.items():
        wb = openpyxl.load_workbook(folder / "worksheets" / f"{tid}.review.xlsx")
        ws = wb["复核表"]
        for ref, v in {**cells, "C17": "李审"}.items():
            ws[ref] = v
        wb.save(filled / f"{tid}.review.xlsx")
    result = run("review", "collect", filled, "--db", db, "--registry", registry)
    return folder, db, registry, result


def test_worksheet_is_the_return_locked_beside_the_reviewers_inputs(reviewed):
    folder, *_ = reviewed
    wb = openpyxl.load_workbook(folder / "worksheets" / "p-010.review.xlsx")
    ws = wb["复核表"]
    assert ws.protection.sheet and ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "portrait"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1)   # 1 wide
    assert (ws["C3"].value, ws["C4"].value, ws["K4"].value) == ("项目10", "乙局", "乙局")
    # funds as returned: 年初预算数, 全年预算数, 全年执行数, 分值, 执行率, 得分
    assert [ws[c].value for c in ("I6", "J6", "K6", "L6", "N6")] == [900, 900, 80, 10, 0.89]
    assert ws["M6"].value == pytest.approx(80 / 900)
    assert [ws.cell(10, c).value for c in range(2, 15)] == [
        "一级指标", "二级指标", "三级指标", "年度\n指标值", "分值", "自评完成值", "自评得分", "复核完成值", "复核评分",
        "扣分原因", "复核得分", "偏离度", "说明"]
    assert [(ws[f"G{r}"].value, ws[f"H{r}"].value) for r in range(11, 15)] == [
        (4, 30), (0.85, 30), ("达成年度指标", 20), (0.95, 10)]
    assert ws["H15"].value == 90.89 and ws["F15"].value == 100
    for ref in ("G11", "H11", "F11", "E11", "I6", "N6", "H15", "L11", "M15"):
        assert ws[ref].protection.locked, ref
    for ref in ("I11", "J13", "K11", "N11", "C17"):
        assert not ws[ref].protection.locked, ref
    assert ws["J11"].value == "—" and ws["J11"].protection.locked      # a computed 得分: no 复核评分
    reasons = validation_at(ws, "K11")
    assert reasons.type == "list" and reasons.formula1 == '"无佐证,指标与项目无关,满意度无调查依据,三级与二级不符,指标不可衡量,其他"'
    assert validation_at(ws, "I13").type == "list"                     # a tier, as the 自评表 asks
    assert ws["L11"].value.startswith('=IF(OR(K11="无佐证",')
    assert ws["N15"].value.startswith("=IF(ISNUMBER(M15),IF(ABS(M15)<0.01,\"一致\"")
    assert ws.print_title_rows == "$10:$10"


def test_worksheets_are_issued_but_awaited_from_no_department(reviewed):
    _, _, registry, _ = reviewed
    reg = Registry(registry, create=False)
    try:
        assert reg.lookup("p-010.review")["form"] == "review"
        assert not [i for i, *_ in reg.latest_issued() if i.endswith(".review")]
        assert reg.find_project("项目10", "乙局")["id"] == "p-010"
    finally:
        reg.close()


def stored(db) -> dict:
    store = Store(db, create=False)
    try:
        return {r["template"]["id"]: r for r in Reviews(store, create=False).current()}
    finally:
        store.close()


def test_collected_worksheets_give_the_rules_values_and_problems_by_cell(reviewed):
    _, db, _, result = reviewed
    assert result.exit_code == 1, result.output          # two worksheets with errors
    assert "Error: p-005.review.xlsx: 复核表!N11: “培训次数”选择了扣分原因“指标与项目无关”，请在说明栏写明复核依据。" in result.output
    assert "Error: p-009.review.xlsx: 复核表!K14: 扣分原因“随便”不在可选范围内" in result.output
    assert "5 review worksheets read, 2 errors" in result.output
    records = stored(db)
    assert set(records) == {f"{t}.review" for t in ("p-010", "p-000", "p-003", "p-005", "p-009")}
    r = records["p-010.review"]
    # 0.89 (funds as returned) + 22.5 + 0 + 17 + 10 = 50.39; (90.89 − 50.39) / 90.89 = 0.44559… → 0.4456
    assert (r["total_score"], r["extra"]["self_total"], r["extra"]["deviation"], r["extra"]["class"]) == \
        (50.39, 90.89, 0.4456, "严重偏差")
    assert [i["score"] for i in r["indicators"]] == [22.5, 0.0, 17.0, 10.0]
    assert [i["extra"]["deviation"] for i in r["indicators"]] == [0.25, 1.0, 0.15, 0.0]
    assert [i["extra"]["reason"] for i in r["indicators"]] == [None, "无佐证", None, None]
    assert r["indicators"][1]["deviation_reason"] == "未提供检测报告" and r["extra"]["reviewer"] == "李审"
    assert r["extra"]["review_of"]["template_id"] == "p-010"
    # p-003: 全年预算数 103, 执行率 80/103 → 7.77; 自评 97.77; 复核 97.77 − 10 + 9 = 96.77; 1/97.77 → 0.0102
    r = records["p-003.review"]
    assert (r["total_score"], r["extra"]["deviation"], r["extra"]["class"]) == (96.77, 0.0102, "一般偏差")
    r = records["p-000.review"]
    assert (r["total_score"], r["extra"]["deviation"], r["extra"]["class"]) == (98.0, 0.0, "一致")
    again = run("review", "collect", reviewed[0] / "filled", "--db", db, "--registry", reviewed[2])
    assert "0 review worksheets read, 0 errors, 0 warnings, 5 skipped duplicates" in again.output


def test_a_return_is_no_review_worksheet(reviewed, tmp_path):
    folder, db, registry, _ = reviewed
    result = run("review", "collect", folder / "returns" / "p-001.xlsx", "--db", db, "--registry", registry)
    assert result.exit_code == 1
    assert "此工作簿不是抽查复核表" in result.output


def test_report_ranks_and_counts(reviewed):
    folder, db, _, _ = reviewed
    out = folder / "report"
    result = run("review", "report", "--db", db, "-o", out)
    assert result.exit_code == 0, result.output
    assert "5 projects reviewed, 5 drawn and not yet reviewed" in result.output
    wb = openpyxl.load_workbook(out / "复核报告.xlsx")
    ranked = [[c.value for c in row] for row in wb["排名"].iter_rows(min_row=2)]
    # |偏离度|: p-010 0.4456, p-005 30/97.62 → 0.3073 (with an error), p-003 0.0102, then 0 (甲局 by id)
    assert [(r[0], r[2], r[5], r[6], r[8]) for r in ranked] == [
        (1, "项目10", 0.4456, "严重偏差", 0), (2, "项目05", 0.3073, "严重偏差", 1), (3, "项目03", 0.0102, "一般偏差", 0),
        (4, "项目00", 0.0, "一致", 0), (5, "项目09", 0.0, "一致", 1)]
    counts = {(r[0].value, r[1].value): r[2].value for r in wb["统计"].iter_rows(min_row=2)}
    assert counts == {("偏差类别", "一致"): 1, ("偏差类别", "一般偏差"): 1, ("偏差类别", "较大偏差"): 0,
                      ("偏差类别", "严重偏差"): 1, ("偏差类别", "有错误"): 2,
                      ("扣分原因", "无佐证"): 1, ("扣分原因", "指标与项目无关"): 0, ("扣分原因", "满意度无调查依据"): 0,
                      ("扣分原因", "三级与二级不符"): 0, ("扣分原因", "指标不可衡量"): 0, ("扣分原因", "其他"): 0}
    departments = [[c.value for c in row] for row in wb["主管部门"].iter_rows(min_row=1)]
    assert departments[0] == ["主管部门", "复核项目数", "一致", "一般偏差", "较大偏差", "严重偏差", "有错误", "平均|偏离度|"]
    assert departments[1:] == [["乙局", 1, 0, 0, 0, 1, 0, 0.4456], ["甲局", 4, 1, 1, 0, 0, 2, 0.0051]]
    indicators = [[c.value for c in row] for row in wb["指标"].iter_rows(min_row=2, max_row=5)]
    assert [(r[4], r[8], r[11], r[12], r[13], r[14]) for r in indicators] == [
        ("培训次数", 30, 22.5, 0.25, None, None), ("覆盖率", 30, 0, 1, "无佐证", "未提供检测报告"),
        ("群众意识", 20, 17, 0.15, None, None), ("满意度", 10, 10, 0, None, None)]
    assert sorted(r[0].value for r in wb["未复核"].iter_rows(min_row=2)) == ["p-011", "p-013", "p-015", "p-016",
                                                                           "p-018"]
    page = (out / "复核报告.html").read_text(encoding="utf-8")
    assert "<td class=\"n\">44.56%</td>" in page and "未提供检测报告" in page


def test_report_escapes_what_reviewers_type(tmp_path):
    from xlform.review.report import Summary, write_page
    s = Summary(indicators=[{"rank": 1, "project": "<b>x</b>", "name": "n", "weight": 1.0, "self_actual": None,
                             "self_score": None, "review_actual": None, "review_score": None, "deviation": None,
                             "reason": None, "note": "<script>alert(1)</script>"}])
    write_page(tmp_path / "r.html", s)
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;" in page


def test_an_older_database_opens_and_gains_the_review_tables(tmp_path):
    db, _, _ = collection(tmp_path / "old", {"甲局": 2})
    store = Store(db, create=False)
    try:
        assert not store.db.has("review_samples")
        assert Reviews(store, create=False).latest_sample() is None
    finally:
        store.close()
    report = run("review", "report", "--db", db, "-o", tmp_path / "r")
    assert report.exit_code == 0 and "0 projects reviewed" in report.output
    assert run("review", "render", "--db", db, "--registry", tmp_path / "old" / "registry.db").exit_code == 2
    assert run("review", "sample", "--db", db, "--seed", 1).exit_code == 0
    store = Store(db, create=False)
    try:
        assert all(store.db.has(t) for t in ("review_samples", "review_sampled", "review_returns",
                                             "review_indicators", "review_problems"))
    finally:
        store.close()


def test_sample_render_collect_on_both_engines(tmp_path, db_url):
    db, registry, _ = collection(tmp_path / "c", {"甲局": 3, "乙局": 2}, db=db_url)
    first = run("review", "sample", "--db", db, "--seed", 5, "--min", 2, "--share", 0)
    again = run("review", "sample", "--db", db, "--seed", 5, "--min", 2, "--share", 0)
    assert first.exit_code == 0 and drawn(first.output) == drawn(again.output)
    assert len(drawn(first.output)) == 2
    assert run("review", "render", "--db", db, "--registry", registry, "-o", tmp_path / "w").exit_code == 0
    for f in (tmp_path / "w").glob("*.xlsx"):
        wb = openpyxl.load_workbook(f)
        wb["复核表"]["C17"] = "李审"
        wb["复核表"]["K11"] = "无佐证"
        wb["复核表"]["N11"] = "无培训签到表"
        wb.save(f)
    result = run("review", "collect", tmp_path / "w", "--db", db, "--registry", registry)
    assert result.exit_code == 0, result.output
    records = stored(db)
    assert len(records) == 2
    for r in records.values():   # 培训次数 (30) to 0: 自评 S, 复核 S − 30
        assert r["total_score"] == pytest.approx(r["extra"]["self_total"] - 30)
    assert json.loads(json.dumps(records))   # stored as JSON


def test_profile_keys_of_the_review_are_checked():
    assert profile_values({"review_classes": {"一致": 0.02, "偏差": "rest"}})["review_classes"] == \
        ((0.02, "一致"), (None, "偏差"))
    assert profile_values({"deductions": {"无佐证": "zero", "其他": "rules"}})["deductions"] == \
        (("无佐证", "zero"), ("其他", "rules"))
    for bad, said in (({"deductions": {"无佐证": "half"}}, "zero or rules"),
                      ({"deductions": {"a,b": "zero"}}, "without a comma"),
                      ({"review_classes": {"一致": 0.1, "偏差": 0.2}}, "write rest"),
                      ({"review_classes": {"一致": 0.2, "小": 0.1, "偏差": "rest"}}, "rise")):
        with pytest.raises(ValueError, match=said):
            profile_values(bad)


def test_the_worksheet_applies_the_reviewed_returns_own_rules():
    """overrides: the keys in which a return's profile differs from the review kind's, as `scoring:` writes them;
    merged into the review kind's profile they give the return's rules back, the 复核's own keys kept."""
    from xlform.kinds.forms import form_kind
    from xlform.scoring.review import overrides
    from xlform.scoring.scoring import profile
    base = form_kind("review").profile
    assert overrides(profile("national"), base) == {}
    assert overrides(profile("share"), base) == {"bare_target": "=", "reverse": "ratio", "qualitative": "share"}
    capped = profile("national", {"rate_caps": {0.8: 89, 0.7: 79}, "grades": {"好": 85, "差": 0}, "overshoot": 0.5,
                                  "deductions": {"x": "zero"}})
    back = base.merged(overrides(capped, base))
    assert (back.rate_caps, back.grades, back.overshoot) == (capped.rate_caps, capped.grades, 0.5)
    assert back.deductions == base.deductions   # the 复核's reasons are the review kind's


def test_help_of_every_review_command():
    for command in ("sample", "render", "collect", "report"):
        assert run("review", command, "--help").exit_code == 0
