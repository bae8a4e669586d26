"""The summary workbook at flat memory (issue 22: 2,000 records took a 498 MB peak, growing with the number of
cells): ten times the returns, the same peak; every row written, every number in its column's format."""
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from xlform.storage.store import Prepared, Store

from helpers import bench_return, store_copies

PEAK = """
import resource, sys
from pathlib import Path
from xlform.collecting.summary import write_summary
from xlform.storage.store import Store
store = Store(Path(sys.argv[1]), create=False)
write_summary(Path(sys.argv[2]), store, [])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.fixture(scope="module")
def databases(tmp_path_factory):
    """Two collections of 120-indicator returns, 100 and 1,000 of them (one read return stored again under other
    template ids and departments): {count: database}."""
    folder = tmp_path_factory.mktemp("scale")
    record = bench_return(folder, 120, "scale-001")
    out = {}
    for count in (100, 1000):
        store = store_copies(folder / f"c{count}.db", record, count, lambda n: f"scale-{n:04d}",
                             lambda n: f"第{n % 37:02d}厅")
        store.close()
        out[count] = folder / f"c{count}.db"
    return out, record


def peak_kb(db: Path, summary: Path) -> int:
    r = subprocess.run([sys.executable, "-c", PEAK, str(db), str(summary)], capture_output=True, text=True,
                       timeout=600)   # far bound: the 1,000 returns take a few seconds
    assert r.returncode == 0, r.stderr
    return int(r.stdout.split()[-1])


def test_ten_times_the_returns_the_same_peak_memory(databases, tmp_path):
    dbs, record = databases
    small, large = peak_kb(dbs[100], tmp_path / "s100.xlsx"), peak_kb(dbs[1000], tmp_path / "s1000.xlsx")
    # xlsxwriter kept each of the 1.6 M cells of 1,000 returns: some 400 MB more than for 100
    assert large < small * 1.25, (small, large)
    wb = openpyxl.load_workbook(tmp_path / "s1000.xlsx", read_only=True)
    indicators = wb["指标"]
    rows = indicators.iter_rows(values_only=True)
    head = next(rows)
    count, last = 1, None
    for row in rows:
        count, last = count + 1, row
    assert count == 1 + 1000 * len(record.indicators)
    by = dict(zip(head, last))
    assert by["三级指标"] == record.indicators[-1].name and by["分值"] == pytest.approx(record.indicators[-1].weight)
    assert [r[0] for r in wb["汇总"].iter_rows(min_row=2, max_row=3, values_only=True)] == ["第00厅", "第00厅"]


def test_texts_keep_what_xml_cannot_hold_as_it_is(databases, tmp_path):
    """Control characters, & < >, edge spaces and a text that looks like an escape come back as they were."""
    dbs, record = databases
    strange = ["a & b < c > d", "  edge  ", "tab\there", "bell\x07", "_x0041_ literal", "line\nbreak", "=SUM(A1)"]
    db = tmp_path / "strange.db"
    store = Store(db)
    with store.transaction():
        for n, text in enumerate(strange):
            r = replace(record, template={**record.template, "id": f"odd-{n}"},
                        project={**record.project, "name": text, "department": f"厅{n}"})
            store.add_file(f"o{n}.xlsx", f"{n:064x}", 1, "2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00",
                           [Prepared.of(r)])
    store.close()
    peak_kb(db, tmp_path / "s.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "s.xlsx")["汇总"]
    got = [row[1] for row in ws.iter_rows(min_row=2, values_only=True)]
    plain = [n for n, text in enumerate(strange) if "_x" not in text and "\x07" not in text]
    assert [got[n] for n in plain] == [strange[n] for n in plain]
    assert ws["G2"].number_format == "0.00%" and ws["E2"].number_format == "#,##0.00"
    # a control character and a text that looks like an escape, escaped as Excel reads them (and as
    # xlsxwriter's shared strings had them; openpyxl decodes neither in a cell's own string)
    with zipfile.ZipFile(tmp_path / "s.xlsx") as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<t>bell_x0007_</t>" in sheet and "<t>_x005F_x0041_ literal</t>" in sheet
    assert '<t xml:space="preserve">  edge  </t>' in sheet
