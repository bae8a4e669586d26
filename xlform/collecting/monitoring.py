"""The summary's sheets of the mid-year 监控表 returns (issue 19), from the current records as stored:
- 监控: per 主管部门, the projects monitored, their indicator rows by warning (红 黄 绿 蓝), the rows ticked 有可能
  or 完全不可能, and the funds warnings of 年度资金总额; with a chart of the warnings;
- 监控明细: every row at risk (red or yellow, or ticked 有可能 / 完全不可能), so the office sees them before the
  year ends;
- 预计与实际: at year end, where a project has both a current 监控表 and 自评表, the forecast (全年预计执行数,
  全年预计完成情况) beside the 自评 actual, so the office sees whose forecasts held.
"""
from __future__ import annotations

from ..scoring.monitoring import COLOURS, GREEN, LOOKS, RED, YELLOW
from ..scoring.target import parse

FORM = "monitoring"
AT_RISK = ("有可能", "完全不可能")
CAUSES = {"cause_funding": "经费保障", "cause_system": "制度保障", "cause_staff": "人员保障",
          "cause_hardware": "硬件条件保障", "cause_other": "其他"}


def is_monitoring(record: dict) -> bool:
    return record.get("template", {}).get("form") == FORM


def _risky(i: dict) -> bool:
    extra = i.get("extra", {})
    return extra.get("warning") in (RED, YELLOW) or extra.get("likelihood") in AT_RISK


def overview(records: list[dict]) -> tuple[list, list]:
    """Sheet 监控: one row per 主管部门 with monitoring returns."""
    by: dict[str, dict] = {}
    for r in filter(is_monitoring, records):
        d = by.setdefault(r["project"].get("department") or "（未填写）",
                          {"projects": 0, **{c: 0 for c in COLOURS}, **{a: 0 for a in AT_RISK},
                           **{f"funds.{c}": 0 for c in (RED, YELLOW, GREEN)}})
        d["projects"] += 1
        for i in r["indicators"]:
            extra = i.get("extra", {})
            if extra.get("warning") in COLOURS:
                d[extra["warning"]] += 1
            if extra.get("likelihood") in AT_RISK:
                d[extra["likelihood"]] += 1
        funds = r.get("funds", {}).get("rows", {}).get("total", {}).get("warning")
        if funds in (RED, YELLOW, GREEN):
            d[f"funds.{funds}"] += 1
    columns = [("主管部门", "text", 24), ("监控项目数", "int", 10)] + \
        [(f"指标{c}", "int", 7) for c in COLOURS] + [(f"勾选{a}", "int", 10) for a in AT_RISK] + \
        [(f"资金预警{c}", "int", 10) for c in (RED, YELLOW, GREEN)]
    keys = ["projects", *COLOURS, *AT_RISK, *(f"funds.{c}" for c in (RED, YELLOW, GREEN))]
    return columns, [[department] + [d[k] for k in keys] for department, d in by.items()]


def chart(wb, sheet: str, departments: int):
    """A stacked bar per 主管部门 of its indicator rows by warning, in the warning's colour; None without data."""
    if not departments:
        return None
    c = wb.add_chart({"type": "bar", "subtype": "stacked"})
    for n, colour in enumerate(COLOURS):
        c.add_series({"name": [sheet, 0, 2 + n], "categories": [sheet, 1, 0, departments, 0],
                      "values": [sheet, 1, 2 + n, departments, 2 + n], "fill": {"color": LOOKS[colour][0]},
                      "data_labels": {"value": True}})
    c.set_title({"name": "各主管部门监控预警", "name_font": {"name": "宋体", "size": 14}})
    c.set_y_axis({"reverse": True, "num_font": {"name": "宋体"}})
    c.set_x_axis({"name": "指标数（个）", "name_font": {"name": "宋体"}, "min": 0})
    c.set_legend({"position": "bottom", "font": {"name": "宋体"}})
    c.set_size({"width": 620, "height": max(260, 90 + 34 * departments)})
    return c


def details(records: list[dict]) -> tuple[list, list]:
    """Sheet 监控明细: every fund total and indicator row at risk, by department and project."""
    rows = []
    for r in filter(is_monitoring, records):
        p, month = r["project"], r["project"].get("month")
        head = [p.get("department"), p.get("name"), r["template"]["id"], month]
        total = r.get("funds", {}).get("rows", {}).get("total", {})
        if total.get("warning") in (RED, YELLOW):
            rows.append(head + ["项目资金", "年度资金总额", total.get("annual"), total.get("executed"),
                                total.get("rate"), total["warning"], total.get("forecast"), None, None, None])
        for i in r["indicators"]:
            if not _risky(i):
                continue
            extra = i.get("extra", {})
            causes = "、".join(word for key, word in CAUSES.items() if extra.get(key))
            rows.append(head + [i["level1"], i["name"], i["target"], i["actual"], extra.get("ratio"),
                                extra.get("warning"), extra.get("forecast"), extra.get("likelihood"), causes or None,
                                i.get("deviation_reason")])
    columns = [("主管部门", "text", 20), ("项目名称", "text", 26), ("模板编号", "text", 20), ("监控月份", "int", 8),
               ("一级指标", "text", 10), ("三级指标", "text", 24), ("年度指标值", "text", 12),
               ("1-X月执行情况", "text", 12), ("执行进度/序时进度", "rate", 12), ("预警", "text", 6),
               ("全年预计", "text", 12), ("完成目标可能性", "text", 12), ("偏差原因", "text", 20),
               ("原因说明", "text", 36)]
    return columns, rows


def forecasts(records: list[dict]) -> tuple[list, list]:
    """Sheet 预计与实际: the 监控表's forecasts beside the 自评表's actuals of the same project."""
    actual = {r["template"]["id"]: r for r in records if not is_monitoring(r)}
    rows = []
    for m in filter(is_monitoring, records):
        s = actual.get(m["project"].get("project_id"))
        if s is None:
            continue
        head = [m["project"].get("department"), m["project"].get("name"), m["project"].get("month")]
        total_m = m.get("funds", {}).get("rows", {}).get("total", {})
        total_s = s.get("funds", {}).get("rows", {}).get("total", {})
        rows.append(head + ["年度资金总额（万元）", None, total_m.get("forecast"), total_s.get("executed"),
                            _held(total_m.get("forecast"), total_s.get("executed"), ">=")])
        by_id = {i["id"]: i for i in s["indicators"]}
        for i in m["indicators"]:
            got = by_id.get(i["id"])
            if got is None:
                continue
            forecast = i.get("extra", {}).get("forecast")
            t = parse(i["target"])
            rows.append(head + [i["name"], i["target"], forecast, got["actual"], _held(forecast, got["actual"], t.op)])
    columns = [("主管部门", "text", 20), ("项目名称", "text", 26), ("监控月份", "int", 8), ("指标", "text", 24),
               ("年度指标值", "text", 12), ("监控时全年预计", "text", 14), ("自评实际", "text", 14),
               ("达到预计", "text", 10)]
    return columns, rows


def _held(forecast, actual, op) -> str | None:
    """Did the actual reach the forecast (at most it, for a ≤ target)? None where either is not a number."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (forecast, actual))
    if not numbers or op not in (">=", ">", "<=", "<"):
        return None
    held = actual <= forecast + 1e-9 if op in ("<=", "<") else actual >= forecast - 1e-9
    return "是" if held else "否"


def brief(record: dict) -> str:
    """A 监控表's warnings in a few words: 指标 红 3 · 黄 2 · 绿 3 · 蓝 1；资金 黄."""
    counts = {c: 0 for c in COLOURS}
    for i in record["indicators"]:
        colour = i.get("extra", {}).get("warning")
        if colour in counts:
            counts[colour] += 1
    funds = record.get("funds", {}).get("rows", {}).get("total", {}).get("warning")
    return "指标 " + " · ".join(f"{c} {n}" for c, n in counts.items() if n) + f"；资金 {funds or '—'}"


def report_lines(records: list[dict]) -> dict[tuple, str]:
    """{(file, sheet): one line of a 监控表's warnings} for the department reports."""
    out = {}
    for r in filter(is_monitoring, records):
        counts = {c: 0 for c in COLOURS}
        risky = 0
        for i in r["indicators"]:
            extra = i.get("extra", {})
            counts[extra.get("warning")] = counts.get(extra.get("warning"), 0) + 1
            risky += extra.get("likelihood") in AT_RISK
        funds = r.get("funds", {}).get("rows", {}).get("total", {}).get("warning")
        out[(r["file"], r["sheet"])] = (
            f"1-{r['project'].get('month')}月监控预警：指标 " + "、".join(f"{c} {counts[c]} 项" for c in COLOURS)
            + f"；资金{funds or '—'}；勾选“有可能”或“完全不可能” {risky} 项。")
    return out


def sheets(records: list[dict]) -> list[tuple[str, list, list]]:
    """(name, columns, rows) of each monitoring sheet; none where no 监控表 was collected."""
    if not any(map(is_monitoring, records)):
        return []
    return [("监控", *overview(records)), ("监控明细", *details(records)), ("预计与实际", *forecasts(records))]
