"""The summary's long tables are made beside each other (issue 22): 指标 in a process of its own, 问题 and 质量 in
the summary's; the same workbook as one process makes; a refused cell there still names its cell and writes no
summary; a process that dies stops the summary with one line; none is left behind."""
import multiprocessing
import os
import sqlite3
import zipfile

import pytest

from xlform.collecting.summary import write_summary
from xlform.collecting.tables import Book
from xlform.errors import CannotRun, XlformError

from helpers import bench_return, store_copies


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    """A return of 12 indicators, filled and read back."""
    return bench_return(tmp_path_factory.mktemp("beside"), 12, "beside-001")


def _store_of(tmp_path, record, count=3):
    db = tmp_path / "c.db"
    return db, store_copies(db, record, count, lambda n: f"b-{n}", lambda n: f"厅{n}")


def test_tables_made_beside_are_the_tables_made_here(record, tmp_path):
    db, store = _store_of(tmp_path, record)
    write_summary(tmp_path / "beside.xlsx", store, [])
    # the same sheets made in this one process (as the desk's server threads make them): every part alike
    write_summary(tmp_path / "here.xlsx", store, [], beside=False)
    store.close()
    with zipfile.ZipFile(tmp_path / "beside.xlsx") as a, zipfile.ZipFile(tmp_path / "here.xlsx") as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            if not name.startswith("docProps/"):
                assert a.read(name) == b.read(name), name
        sheet = a.read("xl/worksheets/sheet3.xml").decode("utf-8")
    assert sheet.count("<row ") == 1 + 3 * len(record.indicators)
    assert f'<autoFilter ref="A1:M{1 + 3 * len(record.indicators)}"/>' in sheet


def test_one_process_beside_the_summarys(record, tmp_path, monkeypatch):
    """指标 in a process of its own, 问题 and 质量 made meanwhile in the summary's (a process each held 20-28 MB more
    at 10,000 returns)."""
    import xlform.collecting.tables
    started = []

    class Counted(xlform.collecting.tables.Talk):
        def __init__(self, *args, **kwargs):
            started.append(1)
            super().__init__(*args, **kwargs)
    monkeypatch.setattr(xlform.collecting.tables, "Talk", Counted)
    db, store = _store_of(tmp_path, record)
    write_summary(tmp_path / "s.xlsx", store, [])
    store.close()
    assert len(started) == 1
    with zipfile.ZipFile(tmp_path / "s.xlsx") as z:   # (汇总, 图表, 指标, 问题, 质量, 未报送)
        problems = z.read("xl/worksheets/sheet4.xml").decode("utf-8")
    assert problems.count("<row ") == 1 + 3 * len(record.problems)


@pytest.mark.parametrize("project", [0, 2])
def test_a_refused_cell_in_a_table_made_beside_names_it_and_writes_nothing(record, tmp_path, project):
    """In the first project's rows of 指标 and in the third's: the cell is named by the sheet's own row."""
    db, store = _store_of(tmp_path, record)
    with sqlite3.connect(db) as c:   # a text no cell can hold, in the second indicator of the project
        c.execute("UPDATE indicators SET deviation_reason=? WHERE position=1 AND submission_id="
                  "(SELECT id FROM submissions ORDER BY department LIMIT 1 OFFSET ?)", ("长" * 40_000, project))
    out = tmp_path / "s.xlsx"
    with pytest.raises(XlformError) as e:
        write_summary(out, store, [])
    store.close()
    row = 1 + project * len(record.indicators) + 2
    assert str(e.value) == (f"{out}: cannot write 指标!M{row}: a cell holds at most 32,767 characters, this text "
                            "has 40,000; the summary was not written")
    assert not out.exists() and not multiprocessing.active_children()


def test_a_process_that_dies_stops_the_summary_in_one_line(tmp_path):
    book = Book(tmp_path / "s.xlsx")
    fmt = book.workbook.add_format({})
    here = book.table("汇总", [("项目名称", fmt, 20)], fmt)
    here.fill([["甲"]])

    def rows():
        yield ["乙"]
        os._exit(9)   # killed, say, by the out-of-memory killer
    book.table("指标", [("三级指标", fmt, 20)], fmt).make_beside(rows)
    with pytest.raises(CannotRun, match=r"^a process writing the outputs stopped unexpectedly \(exit 9\)$"):
        book.close()
    assert not (tmp_path / "s.xlsx").exists() and not multiprocessing.active_children()


class _DiesWhenWritten:
    """A value whose cell text ends its process: the table's XML is being made, pieces of it already copied."""

    def __str__(self):
        os._exit(9)


def test_a_process_that_dies_while_its_xml_is_copied_stops_the_summary_in_one_line(tmp_path):
    book = Book(tmp_path / "s.xlsx")
    fmt = book.workbook.add_format({})

    def rows():
        for n in range(3000):   # a few pieces of XML made and copied before the last row
            yield [f"第{n}行"]
        yield [_DiesWhenWritten()]
    book.table("指标", [("三级指标", fmt, 20)], fmt).make_beside(rows)
    with pytest.raises(CannotRun, match=r"^a process writing the outputs stopped unexpectedly \(exit 9\)$"):
        book.close()
    assert not (tmp_path / "s.xlsx").exists() and not multiprocessing.active_children()
