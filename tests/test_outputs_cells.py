"""The summary's long tables (collecting/tables.py) write each cell's XML as xlsxwriter writes it: the sheet data
of a table is byte for byte what xlsxwriter's own constant_memory writer makes of the same rows, however its
cached cells (a column's XML by value, long texts included, cleared when they grow past their bounds) are used;
rows given in groups, texts given as UTF-8, tables made together from one reading make the same bytes as rows
given one by one; a refused cell or row is named as before."""
from __future__ import annotations

import re
import zipfile

import pytest
import xlsxwriter

from xlform.collecting import tables
from xlform.collecting.tables import LONG, SHORT, Book

TITLES = ["主管部门", "金额", "单元格", "问题及处理", "得分"]


def _rows(count: int) -> list[list]:
    """Rows a province's tables have: a department repeated, amounts, cells, messages met again and again
    (some longer than SHORT, some with what XML escapes or keeps), scores, empty cells."""
    said = [f"偏差原因未填写：指标{n % 37}完成值低于年度指标值，请说明原因并提出改进措施。" + "说明" * (n % 7)
            for n in range(60)]
    odd = ["a & b < c > d", "  首尾空格  ", "_x0041_ 像转义", "响铃\x07", "长" * (SHORT + 1), "长" * SHORT,
           "x" * (SHORT + 3) + "&", "长" * (LONG + 1), "长" * LONG]
    return [[f"第{n % 5}厅", n * 1.25 if n % 4 else 1e20, f"C{n % 40 + 1}",
             odd[n % len(odd)] if n % 9 == 0 else said[(n * 7) % len(said)],
             None if n % 6 == 0 else (n % 100) / 10 + 0.1] for n in range(count)]


def _formats(workbook):
    head = workbook.add_format({"bold": True})
    text = workbook.add_format({"font_name": "宋体", "text_wrap": True})
    amount = workbook.add_format({"num_format": "#,##0.00"})
    return head, [text, amount, text, text, amount]


def _data(path) -> str:
    """The sheet's rows below its header row (which xlsxwriter writes as a shared string in a table's sheet),
    each cell's style named by its column's format (xlsxwriter numbers the formats in the order it meets them,
    which differs between its two writers)."""
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    styles = dict(re.findall(r'<c r="([A-Z]+)2" s="(\d+)"', sheet))
    names = {styles["A"]: "text", styles["B"]: "amount"}
    rows = re.search(r'<row r="2".*</sheetData>', sheet, re.S).group()
    return re.sub(r' s="(\d+)"', lambda m: f' s="{names[m.group(1)]}"', rows)


def _reference(path, rows):
    """xlsxwriter's own writer, cell by cell, each cell in its column's format."""
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                         "strings_to_numbers": False, "strings_to_urls": False})
    head, formats = _formats(wb)
    ws = wb.add_worksheet("表")
    for c, (title, fmt) in enumerate(zip(TITLES, formats)):
        ws.write_string(0, c, title, head)
        ws.set_column(c, c, 12, fmt)
    for r, row in enumerate(rows, start=1):
        for c, (v, fmt) in enumerate(zip(row, formats)):
            if isinstance(v, str):
                ws.write_string(r, c, v, fmt)
            elif v is not None:
                ws.write_number(r, c, v, fmt)
    wb.close()
    return _data(path)


def _ours(path, rows, beside: bool):
    book = Book(path)
    head, formats = _formats(book.workbook)
    table = book.table("表", [(t, f, 12) for t, f in zip(TITLES, formats)], head, repeated=(3,))
    if beside:
        table.make_beside(lambda: iter(rows))
    else:
        table.fill(rows)
    book.close()
    return _data(path)


@pytest.mark.parametrize("beside", [False, True])
def test_a_tables_cells_are_xlsxwriters_own_bytes_whatever_is_kept(tmp_path, monkeypatch, beside):
    rows = _rows(3_000)
    want = _reference(tmp_path / "reference.xlsx", rows)
    assert want.count("<row ") == len(rows)
    # as made: every message kept (60 of them); then with bounds the rows go past many times over, in entries
    # and in bytes: each column starts again, and writes the same
    assert _ours(tmp_path / "s.xlsx", rows, beside) == want
    monkeypatch.setattr(tables._Cells, "KEPT", 25)
    monkeypatch.setattr(tables._Cells, "REPEATED_KEPT", 25)
    assert _ours(tmp_path / "kept.xlsx", rows, beside) == want
    monkeypatch.setattr(tables._Cells, "KEPT", 16_384)
    monkeypatch.setattr(tables._Cells, "REPEATED_KEPT", 16_384)
    monkeypatch.setattr(tables._Cells, "HELD", 6_000)
    assert _ours(tmp_path / "held.xlsx", rows, beside) == want


@pytest.mark.parametrize("repeated", [False, True])
def test_a_column_keeps_at_most_its_bounds(monkeypatch, repeated):
    """Memory stays flat: a column of ever new texts holds at most KEPT cells (REPEATED_KEPT in a column of
    repeated texts) and HELD bytes of them, texts of up to SHORT characters (LONG)."""
    monkeypatch.setattr(tables._Cells, "HELD", 400_000)
    cells = tables._Cells(3, ' s="1"', repeated=repeated)
    longest, kept = (LONG, tables._Cells.REPEATED_KEPT) if repeated else (SHORT, tables._Cells.KEPT)
    most = 0
    for n in range(40_000):
        text = f"第{n}条：" + "长" * (n % (LONG + 10))
        assert cells[text] == f'<c r="D\0" s="1" t="inlineStr"><is><t>{text}</t></is></c>'.encode("utf-8")
        assert (text in cells) == (len(text) <= longest)
        most = max(most, len(cells))
        assert cells.held <= tables._Cells.HELD
    assert 2 < most <= kept + 1


def _groups(count: int):
    """Files of problems as the summary's 问题 sheet has them: a file's cells (some of them None, one of them a
    number), its problems as a database gives them (their submission id last, past the columns), its status."""
    for n in range(count):
        lead = [f"第{n % 3}厅" if n % 5 else None, f"项目{n}", n * 2.5, "自评表"]
        tails = [(f"C{k}", ("error", "warning", "odd")[k % 3], f"说明{k % 4} & <{k}>", n) for k in range(n % 6)]
        yield lead, tails, ["已拒收" if n % 4 == 0 else ""]


SHOWN = {1: {"error": "错误", "warning": "提示"}}


@pytest.mark.parametrize("beside", [False, True])
def test_a_tables_groups_are_its_rows_given_one_by_one(tmp_path, beside):
    """Rows in groups (lead, tails, trail) make the bytes their rows make given whole, a stored code shown as its
    column's label; a group of no rows writes none."""
    groups = list(_groups(40))
    rows = [[*lead, tail[0], SHOWN[1].get(tail[1], tail[1]), tail[2], *trail]
            for lead, tails, trail in groups for tail in tails]
    titles = ["主管部门", "项目名称", "金额", "工作表", "单元格", "级别", "问题及处理", "状态"]

    def made(path, rows, grouped, shown):
        book = Book(path)
        head, fmt = book.workbook.add_format({"bold": True}), book.workbook.add_format({"font_name": "宋体"})
        table = book.table("问题", [(t, fmt, 12) for t in titles], head,
                           shown and {4 + c: labels for c, labels in shown.items()})
        if beside:
            table.make_beside(lambda: iter(rows), grouped)
        else:
            table.fill(rows, grouped)
        book.close()
        return _data(path)

    whole = made(tmp_path / "whole.xlsx", rows, False, None)
    assert whole.count("<row ") == len(rows) == sum(n % 6 for n in range(40))
    assert made(tmp_path / "grouped.xlsx", groups, True, SHOWN) == whole
    assert "<t>错误</t>" in whole and "<t>odd</t>" in whole and "<t>error</t>" not in whole
    # the tails' texts as their UTF-8 bytes (as SQLite gives them to the summary): the same cells
    encoded = [(lead, [tuple(v.encode("utf-8") if isinstance(v, str) else v for v in t) for t in tails], trail)
               for lead, tails, trail in groups]
    assert made(tmp_path / "utf8.xlsx", encoded, True, SHOWN) == whole


def test_texts_given_as_utf8_make_the_cells_their_texts_make(tmp_path):
    """What XML escapes or keeps (& < >, a control character, a text like an escape, edge spaces), long texts,
    a code shown as its label: the same bytes from str and from UTF-8."""
    texts = ["a & b < c > d", "响铃\x07", "_x0041_ 像转义", "  首尾空格  ", "长" * (SHORT + 1), "error", "", "说明"]
    rows = [[t, n] for n, t in enumerate(texts * 3)]

    def made(path, rows):
        book = Book(path)
        fmt = book.workbook.add_format({"font_name": "宋体"})
        book.table("表", [("甲", fmt, 9), ("乙", fmt, 9)], fmt, {0: {"error": "错误"}}).fill(
            [([], rows, [])], grouped=True)
        book.close()
        return _data(path)

    want = made(tmp_path / "str.xlsx", rows)
    assert made(tmp_path / "utf8.xlsx", [[t.encode("utf-8"), n] for t, n in rows]) == want
    assert "<t>错误</t>" in want and "_x0007_" in want and "_x005F_x0041_" in want


@pytest.mark.parametrize("where, cell", [("lead", "A5"), ("tail", "B6"), ("trail", "D5")])
def test_a_text_too_long_in_a_group_names_its_cell(tmp_path, where, cell):
    """In the group's own cells: its first row's cell; in a tail: that row's."""
    long = "长" * 40_000
    book = Book(tmp_path / "s.xlsx")
    fmt = book.workbook.add_format({})
    table = book.table("问题", [(t, fmt, 9) for t in "甲乙丙丁"], fmt)
    table.fill([(["a"], [("x", 1)] * 3, ["z"]), (["b"], [], [long]),   # (a group of no rows writes none)
                ([long if where == "lead" else "c"], [("y", 2), (long if where == "tail" else "y", 3), ("y", 4)],
                 [long if where == "trail" else "z"])], grouped=True)
    with pytest.raises(tables.XlformError) as e:
        book.close()
    assert str(e.value) == (f"{tmp_path / 's.xlsx'}: cannot write 问题!{cell}: a cell holds at most 32,767 "
                            "characters, this text has 40,000; the summary was not written")


@pytest.mark.parametrize("grouped", [False, True])
def test_rows_past_a_sheets_last_are_refused_naming_the_first_row_past_it(tmp_path, monkeypatch, grouped):
    monkeypatch.setattr(tables, "MAX_ROWS", 10)   # (Excel's 1,048,576 rows, made small)
    book = Book(tmp_path / "s.xlsx")
    fmt = book.workbook.add_format({})
    table = book.table("指标", [("甲", fmt, 9), ("乙", fmt, 9)], fmt)
    rows = [[f"行{n}", n] for n in range(12)]
    table.fill([(["组"], [(n,) for n in range(4)], ()) for _ in range(3)] if grouped else rows, grouped)
    with pytest.raises(tables.XlformError) as e:
        book.close()
    assert str(e.value) == (f"{tmp_path / 's.xlsx'}: cannot write 指标!A11: a sheet holds at most 10 rows; the "
                            "summary was not written")
    assert not (tmp_path / "s.xlsx").exists()


def _sheets(path, names) -> list[str]:
    with zipfile.ZipFile(path) as z:
        return [re.search(r"<sheetData>.*</sheetData>", z.read(f"xl/worksheets/sheet{n}.xml").decode("utf-8"),
                          re.S).group() for n in range(1, len(names) + 1)]


def _two(path, made):
    """A book of 问题 and 质量, their rows given by made(book, problems, quality)."""
    book = Book(path)
    head, fmt = book.workbook.add_format({"bold": True}), book.workbook.add_format({"font_name": "宋体"})
    tables = [book.table(name, [(t, fmt, 12) for t in titles], head, shown) for name, titles, shown in (
        ("问题", ["主管部门", "项目名称", "金额", "工作表", "单元格", "级别", "问题及处理", "状态"], {5: SHOWN[1]}),
        ("质量", ["主管部门", "项目名称", "金额", "工作表", "单元格", "问题及处理"], None))]
    made(book, *tables)
    book.close()
    return _sheets(path, ["问题", "质量"])


@pytest.mark.parametrize("beside", [False, True])
def test_tables_made_together_are_the_tables_made_apart(tmp_path, beside):
    """问题 and 质量 from one reading (Book.together): each the bytes it has made alone; a table with no group of
    rows gets none."""
    groups = list(_groups(40))

    def flags(tails):
        return [(c, m) for c, sev, m, _ in tails if sev == "odd"]

    def apart(book, problems, quality):
        problems.fill(groups, grouped=True)
        quality.fill([(lead, flags(tails), ()) for lead, tails, _ in groups], grouped=True)

    def together(book, problems, quality):
        def rows():
            for lead, tails, trail in groups:
                yield 0, (lead, tails, trail)
                if flags(tails):
                    yield 1, (lead, flags(tails), ())
        book.together([problems, quality], rows, beside)

    want = _two(tmp_path / "apart.xlsx", apart)
    assert want[1].count("<row ") == 1 + sum(len(flags(t)) for _, t, _ in groups) > 1
    assert _two(tmp_path / "together.xlsx", together) == want
    none = _two(tmp_path / "none.xlsx", lambda book, p, q: book.together([p, q], lambda: iter([(0, groups[1])]),
                                                                          beside))
    assert none[1].count("<row ") == 1 and none[0].count("<row ") == 2


def test_a_text_too_long_in_a_table_made_together_names_its_sheet_and_cell(tmp_path):
    long = "长" * 40_000

    def rows():
        yield 0, (["甲", "项目", 1, "表"], [("C1", "error", "说明", 1)], [""])
        yield 1, (["甲", "项目", 1, "表"], [("C1", "说明"), ("C2", long)], ())
    with pytest.raises(tables.XlformError) as e:
        _two(tmp_path / "s.xlsx", lambda book, p, q: book.together([p, q], rows))
    assert str(e.value) == (f"{tmp_path / 's.xlsx'}: cannot write 质量!F3: a cell holds at most 32,767 characters, "
                            "this text has 40,000; the summary was not written")
    assert not (tmp_path / "s.xlsx").exists()
