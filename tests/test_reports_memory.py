"""The reports hold one department's details at a time (issue 22, memory): the order of every file sent back is
read as (id, department) pairs, and each department's details (project, path, sheet, score, grade) as its report
is written; held whole, 10,000 submissions' details took 6.5 MB for as long as the reports were written.
So does the summary's 问题 sheet, a chunk of submissions at a time."""
import csv
import io
from pathlib import Path

from helpers import bench_return, store_copies

from xlform.collecting.report import write_reports


def test_the_order_sent_back_and_each_departments_details(tmp_path):
    record = bench_return(tmp_path, 10, "memo-001")
    departments = [None, "", "乙厅", "甲厅"]
    store = store_copies(tmp_path / "c.db", record, 1203, lambda n: f"memo-{n}", lambda n: departments[n % 4])
    try:
        order = store.to_send_back()
        assert len(order) == 1203 and {d for _, d in order} == set(departments)
        assert all(len(pair) == 2 for pair in order)
        details = {sid: (project, path, sheet) for sid, project, path, sheet, *_ in store.sent_back(
            [sid for sid, _ in order])}
        # by department (None first, as SQLite orders), then path and sheet
        key = [((d is not None, d or ""), details[sid][1], details[sid][2]) for sid, d in order]
        assert key == sorted(key)
        ids = [sid for sid, _ in order][::-1]   # any order asked, over several reads of 500
        got = store.sent_back(ids)
        assert [r[0] for r in got] == ids
        assert {r[2] for r in got} == {f"r{n}.xlsx" for n in range(1203)}
        assert {r[1] for r in got} == {record.project["name"]}
        assert all((r[4], r[5]) == (record.total_score, record.grade) for r in got)
    finally:
        store.close()


def test_reports_list_every_file_under_its_department(tmp_path):
    record = bench_return(tmp_path, 10, "memo-001")
    store = store_copies(tmp_path / "c.db", record, 30, lambda n: f"memo-{n}", lambda n: ["甲厅", "乙厅", None][n % 3])
    try:
        written = write_reports(tmp_path / "rep", store, [])
    finally:
        store.close()
    csvs = {p.stem: p.read_text(encoding="utf-8-sig") for p in map(Path, written) if p.suffix == ".csv"}
    for p in map(Path, written):   # each written piece by piece as it is made, and whole
        data = p.read_bytes()
        if p.suffix == ".csv":
            assert data.startswith(b"\xef\xbb\xbf\xe6\x96\x87\xe4\xbb\xb6,") and data.endswith(b"\n")
            assert data.count(b"\xef\xbb\xbf") == 1 and b"\r" not in data
        else:
            assert data.rstrip().endswith(b"</html>") and data.decode("utf-8").count("<html") == 1
    # each file's problems, in the order found (the record's own order)
    codes = [p.code for p in record.problems]
    assert codes
    for stem, numbers in (("甲厅", range(0, 30, 3)), ("乙厅", range(1, 30, 3)), ("未识别的文件", range(2, 30, 3))):
        lines = list(csv.reader(io.StringIO(csvs[stem])))[1:]
        assert {line[0] for line in lines} == {f"r{n}.xlsx" for n in numbers}, stem
        for n in numbers:
            assert [line[5] for line in lines if line[0] == f"r{n}.xlsx"] == codes


def test_the_summarys_problems_by_file_read_a_chunk_of_submissions_at_a_time(tmp_path):
    """The summary's 问题 sheet: every file's problems by department and path, each file's in the order found
    (its submissions read a chunk at a time, the order alone held whole)."""
    import sqlite3
    record = bench_return(tmp_path, 10, "memo-001")
    departments = ["乙厅", None, "甲厅", ""]
    store = store_copies(tmp_path / "c.db", record, 23, lambda n: f"memo-{n}", lambda n: departments[n % 4])
    try:
        # (texts as their UTF-8 bytes, as SQLite gives them to the summary)
        got = [(sub, [tuple(v.decode() if isinstance(v, bytes) else v for v in p[:4]) for p in problems])
               for sub, problems in store.problems_by_file(chunk=7)]
    finally:
        store.close()
    con = sqlite3.connect(tmp_path / "c.db")
    subs = con.execute("SELECT id, department, project, path, sheet, status FROM submissions").fetchall()
    subs.sort(key=lambda r: (r[1] is not None, r[1] or "", r[3], r[0]))
    wanted = [(tuple(s[1:]), con.execute("SELECT cell, severity, code, message FROM problems WHERE submission_id=? "
                                         "ORDER BY id", (s[0],)).fetchall()) for s in subs]
    con.close()
    assert [s for s, _ in got] == [s for s, _ in wanted] and len(got) == 23
    assert [problems for _, problems in got] == [problems for _, problems in wanted]
    assert all(problems for _, problems in got)
