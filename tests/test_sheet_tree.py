"""Issue 22, reading: a sheet given whole has its sheetData built into a tree by C (xlsx/reader.py, _sheet_tree)
and read from it; what the tree cannot stand for is read by the handler. Either way a sheet reads the same:
each case below is read as a spreadsheet shows it, and as the handler alone reads it."""
import gc
import zipfile

import pytest

from make_corpus import sst, workbook, ws
from xlform.xlsx import reader
from xlform.xlsx.reader import BadWorkbook, Package, Sheet, _SheetHandler

STRINGS = sst("<t>项目名称</t>",
              '<r><t>部分</t></r><r><t xml:space="preserve"> 达成</t></r><rPh><t>ぶ</t></rPh>')
ROWS = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" s="0"/><c r="C1"><f>1+1</f><v>2</v></c></row>'
        '<row r="3" hidden="1"><c r="A3" t="s"><v>1</v></c><c t="inlineStr"><is><r><t>内</t></r><r><t>联</t></r>'
        '<rPh><t>x</t></rPh></is></c><c r="D3" t="str"><f t="shared" ref="D3:D4" si="0">A1&amp;"&lt;"</f>'
        '<v>项目名称&lt;</v></c></row>'
        '<row><c r="D4" t="str"><f t="shared" si="0"/><v/></c><c r="E4" t="b"><v>1</v></c><c r="F4" t="e">'
        '<v>#N/A</v></c><c r="G4"><v> </v></c></row>')
SHOWN = {"A1": ("项目名称", None), "C1": (2.0, "1+1"), "A3": ("部分 达成", None), "B3": ("内联", None),
         "D3": ("项目名称<", 'A1&"<"'), "D4": (None, 'A2&"<"'), "E4": (True, None), "F4": ("#N/A", None),
         "G4": (None, None)}
PROTECTED = '<sheetProtection sheet="1"/>'
FOOTER = '<headerFooter><oddHeader>&amp;C项目名称：甲</oddHeader><oddFooter>&amp;L模板 a 第 1 版</oddFooter></headerFooter>'

CASES = {
    "plain": ws(ROWS, tail=PROTECTED),
    "prefixed": ws(ROWS.replace("<", "<x:").replace("<x:/", "</x:"), prefix="x",
                   tail=PROTECTED.replace("<", "<x:")),
    "pretty": ws(ROWS.replace("<row", "\n  <row").replace("<c", "\n    <c"), tail="\n" + PROTECTED),
    # the first </sheetData> is in a comment: the region found in the bytes is no element
    "end in a comment": ws(ROWS + "<!-- </sheetData> -->", tail=PROTECTED),
    "end in CDATA": ws(ROWS.replace("<v>2</v>", "<v><![CDATA[2]]></v>") + '<row r="9"><c r="A9" t="str">'
                       "<v><![CDATA[</sheetData>]]></v></c></row>", tail=PROTECTED),
    "start in a comment": ws(ROWS, head="<!-- <sheetData> -->", tail=PROTECTED),
    "declared on a sibling": ws(ROWS, head='<sheetPr xmlns:y="urn:y"/>', tail=PROTECTED),
    "unexpected element": ws(ROWS.replace("</row>", "<extLst/></row>", 1), tail=PROTECTED),
    "utf-16": ws(ROWS, tail=PROTECTED).replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"),
    "protection elsewhere": ws(ROWS, tail='<sheetViews/>' + PROTECTED),
    # the header and footer are cut out of the outline (forms laid out alike share the rest) and parsed alone
    "header and footer": ws(ROWS, tail=PROTECTED + FOOTER),
    "header and footer prefixed": ws(ROWS.replace("<", "<x:").replace("<x:/", "</x:"), prefix="x",
                                     tail=(PROTECTED + FOOTER).replace("<", "<x:").replace("<x:/", "</x:")),
    "header and footer in a comment": ws(ROWS, tail=PROTECTED + f"<!-- {FOOTER} -->"),
    "header and footer empty": ws(ROWS, tail=PROTECTED + "<headerFooter/>"),
}


def read_both(tmp_path, name, part):
    path = workbook(tmp_path / f"{name}.xlsx", part, shared=STRINGS)
    with Package(path) as pkg:
        fast = pkg.sheet(pkg.sheets[0])
    with Package(path) as pkg:
        plain = Sheet(pkg.sheets[0].name)
        pkg._parse(pkg.sheets[0].part, _SheetHandler(pkg, plain, None))
    return fast, plain


@pytest.mark.parametrize("name", CASES)
def test_a_sheet_reads_the_same_from_the_tree_and_through_the_handler(tmp_path, name):
    fast, plain = read_both(tmp_path, name, CASES[name])
    shown = {ref: (str(c.value) if isinstance(c.value, reader.Error) else c.value, c.formula)
             for ref, c in fast.cells.items()}
    expected = dict(SHOWN)
    if name == "end in CDATA":
        expected["A9"] = ("</sheetData>", None)
    assert shown == expected
    assert fast.protected == (name != "protection elsewhere")
    assert fast.hidden_rows == {3}
    assert (fast.cells, fast.protected, fast.hidden_rows, fast.hidden_cols, fast.cell_formats) == \
        (plain.cells, plain.protected, plain.hidden_rows, plain.hidden_cols, plain.cell_formats)


def test_the_tree_is_used_for_a_plain_sheet(tmp_path, monkeypatch):
    """(The cases above would pass were every sheet read by the handler: here the handler may not run.)"""
    path = workbook(tmp_path / "plain.xlsx", CASES["plain"], shared=STRINGS)
    monkeypatch.setattr(_SheetHandler, "_in_sheet_data", lambda self: pytest.fail("read by the handler"))
    with Package(path) as pkg:
        assert pkg.sheet(pkg.sheets[0]).cells["A1"].value == "项目名称"


@pytest.mark.parametrize("broken, code", [
    (ROWS.replace("</c></row>", "</row>", 1), "bad_xml"),         # in sheetData
    (ROWS + "</row>", "bad_xml"),                                   # one end tag too many
    ('<row r="1"><c r="A0"><v>1</v></c></row>', "bad_xml"),        # no such cell
    ('<row r="1"><c r="A1"><v>x</v></c></row>', "bad_xml"),         # no number
    ('<row r="1"><c r="A1"><v>-inf</v></c></row>', "bad_xml"),      # nor what float() reads besides
    ('<row r="1"><c r="A1"><v>1_0</v></c></row>', "bad_xml"),
    ('<row r="1"><c r="A1" t="s"><v>7</v></c></row>', "bad_xml"),   # no such shared string
    ('<row r="1"><c r="A1" t="s"><v>-1</v></c></row>', "bad_xml"),  # nor this one (not the last string)
])
def test_what_the_handler_refuses_the_tree_refuses(tmp_path, broken, code):
    path = workbook(tmp_path / "broken.xlsx", ws(broken, tail=PROTECTED), shared=STRINGS)
    with Package(path) as pkg, pytest.raises(BadWorkbook) as e:
        pkg.sheet(pkg.sheets[0])
    assert e.value.code == code


@pytest.mark.parametrize("tail", [
    PROTECTED + "<headerFooter><oddHeader>x</headerFooter>",                        # not closed inside
    PROTECTED + "<!-- <headerFooter> --><pageMargins/><!-- x --></headerFooter> -->",  # an end tag left alone
    '<pageSetup r:id="<headerFooter></headerFooter>"/>' + PROTECTED,                 # in an attribute's value
    PROTECTED + "<headerFooter></headerFooter></headerFooter>",                      # one end tag too many
])
def test_a_header_and_footer_cut_out_of_the_outline_are_still_checked(tmp_path, tail):
    """Cut out, the header and footer must have been well-formed content where they stood: a part that is no
    XML as a whole is refused, as the handler refuses it."""
    path = workbook(tmp_path / "footer.xlsx", ws(ROWS, tail=tail), shared=STRINGS)
    with Package(path) as pkg, pytest.raises(BadWorkbook) as e:
        pkg.sheet(pkg.sheets[0])
    assert e.value.code == "bad_xml"


def test_sheets_that_differ_only_in_their_header_and_footer_are_outlined_once(tmp_path, monkeypatch):
    """(A province's forms print each its project's name in the header: the rest of the outline, its
    validations and formats, is the same for forms of one shape.)"""
    outlined = []
    real = reader._outline
    monkeypatch.setattr(reader, "_outline", lambda *a: outlined.append(1) or real(*a))
    monkeypatch.setattr(reader, "_KNOWN_OUTLINES", {})

    def read(name, footer, tail=PROTECTED):
        with Package(workbook(tmp_path / f"{name}.xlsx", ws(ROWS, tail=tail + footer), shared=STRINGS)) as pkg:
            return pkg.sheet(pkg.sheets[0])
    assert read("a", FOOTER).protected and len(outlined) == 1
    assert read("b", FOOTER.replace("甲", "乙")).protected and len(outlined) == 1
    assert not read("c", FOOTER, tail="").protected and len(outlined) == 2   # the rest differs: parsed itself


def test_a_dtd_before_sheetdata_is_refused(tmp_path):
    part = ws(ROWS).replace("<worksheet", '<!DOCTYPE worksheet [<!ENTITY e "项目">]><worksheet', 1)
    path = workbook(tmp_path / "dtd.xlsx", part.replace("<v>2</v>", "<v>&e;</v>"), shared=STRINGS)
    with Package(path) as pkg, pytest.raises(BadWorkbook) as e:
        pkg.sheet(pkg.sheets[0])
    assert e.value.code == "hostile"


def test_an_outline_known_by_its_digest_never_stands_for_another_sheet(tmp_path):
    """What surrounds sheetData is parsed once per digest of its bytes (returns of a template share it): a
    sheet that differs there by a byte (protection removed, a column hidden, a DTD) is parsed itself."""
    def read(name, part):
        with Package(workbook(tmp_path / f"{name}.xlsx", part, shared=STRINGS)) as pkg:
            return pkg.sheet(pkg.sheets[0])
    head = '<cols><col min="2" max="2" width="9"/></cols>'
    clean = read("clean", ws(ROWS, head=head, tail=PROTECTED))
    assert clean.protected and not clean.hidden_cols
    assert not read("open", ws(ROWS, head=head)).protected
    hidden = ws(ROWS, head=head.replace('width="9"', 'width="9" hidden="1"'), tail=PROTECTED)
    assert read("hidden", hidden).hidden_cols == {2}
    with pytest.raises(BadWorkbook) as e:
        read("dtd", ws(ROWS, head=head, tail=PROTECTED).replace("<worksheet", "<!DOCTYPE worksheet><worksheet", 1))
    assert e.value.code == "hostile"
    again = read("again", ws(ROWS.replace("<v>2</v>", "<v>3</v>"), head=head, tail=PROTECTED))
    assert again.protected and not again.hidden_cols and again.cells["C1"].value == 3.0


def test_package_parts_known_by_their_digest_never_stand_for_other_parts(tmp_path):
    """The workbook and relationship parts are parsed once per digest of their bytes too: one that differs by a
    byte (a sheet renamed or hidden, a relationship to another part) is parsed itself."""
    sheet = ws(ROWS, tail=PROTECTED)

    def sheets(name, **kw):
        with Package(workbook(tmp_path / f"{name}.xlsx", sheet, sheet, shared=STRINGS, **kw)) as pkg:
            return [(s.name, s.state, s.part) for s in pkg.sheets]
    assert sheets("plain") == [("S1", "visible", "xl/worksheets/sheet1.xml"),
                               ("S2", "visible", "xl/worksheets/sheet2.xml")]
    assert sheets("renamed", names=["自评表", "S2"])[0][0] == "自评表"
    assert sheets("hidden", states=["visible", "veryHidden"])[1][1] == "veryHidden"
    path = workbook(tmp_path / "moved.xlsx", sheet, sheet, shared=STRINGS)

    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(b"sheet2.xml", b"sheet1.xml")
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    with Package(path) as pkg:
        assert [s.part for s in pkg.sheets] == ["xl/worksheets/sheet1.xml"] * 2
    assert sheets("plain again")[1][2] == "xl/worksheets/sheet2.xml"


def test_the_cyclic_gc_is_paused_only_while_a_sheet_is_read(tmp_path, monkeypatch):
    good = workbook(tmp_path / "good.xlsx", ws(ROWS, tail=PROTECTED), shared=STRINGS)
    bad = workbook(tmp_path / "bad.xlsx", ws('<row r="1"><c r="A1"><v>x</v></c></row>'), shared=STRINGS)
    seen, real = [], reader._sheet_tree
    monkeypatch.setattr(reader, "_sheet_tree", lambda *a: seen.append(gc.isenabled()) or real(*a))
    for path in (good, bad):
        with Package(path) as pkg:
            try:
                pkg.sheet(pkg.sheets[0])
            except BadWorkbook:
                pass
        assert gc.isenabled()
    gc.disable()   # a caller's pause is its own
    try:
        with Package(good) as pkg:
            pkg.sheet(pkg.sheets[0])
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert seen == [False, False, False]


@pytest.mark.parametrize("uri", ['urn:a"b', "urn:a'b", 'urn:"\'&<>', "urn:a\tb\nc\rd", "urn:已&amp;"])
def test_a_namespace_the_outline_declares_again_is_the_same_namespace(uri):
    """The outline declares the root's namespaces again on the tree's root (as an attribute's value, escaped):
    read back, each is the very URI, whatever characters it holds."""
    from xml.etree import ElementTree
    declared = ElementTree.fromstring(f"<x xmlns:p={reader._attribute(uri)}><p:y/></x>")
    assert declared[0].tag == "{%s}y" % uri
