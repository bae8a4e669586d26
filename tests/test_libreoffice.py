"""LibreOffice as the real client: it prints the form, fills the unlocked cells, recalculates and saves;
every value it computes must equal the Python rule for the same inputs."""
import shutil
from decimal import Decimal
import subprocess
import tempfile
from pathlib import Path

import openpyxl
import pdfplumber
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import FUND_ROWS, cells_for, definition, inputs_from, lay_of, load_def, make_inputs
from xlform.form.evaluate import evaluate_form, rules
from xlform.issue.registry import Registry
from xlform.returns.reader import read
from xlform.issue.renderer import render

def fill_and_compare(lo, project, path: Path, inputs: dict, workdir: Path, probe_reasons=True, registry=None):
    """Fill through LibreOffice, check its computed values (live and as saved) against Python, and read
    the saved file back: the record holds the values typed in and the scores LibreOffice computed."""
    lay = lay_of(project)
    expected = evaluate_form(lay, inputs)
    n = len(project.indicators)
    score_cells = [lay.cell(f"indicators.{i}.score") for i in range(n)]
    computed = {key: lay.cell(key) for key in ("funds.total.executed", "funds.rate", "funds.score", "total_score",
                                                "grade") if key in lay.fields}
    filled = workdir / f"filled-{path.name}"
    got = lo.fill(path, filled, cells_for(project, inputs), read=list(computed.values()) + score_cells)

    assert _same(got[computed["funds.total.executed"]], expected["funds.total.executed"])   # blank when none typed
    rate = got[computed["funds.rate"]]
    assert (rate is None) == (expected["funds.rate"] is None)
    if expected["funds.rate"] is not None:
        assert rate == pytest.approx(expected["funds.rate"], rel=1e-12)
    assert _same(got[computed["funds.score"]], expected["funds.score"]), ("funds", got, expected.values)
    for i, cell in enumerate(score_cells):
        ind = project.indicators[i]
        assert _same(got[cell], expected[f"indicators.{i}.score"]), (
            ind.name, ind.target.text, inputs.get(f"indicators.{i}.actual"), got[cell], expected[f"indicators.{i}.score"])
    assert _same(got[computed["total_score"]], expected["total_score"])
    if "grade" in computed:
        # as LibreOffice shows it: the cell holds the grade, its number format puts the label before it
        assert got[computed["grade"]] == f"评价等级：{expected['grade'] or ''}", (got, expected["grade"])

    # What LibreOffice saved: inputs kept, cached values equal to the rules, still protected.
    wb = openpyxl.load_workbook(filled, data_only=True)
    ws = wb["自评表"]
    for i, cell in enumerate(score_cells):
        assert _same(ws[cell].value, expected[f"indicators.{i}.score"])
        assert _same(ws[lay.cell(f"indicators.{i}.actual")].value, inputs.get(f"indicators.{i}.actual"))
    assert _same(ws[computed["total_score"]].value, expected["total_score"])
    fiscal = lay.cell("funds.fiscal.executed")
    assert ws.protection.sheet and not ws[fiscal].protection.locked and ws[lay.cell("funds.weight")].protection.locked

    if registry is not None:
        [record] = read(filled, registry)
        assert [i.actual for i in record.indicators] == [inputs.get(f"indicators.{i}.actual") for i in range(n)]
        assert {k: record.funds["rows"][k]["executed"] for k in lay.kind.fund_rows} == {
            k: inputs.get(f"funds.{k}.executed") for k in lay.kind.fund_rows}
        assert all(_same(i.score, got[c]) for i, c in zip(record.indicators, score_cells))
        assert _same(record.total_score, got[computed["total_score"]])
        assert _same(record.funds["score"], got[computed["funds.score"]])
        assert record.goal["actual"] == inputs.get("goal.actual")
        assert record.grade == expected["grade"]
        assert [i.deviation_reason for i in record.indicators] == [inputs.get(f"indicators.{i}.reason")
                                                                    for i in range(n)]
        assert not [p for p in record.problems if p.code in ("locked_changed", "formula_changed", "stale_value",
                                                              "protection_removed", "not_a_number")]

    if probe_reasons:  # the highlighting formula for 偏差原因 says what needs_reason says
        probes = {}
        probe_col = chr(ord("A") + lay.last_col + 2)
        for i, rule in enumerate(rules(project, lay.profile)):
            x, w, s, why = (lay.cell(f"indicators.{i}.{k}") for k in ("actual", "weight", "score", "reason"))
            probes[f"{probe_col}{lay.row_of(i) + 1}"] = "=" + rule.reason_formula(x, w, s, why)
        flags = lo.fill(filled, workdir / "probe.xlsx", probes, read=list(probes), force=True)
        for i, ref in enumerate(probes):
            reason_given = bool(inputs.get(f"indicators.{i}.reason"))
            assert bool(flags[ref]) == (expected.needs[f"indicators.{i}.reason"] and not reason_given), (
                project.indicators[i].name, inputs.get(f"indicators.{i}.actual"), expected[f"indicators.{i}.score"])
    return expected


def _same(a, b):
    if a in (None, "") or b in (None, ""):
        return a in (None, "") and b in (None, "")
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return abs(float(a) - float(b)) < 1e-9


def test_pdf_of_the_form_shows_its_text(lo, rendered, examples, tmp_path):
    for tid in ("xj-jrj-2019-02", "xj-jrj-2019-07"):
        pdf = tmp_path / f"{tid}.pdf"
        lo.pdf(rendered[tid], pdf)
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        with pdfplumber.open(pdf) as doc:   # in drawing order, cell by cell: a wrapped heading reads whole
            flat = "".join(c["text"] for page in doc.pages for c in page.chars if c["text"].strip())
        p = examples[tid]
        for label in ("项目支出绩效自评表", "（2019年度）", "项目名称", p.project, "年初预算数", "全年执行数",
                      "预期目标", "实际完成情况", "一级指标", "三级指标", "年度指标值", "偏差原因分析及改进措施",
                      "总分", f"模板{tid}第1版"):
            assert label in flat, label
        for ind in p.indicators:
            if len(ind.name) <= 12:
                assert ind.name in flat, ind.name
        pages = text.split("\f")[:-1]
        assert all(f"项目名称：{p.project}" in "".join(page.split()) for page in pages), "every page names the project"


def test_pdf_uses_a_cjk_font(lo, rendered, tmp_path):
    pdf = tmp_path / "f.pdf"
    lo.pdf(rendered["xj-jrj-2019-01"], pdf)
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "WenQuanYi" in fonts or "Song" in fonts or "Noto" in fonts, fonts


@pytest.mark.parametrize("tid", [f"xj-jrj-2019-0{i}" for i in range(1, 8)])
def test_examples_filled_with_published_values(lo, rendered, examples, published, tid, tmp_path):
    p = examples[tid]
    fill_and_compare(lo, p, rendered[tid], inputs_from(p, published[tid]), tmp_path)


SHARE = {"bare_target": "=", "reverse": "ratio", "qualitative": "share"}   # xlform 0.1's rules
REACHED, PARTLY, MISSED = "达成年度指标", "部分达成年度指标并具有一定效果", "未达成年度指标且效果较差"

# (target, actual, weight[, typed 得分]) at the edges of each rule, per profile
BOUNDARIES = {
    "share": (SHARE, [
        ("≥7次", 7, 5), ("≥7次", 6.99, 5), ("≥7次", 0, 5), ("≥7次", 9.1, 5), ("≥7次", 9.09, 5), (">7次", 7, 5),
        ("≥0次", 0, 2), ("≥0次", 5, 2), ("≥80%", 0.8, 4), ("≥80%", 0.7999, 4), ("≥80%", 1.04, 4),
        ("≥80%", 1.0399, 4), ("≥3000人次", 2726, 7), ("≥10亿元", 7.71, 3),
        ("≤5天", 5, 3), ("≤5天", 5.01, 3), ("≤5天", 0, 3), ("<5天", 15, 3), ("≤0起", 0, 3), ("≤0起", 0.01, 3),
        ("12次", 12, 2), ("12次", 11, 2), ("12次", 13, 2), ("12次", 24, 2), ("12次", 30, 2), ("12次", 0, 2),
        ("0", 0, 2), ("0", 1, 2), ("95%", 1, 3), ("95%", 0.95, 3), ("1.3", 1, 3), ("4.53万元", 4.53, 2),
        ("不断提高", 0.98, 5), ("不断提高", 1, 5), ("不断提高", 0, 5), ("不断提高", 0.333, 3),
        ("不断提高", None, 2), ("≥7次", None, 2), ("≥7次", 0.75 * 7, 0.75),
    ]),
    "national": ({}, [
        ("≥7次", 7, 5), ("≥7次", 6.99, 5), ("≥7次", 9.1, 5), ("≥7次", 9.09, 5), ("≥0次", 0, 2),
        ("≤5天", 5, 3), ("≤5天", 5.01, 3), ("≤5天", 7.5, 3), ("≤5天", 9.99, 3), ("≤5天", 10, 3), ("≤5天", 12, 3),
        ("<5天", 0, 3), ("≤0起", 0, 3), ("≤0起", 0.01, 3), ("≤80%", 0.9, 4), ("≤80%", 1.6, 4),
        ("12次", 12, 2), ("12次", 11, 2), ("12次", 30, 2), ("=12次", 12, 2), ("=12次", 13, 2), ("=12次", 30, 2),
        ("0", 0, 2), ("95%", 1, 10), ("95%", 0.9, 10), ("1.3", 1, 3),
        ("不断提高", REACHED, 5, 5), ("不断提高", REACHED, 5, 4), ("不断提高", PARTLY, 5, 3),
        ("不断提高", PARTLY, 5, 3.99), ("不断提高", MISSED, 5, 0), ("不断提高", MISSED, 5, 2.99),
        ("有效提高", None, 2, None), ("有效提高", REACHED, 2.5, None),
    ]),
    "penalty": ({"deviation_penalty": 1}, [
        ("≥100家", 100, 5), ("≥100家", 129.99, 5), ("≥100家", 130, 5), ("≥100家", 150, 5), ("≥100家", 70, 5),
        ("≥100家", 71, 5), ("≤10天", 7, 3), ("≤10天", 13, 3), ("=10次", 6.9, 2), ("≥0次", 9, 2),
        ("≥2次", 0.5, 0.75),
    ]),
}


@pytest.mark.parametrize("profile", sorted(BOUNDARIES))
def test_boundaries_of_every_rule(lo, tmp_path, profile):
    """One form per profile holding every rule at its edges: exact hits, just below, 0 targets, overshoot
    and deviation thresholds, twice the ≤ target, each qualitative tier at the ends of its range."""
    overrides, cases = BOUNDARIES[profile]
    ind = [("产出指标", f"组{i // 10}", f"指标{i}", c[0], c[2]) for i, c in enumerate(cases)]
    p = load_def(tmp_path, definition(ind, funds_weight=10, **({"scoring": overrides} if overrides else {})))
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path, registry=reg)
    inputs = make_inputs(executed={"fiscal": 57, "carryover": 0.3, "other": None}, goal_actual="完成",
                         actual=[c[1] for c in cases], manual_score=[c[3] if len(c) > 3 else None for c in cases])
    fill_and_compare(lo, p, issued.file, inputs, tmp_path, registry=reg)


@pytest.mark.parametrize("executed,total,grade", [(57, 69, "中"), (45, 59, "差"), (79.99, 89, "良"),
                                                  (80, 98, "优"), (None, 90, "优")])
def test_rate_caps_and_grades(lo, tmp_path, executed, total, grade):
    """`rate_caps` (some provinces): below 80% at most 89 … below 50% at most 59; 评价等级 from the 总分."""
    caps = {0.8: 89, 0.7: 79, 0.6: 69, 0.5: 59}
    p = load_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥1次", 90)], scoring={"rate_caps": caps}))
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path, registry=reg)
    expected = fill_and_compare(lo, p, issued.file, make_inputs(executed={"fiscal": executed}, goal_actual="完成",
                                                                actual=[1]), tmp_path, registry=reg)
    assert (expected["total_score"], expected["grade"]) == (total, grade)


def test_funds_rate_edges(lo, tmp_path):
    p = load_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥1次", 90)]))
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path, registry=reg)
    for executed in ({"fiscal": None}, {"fiscal": 0}, {"fiscal": 100}, {"fiscal": 120.5},
                     {"fiscal": 33.33, "carryover": 0.01, "other": 0.005}):
        inputs = make_inputs(executed={k: executed.get(k) for k in FUND_ROWS}, actual=[1], reason=[None],
                        manual_score=[None])
        fill_and_compare(lo, p, issued.file, inputs, tmp_path, probe_reasons=False, registry=reg)


def test_manual_score_counts_in_the_total(lo, tmp_path):
    p = load_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥100家", 10, {"rule": "manual"}),
                                       ("产出指标", "数量指标", "b", "≥2次", 80)]))
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path, registry=reg)
    inputs = make_inputs(executed={"fiscal": 100, "carryover": None, "other": None}, actual=[108, 2],
                    reason=[None, None], manual_score=[8.5, None])
    expected = fill_and_compare(lo, p, issued.file, inputs, tmp_path, registry=reg)
    assert expected["total_score"] == 10 + 8.5 + 80


# -- generated cases -------------------------------------------------------------------------------
decimal_text = st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False).map(float)
QUALITATIVE = ["不断提高", "文件批复当日下达", "有效提高", "12个月（2019年1月至12月）"]


@st.composite
def indicator_case(draw):
    kind = draw(st.sampled_from(["ge", "gt", "le", "lt", "eq", "qual"]))
    weight = draw(st.sampled_from([1, 2, 2.5, 3, 5, 7, 10, 15, 0.75]))
    if kind == "qual":
        return draw(st.sampled_from(QUALITATIVE)), weight, draw(st.one_of(
            st.none(), st.sampled_from([0, 1, 0.5, 0.98]), st.decimals(0, 1, places=4).map(float)))
    percent = draw(st.booleans())
    value = draw(st.one_of(st.sampled_from([0, 1, 2, 7, 12, 100, 3000]), decimal_text))
    unit = "" if percent else draw(st.sampled_from(["", "次", "家", "万元", "人次"]))
    sign = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "eq": ""}[kind]
    target_text = f"{sign}{value:g}{'%' if percent else ''}{unit}"
    t = float(Decimal(repr(value)) / 100) if percent else value  # as typed: 85% is the double nearest 0.85
    actual = draw(st.one_of(
        st.none(), st.just(t), st.just(0.0), st.just(round(t * 1.3, 6)), st.just(round(t * 1.3, 6) - 0.01),
        st.floats(0, max(2 * t, 1)).map(lambda v: round(v, 4)),
        (st.decimals(0, 200, places=2).map(lambda d: float(d / 100)) if percent else decimal_text)))
    return target_text, weight, typed(actual)


def typed(v):
    """A value as a person types it: at most 15 significant digits (LibreOffice saves no more)."""
    return None if v is None else float(f"{v:.15g}")


@st.composite
def any_case(draw):
    """(target, weight, actual, manual, typed 得分, tier): a fifth of them scored by the evaluator, 0 … 分值;
    a qualitative one also has a tier, used where the profile scores qualitative indicators by tiers."""
    target, weight, actual = draw(indicator_case())
    score = draw(st.one_of(st.none(), st.decimals(0, weight, places=2).map(float)))
    tier = draw(st.sampled_from([None, REACHED, PARTLY, MISSED]))
    if draw(st.integers(0, 4)):
        return target, weight, actual, False, score, tier
    return target, weight, actual, True, score, tier


PROFILES = [{}, SHARE, {"reverse": "ratio"}, {"bare_target": "="}, {"deviation_penalty": 0.5},
            {"rate_caps": {0.8: 89, 0.6: 69}, "overshoot": 0.2}]


LEVELS = {"产出指标": ["数量指标", "质量指标", "时效指标", "成本指标"], "效益指标": ["社会效益指标", "可持续影响指标"],
          "满意度指标": ["满意度指标"]}


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(st.tuples(any_case(), st.sampled_from([(a, b) for a, bs in LEVELS.items() for b in bs])),
                      min_size=1, max_size=10),
       executed=st.fixed_dictionaries({k: st.one_of(st.none(), decimal_text) for k in FUND_ROWS}),
       funds_weight=st.sampled_from([5, 10, 20]), budget=st.sampled_from([0, 1, 9.5, 105, 66.19]),
       overrides=st.sampled_from(PROFILES))
def test_generated_forms_score_the_same_in_libreoffice_and_python(lo, cases, executed, funds_weight, budget,
                                                                  overrides):
    """Random indicator trees (levels in any order), targets of every kind, manual and tier scores, every
    profile option, edge inputs."""
    work = Path(tempfile.mkdtemp(prefix="xlform-h-"))
    try:
        ind = [(l1, l2, f"指标{i}", t, w, {"rule": "manual"} if manual else {})
               for i, ((t, w, _, manual, _, _), (l1, l2)) in enumerate(cases)]
        data = definition(ind, funds_weight=funds_weight, **({"scoring": overrides} if overrides else {}))
        data["funds"]["fiscal"] = {"initial": budget, "annual": budget}
        p = load_def(work, data)
        reg = Registry(work / "r.db")
        [issued] = render([p], work, registry=reg)
        # the definition groups indicators by level: inputs follow the project's order, by name
        by_name = {f"指标{i}": case for i, (case, _) in enumerate(cases)}
        lay = lay_of(p)
        kinds = [lay.fields[f"indicators.{i}.actual"].type for i in range(len(p.indicators))]
        inputs = make_inputs(executed=executed, goal_actual="完成",
                             actual=[by_name[i.name][5] if k == "tier" else by_name[i.name][2]
                                     for i, k in zip(p.indicators, kinds)],
                             manual_score=[by_name[i.name][4] if lay.fields[f"indicators.{n}.score"].role == "input"
                                           else None for n, i in enumerate(p.indicators)])
        fill_and_compare(lo, p, issued.file, inputs, work, registry=reg)
        reg.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
