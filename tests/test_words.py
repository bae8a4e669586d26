"""The words a department or office reads in a problem: Chinese, short, saying what to do; never `None`, never
English (but for the names of file formats, programs, units and cells), never a Python value. Every entry of
the catalogue is rendered with awkward values; every error xlsx.py can raise is checked where it is written
and met for real in files built here; the reader's own problems are met in real returns."""
import ast
import re
import string
import zipfile
from pathlib import Path

import pytest

from helpers import GOOD, fill_openpyxl, small_form
from make_corpus import MAIN, sst, workbook
from xlform.xlsx import reader as xlsx
from xlform.messages import CATALOGUE, problem
from xlform.returns.reader import read
from xlform.xlsx.reader import BadWorkbook, Limits, Package

ALLOWED = {"xlsx", "xls", "xlsm", "et", "ods", "Excel", "WPS", "LibreOffice", "MB", "KB", "GB", "sha256"}
CELL = re.compile(r"(?:[A-Z]{1,3}[0-9]{1,7})")
WORD = re.compile(r"--[a-z][a-z-]*|[A-Za-z][A-Za-z0-9]*")


def foreign(text: str) -> list[str]:
    """The ASCII words of a text a department may not be shown: English, None, True, nan, a Python name.
    Allowed: file formats, programs, units, cell references (F13) and command options (--year)."""
    return [w for w in WORD.findall(text) if w not in ALLOWED and not CELL.fullmatch(w) and not w.startswith("--")]


def assert_readable(message: str, what):
    assert not foreign(message), (what, message, foreign(message))
    assert "（）" not in message and "“”" not in message and "{" not in message, (what, message)
    assert "\n" not in message and len(message) <= 160, (what, message)


def test_the_check_finds_what_it_must():
    assert foreign("完成情况为“None”，须填写偏差原因") == ["None"]
    assert foreign("文件超出读取限制（sheet1.xml compresses more than 200:1）") == ["sheet1", "xml", "compresses",
                                                                                "more", "than"]
    assert foreign("请用 Excel 或 WPS 另存为 .xlsx；见 自评表!F13，可用 --year 指定，100 MB") == []


# -- the catalogue, with awkward values -------------------------------------------------------------------------
def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


SAMPLES = {"none": None, "empty": "", "text": "示例", "number": 12.5, "whole": 3, "tiny": 1 / 3}


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_catalogued_problem_reads_well_whatever_its_values(code):
    severity, text = CATALOGUE[code]
    assert severity in ("error", "warning")
    assert len(text) <= 90, f"{code}: {len(text)} characters: keep it short"
    assert not foreign(re.sub(r"\{[a-z_0-9]+\}", "", text)), (code, foreign(text))
    assert text.endswith("。"), f"{code}: one or more sentences, ending as one"
    for sample, value in SAMPLES.items():
        values = {name: value for name in fields(text) - {"detail"}}
        for detail in (None, "", "含有文档类型定义"):
            message = problem(code, "自评表!F13", detail=detail, **values).message
            if sample != "empty":   # an empty value may stand where a text would ("“”" then is what was typed)
                assert_readable(message, (code, sample, detail))
            assert "None" not in message and "0.333333333" not in message, (code, sample, message)


def test_a_missing_value_is_shown_as_blank_not_none():
    message = problem("reason_tier", "自评表!I15", name="群众意识", tier=None).message
    assert message == "“群众意识”完成情况为“（空）”，须填写偏差原因分析及改进措施。"


# -- xlsx.py: every error it raises, where it is raised --------------------------------------------------------
NUMBER = re.compile(r"len\(\w+\)|[\w.]*(max_|limit|lineno|MAX_)[\w.]*( // 2 \*\* 20)?")
PLACE = re.compile(r"sheet|ref")   # a cell's place, as every problem names it: its sheet and checked reference


def raised_details() -> list[tuple[int, str, ast.expr | None]]:
    tree = ast.parse(Path(xlsx.__file__).read_text(encoding="utf-8"))
    return [(node.lineno, node.args[0].value, node.args[1] if len(node.args) > 1 else None)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "BadWorkbook"]


def test_every_error_of_the_xlsx_reader_is_written_for_a_department():
    """The detail of each BadWorkbook raised is fixed Chinese text with numbers in it: never an exception's
    text (English, with paths and part names), never a value of the file shown as Python shows it."""
    found = raised_details()
    assert len(found) >= 25
    for line, code, detail in found:
        assert code in CATALOGUE, (line, code)
        if detail is None:
            continue
        assert isinstance(detail, (ast.Constant, ast.JoinedStr)), f"xlsx.py:{line}: {ast.unparse(detail)}"
        parts = [detail] if isinstance(detail, ast.Constant) else detail.values
        shown = ""
        for part in parts:
            if isinstance(part, ast.Constant):
                shown += part.value
            else:   # only a number (a count, a limit or a line) or a cell's place; no repr, no exception, no value
                value = ast.unparse(part.value)
                assert part.conversion == -1 and (NUMBER.fullmatch(value) or PLACE.fullmatch(value)), \
                    f"xlsx.py:{line}: {value}"
                shown += "12" if NUMBER.fullmatch(value) else "F13"
        assert_readable(problem(code, "a.xlsx", detail=shown).message, f"xlsx.py:{line}")


# -- xlsx.py's errors met for real: files built to trip them ----------------------------------------------------
def sheet_xml(cells: str, extra: str = "") -> str:
    return f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">{cells}</row></sheetData>{extra}</worksheet>'


def encrypted(src: Path, dst: Path, part: str) -> Path:
    """A copy of a zip whose part is marked encrypted (zipfile writes no such flag itself)."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.getinfo(part)
    data[info.header_offset + 6] |= 1                     # the local header's general purpose flags
    at = -1
    while (at := data.find(b"PK\x01\x02", at + 1)) >= 0:   # the central directory's entry of the part
        if data[at + 46:at + 46 + len(part)] == part.encode():
            data[at + 8] |= 1
    dst.write_bytes(bytes(data))
    return dst


def rewritten(src: Path, dst: Path, change=None, add=()) -> Path:
    """A copy of a zip with parts changed (name -> bytes -> bytes) or added."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if change and item.filename in change:
                data = change[item.filename](data)
            zout.writestr(item, data)
        for name, data in add:
            zout.writestr(name, data)
    return dst


def bad_workbooks(tmp: Path) -> dict[str, tuple[Path, Limits]]:
    plain = workbook(tmp / "plain.xlsx", sheet_xml('<c r="A1"><v>1</v></c>'))
    files = {
        "text": (tmp / "text.xlsx", Limits()),
        "ole": (tmp / "ole.xlsx", Limits()),
        "device": (Path("/dev/null"), Limits()),
        "big": (plain, Limits(max_bytes=100)),
        "parts": (plain, Limits(max_parts=2)),
        "inflated": (plain, Limits(max_uncompressed=100)),
        "truncated": (tmp / "truncated.xlsx", Limits()),
        "two names": (rewritten(plain, tmp / "names.xlsx", add=[("XL/WORKBOOK.XML", b"<x/>")]), Limits()),
        "ratio": (rewritten(plain, tmp / "ratio.xlsx", add=[("xl/media/zeros.bin", b"\0" * (3 * 2**20))]),
                  Limits()),
        "dtd": (rewritten(plain, tmp / "dtd.xlsx", change={"xl/workbook.xml": lambda d: d.replace(
            b"<workbook", b'<!DOCTYPE w [<!ENTITY x "y">]><workbook', 1)}), Limits()),
        "bad xml": (workbook(tmp / "badxml.xlsx", sheet_xml('<c r="A1"><v>1</v></c>').replace("</row>", "")),
                    Limits()),
        "encoding": (workbook(tmp / "encoding.xlsx", b'<?xml version="1.0" encoding="no-such-encoding"?>'
                              + sheet_xml("").encode()), Limits()),
        "no workbook": (rewritten(plain, tmp / "nobook.xlsx", change={"_rels/.rels": lambda d: d.replace(
            b"xl/workbook.xml", b"xl/elsewhere.xml")}), Limits()),
        "unusual": (rewritten(plain, tmp / "unusual.xlsx", change={"xl/workbook.xml": lambda d: b"<other/>"}),
                    Limits()),
        "missing sheet": (rewritten(plain, tmp / "nosheet.xlsx", change={"xl/_rels/workbook.xml.rels": lambda d:
                          d.replace(b"worksheets/sheet1.xml", b"worksheets/gone.xml")}), Limits()),
        "encrypted": (encrypted(plain, tmp / "encrypted.xlsx", "xl/worksheets/sheet1.xml"), Limits()),
        "long value": (workbook(tmp / "long.xlsx", sheet_xml(f'<c r="A1" t="inlineStr"><is><t>{"x" * 200_000}</t>'
                                                             '</is></c>')), Limits(max_text=1000)),
        "strings": (workbook(tmp / "strings.xlsx", sheet_xml('<c r="A1" t="s"><v>0</v></c>'),
                             shared=sst("<t>a</t>", "<t>b</t>", "<t>c</t>")), Limits(max_strings=2)),
        "cells": (workbook(tmp / "cells.xlsx", sheet_xml('<c r="A1"><v>1</v></c><c r="B1"><v>2</v></c>')),
                  Limits(max_cells=1)),
        "reference": (workbook(tmp / "ref.xlsx", sheet_xml('<c r="AAAA1"><v>1</v></c>')), Limits()),
        "formula": (workbook(tmp / "formula.xlsx", sheet_xml(f'<c r="A1"><f>{"1+" * 5000}1</f></c>')), Limits()),
        "shared formula": (workbook(tmp / "shared.xlsx", sheet_xml(
            '<c r="A1"><f t="shared" ref="A1:A3" si="0">B1+1</f></c><c r="A2"><f t="shared" si="0"/></c>')),
                           Limits(max_shared=4)),
        "no string": (workbook(tmp / "nostring.xlsx", sheet_xml('<c r="A1" t="s"><v>7</v></c>')), Limits()),
    }
    (tmp / "text.xlsx").write_text("这不是工作簿", encoding="utf-8")
    (tmp / "ole.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    (tmp / "truncated.xlsx").write_bytes(plain.read_bytes()[:200])
    return files


def test_xlsx_errors_met_in_real_files_read_well(tmp_path):
    met = set()
    for name, (path, limits) in bad_workbooks(tmp_path).items():
        with pytest.raises(BadWorkbook) as e:
            with Package(path, limits) as pkg:
                for info in pkg.sheets:
                    pkg.sheet(info)
        message = problem(e.value.code, path.name, detail=e.value.detail).message
        assert_readable(message, name)
        met.add((e.value.code, e.value.detail.split(" ")[0] if e.value.detail else ""))
    assert len(met) >= 18, met   # most of the reader's refusals were really met, not only the easy ones


# -- the reader's own problems, in real returns -----------------------------------------------------------------
def test_a_blank_tier_asks_for_the_tier_not_a_reason_for_none(tmp_path):
    _, form, reg = small_form(tmp_path)
    blank_tier = fill_openpyxl(form, tmp_path / "blank.xlsx", {**GOOD, "F15": None, "H15": None})
    [r] = read(blank_tier, reg)
    reg.close()
    codes = [p.code for p in r.problems]
    assert "blank_actual" in codes and "reason_tier" not in codes, codes
    for p in r.problems:
        assert_readable(p.message, p.code)


def test_problems_of_a_badly_filled_return_read_well(tmp_path):
    _, form, reg = small_form(tmp_path)
    bad = fill_openpyxl(form, tmp_path / "bad.xlsx", {**GOOD, "F7": -5, "F11": None, "F13": "四次", "F14": 1.5,
                                                     "F15": "差不多", "H15": 30, "F16": None, "Z40": "多余"})
    [r] = read(bad, reg)
    reg.close()
    assert len(r.problems) >= 5, r.problems
    for p in r.problems:
        assert_readable(p.message, p.code)
