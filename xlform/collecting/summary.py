"""The summary workbook (汇总表) for the director: projects, indicators, problems, 未报送."""
from __future__ import annotations

import io
from pathlib import Path

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from ..errors import XlformError
from ..outputs import atomic_write
from ..returns.quality import FLAGS
from ..storage.record import own_fields
from ..storage.store import Store

SEVERITY = {"error": "错误", "warning": "提示"}


def status_text(errors: int, warnings: int) -> str:
    if errors:
        return "有错误，需退回修改"
    return "通过（有提示）" if warnings else "通过"


def _checked(path: Path):
    """write(ws, row, col, value, fmt=None): a number or a text into a cell; xlsxwriter refuses a value (a text
    over 32,767 characters, a cell beyond the sheet) with a negative code instead of raising: one error
    naming the summary's cell, never a cell silently cut short or left out."""
    def write(ws, row, col, value, fmt=None):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            code = ws.write_number(row, col, value, fmt)
        else:
            code = ws.write_string(row, col, str(value), fmt)
        if code < 0:
            raise XlformError(f"{path}: cannot write {ws.name}!{xl_rowcol_to_cell(row, col)}: xlsxwriter refused "
                              f"it (code {code}); the summary was not written")
    return write


def write_summary(path: Path, store: Store, missing: list[dict]):
    write = _checked(path)
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                      "strings_to_numbers": False, "strings_to_urls": False})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                          "valign": "vcenter", "font_name": "宋体"})
    # text wraps in its column (a long 偏差原因 ran on over page after page to the right of the printout)
    formats = {"text": wb.add_format({"font_name": "宋体", "text_wrap": True, "valign": "top"}), "amount": wb.add_format({"num_format": "#,##0.00"}),
               "rate": wb.add_format({"num_format": "0.00%"}), "score": wb.add_format({"num_format": "0.00"}),
               "int": wb.add_format({"num_format": "0"})}

    def sheet(name, columns, rows):
        ws = wb.add_worksheet(name)
        for c, (title, kind, width) in enumerate(columns):
            write(ws, 0, c, title, head)
            ws.set_column(c, c, width, formats[kind])
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                if value is not None:
                    write(ws, r, c, value)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)
        # A4 landscape at 80% (its 11 pt prints at 8.8 pt): the header row on every page, 主管部门 and 项目名称
        # on every page across (one page wide printed 汇总 at 3 pt)
        ws.set_paper(9)
        ws.set_landscape()
        ws.set_print_scale(80)
        ws.repeat_rows(0)
        if [c[0] for c in columns[:2]] == ["主管部门", "项目名称"]:
            ws.repeat_columns(0, 1)
        return ws

    current = store.current_records()
    # the columns a form kind adds (项目编码, 评价结论, an extra indicator column …), labelled by the kind
    project_extra = _extra_columns(current, lambda r: own_fields(r["project"], r.get("extra", {})))
    indicator_extra = _extra_columns(current, lambda r: [k for i in r["indicators"] for k in i.get("extra", {})])
    sheet("汇总", [("主管部门", "text", 24), ("项目名称", "text", 30), ("模板编号", "text", 16), ("版本", "int", 6),
                 ("全年预算数（万元）", "amount", 12), ("全年执行数（万元）", "amount", 12), ("执行率", "rate", 9),
                 ("资金得分", "score", 9), ("总分", "score", 8), ("评价等级", "text", 8), ("错误数", "int", 7),
                 ("提示数", "int", 7), ("状态", "text", 18), ("文件", "text", 40), ("工作表", "text", 14),
                 ("表样", "text", 10)] + [(label, "text", 20) for _, label in project_extra],
          [[r["project"]["department"], r["project"]["name"], r["template"]["id"], r["template"]["version"],
            r["funds"]["rows"]["total"]["annual"], r["funds"]["rows"]["total"]["executed"], r["funds"]["rate"],
            r["funds"]["score"], r["total_score"], r.get("grade"), _count(r, "error"), _count(r, "warning"),
            status_text(_count(r, "error"), _count(r, "warning")), r["file"], r["sheet"], r["template"].get("form")]
           + [own.get(k) for k, _ in project_extra]
           for r in current for own in [own_fields(r["project"], r.get("extra", {}))]])
    _charts(wb, store, head, write)
    sheet("指标", [("主管部门", "text", 24), ("项目名称", "text", 30), ("模板编号", "text", 16), ("版本", "int", 6),
                 ("一级指标", "text", 12), ("二级指标", "text", 14), ("三级指标", "text", 36), ("指标编号", "text", 20),
                 ("年度指标值", "text", 16), ("实际完成值", "text", 12), ("分值", "score", 7), ("得分", "score", 7),
                 ("偏差原因分析及改进措施", "text", 40)] + [(label, "text", 20) for _, label in indicator_extra],
          [[r["project"]["department"], r["project"]["name"], r["template"]["id"], r["template"]["version"],
            i["level1"], i["level2"], i["name"], i["id"], i["target"], i["actual"], i["weight"], i["score"],
            i["deviation_reason"]] + [i.get("extra", {}).get(k) for k, _ in indicator_extra]
           for r in current for i in r["indicators"]])
    problems = [(d, p, f, s, c, sev, code, m, st)
                for _, c, sev, code, m, d, p, f, s, st in store.problems_to_send_back()]
    sheet("问题", [("主管部门", "text", 24), ("项目名称", "text", 30), ("文件", "text", 40), ("工作表", "text", 14),
                 ("单元格", "text", 14), ("级别", "text", 6), ("代码", "text", 18), ("问题及处理", "text", 80),
                 ("状态", "text", 10)],
          [[d or "（未识别）", p, f, s, c, SEVERITY.get(sev, sev), code, m, {"rejected": "已拒收"}.get(st, "")]
           for d, p, f, s, c, sev, code, m, st in problems])
    sheet("质量", *_quality(problems))
    sheet("未报送", [("主管部门", "text", 24), ("项目名称", "text", 30), ("模板编号", "text", 16), ("版本", "int", 6)],
          [[m["department"], m["project"], m["template_id"], m["version"]] for m in missing])
    wb.close()
    atomic_write(Path(path), values_only(buffer.getvalue()))


def _quality(problems: list[tuple]) -> tuple[list, list]:
    """Sheet 质量: the quality flags (质量提示, xlform/returns/quality.py) of the current returns, as the 问题 sheet orders them."""
    rows = [[d, p, f, s, c, FLAGS[code], m] for d, p, f, s, c, sev, code, m, st in problems if code in FLAGS]
    return ([("主管部门", "text", 24), ("项目名称", "text", 30), ("文件", "text", 40), ("工作表", "text", 14),
             ("单元格", "text", 14), ("类别", "text", 16), ("提示", "text", 80)], rows)


def _charts(wb, store: Store, head, write):
    """Sheet 图表: native Excel charts of the current projects (评价等级 counts; average 总分 and 执行率 by
    主管部门), their data beside them on the same sheet, so the director sees the numbers drawn."""
    ws = wb.add_worksheet("图表")
    text, count = wb.add_format({"font_name": "宋体"}), wb.add_format({"num_format": "0"})
    score, rate = wb.add_format({"num_format": "0.00"}), wb.add_format({"num_format": "0.00%"})
    grades, departments = store.grade_counts(), store.department_averages()
    for c, (title, width) in enumerate([("评价等级", 10), ("项目数", 8), (None, 2), ("主管部门", 28), ("项目数", 8),
                                        ("平均总分", 10), ("平均执行率", 11)]):
        ws.set_column(c, c, width)
        if title:
            write(ws, 0, c, title, head)
    for r, (grade, n) in enumerate(grades, start=1):
        write(ws, r, 0, grade, text)
        write(ws, r, 1, n, count)
    for r, (department, n, total, executed) in enumerate(departments, start=1):
        write(ws, r, 3, department or "（未填写）", text)
        write(ws, r, 4, n, count)
        for c, value, fmt in ((5, total, score), (6, executed, rate)):
            if value is not None:
                write(ws, r, c, value, fmt)
    ws.set_paper(9)  # A4 landscape, one page wide: the charts stand below the tables, so that it prints at
    ws.set_landscape()  # full size (beside them it printed at 6 pt)
    ws.fit_to_pages(1, 0)
    if not departments:
        write(ws, len(grades) + 2, 0, "尚无已报送的项目，暂无图表。", text)
        return
    last = len(departments)

    def chart(kind, title, categories, values, axis, number, height):
        bar = kind == "bar"   # a bar per department; columns per 评价等级
        c = wb.add_chart({"type": kind})
        c.add_series({"name": title, "categories": categories, "values": values, "fill": {"color": "#4472C4"},
                      "data_labels": {"value": True, "num_format": number, "position": "outside_end"}})
        c.set_title({"name": title, "name_font": {"name": "宋体", "size": 14}})
        category_axis = {"name": "主管部门" if bar else "评价等级", "name_font": {"name": "宋体"},
                         "num_font": {"name": "宋体"}}
        if bar:  # bars read top-down, as the table does, with the value axis kept at the bottom
            category_axis.update(reverse=True, crossing="max")
        value_axis = {"name": axis, "name_font": {"name": "宋体"}, "num_format": number, "min": 0}
        c.set_x_axis(value_axis if bar else category_axis)
        c.set_y_axis(category_axis if bar else value_axis)
        c.set_legend({"none": True})
        c.set_size({"width": 560, "height": height})
        return c, height

    row, bars, breaks = max(len(grades), last) + 3, max(240, 80 + 30 * last), []
    for spec in (("column", "评价等级分布", ["图表", 1, 0, len(grades), 0], ["图表", 1, 1, len(grades), 1],
                  "项目数（个）", "0", 300),
                 ("bar", "各主管部门平均总分", ["图表", 1, 3, last, 3], ["图表", 1, 5, last, 5], "平均总分（分）",
                  "0.00", bars),
                 ("bar", "各主管部门平均执行率", ["图表", 1, 3, last, 3], ["图表", 1, 6, last, 6], "平均执行率",
                  "0%", bars)):
        c, height = chart(*spec)
        if row > 15 or spec[1] != "评价等级分布":   # a chart to a page (the first below short tables): no page
            breaks.append(row)                    # break cuts one
        ws.insert_chart(row, 0, c)
        row += height // 20 + 1   # rows are 20 pixels high: the next chart below this one
    ws.set_h_pagebreaks(breaks)


def values_only(xlsx: bytes) -> bytes:
    """The charts' data labels say they show the value and nothing else: xlsxwriter writes only <c:showVal>, and
    LibreOffice reads every flag left out as shown ("良; 评价等级分布; 5" over the bar)."""
    import zipfile
    shown = b'<c:showVal val="1"/>'
    only = (b'<c:showLegendKey val="0"/>' + shown + b'<c:showCatName val="0"/><c:showSerName val="0"/>'
            b'<c:showPercent val="0"/><c:showBubbleSize val="0"/>')
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/charts/chart"):
                data = data.replace(shown, only)
            dst.writestr(item, data)
    return out.getvalue()


def _extra_columns(records: list[dict], keys_of) -> list[tuple[str, str]]:
    """(key, Chinese label) of every extra field in the records, in first-seen order."""
    from ..errors import XlformError
    from ..kinds.forms import form_kind
    out: dict[str, str] = {}
    for r in records:
        for key in keys_of(r):
            if key not in out:
                try:
                    labels = form_kind(r["template"].get("form") or "project").spec["labels"]
                    # a field's label: funds.reason is labelled funds_reason (原因)
                    out[key] = labels.get(key) or labels.get(key.replace(".", "_"), key)
                except XlformError:
                    out[key] = key
    return list(out.items())


def _count(record: dict, severity: str) -> int:
    return sum(1 for p in record["problems"] if p["severity"] == severity)
