"""The summary's tables made faster (issue 22: 21 s of CPU at 10,000 returns): the package is written first, then
each table's XML straight from its rows (no spool), its cells' XML kept by value; every cell still reads back as
written, each filter still covers its table's rows, and a failure still ends every process with one line. The
package is deflated by ISA-L through a zip writer of our own: a sound zip, which openpyxl and LibreOffice read."""
import io
import multiprocessing
import os
import re
import signal
import threading
import zipfile
from dataclasses import replace
from decimal import Decimal

import openpyxl
import pytest

from xlform.collecting import zipped
from xlform.collecting.summary import write_summary
from xlform.collecting.tables import SHORT, Book
from xlform.collecting.zipped import ZipWriter
from xlform.errors import CannotRun, Problem, XlformError
from xlform.returns.quality import FLAGS
from xlform.storage.store import Prepared, Store

from helpers import bench_return, store_copies

KEPT = 2_000   # (tables.py keeps the XML of this many values a column; the rows below go past it)


def _rows(count: int) -> list[list]:
    """Rows that repeat and do not: a department, numbers and the booleans equal to them (True == 1 to a dict),
    distinct amounts past what a column keeps, long texts, texts XML escapes, other values, empty cells."""
    ones = [1, True, 1, False, 0, 1.0, True, 0.0]
    odd = ["a & b < c > d", "  边  ", "[1, 2]", Decimal("2.50"), [1, 2], "=SUM(A1)"]
    return [[f"第{n % 3}厅", ones[n % len(ones)], n * 1.25 if n % 4 else 1.5, "长" * (SHORT + n % 5) + str(n),
             None if n % 3 else odd[n // 3 % len(odd)], f"项目{n % 10}"] for n in range(count)]


def _expected(v):
    """What a reader sees of a value: a number; a bool, or anything else, as its text; None as no cell."""
    if v is None or isinstance(v, bool):
        return None if v is None else str(v)
    return float(v) if isinstance(v, (int, float)) else str(v)


COLUMNS = [("主管部门", "text", 12), ("版本", "int", 6), ("金额", "amount", 12), ("说明", "text", 40),
           ("其他", "text", 20), ("项目", "text", 12)]


def _book(path, tables: dict):
    """A Book of tables {name: (rows, beside)}: made here, or beside (rows read in a process of its own)."""
    book = Book(path)
    formats = {"text": book.workbook.add_format({"font_name": "宋体"}),
               "int": book.workbook.add_format({"num_format": "0"}),
               "amount": book.workbook.add_format({"num_format": "#,##0.00"})}
    head = book.workbook.add_format({"bold": True})
    for name, (rows, beside) in tables.items():
        columns = [(title, formats[kind], width) for title, kind, width in COLUMNS]
        table = book.table(name, columns, head)
        if beside:
            table.make_beside(lambda rows=rows: iter(rows))
        else:
            table.fill(rows)
    return book


def test_every_cell_reads_back_as_written_made_here_or_beside(tmp_path):
    rows = _rows(2_600)
    _book(tmp_path / "s.xlsx", {"此处": (rows, False), "另一进程": (rows, True)}).close()
    wb = openpyxl.load_workbook(tmp_path / "s.xlsx")
    for name in ("此处", "另一进程"):
        ws = wb[name]
        assert [c.value for c in ws[1]] == [title for title, _, _ in COLUMNS]
        got = [[c.value for c in row] for row in ws.iter_rows(min_row=2, max_col=len(COLUMNS))]
        assert len(got) == len(rows)
        for n, (row, back) in enumerate(zip(rows, got)):
            want = [_expected(v) for v in row]
            assert [pytest.approx(v) if isinstance(v, float) else v for v in want] == back, n
        # each cell in its column's format
        assert ws["B2"].number_format == "0" and ws["C3"].number_format == "#,##0.00"
        assert ws["A2"].font.name == "宋体"
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:F{1 + len(rows)}"
    with zipfile.ZipFile(tmp_path / "s.xlsx") as z:
        here, beside = (z.read(f"xl/worksheets/sheet{n}.xml").decode("utf-8") for n in (1, 2))
    data = re.search(r"<sheetData>.*</sheetData>", here, re.S).group()
    assert data == re.search(r"<sheetData>.*</sheetData>", beside, re.S).group()
    # every cell named by its own row and column, in order (r= kept on every cell)
    for number, cells in re.findall(r'<row r="(\d+)"[^>]*>(.*?)</row>', data):
        refs = re.findall(r'<c r="([A-Z]+)(\d+)"', cells)
        assert refs and {r for _, r in refs} == {number}, number
        assert [c for c, _ in refs] == sorted(c for c, _ in refs)
    assert len(re.findall(r"<c ", data)) == len(COLUMNS) + sum(v is not None for row in rows for v in row)
    # what XML cannot hold as it is, escaped as Excel reads it; edge spaces kept
    assert "<t>a &amp; b &lt; c &gt; d</t>" in data and '<t xml:space="preserve">  边  </t>' in data


def test_texts_excel_reads_escaped_are_escaped_in_a_long_table(tmp_path):
    odd = ["bell\x07", "_x0041_ literal", "tab\there", "line\nbreak", "x" * (SHORT + 1) + "\x01"]
    rows = [[text, n, None, text, None, None] for n, text in enumerate(odd * 3)]
    _book(tmp_path / "s.xlsx", {"表": (rows, True)}).close()
    with zipfile.ZipFile(tmp_path / "s.xlsx") as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    for text in ("bell_x0007_", "_x005F_x0041_ literal", "tab\there", "line\nbreak", "x" * (SHORT + 1) + "_x0001_"):
        assert sheet.count(f"<t>{text}</t>") == 6, text


@pytest.mark.parametrize("rows", [0, 1, 3])
def test_each_filter_is_its_tables_rows_whatever_the_sheet_is_called(tmp_path, rows):
    names = {"甲 表": 1, "A&B": 2, "空": 0}
    tables = {name: (_rows(rows * many), False) for name, many in names.items()}
    _book(tmp_path / "s.xlsx", tables).close()
    with zipfile.ZipFile(tmp_path / "s.xlsx") as z:
        book = z.read("xl/workbook.xml").decode("utf-8")
        sheets = [z.read(f"xl/worksheets/sheet{n}.xml").decode("utf-8") for n in (1, 2, 3)]
        assert not any("1048575" in z.read(n).decode("utf-8") for n in z.namelist())
    last = [max(1 + rows * many, 2) for many in names.values()]   # a header row and one empty row at least
    assert sorted(re.findall(r'<definedName name="_xlnm._FilterDatabase"[^>]*>([^<]*)<', book)) == sorted([
        f"'甲 表'!$A$1:$F${last[0]}", f"'A&amp;B'!$A$1:$F${last[1]}", f"空!$A$1:$F${last[2]}"])
    for sheet, end, many in zip(sheets, last, names.values()):
        assert f'<autoFilter ref="A1:F{end}"/>' in sheet
        assert f'<dimension ref="A1:F{1 + rows * many}"/>' in sheet
    wb = openpyxl.load_workbook(tmp_path / "s.xlsx")
    assert [wb[name].auto_filter.ref for name in names] == [f"A1:F{end}" for end in last]


def test_a_table_refused_here_ends_the_processes_beside(tmp_path):
    """The tables beside start with the package; a cell refused in one made here stops them all."""
    out = tmp_path / "s.xlsx"
    rows = _rows(50)
    rows[20][3] = "长" * 40_000
    book = _book(out, {"远": (_rows(3_000), True), "此处": (rows, False), "远2": (_rows(3_000), True)})
    with pytest.raises(XlformError) as e:
        book.close()
    assert str(e.value) == (f"{out}: cannot write 此处!D22: a cell holds at most 32,767 characters, this text has "
                            "40,000; the summary was not written")
    assert not out.exists() and not multiprocessing.active_children()


def test_a_process_killed_while_it_makes_its_rows_stops_the_summary_in_one_line(tmp_path):
    """Killed (SIGKILL, as the out-of-memory killer does) after writing part of its XML."""
    book = _book(tmp_path / "s.xlsx", {"此处": (_rows(10), False)})
    fmt = book.workbook.add_format({})

    def rows():
        for n in range(5_000):
            yield [f"第{n}行"]
        os.kill(os.getpid(), signal.SIGKILL)
    book.table("指标", [("三级指标", fmt, 20)], fmt).make_beside(rows)
    with pytest.raises(CannotRun, match=r"^a process writing the outputs stopped unexpectedly \(exit -9\)$"):
        book.close()
    assert not (tmp_path / "s.xlsx").exists() and not multiprocessing.active_children()


def test_problems_by_department_and_file_then_as_found(record, tmp_path):
    """问题 and 质量 list each return's problems in the order they were found, the returns by department and file,
    whatever order they were stored in (the query orders them by submission, then puts the submissions in order)."""
    flag = next(iter(FLAGS))
    found = {("B厅", "a.xlsx"): ["第二", "第一", "第三"], ("A厅", "z.xlsx"): ["末", "首"], ("A厅", "b.xlsx"): ["中"]}
    store = Store(tmp_path / "c.db")
    with store.transaction():
        for n, ((department, path), messages) in enumerate(found.items()):
            r = replace(record, template={**record.template, "id": f"order-{n}"},
                        project={**record.project, "department": department}, file=path,
                        problems=[Problem(f"C{k}", "", m, flag if k % 2 else "note", "warning")
                                  for k, m in enumerate(messages)])
            store.add_file(path, f"{n:064x}", 1, "2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00",
                           [Prepared.of(r)])
    write_summary(tmp_path / "s.xlsx", store, [])
    store.close()
    wb = openpyxl.load_workbook(tmp_path / "s.xlsx")
    order = [("A厅", "b.xlsx"), ("A厅", "z.xlsx"), ("B厅", "a.xlsx")]
    assert [(row[0], row[2], row[4], row[7]) for row in wb["问题"].iter_rows(min_row=2, values_only=True)] == \
        [(d, f, f"C{k}", m) for d, f in order for k, m in enumerate(found[d, f])]
    assert [(row[0], row[4], row[6]) for row in wb["质量"].iter_rows(min_row=2, values_only=True)] == \
        [(d, f"C{k}", m) for d, f in order for k, m in enumerate(found[d, f]) if k % 2]


# -- the package, deflated by ISA-L through a zip writer of our own (collecting/zipped.py) ---------------------

@pytest.fixture(scope="module")
def record(tmp_path_factory):
    """A return of 12 indicators, filled and read back."""
    return bench_return(tmp_path_factory.mktemp("record"), 12, "speed-001")


@pytest.fixture(scope="module")
def summary(tmp_path_factory, record):
    """The summary of three returns of 12 indicators."""
    folder = tmp_path_factory.mktemp("speed")
    store = store_copies(folder / "c.db", record, 3, lambda n: f"s-{n}", lambda n: f"厅{n}")
    write_summary(folder / "s.xlsx", store, [])
    store.close()
    return folder / "s.xlsx"


def test_the_summary_is_a_sound_zip_that_openpyxl_and_libreoffice_read(summary, lo, tmp_path):
    with zipfile.ZipFile(summary) as z:
        assert z.testzip() is None   # every entry inflates to its CRC and size
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
        assert {"[Content_Types].xml", "xl/workbook.xml", "xl/styles.xml", "xl/worksheets/sheet3.xml"} <= \
            set(z.namelist())
    wb = openpyxl.load_workbook(summary)
    cells = ["A2", "D2", "G13", "K13", "L37", "M37"]
    ours = [wb["指标"][c].value for c in cells]
    assert ours[0] == "厅0" and isinstance(ours[1], int) and ours[3] is not None
    got = lo.fill(summary, tmp_path / "lo.xlsx", {}, read=cells, sheet="指标")
    assert [got[c] for c in cells] == [pytest.approx(v) if isinstance(v, float) else v for v in ours]
    assert lo.fill(summary, tmp_path / "lo2.xlsx", {}, read=["B2", "A4"], sheet="汇总") == \
        {"B2": wb["汇总"]["B2"].value, "A4": "厅2"}


class _Forward:
    """A file that is written forward only, as a pipe is: no seek, no tell."""

    def __init__(self):
        self.data = bytearray()

    def write(self, b):
        self.data += b
        return len(b)


def _entries(out: _Forward) -> dict:
    with zipfile.ZipFile(io.BytesIO(bytes(out.data))) as z:
        assert z.testzip() is None
        return {i.filename: (z.read(i), i.date_time, bool(i.flag_bits & 0x800)) for i in z.infolist()}


def test_zip_entries_read_back_written_forward_only():
    out = _Forward()
    package = ZipWriter(out)
    text = "".join(f"<c>{n}</c>" for n in range(200_000)).encode()
    package.write("xl/a.xml", (text[i:i + 4096] for i in range(0, len(text), 4096)))
    package.write("空.xml", [])
    package.write("表/名.xml", [b"<x/>"], (2024, 5, 6, 7, 8, 10))
    package.close()
    assert _entries(out) == {"xl/a.xml": (text, (1980, 1, 1, 0, 0, 0), False),
                             "空.xml": (b"", (1980, 1, 1, 0, 0, 0), True),
                             "表/名.xml": (b"<x/>", (2024, 5, 6, 7, 8, 10), True)}


def test_zip64_where_a_size_or_an_offset_needs_it(monkeypatch):
    """Past ZIP64_OVER (2 GiB) a size, an offset, the directory are zip64's: here past 100 bytes."""
    monkeypatch.setattr(zipped, "ZIP64_OVER", 100)
    out = _Forward()
    package = ZipWriter(out)
    big = bytes(range(256)) * 4   # incompressible enough: 1,024 bytes deflate to more than 100
    package.write("small.xml", [b"<a/>"])
    package.write("big.xml", [big])
    package.write("big2.xml", [big])
    package.write("after.xml", [b"<b/>"])
    package.close()
    assert b"PK\x06\x06" in out.data and b"PK\x06\x07" in out.data   # zip64's end record and its locator
    with zipfile.ZipFile(io.BytesIO(bytes(out.data))) as z:   # zip64's field (id 1) where a value needs it
        assert {i.filename: i.extra[:4] for i in z.infolist()} == {
            "small.xml": b"", "big.xml": b"\x01\x00\x10\x00", "big2.xml": b"\x01\x00\x18\x00",
            "after.xml": b"\x01\x00\x08\x00"}   # (sizes; sizes and offset; offset)
    assert {name: data for name, (data, _, _) in _entries(out).items()} == {
        "small.xml": b"<a/>", "big.xml": big, "big2.xml": big, "after.xml": b"<b/>"}


def test_the_summary_goes_through_a_pipe(tmp_path):
    """-o a FIFO: written through, forward only."""
    fifo = tmp_path / "s.xlsx"
    os.mkfifo(fifo)
    got = {}
    reader = threading.Thread(target=lambda: got.setdefault("data", fifo.read_bytes()))
    reader.start()
    rows = _rows(300)
    _book(fifo, {"此处": (rows, False), "另一进程": (rows, True)}).close()
    reader.join(60)
    wb = openpyxl.load_workbook(io.BytesIO(got["data"]))
    assert [c.value for c in wb["另一进程"][301]][:2] == ["第2厅", _expected(rows[-1][1])]
