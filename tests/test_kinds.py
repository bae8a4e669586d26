"""Form kinds own their layout: the Sichuan form, a third kind added in a folder without touching the package,
and a kind edited after forms went out (a new version; old returns still read against the old layout)."""
import csv
import io
import shutil
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from helpers import lay_of, validation_at
from xlform.cli import main
from xlform.definition.definition import load
from xlform.form.evaluate import evaluate_form
from xlform.returns.migration import migrate
from xlform.returns.reader import read
from xlform.issue.registry import Registry
from xlform.issue.renderer import render

ROOT = Path(__file__).resolve().parent.parent
SICHUAN = ROOT / "examples" / "sc-2023-01.yaml"
REACHED, PARTLY = "达成年度指标", "部分达成年度指标并具有一定效果"
LONG = ("按计划完成示范村建设任务，" * 16)[:196]   # 196 characters: within 200



@pytest.fixture(scope="module")
def sichuan(tmp_path_factory):
    out = tmp_path_factory.mktemp("sichuan")
    p = load(SICHUAN)
    reg = Registry(out / "registry.db")
    [issued] = render([p], out, registry=reg)
    return p, issued.file, reg, out


def test_sichuan_prints_its_own_layout(sichuan):
    p, path, _, _ = sichuan
    ws = openpyxl.load_workbook(path)["自评表"]
    assert ws["A1"].value == "项目支出绩效自评表" and "510000_0013zp" in ws["A2"].value
    assert (ws["A3"].value, ws["C3"].value) == ("项目名称", "510000230001 乡村振兴专项资金")
    assert [ws.cell(5, c).value for c in range(5, 12)] == [
        "年初\n预算数", "调整后\n预算数", "预算\n执行数", "预算\n执行率", "权重", "得分", "原因"]
    assert [ws[f"B{r}"].value for r in range(6, 11)] == ["预算资金总额", "财政资金", "财政专户管理资金", "单位资金", "其他资金"]
    assert (ws["E6"].value, ws["F6"].value, ws["F7"].value, ws["I6"].value) == (520, 510, 480, 10)
    assert ws["G6"].value == '=IF(COUNT(G7:G10)=0,"",SUM(G7:G10))' and ws["H6"].value.startswith("=IF(AND(COUNT(G7:G10)>0,F6>0),G6/F6")
    assert [ws.cell(13, c).value for c in range(1, 12)] == [
        "绩效\n指标", "一级\n指标", "二级\n指标", "三级指标", "指标\n性质", "指标值", "度量\n单位", "完成值", "权重", "得分",
        "未完成原因\n分析"]
    # the target split into 指标性质 | 指标值 | 度量单位, as Sichuan prints it
    assert [ws.cell(14, c).value for c in range(4, 8)] == ["建设示范村数量", "≥", "20", "个"]
    assert [ws.cell(16, c).value for c in range(5, 8)] == ["=", "100", "%"]   # as the form splits it (issue 21)
    assert [ws.cell(17, c).value for c in range(5, 8)] == ["≤", "30", "天"]
    assert [ws.cell(18, c).value for c in range(5, 8)] == ["定性", "有效带动", None]
    assert (ws["A21"].value, ws["I21"].value) == ("总分", 100)
    assert [ws[f"A{r}"].value for r in range(22, 25)] == ["评价结论", "存在问题", "改进措施"]
    assert (ws["A25"].value, ws["G25"].value) == ("项目负责人", "财务负责人")
    lay = lay_of(p)
    for key, f in lay.inputs().items():
        assert not ws[f.cell].protection.locked, key
        dv = validation_at(ws, f.cell)
        assert dv.prompt and dv.error and any("\u4e00" <= ch <= "\u9fff" for ch in dv.prompt), key
    assert validation_at(ws, lay.cell("conclusion")).formula1 == "200"
    assert ws.protection.sheet


def test_sichuan_round_trip_through_libreoffice(lo, sichuan, tmp_path):
    p, path, reg, _ = sichuan
    cells = {"G7": 450, "G8": 20, "G10": 8, "G12": "完成 20 个示范村建设。",
             "H14": 22, "H15": 2900, "H16": 1, "H17": 25, "H18": REACHED, "J18": 14, "H19": PARTLY, "J19": 10,
             "H20": 0.93, "K15": "部分农民外出务工", "K18": "个别村进度滞后", "K19": "带动作用尚待显现",
             "C22": LONG, "C23": "宣传不足", "C24": "加强宣传", "C25": "张三", "I25": "李四"}
    filled = tmp_path / "sc.xlsx"
    got = lo.fill(path, filled, cells, read=["G6", "H6", "J6", "J14", "J15", "J16", "J17", "J21", "K21"])
    [r] = read(filled, reg)
    assert [(x.code, x.where) for x in r.problems] == []
    assert r.template["form"] == "sichuan" and r.project["code"] == "510000230001"
    assert r.funds["rows"]["fiscal"] == {"initial": 500, "annual": 480, "executed": 450}
    assert r.funds["rows"]["total"]["executed"] == got["G6"] == 478
    assert r.funds["rate"] == pytest.approx(478 / 510) == got["H6"]
    assert r.funds["score"] == got["J6"] == 9.37
    # ≥20个 met; 2900 of ≥3000人次; =100% met; 25 of ≤30天 met; the typed tier scores
    assert [i.score for i in r.indicators] == [20, 9.67, 10, 10, 14, 10, 10]
    assert [got[c] for c in ("J14", "J15", "J16", "J17")] == [20, 9.67, 10, 10]
    assert r.total_score == got["J21"] == 93.04 and r.grade == "优" and got["K21"] == "评价等级：优"
    assert r.extra == {"funds.reason": None, "conclusion": LONG, "problems": "宣传不足", "improvements": "加强宣传",
                       "leader": "张三", "finance_leader": "李四"}
    assert r.indicators[4].actual == REACHED


def test_sichuan_problems_name_their_cells(lo, sichuan, tmp_path):
    """Below 90% 预算执行率 without 原因, a 评价结论 over 200 characters, a tier score out of range, blank foot."""
    p, path, reg, _ = sichuan
    cells = {"G7": 300, "G8": 21, "G10": 0, "G12": "完成", "H14": 20, "H15": 3000, "H16": 1, "H17": 30,
             "H18": REACHED, "J18": 11, "H19": REACHED, "J19": 15, "H20": 0.95, "C22": LONG + "超出二百字的部分",
             "C23": "无", "C24": "无"}
    filled = tmp_path / "sc-bad.xlsx"
    lo.fill(path, filled, cells)
    [r] = read(filled, reg)
    assert sorted((x.code, x.where) for x in r.problems) == sorted([
        ("funds_reason_missing", "自评表!K6"),   # 321 of 510: 62.94%
        ("over_budget", "自评表!G8"),            # 21 of 20 (a warning)
        ("text_too_long", "自评表!C22"),
        ("score_out_of_tier", "自评表!J18"),     # 达成 asks 12 to 15 of 15
        ("reason_missing", "自评表!K18"),        # 11 is below the 分值
        ("blank_text", "自评表!C25"), ("blank_text", "自评表!I25"),
        ("quality_empty_text", "自评表!C23"), ("quality_empty_text", "自评表!C24")])   # 存在问题, 改进措施: 无
    message = {x.code: x.message for x in r.problems}
    assert "预算执行率 62.94% 低于 90%" in message["funds_reason_missing"]
    assert message["over_budget"] == "财政专户管理资金的预算执行数 21 万元超过调整后预算数 20 万元，请核实。"


def test_two_kinds_in_one_collection_summary_and_export(lo, sichuan, rendered, examples, published, tmp_path):
    from helpers import cells_for, inputs_from
    p, path, reg, out = sichuan
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lo.fill(path, inbox / "sc.xlsx", {"G7": 480, "G8": 20, "G10": 10, "G12": "完成", "H14": 20, "H15": 3000,
                                      "H16": 1, "H17": 20, "H18": REACHED, "J18": 15, "H19": REACHED, "J19": 15,
                                      "H20": 0.95, "C22": "好", "C23": "无", "C24": "无", "C25": "张三", "I25": "李四"})
    national = examples["xj-jrj-2019-02"]
    lo.fill(rendered[national.id], inbox / "fz.xlsx", cells_for(national, inputs_from(national, published[national.id])))
    # one registry holding both kinds' templates
    render([national], out / "national", registry=reg)
    db = tmp_path / "c.db"
    r = CliRunner().invoke(main, ["collect", str(inbox), "--db", str(db), "--summary", str(tmp_path / "s.xlsx"),
                                  "--report", str(tmp_path / "reports"), "--registry", str(out / "registry.db"),
                                  "--jobs", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    ws = openpyxl.load_workbook(tmp_path / "s.xlsx")["汇总"]
    header = [c.value for c in ws[1]]
    rows = {row[2]: dict(zip(header, row)) for row in ws.iter_rows(min_row=2, values_only=True)}
    assert rows["sc-2023-01"]["表样"] == "sichuan" and rows["sc-2023-01"]["项目编码"] == "510000230001"
    assert rows["sc-2023-01"]["评价结论"] == "好" and rows["sc-2023-01"]["总分"] == 100
    assert rows["xj-jrj-2019-02"]["表样"] == "project" and rows["xj-jrj-2019-02"]["评价结论"] is None
    assert rows["sc-2023-01"]["评价等级"] == rows["xj-jrj-2019-02"]["评价等级"] == "优"
    text = CliRunner().invoke(main, ["export", "--db", str(db)]).stdout
    table = list(csv.DictReader(io.StringIO(text)))
    assert {row["form"] for row in table} == {"sichuan", "project"}
    assert {row["conclusion"] for row in table if row["form"] == "sichuan"} == {"好"}
    assert {row["code"] for row in table if row["form"] == "project"} == {""}


def test_migrate_within_the_sichuan_kind_carries_its_own_fields(lo, sichuan, tmp_path):
    p, path, reg, _ = sichuan
    filled = tmp_path / "sc.xlsx"
    lo.fill(path, filled, {"G7": 450, "G12": "完成", "H14": 22, "H18": REACHED, "J18": 14, "C22": "好",
                           "C25": "张三"})
    data = yaml.safe_load(SICHUAN.read_text(encoding="utf-8"))
    data["indicators"]["产出指标"]["数量指标"][0]["target"] = "≥25个"
    new_def = tmp_path / "sc-v2.yaml"
    new_def.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    m = migrate(filled, reg, tmp_path / "migrated", to=load(new_def))
    assert m.error is None and m.sheets == [("自评表", "sc-2023-01", 1, 2)]
    ws = openpyxl.load_workbook(m.output)["自评表"]
    assert (ws["G7"].value, ws["C22"].value, ws["C25"].value, ws["H18"].value, ws["J18"].value) == (
        450, "好", "张三", REACHED, 14)
    assert ws["F14"].value == "25"


def _third_kind(root: Path) -> Path:
    """A copy of the national kind with one more input column (佐证材料), in a templates folder of its own."""
    templates = root / "templates"
    shutil.copytree(ROOT / "templates", templates)
    kind = templates / "evidence"
    shutil.copytree(templates / "project", kind)
    spec = yaml.safe_load((kind / "form.yaml").read_text(encoding="utf-8"))
    spec["columns"].append({"key": "evidence", "width": 20, "input": "text", "limit": 200})
    spec["labels"]["evidence"] = "佐证材料"
    (kind / "form.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return templates


def test_a_third_kind_from_a_folder_round_trips(lo, tmp_path, monkeypatch):
    monkeypatch.setenv("XLFORM_TEMPLATES", str(_third_kind(tmp_path)))
    data = yaml.safe_load((ROOT / "examples" / "zxyw-2019.yaml").read_text(encoding="utf-8"))
    data.update(form="evidence", id="ev-2019-07")
    path = tmp_path / "ev.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    p = load(path)
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path / "out", registry=reg)
    ws = openpyxl.load_workbook(issued.file)["自评表"]
    assert ws["J12"].value == "佐证材料" and not ws["J13"].protection.locked
    assert validation_at(ws, "J13").type == "textLength"
    lay = lay_of(p)
    # ten columns: the funds grid keeps to the right, so 全年执行数 is in G
    cells = {"G7": 9.5, "F11": "完成", "F13": 150, "I13": "超额完成，增加两批次", "J13": "验收报告", "F14": 3000, "F15": 100,
             "J15": "挂牌名单", "F16": 2, "F17": 30, "F18": 10, "F19": REACHED, "H19": 10, "F20": REACHED, "H20": 10,
             "F21": 0.96}
    filled = tmp_path / "ev-filled.xlsx"
    got = lo.fill(issued.file, filled, cells, read=["H22"])
    [r] = read(filled, reg)
    assert [(x.code, x.where) for x in r.problems] == []
    assert [i.extra["evidence"] for i in r.indicators][:3] == ["验收报告", None, "挂牌名单"]
    expected = evaluate_form(lay, {f"indicators.{i}.actual": v for i, v in
                                   enumerate([150, 3000, 100, 2, 30, 10, REACHED, REACHED, 0.96])}
                             | {"funds.fiscal.executed": 9.5, "indicators.6.score": 10, "indicators.7.score": 10})
    assert r.total_score == got["H22"] == expected["total_score"] == 100


def test_editing_a_kind_issues_a_new_version_and_old_returns_still_read(lo, tmp_path, monkeypatch):
    templates = _third_kind(tmp_path)
    monkeypatch.setenv("XLFORM_TEMPLATES", str(templates))
    data = yaml.safe_load((ROOT / "examples" / "jxjl-2019.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "jx.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    reg = Registry(tmp_path / "r.db")
    [v1] = render([load(path)], tmp_path / "v1", registry=reg)
    filled = tmp_path / "filled.xlsx"
    lo.fill(v1.file, filled, {"F7": 41.65, "F11": "完成"})
    form = templates / "project" / "form.yaml"
    form.write_text(form.read_text(encoding="utf-8").replace('goal: "年度\\n总体目标"', "goal: 年度绩效目标"),
                    encoding="utf-8")
    [again] = render([load(path)], tmp_path / "v2", registry=reg)
    assert again.sheets[0][2] == 2   # same definition, edited kind: the next version
    assert openpyxl.load_workbook(again.file)["自评表"]["A10"].value == "年度绩效目标"
    [r] = read(filled, reg)
    assert r.template["version"] == 1
    assert [x.code for x in r.problems if x.code in ("locked_changed", "formula_changed", "structure_changed",
                                                     "hash_mismatch")] == []
    assert "outdated_version" in [x.code for x in r.problems]
