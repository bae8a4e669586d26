"""Files really saved by Excel (tests/data/excel, from XlsxWriter's test suite): every one is read to the
cells, formulas and sheet protection openpyxl sees, and none makes the reader fail."""
import datetime
import warnings
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.formula import ArrayFormula

from xlform.xlsx.reader import Error, Package

FILES = sorted((Path(__file__).parent / "data" / "excel").glob("*.xlsx"))

# openpyxl leaves Excel's _xHHHH_ escapes undecoded; for these files the text Excel holds is what XlsxWriter's
# test sources (test_escapes09.py, test_shared_strings01.py, test_shared_strings02.py) wrote, copied here.
WRITTEN = {
    "escapes09": {f"A{i}": f"Data\x1b[32m{i}" for i in range(1, 5)},
    "shared_strings01": {f"A{c + 1}": chr(c) for c in range(127) if c != 34},
    "shared_strings02": {f"A{i + 1}": s for i, s in enumerate([
        "_", "_x", "_x0", "_x00", "_x000", "_x0000", "_x0000_", "_x005F_", "_x000G_", "_X0000_", "_x000a_",
        "_x000A_", "_x0000__x0000_", "__x0000__"])},
}


def seen_by_openpyxl(path):
    """{sheet: (protected, {ref: (value, formula)})} from openpyxl's two loads (formulas, cached values)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about parts it does not read (data validation extensions)
        full = openpyxl.load_workbook(path)  # for the protection
        # read-only: only the cells the file holds (a comment on XFD1048576 makes a full sheet of the others)
        formulas = openpyxl.load_workbook(path, read_only=True)
        values = openpyxl.load_workbook(path, read_only=True, data_only=True)
    out = {}
    for ws in full.worksheets:
        cells = {}
        for frow, vrow in zip(formulas[ws.title].iter_rows(), values[ws.title].iter_rows()):
            for c, vc in zip(frow, vrow):
                if not hasattr(c, "coordinate"):  # EmptyCell: padding
                    continue
                f = c.value.text if isinstance(c.value, ArrayFormula) else c.value
                v = vc.value
                if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
                    v = to_excel(v, full.epoch)  # a date is a formatted number
                if isinstance(f, str) and f.startswith("=") and c.data_type == "f":
                    cells[c.coordinate] = (v, f[1:])
                elif v is not None:
                    cells[c.coordinate] = (v, None)
        out[ws.title] = (ws.protection.sheet, cells)
    return out


def seen_by_us(path):
    with Package(path) as pkg:
        out = {}
        for info in pkg.sheets:
            sheet = pkg.sheet(info)
            out[info.name] = (sheet.protected, {ref: (str(c.value) if isinstance(c.value, Error) else c.value,
                                                      c.formula) for ref, c in sheet.cells.items()})
        return out


def test_a_varied_selection():
    names = {p.stem.rstrip("0123456789_") for p in FILES}
    assert len(FILES) >= 60
    assert {"array_formula", "rich_string", "protect", "defined_name", "hide", "data_validation", "comment",
            "escapes", "shared_strings", "types", "chartsheet"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_read_as_openpyxl_sees_it(path):
    theirs, ours = seen_by_openpyxl(path), seen_by_us(path)
    for ref, text in WRITTEN.get(path.stem, {}).items():
        theirs["Sheet1"][1][ref] = (text, None)
    for name, (protected, cells) in theirs.items():
        assert ours[name][0] == protected, name
        assert ours[name][1] == cells, name
    assert all(not ours[name][1] for name in set(ours) - set(theirs))  # chartsheets: no cells
