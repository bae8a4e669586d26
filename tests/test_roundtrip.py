"""The seven 2019 forms filled through LibreOffice with the bureau's published values, read back.

Each example lists exactly the problems the rules imply; a second test sets the published scores beside
the rules' scores and names where the bureau's own scoring differs.
"""
import pytest

from helpers import cells_for, definition, inputs_from, load_def
from xlform.returns.reader import read
from xlform.issue.registry import Registry
from xlform.issue.renderer import render

# (code, cell) of every problem the national rules imply for the published values. Qualitative indicators
# are scored by tiers: the department picks 达成年度指标 and types the 得分 it published, so none of them is short.
EXPECTED_PROBLEMS = {
    "xj-jrj-2019-01": [
        ("reason_overshoot", "I14"),  # 8 of ≥6次: 33% over
        ("reason_overshoot", "I17"),  # 2 of ≥1次
        ("reason_overshoot", "I21"),  # 3 of ≥2次
        ("reason_overshoot", "I23"),  # 3 of ≥2次
    ],                                # I20 (5 of ≥7次, 3.57) has its 偏差原因
    # the quality flags of what the bureau returned (issue 20): every indicator full with nothing said,
    # 满意度 at exactly 100%
    "xj-jrj-2019-02": [("quality_all_full", "H20")],
    "xj-jrj-2019-03": [("quality_all_full", "H28"), ("quality_satisfaction_full", "F26"),
                       ("quality_satisfaction_full", "F27")],
    "xj-jrj-2019-04": [("quality_all_full", "H29"), ("quality_satisfaction_full", "F27"),
                       ("quality_satisfaction_full", "F28")],
    "xj-jrj-2019-05": [("quality_all_full", "H29"), ("quality_satisfaction_full", "F27"),
                       ("quality_satisfaction_full", "F28")],
    "xj-jrj-2019-06": [("quality_all_full", "H24"),   # 100% against a bare "95%" is ≥95%: the full 10
                       ("quality_satisfaction_full", "F23")],
    "xj-jrj-2019-07": [("quality_satisfaction_full", "F21")],   # I13, I14, I18 have their reasons
}

# Where the bureau's published 得分 differ from the national rules: (what, published, rules).
DIFFERENCES = {
    "xj-jrj-2019-01": [("funds", 6, 5.43), ("召开小额贷款公司、融资担保公司、互联网金融行业监管等相关培训会议", 4, 3.57),
                       ("total", 95, 94)],
    "xj-jrj-2019-02": [("funds", 8, 8.13), ("total", 98, 98.13)],
    "xj-jrj-2019-03": [("funds", 9, 8.64), ("total", 99, 98.64)],
    "xj-jrj-2019-04": [],
    "xj-jrj-2019-05": [],
    "xj-jrj-2019-06": [],
    "xj-jrj-2019-07": [("培训中小企业管理者", 9, 9.09), ("区域性股权市场计划新增四版挂牌和展示企业", 15, 10),
                       ("为中小企业实现融资", 9, 7.71), ("total", 98, 96.8)],
}

IDS = sorted(EXPECTED_PROBLEMS)


@pytest.fixture(scope="module")
def returns(lo, rendered, examples, published, tmp_path_factory):
    """Each example filled through LibreOffice with the published values: {id: (record, LibreOffice values)}."""
    out = tmp_path_factory.mktemp("returns")
    reg = Registry(rendered[IDS[0]].parent / "registry.db")
    result = {}
    for tid in IDS:
        p = examples[tid]
        filled = out / f"{tid}.xlsx"
        score_cells = [f"H{13 + i}" for i in range(len(p.indicators))]
        total = f"H{13 + len(p.indicators)}"
        values = lo.fill(rendered[tid], filled, cells_for(p, inputs_from(p, published[tid])),
                         read=["I6", total] + score_cells)
        [record] = read(filled, reg)
        result[tid] = (record, values, score_cells, total)
    return result


@pytest.mark.parametrize("tid", IDS)
def test_published_values_read_back_with_exactly_the_problems_the_rules_imply(returns, published, tid):
    record, values, score_cells, total = returns[tid]
    pub = published[tid]
    assert [i.actual for i in record.indicators] == pub["actual"]
    assert {k: v["executed"] for k, v in record.funds["rows"].items() if k != "total"} == {
        k: pub["executed"].get(k) for k in ("fiscal", "carryover", "other")}
    assert [i.score for i in record.indicators] == [values[c] for c in score_cells]  # LibreOffice's own
    assert record.total_score == values[total] and record.funds["score"] == values["I6"]
    assert sorted((p.code, p.where) for p in record.problems) == sorted(
        (code, f"自评表!{cell}") for code, cell in EXPECTED_PROBLEMS[tid])


@pytest.mark.parametrize("tid", IDS)
def test_published_scores_beside_the_rules(returns, published, tid):
    record, *_ = returns[tid]
    pub = published[tid]["published"]
    beside = [("funds", pub["funds"], record.funds["score"])]
    beside += [(i.name, s, i.score) for i, s in zip(record.indicators, pub["scores"])]
    beside += [("total", pub["total"], record.total_score)]
    differ = [(what, published_score, rules) for what, published_score, rules in beside
              if abs(published_score - rules) > 1e-9]
    assert differ == DIFFERENCES[tid]


def test_published_total_does_not_add_up_in_the_seed(published):
    """The seed's 专项业务费 scores 15 of 10 and its 总分 still reads 98: its own scores sum to 103."""
    pub = published["xj-jrj-2019-07"]["published"]
    assert pub["funds"] + sum(pub["scores"]) == 103 and pub["total"] == 98


def test_manual_score_of_15_out_of_10_is_an_error_naming_its_cell(lo, examples, published, tmp_path):
    """专项业务费 with `rule: manual` on the indicator the bureau scored 15 of 10, its published 得分 typed in."""
    source = examples["xj-jrj-2019-07"].source
    text = open(source, encoding="utf-8").read().replace(
        "target: ≥100家, weight: 10}", "target: ≥100家, weight: 10, rule: manual}")
    path = tmp_path / "zxyw-manual.yaml"
    path.write_text(text, encoding="utf-8")
    from xlform.definition.definition import load
    p = load(path)
    assert [i.manual for i in p.indicators] == [False, False, True] + [False] * 6
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path, registry=reg)
    inputs = inputs_from(p, published["xj-jrj-2019-07"])
    inputs["indicators.2.score"] = 15
    values = lo.fill(issued.file, tmp_path / "filled.xlsx", cells_for(p, inputs), read=["H15", "H22"])
    [r] = read(tmp_path / "filled.xlsx", reg)
    bad = [(pr.code, pr.where, pr.severity) for pr in r.problems if pr.code == "score_out_of_range"]
    assert bad == [("score_out_of_range", "自评表!H15", "error")]
    assert "得分 15 超出范围：须在 0 至分值 10 之间" in next(pr.message for pr in r.problems if pr.code == "score_out_of_range")
    assert r.indicators[2].score == 15 == values["H15"] and r.total_score == values["H22"] == 101.8


def test_openpyxl_and_libreoffice_fills_read_the_same(returns, rendered, examples, published, tmp_path):
    from helpers import fill_openpyxl
    reg = Registry(rendered[IDS[0]].parent / "registry.db")
    for tid in IDS:
        p = examples[tid]
        [r] = read(fill_openpyxl(rendered[tid], tmp_path / f"{tid}.xlsx", cells_for(p, inputs_from(p, published[tid]))),
                   reg)
        lo_record = returns[tid][0]
        assert r.indicators == lo_record.indicators and r.funds == lo_record.funds
        assert r.total_score == lo_record.total_score
        assert [(x.code, x.where) for x in r.problems] == [(x.code, x.where) for x in lo_record.problems]


# -- tampering in LibreOffice (its UNO API enforces no protection: `force` writes locked cells) --------------

@pytest.fixture()
def small(tmp_path):
    p = load_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥4次", 50), ("产出指标", "数量指标", "b", "≥2次", 40)]))
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path / "issued", registry=reg)
    return issued.file, reg


FILLED = {"F7": 100, "F11": "完成", "F13": 4, "F14": 2, "I13": "四次均按计划完成"}   # a narrative: see quality.py


@pytest.mark.parametrize("cells, unprotect, expected", [
    ({"G13": 60}, None, [("locked_changed", "自评表!G13")]),
    ({"E13": "≥1次"}, None, [("locked_changed", "自评表!E13")]),
    ({"H13": "=G13"}, None, [("formula_changed", "自评表!H13")]),
    ({"H15": 100}, None, [("formula_changed", "自评表!H15")]),
    ({"G13": 60}, "", [("locked_changed", "自评表!G13"), ("protection_removed", "自评表")]),
])
def test_tampering_in_libreoffice_is_reported(lo, small, tmp_path, cells, unprotect, expected):
    path, reg = small
    out = tmp_path / "t.xlsx"
    lo.fill(path, out, {**FILLED, **cells}, force=True, unprotect=unprotect)
    if unprotect is not None:  # LibreOffice keeps an unprotected sheet unprotected on save
        import openpyxl
        assert not openpyxl.load_workbook(out)["自评表"].protection.sheet
    [r] = read(out, reg)
    got = sorted((p.code, p.where) for p in r.problems if p.severity == "error")
    assert got == sorted(expected)


def test_a_stale_cached_value_is_a_warning(lo, small, tmp_path):
    """A client that saved without recalculating: the formula is intact, its cached value is not."""
    import re
    import zipfile
    path, reg = small
    filled = tmp_path / "f.xlsx"
    lo.fill(path, filled, FILLED)
    stale = tmp_path / "stale.xlsx"
    with zipfile.ZipFile(filled) as zin, zipfile.ZipFile(stale, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, n = re.subn(rb'(<c r="H13"[^>]*><f[^>]*>[^<]*</f><v>)50(</v>)', rb"\g<1>12\g<2>", data)
                assert n == 1
            zout.writestr(item, data)
    [r] = read(stale, reg)
    assert [(p.code, p.where, p.severity) for p in r.problems] == [("stale_value", "自评表!H13", "warning")]
    assert r.indicators[0].score == 50 and "“12”" in r.problems[0].message


def test_a_department_workbook_gives_one_record_per_sheet(lo, tmp_path):
    defs = [definition([("产出指标", "数量指标", "a", "≥4次", 90)], id=f"d-{i}", project=f"项目{i}", department="财政局/预算处")
            for i in range(3)]
    projects = [load_def(tmp_path, d, f"{d['id']}.yaml") for d in defs]
    reg = Registry(tmp_path / "r.db")
    [issued] = render(projects, tmp_path / "out", per="department", registry=reg)
    assert issued.file.name == "财政局_预算处.xlsx"
    step = tmp_path / "step1.xlsx"
    lo.fill(issued.file, step, {"F7": 50, "F11": "完成", "F13": 4, "I13": "四次均按计划完成"}, sheet="项目0")
    lo.fill(step, tmp_path / "done.xlsx", {"F7": 100, "F11": "完成", "F13": 2, "I13": "培训场地未落实"}, sheet="项目2")
    records = read(tmp_path / "done.xlsx", reg)
    assert [(r.sheet, r.template["id"]) for r in records] == [("项目0", "d-0"), ("项目1", "d-1"), ("项目2", "d-2")]
    assert [r.total_score for r in records] == [95, None, 55]   # nothing typed on 项目1: no 总分 yet
    assert [p.code for p in records[1].problems].count("blank_actual") == 1
    assert records[0].problems == [] and records[2].problems == []


def test_a_formula_typed_in_libreoffice_is_read_by_its_result(lo, small, tmp_path):
    path, reg = small
    lo.fill(path, tmp_path / "f.xlsx", {**FILLED, "F13": "=2+2"})
    [r] = read(tmp_path / "f.xlsx", reg)
    assert [(p.code, p.where) for p in r.problems] == [("input_formula", "自评表!F13")]
    assert r.indicators[0].actual == 4 and r.indicators[0].score == 50
