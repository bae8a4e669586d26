"""LibreOffice as the real client: it prints the form, fills the unlocked cells, recalculates and saves;
every value it computes must equal the Python rule for the same inputs."""
import shutil
from decimal import Decimal
import subprocess
import tempfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import cells_for, definition, inputs_from, load_def
from xlform.definition import FUND_ROWS
from xlform.evaluate import Inputs, evaluate, rules
from xlform.forms import form_kind
from xlform.layout import layout
from xlform.registry import Registry
from xlform.reader import read
from xlform.renderer import render

PRESET = form_kind("project").preset


def fill_and_compare(lo, project, path: Path, inputs: Inputs, workdir: Path, probe_reasons=True, registry=None):
    """Fill through LibreOffice, check its computed values (live and as saved) against Python, and read
    the saved file back: the record holds the values typed in and the scores LibreOffice computed."""
    lay = layout(project)
    expected = evaluate(project, inputs, PRESET)
    score_cells = [lay.cell(f"indicators.{i}.score") for i in range(len(project.indicators))]
    wanted = ["F6", "H6", "I6", lay.cell("total_score")] + score_cells
    filled = workdir / f"filled-{path.name}"
    got = lo.fill(path, filled, cells_for(project, inputs), read=wanted)

    assert got["F6"] == pytest.approx(expected.executed_total, rel=1e-12)
    assert (got["H6"] is None) == (expected.rate is None)
    if expected.rate is not None:
        assert got["H6"] == pytest.approx(expected.rate, rel=1e-12)
    assert _same(got["I6"], expected.funds_score), ("funds", got["I6"], expected.funds_score)
    for i, cell in enumerate(score_cells):
        ind = project.indicators[i]
        assert _same(got[cell], expected.scores[i]), (ind.name, ind.target.text, inputs.actual[i], got[cell],
                                                       expected.scores[i])
    assert _same(got[lay.cell("total_score")], expected.total)

    # What LibreOffice saved: inputs kept, cached values equal to the rules, still protected.
    wb = openpyxl.load_workbook(filled, data_only=True)
    ws = wb["自评表"]
    for i, cell in enumerate(score_cells):
        if not project.indicators[i].manual:
            assert _same(ws[cell].value, expected.scores[i])
        assert _same(ws[lay.cell(f"indicators.{i}.actual")].value, inputs.actual[i])
    assert _same(ws[lay.cell("total_score")].value, expected.total)
    assert ws.protection.sheet and not ws["F7"].protection.locked and ws["G6"].protection.locked

    if registry is not None:
        [record] = read(filled, registry)
        assert [i.actual for i in record.indicators] == inputs.actual
        assert {k: record.funds["rows"][k]["executed"] for k in FUND_ROWS} == inputs.executed
        assert all(_same(i.score, got[c]) for i, c in zip(record.indicators, score_cells))
        assert _same(record.total_score, got[lay.cell("total_score")]) and _same(record.funds["score"], got["I6"])
        assert record.goal["actual"] == inputs.goal_actual
        assert [i.deviation_reason for i in record.indicators] == inputs.reason
        assert not [p for p in record.problems if p.code in ("locked_changed", "formula_changed", "stale_value",
                                                              "protection_removed", "not_a_number")]

    if probe_reasons:  # the highlighting formula for 偏差原因 says what needs_reason says
        probes = {}
        for i, rule in enumerate(rules(project, PRESET)):
            x, w, s, why = (lay.cell(f"indicators.{i}.{k}") for k in ("actual", "weight", "score", "reason"))
            probes[f"K{13 + i}"] = "=" + rule.reason_formula(x, w, s, why)
        flags = lo.fill(filled, workdir / "probe.xlsx", probes, read=list(probes), force=True)
        for i, ref in enumerate(probes):
            reason_given = bool(inputs.reason[i])
            assert bool(flags[ref]) == (expected.needs_reason[i] and not reason_given), (
                project.indicators[i].name, inputs.actual[i], expected.scores[i])
    return expected


def _same(a, b):
    if a in (None, "") or b in (None, ""):
        return a in (None, "") and b in (None, "")
    return abs(float(a) - float(b)) < 1e-9


def test_pdf_of_the_form_shows_its_text(lo, rendered, examples, tmp_path):
    for tid in ("xj-jrj-2019-02", "xj-jrj-2019-07"):
        pdf = tmp_path / f"{tid}.pdf"
        lo.pdf(rendered[tid], pdf)
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        flat = "".join(text.split())
        p = examples[tid]
        for label in ("项目支出绩效自评表", "（2019年度）", "项目名称", p.project, "年初预算数", "全年执行数",
                      "预期目标", "实际完成情况", "一级指标", "三级指标", "年度指标值", "偏差原因分析及改进措施",
                      "总分", f"模板{tid}第1版"):
            assert label in flat, label
        for ind in p.indicators:
            if len(ind.name) <= 12:
                assert ind.name in flat, ind.name
        assert text.count("\f") == 1, "the form prints on one A4 page"


def test_pdf_uses_a_cjk_font(lo, rendered, tmp_path):
    pdf = tmp_path / "f.pdf"
    lo.pdf(rendered["xj-jrj-2019-01"], pdf)
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "WenQuanYi" in fonts or "Song" in fonts or "Noto" in fonts, fonts


@pytest.mark.parametrize("tid", [f"xj-jrj-2019-0{i}" for i in range(1, 8)])
def test_examples_filled_with_published_values(lo, rendered, examples, published, tid, tmp_path):
    p = examples[tid]
    fill_and_compare(lo, p, rendered[tid], inputs_from(p, published[tid]), tmp_path)


def test_boundaries_of_every_rule(lo, tmp_path):
    """One form holding every rule at its edges: exact hits, just below, 0 targets, overshoot thresholds."""
    cases = [  # (target, actual, weight)
        ("≥7次", 7, 5), ("≥7次", 6.99, 5), ("≥7次", 0, 5), ("≥7次", 9.1, 5), ("≥7次", 9.09, 5), (">7次", 7, 5),
        ("≥0次", 0, 2), ("≥0次", 5, 2), ("≥80%", 0.8, 4), ("≥80%", 0.7999, 4), ("≥80%", 1.04, 4),
        ("≥80%", 1.0399, 4), ("≥3000人次", 2726, 7), ("≥10亿元", 7.71, 3),
        ("≤5天", 5, 3), ("≤5天", 5.01, 3), ("≤5天", 0, 3), ("<5天", 15, 3), ("≤0起", 0, 3), ("≤0起", 0.01, 3),
        ("12次", 12, 2), ("12次", 11, 2), ("12次", 13, 2), ("12次", 24, 2), ("12次", 30, 2), ("12次", 0, 2),
        ("0", 0, 2), ("0", 1, 2), ("95%", 1, 3), ("95%", 0.95, 3), ("1.3", 1, 3), ("4.53万元", 4.53, 2),
        ("不断提高", 0.98, 5), ("不断提高", 1, 5), ("不断提高", 0, 5), ("不断提高", 0.333, 3),
        ("不断提高", None, 2), ("≥7次", None, 2), ("≥7次", 0.75 * 7, 0.75),
    ]
    ind = [("产出指标", f"组{i // 10}", f"指标{i}", t, w) for i, (t, _, w) in enumerate(cases)]
    p = load_def(tmp_path, definition(ind, funds_weight=10))
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path, registry=reg)
    n = len(cases)
    inputs = Inputs(executed={"fiscal": 57, "carryover": 0.3, "other": None}, goal_actual="完成",
                    actual=[a for _, a, _ in cases], reason=[None] * n, manual_score=[None] * n)
    fill_and_compare(lo, p, issued.file, inputs, tmp_path, registry=reg)


def test_funds_rate_edges(lo, tmp_path):
    p = load_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥1次", 90)]))
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path, registry=reg)
    for executed in ({"fiscal": None}, {"fiscal": 0}, {"fiscal": 100}, {"fiscal": 120.5},
                     {"fiscal": 33.33, "carryover": 0.01, "other": 0.005}):
        inputs = Inputs(executed={k: executed.get(k) for k in FUND_ROWS}, actual=[1], reason=[None],
                        manual_score=[None])
        fill_and_compare(lo, p, issued.file, inputs, tmp_path, probe_reasons=False, registry=reg)


def test_manual_score_counts_in_the_total(lo, tmp_path):
    p = load_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥100家", 10, {"rule": "manual"}),
                                       ("产出指标", "数量指标", "b", "≥2次", 80)]))
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path, registry=reg)
    inputs = Inputs(executed={"fiscal": 100, "carryover": None, "other": None}, actual=[108, 2],
                    reason=[None, None], manual_score=[8.5, None])
    expected = fill_and_compare(lo, p, issued.file, inputs, tmp_path, registry=reg)
    assert expected.total == 10 + 8.5 + 80


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
    """(target, weight, actual, manual, typed 得分): a fifth of them scored by the evaluator, 0 … 分值."""
    target, weight, actual = draw(indicator_case())
    if draw(st.integers(0, 4)):
        return target, weight, actual, False, None
    return target, weight, actual, True, draw(st.one_of(st.none(), st.decimals(0, weight, places=2).map(float)))


LEVELS = {"产出指标": ["数量指标", "质量指标", "时效指标", "成本指标"], "效益指标": ["社会效益指标", "可持续影响指标"],
          "满意度指标": ["满意度指标"]}


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(st.tuples(any_case(), st.sampled_from([(a, b) for a, bs in LEVELS.items() for b in bs])),
                      min_size=1, max_size=10),
       executed=st.fixed_dictionaries({k: st.one_of(st.none(), decimal_text) for k in FUND_ROWS}),
       funds_weight=st.sampled_from([5, 10, 20]), budget=st.sampled_from([0, 1, 9.5, 105, 66.19]))
def test_generated_forms_score_the_same_in_libreoffice_and_python(lo, cases, executed, funds_weight, budget):
    """Random indicator trees (levels in any order), targets of every kind, manual scores, edge inputs."""
    work = Path(tempfile.mkdtemp(prefix="xlform-h-"))
    try:
        ind = [(l1, l2, f"指标{i}", t, w, {"rule": "manual"} if manual else {})
               for i, ((t, w, _, manual, _), (l1, l2)) in enumerate(cases)]
        data = definition(ind, funds_weight=funds_weight)
        data["funds"]["fiscal"] = {"initial": budget, "annual": budget}
        p = load_def(work, data)
        reg = Registry(work / "r.db")
        [issued] = render([p], work, registry=reg)
        # the definition groups indicators by level: inputs follow the project's order, by name
        by_name = {f"指标{i}": case for i, (case, _) in enumerate(cases)}
        n = len(cases)
        inputs = Inputs(executed=executed, goal_actual="完成", actual=[by_name[i.name][2] for i in p.indicators],
                        reason=[None] * n,
                        manual_score=[by_name[i.name][4] for i in p.indicators])
        fill_and_compare(lo, p, issued.file, inputs, work, registry=reg)
        reg.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
