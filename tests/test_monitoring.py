"""The mid-year 项目支出绩效目标执行监控表 (issue 19): one definition issues its 监控表 beside its 自评表; the
warnings against 序时进度 agree in LibreOffice and in Python at every boundary; every required rule is a
problem at its cell."""
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from helpers import validation_at, write_def
from xlform.cli import main
from xlform.definition.definition import load
from xlform.issue.monitoring import monitored
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.returns.reader import read

ROOT = Path(__file__).resolve().parent.parent
TICK = "√"

# targets of 1,200 at month 7: 序时进度 7/12, so 700 is on schedule (80% of it is 560, 60% is 420)
DEFINITION = {
    "form": "project", "year": 2024, "id": "jk-2024-01", "project": "城乡供水一体化工程",
    "department": "市水务局", "implementer": "市供水总公司", "allow_total": 65,
    "monitoring": {"month": 7},
    "funds": {"weight": 10, "fiscal": {"initial": 1200, "annual": 1200},
              "carryover": {"initial": 1200, "annual": 1200}, "other": {"initial": 0, "annual": 1200}},
    "goal": "完成城乡供水管网改造。",
    "indicators": {"产出指标": {
        "数量指标": [{"name": f"管网{n}", "target": "≥1200米", "weight": 5} for n in range(7)],
        "时效指标": [{"name": "维修时长甲", "target": "≤30天", "weight": 5},
                     {"name": "维修时长乙", "target": "≤30天", "weight": 5}],
        "质量指标": [{"name": "水质达标率", "target": "=100%", "weight": 5}]},
        "效益指标": {"社会效益指标": [{"name": "供水保障水平", "target": "有效提升", "weight": 5}]}},
}
# the form's cells: 年度资金总额 row 6, fund rows 7-9 (执行数 G, 执行率 H, 全年预计执行数 L, 预警 R); goal H11;
# indicators from row 14: 1-X月执行情况 F, 全年预计 G, causes H-L, 原因说明 M, 确定能 N, 有可能 O, 完全不可能 P, 预警 R
PROGRESS = [419.93, 420, 559.93, 560, 1440, 1439.99, 0, 30.01, 30, 0.5, "已完成主体工程"]
COLOURS = ["红", "黄", "黄", "绿", "蓝", "绿", "红", "红", "绿", "", ""]
ROWS = range(14, 25)


def clean_fill() -> dict:
    cells = {"G7": 560, "G8": 420, "G9": 419.9, "L7": 1100, "L8": 1000, "L9": 900, "H11": "主体工程完成过半。"}
    for row, x, colour in zip(ROWS, PROGRESS, COLOURS):
        cells[f"F{row}"] = x
        if colour in ("红", "黄"):
            cells.update({f"H{row}": TICK, f"M{row}": "资金拨付滞后", f"O{row}": TICK, f"G{row}": x * 2 or "800"})
        else:
            cells[f"N{row}"] = TICK
    cells["G24"] = "全年可完成"
    return cells


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    out = tmp_path_factory.mktemp("monitoring")
    p = load(write_def(out, DEFINITION, "jk.yaml"))
    reg = Registry(out / "registry.db")
    mp, kind = monitored(p)
    [workbook] = render([mp], out / "forms", registry=reg, kinds={mp.id: kind})
    return p, workbook.file, reg, out


@pytest.fixture(scope="module")
def filled(lo, issued, tmp_path_factory):
    _, path, _, _ = issued
    dst = tmp_path_factory.mktemp("filled") / "jk.xlsx"
    read_back = [f"R{r}" for r in range(6, 10)] + [f"H{r}" for r in range(6, 10)] + [f"R{r}" for r in ROWS]
    got = lo.fill(path, dst, clean_fill(), read=read_back)
    return dst, got


def test_the_form_has_the_national_layout(issued):
    _, path, _, _ = issued
    ws = openpyxl.load_workbook(path)["监控表"]
    assert ws["A1"].value == "项目支出绩效目标执行监控表"
    assert "（2024 年度）" in ws["A2"].value and "1-7 月" in ws["A2"].value
    assert (ws["A3"].value, ws["C3"].value) == ("项目名称", "城乡供水一体化工程")
    assert [ws[f"{c}5"].value for c in "EFGHLR"] == ["年初预算数", "全年预算数", "1-7月\n执行数", "1-7月\n执行率",
                                                     "全年预计\n执行数", "预警"]
    assert [ws[f"B{r}"].value for r in range(6, 10)] == ["年度资金总额", "其中：当年\n财政拨款", "上年结转资金", "其他资金"]
    assert ws["G6"].value == '=IF(COUNT(G7:G9)=0,"",SUM(G7:G9))' and ws["L6"].value.startswith("=IF(COUNT(L7:L9)")
    assert ws["H7"].value == '=IF(AND(ISNUMBER(G7),N(F7)>0),G7/F7,"")'
    assert (ws["B10"].value, ws["H10"].value) == ("全年预期目标", "1-7月目标实际完成情况")
    assert [ws[f"{c}12"].value for c in "BCDEFG"] == ["一级指标", "二级指标", "三级指标", "年度\n指标值",
                                                      "1-7月\n执行情况", "全年预计\n完成情况"]
    assert (ws["H12"].value, ws["N12"].value, ws["Q12"].value, ws["R12"].value) == (
        "偏差原因分析", "完成目标可能性", "备注", "预警")
    assert [ws[f"{c}13"].value for c in "HIJKLMNOP"] == ["经费\n保障", "制度\n保障", "人员\n保障", "硬件\n条件\n保障",
                                                         "其他", "原因说明", "确定能", "有可能", "完全\n不可能"]
    assert ws["A25"].value.startswith("说明：") and "7/12" in ws["A25"].value
    for cell in ("G7", "L7", "H11", "F14", "G14", "H14", "L14", "M14", "N14", "P14", "Q14"):
        assert not ws[cell].protection.locked, cell
    for cell in ("H14", "N14", "P14"):
        dv = validation_at(ws, cell)
        assert dv.type == "list" and dv.formula1 == f'"{TICK}"', cell
    for cell in ("E7", "F7", "G6", "H7", "R7", "R14", "D14", "E14"):
        assert ws[cell].protection.locked, cell
    assert ws.page_setup.orientation == "landscape" and ws.protection.sheet


def test_libreoffice_and_python_agree_on_every_warning_boundary(issued, filled):
    """59.99% red, 60% yellow, 79.99% yellow, 80% green, 120% of the target blue, 0 red, ≤ exceeded red; the
    funds: 560, 420 and 419.9 of 1,200 at month 7 are 80% green, 60% yellow, 59.98% red."""
    _, _, reg, _ = issued
    path, got = filled
    assert [got[f"R{r}"] or "" for r in ROWS] == COLOURS   # "" (= and qualitative) reads as blank
    assert [got[f"R{r}"] for r in range(6, 10)] == ["黄", "绿", "黄", "红"]
    [r] = read(path, reg)
    assert [(x.code, x.where) for x in r.problems if x.severity == "error"] == []
    assert [i.extra["warning"] or "" for i in r.indicators] == COLOURS
    assert [r.funds["rows"][k]["warning"] for k in ("total", "fiscal", "carryover", "other")] == \
        ["黄", "绿", "黄", "红"]
    for n, key in zip(range(6, 10), ("total", "fiscal", "carryover", "other")):
        assert r.funds["rows"][key]["rate"] == pytest.approx(got[f"H{n}"], abs=1e-12)
    assert r.indicators[3].extra["ratio"] == 0.8 and r.indicators[1].extra["ratio"] == 0.6


def test_a_clean_return_reads_back_every_field(issued, filled):
    _, _, reg, _ = issued
    path, _ = filled
    [r] = read(path, reg)
    assert r.template["form"] == "monitoring" and r.template["id"] == "jk-2024-01.monitoring"
    assert r.project["project_id"] == "jk-2024-01" and r.project["month"] == 7
    assert r.funds["rows"]["fiscal"]["executed"] == 560 and r.funds["rows"]["fiscal"]["forecast"] == 1100
    assert r.funds["rows"]["total"]["forecast"] == 3000 and r.extra["funds.total.warning"] == "黄"
    assert r.goal["actual"] == "主体工程完成过半。"
    first = r.indicators[0]
    assert (first.actual, first.extra["forecast"], first.extra["cause_funding"], first.extra["likelihood"],
            first.deviation_reason) == (419.93, 839.86, TICK, "有可能", "资金拨付滞后")
    assert r.indicators[3].extra["likelihood"] == "确定能" and r.indicators[3].extra["cause_funding"] is None
    assert r.indicators[10].actual == "已完成主体工程" and r.indicators[10].extra["forecast"] == "全年可完成"
    assert r.total_score is None and r.grade is None and all(i.score is None for i in r.indicators)


REQUIRED = [   # (what the department left, the problem, its cell): one rule each
    ({"H14": None}, "monitor_cause_missing", "H14"),             # a red row, no 偏差原因 ticked
    ({"H15": None, "M15": None}, "monitor_cause_missing", "H15"),   # a yellow row, likewise
    ({"M15": None}, "monitor_explanation_missing", "M15"),      # a cause ticked, no 原因说明
    ({"N17": None}, "monitor_likelihood", "N17"),               # no 完成目标可能性 ticked
    ({"O17": TICK, "G17": 1000, "H17": TICK, "M17": "偏低"}, "monitor_likelihood", "N17"),   # two ticked
    ({"N17": None, "O17": TICK, "H17": TICK, "M17": "进度偏慢"}, "monitor_forecast_missing", "G17"),   # 有可能, no forecast
    ({"N17": None, "P17": TICK, "G17": 900}, "monitor_cause_for_risk", "H17"),   # 完全不可能, no cause
    ({"L7": None}, "monitor_blank_forecast_funds", "L7"),       # a fund row with a budget, no 全年预计执行数
    ({"G8": None}, "monitor_blank_executed", "G8"),             # nor 1-X月执行数
    ({"F22": None}, "monitor_blank_progress", "F22"),           # no 1-X月执行情况
    ({"N23": "是"}, "monitor_not_a_tick", "N23"),               # not a tick
]


@pytest.mark.parametrize("left, code, cell", REQUIRED, ids=[f"{c}-{cell}" for _, c, cell in REQUIRED])
def test_each_required_rule_is_an_error_at_its_cell(lo, issued, tmp_path, left, code, cell):
    _, path, reg, _ = issued
    lo.fill(path, tmp_path / "bad.xlsx", {**clean_fill(), **left})
    [r] = read(tmp_path / "bad.xlsx", reg)
    assert [(x.code, x.where) for x in r.errors] == [(code, f"监控表!{cell}")]
    message = r.errors[0].message   # Chinese, every value filled in
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message) and "{" not in message and "None" not in message


def test_a_red_row_without_a_cause_names_its_colour_and_ratio(lo, issued, tmp_path):
    _, path, reg, _ = issued
    lo.fill(path, tmp_path / "bad.xlsx", {**clean_fill(), "H14": None})
    [r] = read(tmp_path / "bad.xlsx", reg)
    [missing] = r.errors
    assert missing.message == "“管网0”预警为红（执行进度为序时进度的 59.99%），须在偏差原因分析中至少勾选一项原因。"


def test_the_required_cells_are_highlighted_while_empty(issued):
    """Each rule is a conditional format on its cells (the workbook shows what is missing as it is typed)."""
    _, path, _, _ = issued
    ws = openpyxl.load_workbook(path)["监控表"]
    rules_at = {str(rng.sqref): [r.formula[0] for r in rs] for rng, rs in ws.conditional_formatting._cf_rules.items()}
    assert rules_at["H14:L14"] == ['AND(COUNTIF($H$14:$L$14,"√")=0,OR($R$14="红",$R$14="黄",OR($O$14="√",$P$14="√")))']
    assert rules_at["M14"] == ['AND(ISBLANK($M$14),COUNTIF($H$14:$L$14,"√")>0)']
    assert rules_at["N14:P14"] == ['COUNTIF($N$14:$P$14,"√")<>1']
    assert rules_at["G14"] == ['AND(ISBLANK($G$14),OR($O$14="√",$P$14="√"))']
    assert rules_at["L7"] == ["ISBLANK(L7)"] and rules_at["F14"] == ["ISBLANK($F$14)"]
    assert rules_at["R14"] == ['"红"', '"黄"', '"绿"', '"蓝"'] == rules_at["R6"]


def cells_of(mp, kind) -> dict:
    from xlform.form.layout import layout
    return {k: f.cell for k, f in layout(mp, kind).fields.items()}


@pytest.mark.parametrize("month", [7])
def test_every_example_and_sichuan_renders_fills_and_reads_back(lo, examples, tmp_path, month):
    """Each example's 监控表 (Sichuan's with its own fund rows) filled on schedule reads back without an error."""
    reg = Registry(tmp_path / "registry.db")
    pairs = [monitored(p, month) for p in examples.values()]
    issued = render([mp for mp, _ in pairs], tmp_path / "forms", registry=reg, kinds={mp.id: k for mp, k in pairs})
    assert len(issued) == len(examples) == 8
    for (mp, kind), workbook in zip(pairs, issued):
        cell = cells_of(mp, kind)
        fill = {cell["goal.actual"]: "按计划推进。"}
        for key, row in mp.funds.rows.items():
            fill[cell[f"funds.{key}.executed"]] = round(row.annual * month / 12, 2)
            fill[cell[f"funds.{key}.forecast"]] = row.annual
        for i, ind in enumerate(mp.indicators):
            t = ind.target
            fill[cell[f"indicators.{i}.progress"]] = "按计划推进" if t.qualitative else (t.value or 0)
            fill[cell[f"indicators.{i}.sure"]] = TICK
        dst = tmp_path / f"{mp.id}.xlsx"
        lo.fill(workbook.file, dst, fill)
        [r] = read(dst, reg)
        assert [(x.code, x.where) for x in r.errors] == [], mp.id
        assert r.template["form"] == "monitoring" and r.project["project_id"] == mp.id.removesuffix(".monitoring")
        assert set(r.funds["rows"]) == {"total", *mp.funds.rows}
        assert all(i.extra["likelihood"] == "确定能" for i in r.indicators)
    sichuan = openpyxl.load_workbook(tmp_path / "forms" / "sc-2023-01.monitoring.xlsx")["监控表"]
    assert [sichuan[f"B{r}"].value for r in range(6, 11)] == ["年度资金总额", "财政资金", "财政专户管理资金", "单位资金",
                                                             "其他资金"]


def test_the_monitoring_form_and_the_self_evaluation_keep_their_own_versions(tmp_path):
    definition = write_def(tmp_path, DEFINITION, "jk.yaml")
    reg = tmp_path / "registry.db"
    runner = CliRunner()

    def render_(*args):
        result = runner.invoke(main, ["render", str(definition), "-o", str(tmp_path / "out"), "--registry", str(reg),
                                      *args])
        return result.exit_code, result.output

    assert render_() == (0, f"{tmp_path / 'out' / 'jk-2024-01.xlsx'}  自评表  jk-2024-01 v1\n")
    assert render_("--form", "monitoring")[1].endswith("监控表  jk-2024-01.monitoring v1\n")   # month 7: the definition's
    assert render_()[1].endswith("jk-2024-01 v1\n")
    assert render_("--form", "monitoring", "--month", "8")[1].endswith("jk-2024-01.monitoring v2\n")
    assert render_()[1].endswith("jk-2024-01 v1\n")
    ws = openpyxl.load_workbook(tmp_path / "out" / "jk-2024-01.monitoring.xlsx")["监控表"]
    assert ws["G5"].value == "1-8月\n执行数"
    assert render_("--form", "monitoring", "--month", "12")[0] == 2
    assert render_("--month", "7")[0] == 2
    no_month = {k: v for k, v in DEFINITION.items() if k != "monitoring"}
    path = write_def(tmp_path, no_month, "no-month.yaml")
    result = runner.invoke(main, ["render", str(path), "--form", "monitoring", "-o", str(tmp_path / "out"),
                                  "--registry", str(reg)])
    assert result.exit_code == 1 and "give --month X" in result.output and "Traceback" not in result.output
    bad = write_def(tmp_path, {**DEFINITION, "monitoring": {"month": 12}}, "bad.yaml")
    result = runner.invoke(main, ["check", str(bad)])
    assert result.exit_code == 1 and "monitoring.month" in result.output and "1 to 11" in result.output


@pytest.fixture(scope="module")
def self_evaluation(lo, issued, tmp_path_factory):
    """The same definition's 自评表, issued into the same registry and filled at year end: every 实际完成值 at
    its target (the funds fully spent: 3,600 of 3,600)."""
    p, _, reg, out = issued
    [workbook] = render([p], out / "forms", registry=reg)
    from xlform.form.layout import layout
    cell = {k: f.cell for k, f in layout(p).fields.items()}
    fill = {cell[f"funds.{k}.executed"]: 1200 for k in ("fiscal", "carryover", "other")}
    fill[cell["goal.actual"]] = "全面完成管网改造。"
    for i, ind in enumerate(p.indicators):
        fill[cell[f"indicators.{i}.actual"]] = "达成年度指标" if ind.target.qualitative else ind.target.value
        if ind.target.qualitative:
            fill[cell[f"indicators.{i}.score"]] = 5
    dst = tmp_path_factory.mktemp("self") / "jk-self.xlsx"
    lo.fill(workbook.file, dst, fill)
    return dst


def test_one_database_holds_both_and_summary_export_and_reports_show_them(issued, filled, self_evaluation,
                                                                          tmp_path):
    import csv
    import io
    import shutil
    from xlform.storage.store import Store
    _, _, _, out = issued
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(filled[0], inbox / "jk-monitoring.xlsx")
    shutil.copy(self_evaluation, inbox / "jk-self.xlsx")
    db = tmp_path / "c.db"
    result = CliRunner().invoke(main, ["collect", str(inbox), "--db", str(db), "--summary", str(tmp_path / "s.xlsx"),
                                       "--report", str(tmp_path / "reports"), "--registry", str(out / "registry.db"),
                                       "--jobs", "1", "--quiet"])
    assert result.exit_code in (0, 1), result.output
    store = Store(db)
    forms = sorted((s[1], s[9]) for s in store.current_submissions())
    store.close()
    assert forms == [("jk-2024-01", "project"), ("jk-2024-01.monitoring", "monitoring")]
    book = openpyxl.load_workbook(tmp_path / "s.xlsx")

    def rows(name):
        ws = book[name]
        header = [c.value for c in ws[1]]
        return [dict(zip(header, values)) for values in ws.iter_rows(min_row=2, values_only=True) if any(values)]

    assert [r["模板编号"] for r in rows("汇总")] == ["jk-2024-01"]   # the year's 自评表: its 全年执行数, 总分
    assert {r["模板编号"] for r in rows("指标")} == {"jk-2024-01"}
    [overview] = rows("监控")
    assert overview == {"主管部门": "市水务局", "监控项目数": 1, "指标红": 3, "指标黄": 2, "指标绿": 3, "指标蓝": 1,
                        "勾选有可能": 5, "勾选完全不可能": 0, "资金预警红": 0, "资金预警黄": 1, "资金预警绿": 0}
    assert book["监控"]._charts, "the warnings' chart"
    risky = rows("监控明细")
    assert [(r["三级指标"], r["预警"]) for r in risky] == [
        ("年度资金总额", "黄"), ("管网0", "红"), ("管网1", "黄"), ("管网2", "黄"), ("管网6", "红"), ("维修时长甲", "红")]
    assert risky[1]["偏差原因"] == "经费保障" and risky[1]["完成目标可能性"] == "有可能"
    held = {r["指标"]: (r["监控时全年预计"], r["自评实际"], r["达到预计"]) for r in rows("预计与实际")}
    assert held["年度资金总额（万元）"] == (3000, 3600, "是")
    assert held["管网0"] == (839.86, 1200, "是") and held["管网4"] == (None, 1200, None)
    assert held["维修时长甲"] == (60.02, 30, "是")
    table = list(csv.DictReader(io.StringIO(CliRunner().invoke(main, ["export", "--db", str(db)]).stdout)))
    monitored = [t for t in table if t["form"] == "monitoring"]
    assert len(monitored) == 11 and {t["month"] for t in monitored} == {"7"}
    assert {t["project_id"] for t in monitored} == {"jk-2024-01"} and monitored[0]["funds.total.warning"] == "黄"
    assert [t["indicator.warning"] for t in monitored] == COLOURS
    assert monitored[0]["indicator.likelihood"] == "有可能" and monitored[0]["indicator.cause_funding"] == TICK
    page = next((tmp_path / "reports").glob("*.html")).read_text(encoding="utf-8")
    assert "1-7月监控预警：指标 红 3 项、黄 2 项、绿 3 项、蓝 1 项；资金黄；勾选“有可能”或“完全不可能” 5 项。" in page
    store = Store(db)
    assert [(d, n) for d, n, *_ in store.department_averages()] == [("市水务局", 1)]   # the 自评表 alone: its 执行率
    store.close()


# -- the rules agree in LibreOffice at every month, at and around every boundary -------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from xlform.scoring import monitoring as rules  # noqa: E402
from xlform.scoring.target import parse  # noqa: E402

TARGETS = ["≥1200米", "≥80%", ">37.5次", "≥3个", "≤30天", "<0.5%", "≤0天", "≥0家"]
SHARES = [0, 0.5999, 0.6, 0.7999, 0.8, 1, 1.1999, 1.2, 1.3]   # of the target × 序时进度 (≤: of the target)


@st.composite
def boundary_values(draw):
    month = draw(st.integers(1, 11))
    values = []
    for text in TARGETS:
        t = parse(text)
        base = t.value if t.op in ("<=", "<") else t.value * month / 12
        share = draw(st.sampled_from(SHARES + [1.2 * 12 / month, 1.2 * 12 / month - 1e-4]))
        jitter = draw(st.sampled_from([0, 0, 1e-9, -1e-9, 0.01]))
        values.append(max(0.0, round(base * share + jitter, 10)) if t.value else draw(st.sampled_from([0, 1, 2.5])))
    funds = [draw(st.sampled_from([0, 0.5999, 0.6, 0.7999, 0.8, 1.0])) for _ in range(3)]
    return month, values, funds


@pytest.fixture(scope="module")
def forms_by_month(tmp_path_factory):
    """The boundary form rendered for every month: {month: (workbook, registry, project, kind)}."""
    out = tmp_path_factory.mktemp("months")
    data = {**DEFINITION, "id": "jk-b", "allow_total": 10 + 5 * len(TARGETS),
            "indicators": {"产出指标": {"数量指标": [{"name": f"指标{n}", "target": t, "weight": 5}
                                                   for n, t in enumerate(TARGETS)]}}}
    p = load(write_def(out, data, "b.yaml"))
    reg = Registry(out / "registry.db")
    found = {}
    for month in range(1, 12):
        mp, kind = monitored(p, month)
        [workbook] = render([mp], out / f"m{month}", registry=reg, kinds={mp.id: kind})
        found[month] = (workbook.file, mp, kind)
    return found, reg


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
          max_examples=25)
@given(case=boundary_values())
def test_generated_values_are_the_same_colour_in_libreoffice_and_python(lo, forms_by_month, tmp_path, case):
    month, values, funds = case
    found, reg = forms_by_month
    path, mp, kind = found[month]
    cell = cells_of(mp, kind)
    fill = {cell[f"indicators.{i}.progress"]: v for i, v in enumerate(values)}
    budgets = {k: r.annual for k, r in mp.funds.rows.items()}
    for share, (key, annual) in zip(funds, budgets.items()):
        fill[cell[f"funds.{key}.executed"]] = round(annual * month / 12 * share, 10)
    warn = [cell[f"indicators.{i}.warning"] for i in range(len(values))]
    funds_warn = [cell[f"funds.{k}.warning"] for k in ("total", *budgets)]
    got = lo.fill(path, tmp_path / "g.xlsx", fill, read=warn + funds_warn)
    [r] = read(tmp_path / "g.xlsx", reg)
    assert [got[c] or None for c in warn] == [i.extra["warning"] for i in r.indicators]
    assert [got[c] or None for c in funds_warn] == [r.funds["rows"][k]["warning"] for k in ("total", *budgets)]
    assert not [x for x in r.problems if x.code == "stale_value"]


def test_a_return_migrates_to_the_next_month_s_version(issued, filled, tmp_path):
    """A 监控表 re-issued for month 8 (its v2): a July return is carried over cell by cell, its warnings
    recomputed against the new 序时进度."""
    from xlform.returns.migration import migrate
    p = issued[0]
    reg = Registry(tmp_path / "registry.db")   # an office's own: July's form (v1, as filled), then August's
    for month in (7, 8):
        mp, kind = monitored(p, month)
        render([mp], tmp_path / f"forms{month}", registry=reg, kinds={mp.id: kind})
    m = migrate(filled[0], reg, tmp_path / "migrated")
    assert m.error is None and m.sheets == [("监控表", "jk-2024-01.monitoring", 1, 2)]
    carried = {line.field for line in m.lines if line.category == "已转入"}
    assert {"管网0·1-8月执行情况", "管网0·全年预计完成情况", "管网0·经费保障", "管网0·有可能", "管网0·原因说明",
            "管网3·确定能", "1-8月目标实际完成情况"} <= carried
    ws = openpyxl.load_workbook(m.output)["监控表"]
    assert (ws["F14"].value, ws["H14"].value, ws["O14"].value, ws["M14"].value, ws["G7"].value) == (
        419.93, TICK, TICK, "资金拨付滞后", 560)
    [r] = read(m.output, reg)
    assert r.project["month"] == 8 and r.template["version"] == 2
    assert r.indicators[3].extra["warning"] == "黄"     # 560 of 800 (8/12 of 1,200) is 70%
    assert r.funds["rows"]["fiscal"]["warning"] == "黄"


def test_import_refuses_a_monitoring_form_in_one_line(issued, tmp_path):
    """Its definition is the 自评表's: importing the 监控表 would make a definition of no form."""
    _, path, _, _ = issued
    result = CliRunner().invoke(main, ["import", str(path), "-o", str(tmp_path / "defs")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"Error: {path}: 监控表: 工作表“监控表”是项目支出绩效目标执行监控表，不能导入为项目定义" in result.output
    assert not (tmp_path / "defs").exists() or not list((tmp_path / "defs").iterdir())


def test_a_declaration_has_no_monitoring_form(tmp_path):
    data = {"form": "declaration", "year": 2025, "id": "sb-01", "project": "申报项目", "department": "市水务局",
            "implementer": "市水务局", "funds": {"fiscal": {"initial": 100}}}
    result = CliRunner().invoke(main, ["render", str(write_def(tmp_path, data, "d.yaml")), "--form", "monitoring",
                                       "--month", "7", "-o", str(tmp_path / "out"), "--registry",
                                       str(tmp_path / "r.db")])
    assert result.exit_code == 1 and "a declaration definition has no 监控表" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_a_kind_outside_the_package_monitors_with_its_own_fund_rows(tmp_path, monkeypatch):
    """Hubei's 自评表 (docs/kinds/hubei: 财政拨款 and 其他资金) issues its 监控表 with those rows."""
    import shutil
    shutil.copytree(ROOT / "docs" / "kinds" / "hubei", tmp_path / "kinds" / "hubei")
    monkeypatch.setenv("XLFORM_TEMPLATES", str(tmp_path / "kinds"))
    data = {**DEFINITION, "form": "hubei", "id": "hb-jk", "funds": {"weight": 10, "fiscal": {"initial": 100, "annual": 120},
                                                                  "other": {"initial": 20, "annual": 30}}}
    mp, kind = monitored(load(write_def(tmp_path, data, "hb.yaml")))
    assert kind.fund_rows == ("fiscal", "other")
    [workbook] = render([mp], tmp_path / "out", registry=Registry(tmp_path / "r.db"), kinds={mp.id: kind})
    ws = openpyxl.load_workbook(workbook.file)["监控表"]
    assert [ws[f"B{r}"].value for r in (6, 7, 8)] == ["年度资金总额", "财政拨款", "其他资金"]
    assert (ws["F6"].value, ws["F7"].value, ws["F8"].value) == (150, 120, 30)


def test_the_funds_boundaries_agree_in_libreoffice(lo, issued, tmp_path):
    """79.99% of schedule is 黄, 59.99% 红, nothing spent 红; the total: 979.86 of 3,600 at 7/12 is 46.66%, 红."""
    _, path, reg, _ = issued
    got = lo.fill(path, tmp_path / "f.xlsx", {**clean_fill(), "G7": 559.93, "G8": 419.93, "G9": 0},
                  read=["R6", "R7", "R8", "R9", "H7"])
    [r] = read(tmp_path / "f.xlsx", reg)
    assert [got[c] for c in ("R6", "R7", "R8", "R9")] == ["红", "黄", "红", "红"]
    assert [r.funds["rows"][k]["warning"] for k in ("total", "fiscal", "carryover", "other")] == ["红", "黄", "红", "红"]
    assert r.funds["rows"]["fiscal"]["rate"] == pytest.approx(got["H7"], abs=1e-15)
