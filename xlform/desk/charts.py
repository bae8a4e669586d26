"""The director's pictures as inline SVG, drawn here (no chart library, nothing downloaded): the same three
as the summary workbook's 图表 sheet — projects per 评价等级, average 总分 and average 执行率 per department.

Drawn narrow (WIDTH user units, each label on its own line above its bar) and scaled to the page: on a
390 px phone a picture is about 330 px wide, so its 13-unit text stays above 10 px."""
from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, BAR, LINE, VALUE, FONT = 360, 14, 17, 70, 13
COLORS = {"优": "#2e7d32", "良": "#1565c0", "中": "#ef6c00", "差": "#c62828", "有错误": "#9e9e9e"}


def bars(title: str, items: list[tuple[str, float | None]], maximum: float, shown, color: str = "#4a78b0") -> Markup:
    """A horizontal bar chart: per (label, value) the label, then its bar with `shown(value)` at its end."""
    step = LINE + BAR + 8
    height = 30 + max(len(items), 1) * step
    span = WIDTH - VALUE
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<text x="0" y="16" font-size="{FONT + 2}" font-weight="bold">{escape(title)}</text>']
    if not items:
        parts.append(f'<text x="0" y="44" font-size="{FONT}" fill="#666">暂无数据</text>')
    for n, (label, value) in enumerate(items):
        y = 28 + n * step
        text = label if len(label) <= 24 else label[:23] + "…"
        parts.append(f'<text x="0" y="{y + LINE - 4}" font-size="{FONT}"><title>{escape(label)}</title>'
                     f'{escape(text)}</text>')
        length = 0 if not value or maximum <= 0 else max(1, round(span * min(value, maximum) / maximum))
        fill = COLORS.get(label, color)
        parts.append(f'<rect x="0" y="{y + LINE}" width="{length}" height="{BAR}" fill="{fill}">'
                     f'<title>{escape(label)}：{escape(shown(value))}</title></rect>')
        parts.append(f'<text x="{length + 4}" y="{y + LINE + BAR - 2}" font-size="{FONT}">{escape(shown(value))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def director(grades: list[tuple[str, int]], averages: list[tuple]) -> list[Markup]:
    """The three pictures from store.grade_counts() and store.department_averages()."""
    most = max([n for _, n in grades] + [1])
    named = [(d or "（未识别）", n, total, rate) for d, n, total, rate in averages]
    return [bars("评价等级分布（项目数）", grades, most, lambda v: f"{v or 0} 个"),
            bars("各主管部门平均总分", [(d, total) for d, _, total, _ in named], 100,
                 lambda v: "—" if v is None else f"{v:.2f}"),
            bars("各主管部门平均执行率", [(d, rate) for d, _, _, rate in named],
                 max([1.0] + [r for *_, r in named if r is not None]),
                 lambda v: "—" if v is None else f"{v * 100:.2f}%", "#6a8f3c")]
