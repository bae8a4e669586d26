"""Hostile and tampered workbooks: each is refused with its code, or read exactly as LibreOffice shows it,
fast, in bounded memory, with no traceback, and without harming the other files of a batch."""
import re
import sqlite3
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from conftest import ROOT
from helpers import FAR_SECONDS, GOOD, definition, fill_openpyxl, load_def, small_form
from make_corpus import MAIN, workbook
from xlform.returns.reader import read
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.xlsx.reader import BadWorkbook, Limits, Package

SHEET = "xl/worksheets/sheet1.xml"
H13 = 'IF(ISNUMBER(F13),IF(F13&gt;=4,G13,ROUND(G13*F13/4,2)),"")'


@pytest.fixture(scope="module")
def form(tmp_path_factory):
    """A small form filled with openpyxl: (registry, path of the clean return)."""
    tmp = tmp_path_factory.mktemp("hostile")
    _, path, reg = small_form(tmp)
    return reg, fill_openpyxl(path, tmp / "clean.xlsx", GOOD)


def tampered(src, dst, change, part=SHEET):
    """A copy of src with one part rewritten by change(bytes) -> bytes (which must change something)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == part:
                new = change(data)
                assert new != data
                data = new
            zout.writestr(item, data)
    return dst


def sub(old: bytes, new: bytes):
    return lambda data: data.replace(old, new, 1) if old in data else pytest.fail(f"{old!r} not in the part")


def problems(path, reg):
    [r] = read(path, reg)
    return sorted((p.code, p.where) for p in r.problems)


def test_the_clean_return_reads_clean(form):
    reg, clean = form
    assert problems(clean, reg) == []


# -- what hides in comments and CDATA: a spreadsheet ignores comments and reads CDATA as text ----------------
DECOYS = {
    "formula_in_comment": (
        sub(b"<f>" + H13.encode() + b"</f>",
            b"<!-- <f>" + H13.encode() + b"</f> --><f>" + H13.replace(",2)", ",1)").encode() + b"</f>"),
        [("formula_changed", "自评表!H13")]),
    "protection_in_comment": (
        lambda d: re.sub(rb"(<sheetProtection[^>]*>)", rb"<!-- \1 -->", d),
        [("protection_removed", "自评表")]),
    "target_in_comment": (
        sub("<c r=\"E13\" s=\"3\" t=\"inlineStr\"><is><t>≥4次</t></is></c>".encode(),
            "<c r=\"E13\" s=\"3\" t=\"inlineStr\"><!-- <v>≥4次</v> --><is><t>≥1次</t></is></c>".encode()),
        [("locked_changed", "自评表!E13")]),
    "label_in_comment": (
        sub("<c r=\"D13\" s=\"4\" t=\"inlineStr\"><is><t>培训次数</t></is></c>".encode(),
            "<c r=\"D13\" s=\"4\" t=\"inlineStr\"><is><t>培训人数</t></is></c>"
            "<!-- <c r=\"D13\" s=\"4\" t=\"inlineStr\"><is><t>培训次数</t></is></c> -->".encode()),
        [("locked_changed", "自评表!D13")]),
}


@pytest.mark.parametrize("name", DECOYS)
def test_an_original_left_in_a_comment_does_not_hide_the_change(form, tmp_path, lo, name):
    reg, clean = form
    change, expected = DECOYS[name]
    path = tampered(clean, tmp_path / f"{name}.xlsx", change)
    assert problems(path, reg) == expected
    if name in ("target_in_comment", "label_in_comment"):  # and LibreOffice shows the tampered text
        shown = lo.fill(path, tmp_path / "lo.xlsx", {}, read=["E13", "D13"])
        assert shown == {"E13": "≥1次" if name == "target_in_comment" else "≥4次",
                         "D13": "培训人数" if name == "label_in_comment" else "培训次数"}


def test_cdata_is_text_as_in_any_xml_reader(form, tmp_path):
    reg, clean = form
    path = tampered(clean, tmp_path / "cdata.xlsx", lambda d: sub(
        "<t>≥4次</t>".encode(), "<t><![CDATA[≥4]]>次</t>".encode())(
        d.replace(b"<f>" + H13.encode() + b"</f>",
                  b"<f><![CDATA[" + H13.replace("&gt;", ">").encode() + b"]]></f>")))
    assert problems(path, reg) == []


def test_a_comment_full_of_unclosed_cells_is_read_fast(form, tmp_path):
    reg, clean = form
    path = tampered(clean, tmp_path / "unclosed.xlsx", sub(b"<sheetData>", b"<sheetData><!-- " + b"<c " * 5000 + b"-->"))
    start = time.perf_counter()
    assert problems(path, reg) == []
    assert time.perf_counter() - start < FAR_SECONDS  # about 0.05 s


# -- DTDs, entities: refused by the parser itself, wherever and however encoded ------------------------------
ENTITY = '<!DOCTYPE worksheet [<!ENTITY e "实际完成情况">]>'


def with_dtd(data: bytes) -> bytes:
    head, body = data.split(b"<worksheet", 1)
    return head + b"<!--" + b" " * 5000 + b"-->" + ENTITY.encode() + b"<worksheet" + body.replace(
        "<t>完成</t>".encode(), b"<t>&e;</t>", 1)


def utf16_with_dtd(data: bytes) -> bytes:
    text = data.decode("utf-8")
    text = re.sub(r"^<\?xml[^>]*\?>", "", text)
    return ('<?xml version="1.0" encoding="UTF-16"?>' + ENTITY + text).encode("utf-16")


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                            for i in range(1, 10))
                  + ']><workbook xmlns="' + MAIN + '"><sheets><sheet name="&lol9;" sheetId="1"/></sheets></workbook>')
PARAMETER_ENTITY = ('<?xml version="1.0"?><!DOCTYPE w [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>'
                    '<workbook xmlns="' + MAIN + '"/>')


@pytest.mark.parametrize("change,part", [
    (with_dtd, SHEET), (utf16_with_dtd, SHEET),
    (lambda d: BILLION_LAUGHS.encode(), "xl/workbook.xml"), (lambda d: PARAMETER_ENTITY.encode(), "xl/workbook.xml"),
], ids=["after-4KB-of-comments", "utf-16", "billion-laughs", "parameter-entity"])
def test_a_dtd_is_refused_wherever_it_hides(form, tmp_path, change, part):
    reg, clean = form
    path = tampered(clean, tmp_path / "dtd.xlsx", change, part)
    assert problems(path, reg) == [("hostile", "dtd.xlsx")]


def test_a_utf16_sheet_reads_like_the_utf8_one(form, tmp_path):
    reg, clean = form
    path = tampered(clean, tmp_path / "u16.xlsx", lambda d: (
        '<?xml version="1.0" encoding="UTF-16"?>' + re.sub(r"^<\?xml[^>]*\?>", "", d.decode())).encode("utf-16"))
    assert problems(path, reg) == []


def test_invalid_utf8_is_a_bad_xml_problem(form, tmp_path):
    reg, clean = form
    path = tampered(clean, tmp_path / "utf8.xlsx", sub("完成".encode(), b"\xff\xfe\xc3"))
    assert problems(path, reg) == [("bad_xml", "utf8.xlsx")]


# -- limits: counted on what is really there -------------------------------------------------------------
def cells_xml(n: int, sep: str = " ") -> bytes:
    rows = []
    for r in range(1, n // 100 + 2):
        k = min(100, n - (r - 1) * 100)
        if k <= 0:
            break
        rows.append(f'<row r="{r}">' + "".join(f"<c{sep}r=\"{_col(c)}{r}\"><v>{c}</v></c>" for c in range(1, k + 1))
                    + "</row>")
    return f'<worksheet xmlns="{MAIN}"><sheetData>{"".join(rows)}</sheetData></worksheet>'.encode()


def _col(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


@pytest.mark.parametrize("sep", [" ", "\t", "\n", "\r\n  "])
def test_every_cell_counts_however_its_tag_is_spaced(tmp_path, sep):
    path = workbook(tmp_path / "w.xlsx", cells_xml(101, sep))
    with Package(path, Limits(max_cells=101)) as pkg:
        assert len(pkg.sheet(pkg.sheets[0]).cells) == 101
    with Package(path, Limits(max_cells=100)) as pkg, pytest.raises(BadWorkbook) as e:
        pkg.sheet(pkg.sheets[0])
    assert e.value.code == "too_large"


MEASURE = textwrap.dedent("""
    import resource, subprocess, sys, time
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], capture_output=True, text=True)
    print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
    print(r.stdout, r.stderr)
""")
READ_ONE = ("import sys; from xlform.returns.reader import read; from xlform.issue.registry import Registry; "
            "print([(p.code, p.where) for r in read(sys.argv[1], Registry(sys.argv[2])) for p in r.problems])")


def measured(path, reg_path):
    """Read one file in a child process: (seconds, peak RSS in bytes, problems printed)."""
    out = subprocess.run([sys.executable, "-c", MEASURE, READ_ONE, str(path), str(reg_path)],
                         capture_output=True, text=True, timeout=120, cwd=ROOT).stdout
    seconds, rss = out.split("\n", 1)[0].split()
    return float(seconds), int(rss), out.split("\n", 1)[1]


def test_two_million_cells_are_refused_fast_in_bounded_memory(form, tmp_path):
    reg, clean = form
    big = cells_xml(2_000_000)
    path = tampered(clean, tmp_path / "big.xlsx", lambda d: d.split(b"<sheetData>")[0] + b"<sheetData>"
                    + big.split(b"<sheetData>")[1].split(b"</sheetData>")[0] + b"</sheetData>"
                    + d.split(b"</sheetData>")[1])
    seconds, rss, printed = measured(path, reg.path)
    assert "[('too_large', 'big.xlsx')]" in printed, printed
    assert seconds <= FAR_SECONDS and rss <= 2**30, (seconds, rss)  # about 1.7 s and 120 MB


def test_cells_outside_the_form_are_summed_up_in_one_problem(form, tmp_path):
    reg, clean = form
    extra = "".join(f'<row r="{r}"><c r="Z{r}" t="inlineStr"><is><t>x{r}</t></is></c></row>' for r in range(100, 160))
    path = tampered(clean, tmp_path / "extra.xlsx", sub(b"</sheetData>", extra.encode() + b"</sheetData>"))
    [r] = read(path, reg)
    assert [(p.code, p.where) for p in r.problems] == [("extra_content", f"自评表!Z{i}") for i in range(100, 110)] + [
        ("extra_content_many", "自评表!Z110")]
    assert "共有 60 个单元格" in r.problems[-1].message


def lying_bomb(path, real: int = 300 * 2**20):
    """A workbook whose sheet inflates to `real` bytes while the zip says it holds 1,000."""
    workbook(path, b"<worksheet/>")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(SHEET)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = c.compress(f'<worksheet xmlns="{MAIN}"><sheetData>'.encode())
    chunk = b" " * 2**20
    for _ in range(real // len(chunk)):
        body += c.compress(chunk)
    body += c.flush()
    # rebuild: everything up to the sheet's local header, the sheet with lying sizes, everything after it
    head_end = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    before, after = bytes(data[:info.header_offset]), bytes(data[head_end + info.compress_size:])
    local = bytearray(data[info.header_offset:head_end])
    struct.pack_into("<III", local, 14, zlib.crc32(b"x"), len(body), 1000)
    shift = len(body) - info.compress_size
    cd = after.index(b"PK\x01\x02")
    central = bytearray(after[cd:])
    at = central.index(SHEET.encode()) - 46
    struct.pack_into("<III", central, at + 16, zlib.crc32(b"x"), len(body), 1000)
    for pos in [m.start() for m in re.finditer(rb"PK\x01\x02", central)]:
        offset = struct.unpack_from("<I", central, pos + 42)[0]
        if offset > info.header_offset:
            struct.pack_into("<I", central, pos + 42, offset + shift)
    end = central.index(b"PK\x05\x06")
    struct.pack_into("<I", central, end + 16, struct.unpack_from("<I", central, end + 16)[0] + shift)
    path.write_bytes(before + bytes(local) + body + after[:cd] + bytes(central))
    return path


def test_a_zip_lying_about_its_sizes_is_refused_in_bounded_memory(form, tmp_path):
    reg, _ = form
    path = lying_bomb(tmp_path / "liar.xlsx")
    assert path.stat().st_size < 2 * 2**20
    with zipfile.ZipFile(path) as z:
        assert z.getinfo(SHEET).file_size == 1000
    seconds, rss, printed = measured(path, reg.path)
    assert re.search(r"\[\('(truncated|too_large|bad_xml)', 'liar.xlsx'\)\]", printed), printed
    assert seconds <= FAR_SECONDS and rss <= 200 * 2**20, (seconds, rss)  # about 0.2 s and 30 MB


def test_parts_of_one_name_are_refused(tmp_path):
    path = workbook(tmp_path / "dup.xlsx", cells_xml(1))
    with zipfile.ZipFile(path, "a") as z:
        z.writestr(SHEET.upper(), cells_xml(2))  # zip names are case-sensitive, part names are not
    with pytest.raises(BadWorkbook) as e:
        Package(path)
    assert e.value.code == "hostile"


def test_a_file_larger_than_the_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "sparse.xlsx"
    with open(path, "wb") as f:
        f.write(b"PK\x03\x04")
        f.truncate(200 * 2**20)  # sparse: no time spent writing it
    start = time.perf_counter()
    with pytest.raises(BadWorkbook) as e:
        Package(path)
    assert e.value.code == "too_large" and time.perf_counter() - start < FAR_SECONDS  # a few ms


def test_a_batch_reads_its_good_files_whatever_the_bad_ones_hold(form, tmp_path):
    import xlform
    reg, clean = form
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "good.xlsx").write_bytes(clean.read_bytes())
    tampered(clean, inbox / "dtd.xlsx", with_dtd)
    tampered(clean, inbox / "utf8.xlsx", sub("完成".encode(), b"\xff"))
    lying_bomb(inbox / "liar.xlsx", 20 * 2**20)
    (inbox / "ole.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    outcome = xlform.collect([inbox], db=tmp_path / "c.db", registry=reg.path, jobs=1)
    assert (outcome.files, outcome.rejected) == (5, 4)
    db = sqlite3.connect(tmp_path / "c.db")
    rows = db.execute("SELECT s.path, s.status, s.errors, s.total_score, group_concat(p.code) FROM submissions s "
                      "LEFT JOIN problems p ON p.submission_id = s.id GROUP BY s.id ORDER BY s.path").fetchall()
    assert [(Path(path).name, status, errors, score, codes) for path, status, errors, score, codes in rows] == [
        ("dtd.xlsx", "rejected", 1, None, "hostile"), ("good.xlsx", "current", 0, 98, None),
        ("liar.xlsx", "rejected", 1, None, "truncated"), ("ole.xlsx", "rejected", 1, None, "ole"),
        ("utf8.xlsx", "rejected", 1, None, "bad_xml")]


def test_what_is_inflated_is_counted_read_after_read(tmp_path):
    """The running count, not the declared sizes: a workbook read over and over stops at the budget."""
    path = workbook(tmp_path / "w.xlsx", cells_xml(1000))
    with zipfile.ZipFile(path) as z:
        declared = sum(i.file_size for i in z.infolist())
    with Package(path, Limits(max_uncompressed=declared + 1)) as pkg:
        assert len(pkg.sheet(pkg.sheets[0]).cells) == 1000
        with pytest.raises(BadWorkbook) as e:
            pkg.sheet(pkg.sheets[0])
    assert e.value.code == "too_large"


@pytest.mark.parametrize("label", ["培训\r次数", "培训\x01次数", "培训_x000D_次数"])
def test_a_label_excel_must_escape_reads_back_as_issued(tmp_path, label):
    """xlsxwriter writes CR and control characters as _xHHHH_ (and a literal _x000D_ as _x005F_x000D_)."""
    p = load_def(tmp_path, definition([("产出指标", "数量指标", label, "≥4次", 90)]))
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path / "issued", registry=reg)
    if "_x" not in label:  # openpyxl saves a literal _x000D_ unescaped: then every spreadsheet shows a CR
        [r] = read(fill_openpyxl(issued.file, tmp_path / "f.xlsx", {"F7": 100, "F11": "完成", "F13": 4,
                                                                     "I13": "四次培训均按计划完成"}), reg)
        assert r.problems == [] and r.indicators[0].name == label
    [r] = read(issued.file, reg)  # untouched: only the blanks are reported
    assert {p.code for p in r.problems} == {"blank_executed", "blank_actual", "blank_goal_actual"}


def test_collect_does_not_hash_a_huge_file_whole(form, tmp_path):
    """A 20 GB sparse file in a collected folder: refused as too large at once, its row recorded."""
    import xlform
    reg, clean = form
    inbox = tmp_path / "in"
    inbox.mkdir()
    with open(inbox / "huge.xlsx", "wb") as f:
        f.write(b"PK\x03\x04")
        f.truncate(20 * 2**30)
    (inbox / "good.xlsx").write_bytes(clean.read_bytes())
    start = time.perf_counter()
    outcome = xlform.collect([inbox], db=tmp_path / "c.db", registry=reg.path, jobs=1)
    assert time.perf_counter() - start < FAR_SECONDS  # about 0.3 s (hashing it whole took a minute)
    assert (outcome.read, outcome.rejected) == (2, 1)
    import sqlite3
    db = sqlite3.connect(tmp_path / "c.db")
    [(sha, status)] = db.execute("SELECT sha256, status FROM files WHERE path LIKE '%huge.xlsx'").fetchall()
    assert sha.startswith("large-") and status == "rejected"
    assert db.execute("SELECT code FROM problems JOIN submissions s ON s.id = submission_id "
                      "WHERE s.path LIKE '%huge.xlsx'").fetchall() == [("too_large",)]


# -- found by review: small files that cost a lot -------------------------------------------------------
def refusal(path, rows: str) -> tuple[str, float]:
    """A workbook whose one sheet holds these rows, read: (the code it is refused with, seconds taken)."""
    workbook(path, f'<worksheet xmlns="{MAIN}"><sheetData>{rows}</sheetData></worksheet>'.encode())
    start = time.perf_counter()
    with Package(path) as pkg, pytest.raises(BadWorkbook) as e:
        pkg.sheet(pkg.sheets[0])
    return e.value.code, time.perf_counter() - start


def test_a_long_reference_followed_by_cells_without_one_is_refused_at_once(tmp_path):
    """`r=` of 40,000 letters, then cells that take their reference from it: refused at the first cell."""
    long = "A" * 40_000
    rows = "".join(f'<row r="{r}"><c r="{long}"/>' + "<c/>" * 10 + "</row>" for r in range(1, 21))
    code, seconds = refusal(tmp_path / "long-ref.xlsx", rows)
    assert code == "bad_xml" and seconds < FAR_SECONDS  # a few ms (it took 160 s)


def test_a_wide_metadata_sheet_costs_no_memory(form, tmp_path):
    """A cell at column ZZZ in every row of the hidden sheet: only its three columns are ever laid out."""
    reg, clean = form
    wide = "".join(f'<row r="{r}"><c r="ZZZ{r}"><v>1</v></c></row>' for r in range(1000, 4000))
    path = tampered(clean, tmp_path / "wide.xlsx", sub(b"</sheetData>", wide.encode() + b"</sheetData>"),
                    part="xl/worksheets/sheet2.xml")
    seconds, rss, printed = measured(path, reg.path)
    assert seconds <= FAR_SECONDS and rss <= 2**29, (seconds, rss)  # about 0.3 s (it took 1.5 GB)
    assert "internal" not in printed and "not_xlform" not in printed, printed


@pytest.mark.parametrize("written, changed", [("4E+00", False), ("4.0", False), ("40E-1", False), ("5", True),
                                               ("4E+01", True)])
def test_a_number_in_a_formula_is_compared_by_its_value(form, tmp_path, written, changed):
    """LibreOffice saves 0.00007 as 7E-05: a number written another way is the same formula (a generated
    case failed on it); another value is still a changed formula."""
    reg, clean = form
    path = tampered(clean, tmp_path / "number.xlsx", sub(H13.encode(), H13.replace("&gt;=4,", f"&gt;={written},")
                                                         .encode()))
    assert problems(path, reg) == ([("formula_changed", "自评表!H13")] if changed else [])


def test_a_cell_map_nested_past_pythons_depth_is_a_damaged_map(form, tmp_path):
    """The hidden sheet's cell map as JSON nested 100,000 deep: json.loads raised RecursionError, which was
    no ValueError; now the map reads as damaged and is reported at its cell, like any other damage."""
    reg, clean = form
    deep = b"[" * 100_000 + b"]" * 100_000

    def nest(data: bytes) -> bytes:   # openpyxl saved the hidden sheet's strings inline
        return re.sub(rb'(<c r="B(\d+)" t="inlineStr"><is><t>cells</t></is></c><c r="C\2" t="inlineStr"><is><t>)'
                      rb'[^<]*', lambda m: m.group(1) + deep, data, count=1)
    path = tampered(clean, tmp_path / "deep.xlsx", nest, part="xl/worksheets/sheet2.xml")
    codes = {code for code, _ in problems(path, reg)}
    assert "cell_map_changed" in codes and "internal" not in codes, codes


def test_shared_formulas_cannot_multiply_past_a_bound(tmp_path):
    """A formula of 7,900 characters shared by 2,000 cells (16 MB once copied) is refused after 256 KB of copies;
    one longer than Excel allows is refused outright."""
    formula = "+".join(f"A{i}" for i in range(1, 1500))
    cells = [f'<c r="B1"><f t="shared" ref="B1:B2000" si="0">{formula}</f><v>0</v></c>'] + [
        f'<c r="B{r}"><f t="shared" si="0"/><v>0</v></c>' for r in range(2, 2001)]
    rows = "".join(f'<row r="{r}">{c}</row>' for r, c in enumerate(cells, start=1))
    code, seconds = refusal(tmp_path / "shared.xlsx", rows)
    assert code == "too_large" and seconds < FAR_SECONDS  # about 0.3 s
    code, _ = refusal(tmp_path / "huge-formula.xlsx", f'<row r="1"><c r="A1"><f>{"+".join(["1"] * 5000)}</f></c></row>')
    assert code == "bad_xml"
