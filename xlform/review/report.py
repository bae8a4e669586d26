"""The 复核 report: a workbook (复核报告.xlsx) and an HTML page (复核报告.html) of the current review worksheets —
projects ranked by |偏离度|, each indicator's 自评 beside its 复核 with the 扣分原因, and the counts per class,
per 扣分原因 and per 主管部门. A worksheet read back with errors is listed but not counted (its review is not
finished), as a 自评表 return with errors has no 评价等级 in the summary."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import xlsxwriter
from jinja2 import Environment

from ..outputs import atomic_write
from ..scoring.review import reasons as reason_names
from ..scoring.scoring import Profile
from .worksheets import review_id

WITH_ERRORS = "有错误"
NOT_REVIEWED = "未复核"


@dataclass
class Summary:
    ranked: list[dict] = field(default_factory=list)       # one per current review, by |偏离度| falling
    indicators: list[dict] = field(default_factory=list)   # one per indicator, in the order of `ranked`
    classes: list[tuple[str, int]] = field(default_factory=list)
    reasons: list[tuple[str, int]] = field(default_factory=list)
    departments: list[dict] = field(default_factory=list)
    unreviewed: list[dict] = field(default_factory=list)   # drawn by the sample, no review worksheet yet


def _errors(record: dict) -> int:
    return sum(p["severity"] == "error" for p in record.get("problems", []))


def summarise(records: list[dict], profile: Profile, sampled: list[dict] = ()) -> Summary:
    """What the report shows, from the current review records (Reviews.current) and the newest sample."""
    out = Summary()
    for r in records:
        extra = r.get("extra", {})
        out.ranked.append({"department": r["project"].get("department"), "project": r["project"].get("name"),
                           "template_id": (extra.get("review_of") or {}).get("template_id"),
                           "self_total": extra.get("self_total"), "review_total": r.get("total_score"),
                           "deviation": extra.get("deviation"), "class": extra.get("class"),
                           "reviewer": extra.get("reviewer"), "errors": _errors(r), "record": r})
    out.ranked.sort(key=lambda x: (x["deviation"] is None, -abs(x["deviation"] or 0), x["department"] or "",
                                   x["template_id"] or ""))
    for rank, row in enumerate(out.ranked, 1):
        row["rank"] = rank
        for i in row.pop("record")["indicators"]:
            e = i.get("extra", {})
            out.indicators.append({"rank": rank, "project": row["project"], "level1": i["level1"],
                                   "level2": i["level2"], "name": i["name"], "target": i["target"],
                                   "weight": i["weight"], "self_actual": e.get("self_actual"),
                                   "self_score": e.get("self_score"), "review_actual": i.get("actual"),
                                   "typed": e.get("typed"), "review_score": i.get("score"),
                                   "deviation": e.get("deviation"), "reason": e.get("reason"),
                                   "note": i.get("deviation_reason"), "counted": row["errors"] == 0})
    counted = [r for r in out.ranked if r["errors"] == 0]
    names = [name for _, name in profile.review_classes]
    out.classes = [(name, sum(r["class"] == name for r in counted)) for name in names]
    out.classes.append((WITH_ERRORS, len(out.ranked) - len(counted)))
    out.reasons = [(name, sum(i["reason"] == name for i in out.indicators if i["counted"]))
                   for name in reason_names(profile)]
    by_department: dict[str, list[dict]] = {}
    for r in out.ranked:
        by_department.setdefault(r["department"] or "", []).append(r)
    for department in sorted(by_department):
        rows = by_department[department]
        ok = [r for r in rows if r["errors"] == 0 and r["deviation"] is not None]
        out.departments.append({"department": department, "reviewed": len(rows),
                                "classes": [sum(r["class"] == n for r in rows if r["errors"] == 0) for n in names],
                                "errors": sum(r["errors"] > 0 for r in rows),
                                "mean": sum(abs(r["deviation"]) for r in ok) / len(ok) if ok else None})
    done = {review_id(r["template_id"]) for r in out.ranked if r["template_id"]}
    out.unreviewed = [s for s in sampled if review_id(s["template_id"]) not in done]
    return out


def percent(v) -> str:
    return "" if v is None else f"{v * 100:.2f}%"


def shown(v) -> str:
    if v is None:
        return ""
    return f"{v:g}" if isinstance(v, float) else str(v)


# -- the workbook --------------------------------------------------------------------------------------------
RANKED = (("rank", "排名", 6), ("department", "主管部门", 18), ("project", "项目名称", 30),
          ("self_total", "自评总分", 10), ("review_total", "复核总分", 10), ("deviation", "偏离度", 10),
          ("class", "偏差类别", 12), ("reviewer", "复核人", 10), ("errors", "错误", 6))
INDICATORS = (("rank", "排名", 6), ("project", "项目名称", 24), ("level1", "一级指标", 10), ("level2", "二级指标", 12),
              ("name", "三级指标", 20), ("target", "年度指标值", 12), ("weight", "分值", 6),
              ("self_actual", "自评完成值", 12), ("self_score", "自评得分", 8), ("review_actual", "复核完成值", 12),
              ("typed", "复核评分", 8), ("review_score", "复核得分", 8), ("deviation", "偏离度", 10),
              ("reason", "扣分原因", 16), ("note", "说明", 40))


def write_workbook(path: Path, s: Summary) -> None:
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                      "strings_to_urls": False})
    head = wb.add_format({"bold": True, "border": 1, "bg_color": "#E8EEF7", "text_wrap": True, "valign": "vcenter"})
    cell = wb.add_format({"border": 1, "text_wrap": True, "valign": "top"})
    rate = wb.add_format({"border": 1, "num_format": "0.00%", "valign": "top"})

    def table(name, columns, rows):
        ws = wb.add_worksheet(name)
        for c, (_, title, width) in enumerate(columns):
            ws.set_column(c, c, width)
            ws.write_string(0, c, title, head)
        for r, row in enumerate(rows, 1):
            for c, (key, _, _) in enumerate(columns):
                v = row.get(key)
                fmt = rate if key == "deviation" else cell
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    ws.write_number(r, c, v, fmt)
                elif v is None:
                    ws.write_blank(r, c, None, fmt)
                else:
                    ws.write_string(r, c, str(v), fmt)
        ws.freeze_panes(1, 0)
        return ws

    table("排名", RANKED, s.ranked)
    table("指标", INDICATORS, s.indicators)
    counts = [{"what": "偏差类别", "name": n, "count": k} for n, k in s.classes] + \
             [{"what": "扣分原因", "name": n, "count": k} for n, k in s.reasons]
    table("统计", (("what", "统计项", 10), ("name", "类别", 18), ("count", "项目或指标数", 14)), counts)
    names = [n for n, _ in s.classes if n != WITH_ERRORS]
    table("主管部门", (("department", "主管部门", 20), ("reviewed", "复核项目数", 10),
                   *((f"c{i}", n, 10) for i, n in enumerate(names)), ("errors", WITH_ERRORS, 8),
                   ("mean", "平均|偏离度|", 12)),
          [{**d, **{f"c{i}": k for i, k in enumerate(d["classes"])}} for d in s.departments])
    table(NOT_REVIEWED, (("template_id", "模板编号", 16), ("department", "主管部门", 20), ("project", "项目名称", 30),
                         ("why", "抽取原因", 50)), s.unreviewed)
    wb.close()
    atomic_write(path, buffer.getvalue())


# -- the page ------------------------------------------------------------------------------------------------
_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>抽查复核报告</title>
<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:0 0 1.5em}
th,td{border:1px solid #999;padding:.2em .5em;vertical-align:top}th{background:#e8eef7}
td.n{text-align:right}.bad{color:#9c0006}</style></head><body>
<h1>抽查复核报告</h1>
<p>复核项目 {{ s.ranked|length }} 个{% if s.unreviewed %}，未复核 {{ s.unreviewed|length }} 个{% endif %}。
偏离度＝（自评总分－复核总分）÷自评总分。</p>
<h2>偏差类别</h2><table><tr>{% for n, k in s.classes %}<th>{{ n }}</th>{% endfor %}</tr>
<tr>{% for n, k in s.classes %}<td class="n">{{ k }}</td>{% endfor %}</tr></table>
<h2>扣分原因</h2><table><tr>{% for n, k in s.reasons %}<th>{{ n }}</th>{% endfor %}</tr>
<tr>{% for n, k in s.reasons %}<td class="n">{{ k }}</td>{% endfor %}</tr></table>
<h2>按偏离度排名</h2><table><tr><th>排名</th><th>主管部门</th><th>项目名称</th><th>自评总分</th><th>复核总分</th>
<th>偏离度</th><th>偏差类别</th><th>复核人</th></tr>
{% for r in s.ranked %}<tr><td class="n">{{ r.rank }}</td><td>{{ r.department }}</td><td>{{ r.project }}</td>
<td class="n">{{ shown(r.self_total) }}</td><td class="n">{{ shown(r.review_total) }}</td>
<td class="n">{{ percent(r.deviation) }}</td><td>{% if r.errors %}<span class="bad">有错误 {{ r.errors }} 处</span>{% else %}{{ r.class or "" }}{% endif %}</td>
<td>{{ r.reviewer or "" }}</td></tr>{% endfor %}</table>
<h2>主管部门</h2><table><tr><th>主管部门</th><th>复核项目数</th>{% for n, k in s.classes %}<th>{{ n }}</th>{% endfor %}
<th>平均|偏离度|</th></tr>
{% for d in s.departments %}<tr><td>{{ d.department }}</td><td class="n">{{ d.reviewed }}</td>
{% for k in d.classes %}<td class="n">{{ k }}</td>{% endfor %}<td class="n">{{ d.errors }}</td>
<td class="n">{{ percent(d.mean) }}</td></tr>{% endfor %}</table>
<h2>指标复核</h2><table><tr><th>排名</th><th>项目名称</th><th>三级指标</th><th>分值</th><th>自评完成值</th><th>自评得分</th>
<th>复核完成值</th><th>复核得分</th><th>偏离度</th><th>扣分原因</th><th>说明</th></tr>
{% for i in s.indicators %}<tr><td class="n">{{ i.rank }}</td><td>{{ i.project }}</td><td>{{ i.name }}</td>
<td class="n">{{ shown(i.weight) }}</td><td>{{ shown(i.self_actual) }}</td><td class="n">{{ shown(i.self_score) }}</td>
<td>{{ shown(i.review_actual) }}</td><td class="n">{{ shown(i.review_score) }}</td>
<td class="n">{{ percent(i.deviation) }}</td><td>{{ i.reason or "" }}</td><td>{{ i.note or "" }}</td></tr>{% endfor %}
</table>
{% if s.unreviewed %}<h2>未复核</h2><table><tr><th>模板编号</th><th>主管部门</th><th>项目名称</th><th>抽取原因</th></tr>
{% for u in s.unreviewed %}<tr><td>{{ u.template_id }}</td><td>{{ u.department }}</td><td>{{ u.project }}</td>
<td>{{ u.why }}</td></tr>{% endfor %}</table>{% endif %}
</body></html>
"""
_env = Environment(autoescape=True)   # every text is a department's or a reviewer's: escaped


def write_page(path: Path, s: Summary) -> None:
    html = _env.from_string(_PAGE).render(s=s, percent=percent, shown=shown)
    atomic_write(path, html.encode("utf-8"))


def write_report(folder: Path, s: Summary) -> list[Path]:
    paths = [folder / "复核报告.xlsx", folder / "复核报告.html"]
    write_workbook(paths[0], s)
    write_page(paths[1], s)
    return paths
