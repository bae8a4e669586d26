"""Issue 22, reading: the reader's faster paths read exactly what the plain ones read, and refuse what they
refuse. A form's shared strings are built into a tree by C (a larger part goes through the handler), its styles
are parsed once per digest of their bytes, and a sheet is read by region (what follows sheetData and its
protection is left to expat alone). The figures themselves are the benchmark's (`python -m xlform.bench`)."""
import re
import subprocess
import sys
import zipfile

import pytest

from helpers import GOOD, fill_openpyxl, small_form
from make_corpus import MAIN, workbook, ws
from xlform.returns.reader import read
from xlform.xlsx.reader import WHOLE, BadWorkbook, Limits, Package

ROW = '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>'
STRINGS = (f'<sst xmlns="{MAIN}" count="3" uniqueCount="3">'
           '<si><t>完成_x000D_情况</t></si>'
           '<si><r><t>部分</t></r><r><rPr><b/></rPr><t xml:space="preserve"> 达成 </t></r>'
           '<rPh sb="0" eb="2"><t>ぶぶん</t></rPh></si>'
           '<si><t/></si></sst>')
READ = ["完成\r情况", "部分 达成 ", ""]   # as Excel shows them: no phonetic guide, _x000D_ a CR
# after the root: the part is past WHOLE (and compressed less than the limit on ratios), read by the handler
PAD = "<!--" + "".join(f"{i * 7919:x}" for i in range(WHOLE // 5)) + "-->"


def shared(tmp_path, name, part):
    path = workbook(tmp_path / name, ws(ROW), shared=part)
    with Package(path) as pkg:
        return pkg.shared_strings, {ref: c.value for ref, c in pkg.sheet(pkg.sheets[0]).cells.items()}


@pytest.mark.parametrize("padded", [False, True], ids=["whole-part", "past-whole"])
def test_shared_strings_read_alike_as_a_tree_and_through_the_handler(tmp_path, padded):
    strings, cells = shared(tmp_path, "s.xlsx", STRINGS + (PAD if padded else ""))
    assert strings == READ
    assert cells == {"A1": READ[0], "B1": READ[1], "C1": ""}


DTD = '<!DOCTYPE sst [<!ENTITY e "实际完成情况">]>'


@pytest.mark.parametrize("padded", [False, True], ids=["whole-part", "past-whole"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_dtd_in_the_shared_strings_is_refused_either_way(tmp_path, padded, encoding):
    text = (f'<?xml version="1.0" encoding="{encoding.upper()}"?><!--{" " * 5000}-->{DTD}'
            + STRINGS.replace("<t/>", "<t>&e;</t>") + (PAD if padded else ""))
    with pytest.raises(BadWorkbook) as e:
        shared(tmp_path, "dtd.xlsx", text.encode(encoding))
    assert e.value.code == "hostile"


@pytest.mark.parametrize("part", ["<sst", f'<sst xmlns="{MAIN}"><si><t>a</t></si>'])
def test_a_broken_shared_strings_part_is_bad_xml(tmp_path, part):
    with pytest.raises(BadWorkbook) as e:
        shared(tmp_path, "broken.xlsx", part)
    assert e.value.code == "bad_xml"


def test_the_count_of_shared_strings_is_limited_in_the_tree_too(tmp_path):
    path = workbook(tmp_path / "many.xlsx", ws(ROW), shared=STRINGS)
    with Package(path, Limits(max_strings=2)) as pkg, pytest.raises(BadWorkbook) as e:
        pkg.shared_strings
    assert e.value.code == "too_large"


@pytest.fixture(scope="module")
def form(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("speed")
    _, issued, reg = small_form(tmp)
    return reg, fill_openpyxl(issued, tmp / "clean.xlsx", GOOD), issued


def tampered(src, dst, part, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == part:
                new = change(data)
                assert new != data
                data = new
            zout.writestr(item, data)
    return dst


def codes(path, reg):
    [r] = read(path, reg)
    return sorted(p.code for p in r.problems)


def test_styles_known_by_their_digest_never_stand_for_other_styles(form, tmp_path):
    """The clean return's styles are parsed and kept first; a return whose styles hide every value (";;;")
    differs by a byte, so it is parsed itself and its formats reported."""
    reg, clean, _ = form
    assert codes(clean, reg) == []

    def hide(data: bytes) -> bytes:
        data = re.sub(rb'(<cellXfs[^>]*>.*?</cellXfs>)',
                      lambda m: re.sub(rb'numFmtId="\d+"', b'numFmtId="200"', m.group(1)), data, flags=re.S)
        return data.replace(b"</numFmts>", b'<numFmt numFmtId="200" formatCode=";;;"/></numFmts>', 1)
    hidden = tampered(clean, tmp_path / "hidden.xlsx", "xl/styles.xml", hide)
    assert "number_format" in codes(hidden, reg)
    assert codes(clean, reg) == []   # and the clean styles are still known as they are


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_dtd_in_styles_is_refused_though_styles_like_them_were_read(form, tmp_path, encoding):
    reg, clean, _ = form
    assert codes(clean, reg) == []

    def dtd(data: bytes) -> bytes:
        text = re.sub(r"^<\?xml[^>]*\?>", "", data.decode("utf-8"))
        return (f'<?xml version="1.0" encoding="{encoding.upper()}"?><!DOCTYPE styleSheet [<!ENTITY e "0">]>'
                + text).encode(encoding)
    assert codes(tampered(clean, tmp_path / "dtd.xlsx", "xl/styles.xml", dtd), reg) == ["hostile"]


SHEET = "xl/worksheets/sheet1.xml"
PROTECTION = re.compile(rb"<sheetProtection[^>]*/>")


def test_the_protection_is_read_where_the_schema_puts_it(form, tmp_path):
    """Right after sheetData (a sheetCalcPr may come first); moved to the end of the sheet, where the schema
    does not allow it, the sheet reads as unprotected."""
    reg, clean, _ = form

    def calc_first(data):
        return data.replace(b"</sheetData>", b'</sheetData><sheetCalcPr fullCalcOnLoad="1"/>', 1)
    assert codes(tampered(clean, tmp_path / "calc.xlsx", SHEET, calc_first), reg) == []

    def moved(data):
        protection = PROTECTION.search(data).group(0)
        return PROTECTION.sub(b"", data, 1).replace(b"</worksheet>", protection + b"</worksheet>")
    assert codes(tampered(clean, tmp_path / "moved.xlsx", SHEET, moved), reg) == ["protection_removed"]


def test_what_follows_sheetdata_is_no_cell_but_is_well_formed(form, tmp_path):
    reg, clean, _ = form
    ext = (b'<extLst><ext uri="{x}"><c r="C3" t="inlineStr"><is><t>\xe6\x94\xb9</t></is></c></ext></extLst>'
           b"</worksheet>")
    assert codes(tampered(clean, tmp_path / "ext.xlsx", SHEET, lambda d: d.replace(b"</worksheet>", ext)), reg) == []
    broken = tampered(clean, tmp_path / "broken.xlsx", SHEET, lambda d: d.replace(b"</worksheet>", b"<x></worksheet>"))
    assert codes(broken, reg) == ["bad_xml"]


def test_the_benchmark_reads_against_calamine_and_one_template_per_return(tmp_path):
    r = subprocess.run([sys.executable, "-m", "xlform.bench", "--only", "read", "--quick", "--keep",
                        str(tmp_path / "work")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    for measure in ("calibration (a fixed CPU-bound loop)", "read 40 indicators vs calamine",
                    "read 8 returns of 8 templates vs of 1"):
        assert measure in r.stdout, measure
    assert "desk" not in r.stdout and "collect" not in r.stdout   # --only read runs the read part alone
