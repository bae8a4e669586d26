"""The summary workbook (汇总表) for the director: projects, indicators, problems, 未报送."""
from __future__ import annotations

from pathlib import Path

from xlsxwriter.utility import xl_rowcol_to_cell

from ..errors import XlformError
from ..returns.quality import FLAGS
from ..storage.record import own_fields
from ..storage.store import INDICATOR_KEYS, PROBLEM_COUNTS, Store
from . import monitoring
from .tables import Book

SEVERITY = {"error": "错误", "warning": "提示"}
STATUS = {"rejected": "已拒收"}   # (of a problem's return: a current one says nothing)


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


class Summary:
    """The workbook being written: its formats, and `table` for a sheet of rows of any number (streamed, see
    tables.py: memory holds one row)."""

    def __init__(self, path: Path, store: Store, missing: list[dict], beside: bool = True):
        self.path, self.store, self.missing, self.beside = Path(path), store, missing, beside
        self.book = Book(path)
        self.workbook = wb = self.book.workbook
        self.head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                   "valign": "vcenter", "font_name": "宋体"})
        # text wraps in its column (a long 偏差原因 ran on over page after page to the right of the printout)
        self.formats = {"text": wb.add_format({"font_name": "宋体", "text_wrap": True, "valign": "top"}),
                        "amount": wb.add_format({"num_format": "#,##0.00"}),
                        "rate": wb.add_format({"num_format": "0.00%"}), "score": wb.add_format({"num_format": "0.00"}),
                        "int": wb.add_format({"num_format": "0"})}
        self.write = _checked(path)
        self._extra: list | None = None

    def extra_columns(self) -> list[list[tuple[str, str]]]:
        """The columns the kinds add to 汇总 (their own fields) and to 指标 (their indicators' fields): (key,
        label) each, found in one reading of the current records (10,000 JSON heads at a province's scale)."""
        if self._extra is None:
            self._extra = _extra_columns(_current(self.store, False),
                                         lambda r: own_fields(r["project"], r.get("extra", {})),
                                         lambda r: r[INDICATOR_KEYS])
        return self._extra

    def table(self, name: str, columns: list[tuple[str, str, float]], rows):
        """A sheet `name`: a header row of columns (title, format: text|amount|rate|score|int, width), then rows
        (an iterable, read when the workbook is written)."""
        sheet = self.book.table(name, [(title, self.formats[kind], width) for title, kind, width in columns],
                                self.head)
        sheet.fill(rows)
        return sheet

    def long_table(self, name: str, columns: list[tuple[str, str, float]], rows_of):
        """table(), its rows in groups (see tables.py's Table.fill) rows_of(store) read and written in a process of
        its own, beside the other sheets (at 10,000 returns the 指标, 问题 and 质量 sheets are most of the summary's
        work)."""
        return self.long_tables([(name, columns, None, ())], lambda store: ((0, g) for g in rows_of(store)))[0]

    def long_tables(self, specs: list[tuple[str, list, dict | None, tuple]], rows_of, here: bool = False) -> list:
        """Sheets (name, columns, shown, repeated: see tables.py's Book.table) made from one reading, as
        long_table's: rows_of(store) gives (n, group) for each group of rows of the n-th (see Book.together).
        here: made in this process (while those beside are made), not in one of their own."""
        tables = [self.book.table(name, [(title, self.formats[kind], width) for title, kind, width in columns],
                                  self.head, shown, repeated) for name, columns, shown, repeated in specs]
        if not self.beside or here:
            self.book.together(tables, lambda: rows_of(self.store), beside=False)
            return tables
        location = self.store.location

        def rows():
            store = Store(location, create=False)
            try:
                yield from rows_of(store)
            finally:
                store.close()
        self.book.together(tables, rows)
        return tables


# The sheets, in order: each is a function of the summary being written (add one here to add a sheet).
def write_summary(path: Path, store: Store, missing: list[dict], beside: bool = True):
    """beside=False: every sheet made in this process (a server's thread: a process forked there could inherit
    a lock another thread held)."""
    s = Summary(path, store, missing, beside)
    try:
        for sheet in (projects_sheet, charts_sheet, indicators_sheet, problems_sheets, monitoring_sheets,
                      missing_sheet):
            sheet(s)
    except BaseException:
        s.book.discard()
        raise
    s.book.close()


def _current(store: Store, whole: bool):
    """The current records of the year's forms (自评表, 申报表: not the 监控表), by department and template id, one
    at a time (whole=False: without indicators and problems, see Store.records)."""
    for part in store.records(_current_ids(store), whole=whole):
        yield from part


def _current_ids(store: Store) -> list[int]:
    """The current submissions of the year's forms (the 监控表 left out) by their ids, by department and
    template id."""
    watched = set(store.current_ids(monitoring.FORM))
    return [sid for sid in store.current_ids() if sid not in watched]


def projects_sheet(s: Summary):
    """汇总: one row per current project, then the columns a form kind adds (项目编码, 评价结论 …)."""
    extra = s.extra_columns()[0]
    s.table("汇总", [("主管部门", "text", 24), ("项目名称", "text", 30), ("模板编号", "text", 16), ("版本", "int", 6),
                   ("全年预算数（万元）", "amount", 12), ("全年执行数（万元）", "amount", 12), ("执行率", "rate", 9),
                   ("资金得分", "score", 9), ("总分", "score", 8), ("评价等级", "text", 8), ("错误数", "int", 7),
                   ("提示数", "int", 7), ("状态", "text", 18), ("文件", "text", 40), ("工作表", "text", 14),
                   ("表样", "text", 10)] + [(label, "text", 20) for _, label in extra],
            (_project_row(r, extra) for r in _current(s.store, False)))


def _project_row(r: dict, extra: list[tuple[str, str]]) -> list:
    errors, warnings = r[PROBLEM_COUNTS]["errors"], r[PROBLEM_COUNTS]["warnings"]
    own = own_fields(r["project"], r.get("extra", {}))
    funds, total = r["funds"], r["funds"]["rows"]["total"]   # (a 申报表's: its 年初预算数 alone, no rate or score)
    return [r["project"]["department"], r["project"]["name"], r["template"]["id"], r["template"]["version"],
            total.get("annual"), total.get("executed"), funds.get("rate"), funds.get("score"), r["total_score"],
            r.get("grade"), errors, warnings, status_text(errors, warnings), r["file"], r["sheet"],
            r["template"].get("form")] + [own.get(k) for k, _ in extra]


def indicators_sheet(s: Summary):
    """指标: one row per indicator of every current project, then the kinds' own indicator columns."""
    extra = s.extra_columns()[1]

    def rows(store: Store):
        return store.indicator_groups(_current_ids(store), [key for key, _ in extra])
    s.long_table("指标", [("主管部门", "text", 24), ("项目名称", "text", 30), ("模板编号", "text", 16), ("版本", "int", 6),
                        ("一级指标", "text", 12), ("二级指标", "text", 14), ("三级指标", "text", 36), ("指标编号", "text", 20),
                        ("年度指标值", "text", 16), ("实际完成值", "text", 12), ("分值", "score", 7), ("得分", "score", 7),
                        ("偏差原因分析及改进措施", "text", 40)] + [(label, "text", 20) for _, label in extra],
                 rows)


def problems_sheets(s: Summary):
    """问题: every problem of a current or rejected return, by department and file; 质量: the quality flags
    (质量提示, xlform/returns/quality.py) among them, as 问题 orders them. One reading of the problems makes both,
    in the summary's own process while 指标 is made in one of its own (a third process held 20-28 MB more at
    10,000 returns, for no time saved: the summary's process only waited)."""
    flags = {*FLAGS, *(code.encode("utf-8") for code in FLAGS)}   # (a code as SQLite's UTF-8 or PostgreSQL's text)

    def rows(store: Store):   # (each file's cells made once, its problems' as read, 级别 and 类别 shown by the column)
        for (d, p, f, sh, st), problems in store.problems_by_file():
            yield 0, ((d or "（未识别）", p, f, sh), problems, (STATUS.get(st, ""),))
            mine = [(c, code, m) for c, _, code, m, _ in problems if code in flags]
            if mine:
                yield 1, ((d, p, f, sh), mine, ())
    s.long_tables([("问题", [("主管部门", "text", 24), ("项目名称", "text", 30), ("文件", "text", 40),
                            ("工作表", "text", 14), ("单元格", "text", 14), ("级别", "text", 6), ("代码", "text", 18),
                            ("问题及处理", "text", 80), ("状态", "text", 10)], {5: SEVERITY}, (7,)),
                   ("质量", [("主管部门", "text", 24), ("项目名称", "text", 30), ("文件", "text", 40),
                            ("工作表", "text", 14), ("单元格", "text", 14), ("类别", "text", 16), ("提示", "text", 80)],
                    {5: FLAGS}, (6,))], rows, here=True)


def monitoring_sheets(s: Summary):
    """监控, 监控明细, 预计与实际: the mid-year 监控表 returns (issue 19, collecting/monitoring.py), where any were
    collected; beside them only the 自评表 of the same projects (for the forecasts) are read."""
    watched = s.store.current_records(form=monitoring.FORM)
    if not watched:
        return
    wanted = {r["project"].get("project_id") for r in watched}
    records = watched + [r for r in _current(s.store, True) if r["template"]["id"] in wanted]
    for name, columns, rows in monitoring.sheets(records):
        table = s.table(name, columns, rows)
        if name == "监控" and rows:
            table.sheet.insert_chart(len(rows) + 2, 0, monitoring.chart(s.workbook, name, len(rows)))


def missing_sheet(s: Summary):
    """未报送: issued templates with no current return."""
    s.table("未报送", [("主管部门", "text", 24), ("项目名称", "text", 30), ("模板编号", "text", 16), ("版本", "int", 6)],
            ([m["department"], m["project"], m["template_id"], m["version"]] for m in s.missing))


def charts_sheet(s: Summary):
    _charts(s.book.add_worksheet("图表"), s.workbook, s.store, s.head, s.write)


def _charts(ws, wb, store: Store, head, write):
    """Sheet 图表: native Excel charts of the current projects (评价等级 counts; average 总分 and 执行率 by
    主管部门), their data beside them on the same sheet, so the director sees the numbers drawn."""
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


def _extra_columns(records, *keys_of) -> list[list[tuple[str, str]]]:
    """For each of keys_of: (key, Chinese label) of every extra field in the records, in first-seen order."""
    from ..errors import XlformError
    from ..kinds.forms import form_kind
    outs: list[dict[str, str]] = [{} for _ in keys_of]
    for r in records:
        for out, keys in zip(outs, keys_of):
            for key in keys(r):
                if key not in out:
                    try:
                        labels = form_kind(r["template"].get("form") or "project").spec["labels"]
                        # a field's label: funds.reason is labelled funds_reason (原因)
                        out[key] = labels.get(key) or labels.get(key.replace(".", "_"), key)
                    except XlformError:
                        out[key] = key
    return [list(out.items()) for out in outs]
