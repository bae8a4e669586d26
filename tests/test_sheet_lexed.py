"""Issue 22, reading: a sheet's cells, as Excel, LibreOffice and xlform's writer write them, are lexed by one
regular expression (xlsx/reader.py, _sheet_lexed) once expat has found the sheetData well-formed; what the
lexemes cannot stand for goes to the tree (_sheet_tree) and the handler. Whichever path reads it, a sheet reads
as the handler alone reads it: cells, formats, hidden rows and columns, protection."""
import pytest

from helpers import GOOD, fill_openpyxl, small_form
from make_corpus import sst, workbook, ws
from xlform.xlsx import reader
from xlform.xlsx.reader import BadWorkbook, Limits, Package, Sheet, _SheetHandler

STRINGS = sst("<t>项目名称</t>", "<t>实施单位</t>")
PROTECTED = '<sheetProtection sheet="1"/>'
# as Excel and LibreOffice write them: styles, explicit types, a formula with and without aca=, a hidden row,
# a formula's empty text result
PLAIN = ('<row r="1" spans="1:3" x14ac:dyDescent="0.25"><c r="A1" s="1" t="s"><v>0</v></c><c r="B1" s="2"/>'
         '<c r="C1" s="3" t="n"><f aca="false">IF(B1&gt;0,B1&amp;"&lt;",1)</f><v>1</v></c></row>'
         '<row r="2" customFormat="false" ht="12.8" hidden="true" customHeight="false"><c r="A2" t="s"><v>1</v>'
         '</c><c r="B2" t="str"><f>A2&amp;"x"</f><v>实施单位x</v></c><c r="C2" t="b"><v>1</v></c>'
         '<c r="D2" t="e"><v>#N/A</v></c><c r="E2"><v> </v></c><c r="F2"><v>1E-3</v></c>'
         '<c r="G2" s="1"><f>IF(A1="","",1)</f><v></v></c><c r="H2"><v/></c>'
         '<c r="I2"><f>"&#65;&#x4E2D;"&gt;"a"</f><v>1</v></c></row>'
         '<row r="3" hidden="0"/><row r="4"></row>')
DY = ' xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"'
SHOWN = {"A1": ("项目名称", None), "C1": (1.0, 'IF(B1>0,B1&"<",1)'), "A2": ("实施单位", None),
         "B2": ("实施单位x", 'A2&"x"'), "C2": (True, None), "D2": ("#N/A", None), "E2": (None, None),
         "F2": (0.001, None), "G2": (None, 'IF(A1="","",1)'), "H2": (None, None), "I2": (1.0, '"A中">"a"')}


def sheet_xml(rows: str, tail: str = PROTECTED) -> str:
    return ws(rows, tail=tail).replace("<worksheet ", f"<worksheet{DY} ", 1)


@pytest.fixture
def lexed(monkeypatch):
    """What _sheet_lexed answered, call by call (True: it read the sheet)."""
    seen, real = [], reader._sheet_lexed
    monkeypatch.setattr(reader, "_sheet_lexed", lambda *a: seen.append(real(*a)) or seen[-1])
    return seen


def read_ways(path, index=0, limits=Limits()):
    """The sheet read as the reader reads it, and by the handler alone."""
    with Package(path, limits) as pkg:
        fast = pkg.sheet(pkg.sheets[index])
    with Package(path, limits) as pkg:
        plain = Sheet(pkg.sheets[index].name)
        pkg._parse(pkg.sheets[index].part, _SheetHandler(pkg, plain, None))
    return fast, plain


def same(a: Sheet, b: Sheet):
    assert (a.cells, a.protected, a.hidden_rows, a.hidden_cols, a.cell_formats) == \
        (b.cells, b.protected, b.hidden_rows, b.hidden_cols, b.cell_formats)


def test_cells_as_excel_and_libreoffice_write_them_are_lexed(tmp_path, lexed):
    fast, plain = read_ways(workbook(tmp_path / "plain.xlsx", sheet_xml(PLAIN), shared=STRINGS))
    assert lexed == [True]
    shown = {ref: (str(c.value) if isinstance(c.value, reader.Error) else c.value, c.formula)
             for ref, c in fast.cells.items()}
    assert shown == SHOWN
    assert fast.hidden_rows == {2} and fast.protected
    same(fast, plain)


HANDED = {
    "predeclared prefix": '<row r="1" xml:space="preserve"><c r="A1"><v>1</v></c></row>',
    "character reference": '<row r="1"><c r="A1" t="str"><f>"&#65;&#x4E2D;&amp;"</f><v>A中&amp;</v></c></row>',
    # an attribute in single quotes may hold a double quote and ">": expat, not the lexemes, says where it ends
    "quoted attribute": '<row r="1" x=\'" hidden="1">\'><c r="B1"><v>1</v></c></row>',
    "reference in a value": '<row r="1"><c r="A1"><v>&#49;2</v></c></row>',
    "carriage return": '<row r="1"><c r="A1" t="str"><f>"a\r\nb"</f><v>a\r\nb</v></c></row>',
    "namespace on a row": '<row r="1" xmlns="urn:other"><c r="A1"><v>1</v></c></row>',
    "cell outside a row": '<c r="A1"><v>1</v></c><row r="2"><c r="A2"><v>2</v></c></row>',
    "row in a row": '<row r="1"><row r="2"><c r="A2"><v>2</v></c></row></row>',
    "shared formula": '<row r="1"><c r="A1"><f t="shared" ref="A1:A2" si="0">B1</f><v>0</v></c></row>'
                      '<row r="2"><c r="A2"><f t="shared" si="0"/><v>0</v></c></row>',
    "inline string": '<row r="1"><c r="A1" t="inlineStr"><is><t>内联</t></is></c></row>',
    "no reference": '<row r="1"><c><v>1</v></c><c><v>2</v></c></row>',
    "comment": '<row r="1"><!-- <c r="A1"><v>9</v></c> --><c r="B1"><v>1</v></c></row>',
    "hidden by a reference": '<row r="1" hidden="&#49;"><c r="A1"><v>1</v></c></row>',
    "empty formula": '<row r="1"><c r="A1"><f></f><v>1</v></c></row>',
    "pretty": '\n  <row r="1">\n    <c r="A1"><v>1</v></c>\n  </row>\n',
}


@pytest.mark.parametrize("name", HANDED)
def test_what_the_lexemes_cannot_stand_for_is_read_by_the_tree_or_the_handler(tmp_path, lexed, name):
    fast, plain = read_ways(workbook(tmp_path / "handed.xlsx", sheet_xml(HANDED[name]), shared=STRINGS))
    assert lexed in ([False], [])   # ([]: the outline or the tree refused first)
    same(fast, plain)
    if name == "quoted attribute":
        assert set(fast.cells) == {"B1"} and not fast.hidden_rows
    if name == "hidden by a reference":
        assert fast.hidden_rows == {1}


@pytest.mark.parametrize("broken", [
    '<row r="1"><c r="A1"><v>1</v></c>',                          # a row never ended
    '<row r="1"><c r="A1"><f>A2&amp</f><v>1</v></c></row>',      # a reference not ended
    '<row r="1"><c r="A1"><f>&bogus;</f><v>1</v></c></row>',     # an entity never declared
    '<row r="1"><c r="A1"><f>&#0;</f><v>1</v></c></row>',        # no character of XML
    '<row r="1"><c r="A1" t="str"><v>a\x01b</v></c></row>',      # a control character
    '<row r="1" a="1" a="2"><c r="A1"><v>1</v></c></row>',       # an attribute twice
    '<row r="1" zz:a="1"><c r="A1"><v>1</v></c></row>',          # a prefix never declared
    '<row r="1"><c r="A1" t="str"><v>a]]>b</v></c></row>',        # "]]>" in a text
    '<row r="1"><c r="A1"><v>1</v></c></row></row>',              # an end tag of no row
    '<row r="1"><c r="A1"><f>&#xD800;</f><v>1</v></c></row>',    # a surrogate by reference
    '<row r="1"><c r="A1"><f>&#x110000;</f><v>1</v></c></row>',  # past Unicode
    '<row r="1"><c r="A1" t="str"><v>a\ufffeb</v></c></row>',    # no character of XML, as it is
    '<row r="1" a:b:c="1"><c r="A1"><v>1</v></c></row>',         # two colons
    '<row r="1" x14ac:="1"><c r="A1"><v>1</v></c></row>',        # a prefix and no name
    '<row r="1"><c r="A1"><v>x</v></c></row>',                    # no number
    '<row r="1"><c r="A1"><v>nan</v></c></row>',                  # nor what float() reads besides
    '<row r="1"><c r="A1" t="n"><v>1e999</v></c></row>',
    '<row r="1"><c r="A1" t="s"><v>7</v></c></row>',              # no such shared string
    '<row r="1"><c r="A1" t="s"><v>-1</v></c></row>',             # nor this one (not the last string)
])
def test_what_is_no_sheet_is_refused_before_or_by_the_lexemes(tmp_path, broken):
    path = workbook(tmp_path / "broken.xlsx", sheet_xml(broken), shared=STRINGS)
    for read in (lambda pkg: pkg.sheet(pkg.sheets[0]),
                 lambda pkg: pkg._parse(pkg.sheets[0].part, _SheetHandler(pkg, Sheet(""), None))):
        with Package(path) as pkg, pytest.raises(BadWorkbook) as e:
            read(pkg)
        assert e.value.code == "bad_xml"


def test_bad_bytes_in_a_lexed_sheet_are_refused(tmp_path):
    part = sheet_xml('<row r="1"><c r="A1" t="str"><v>XX</v></c></row>').encode().replace(b"XX", b"\xff\xfe")
    with Package(workbook(tmp_path / "bytes.xlsx", part, shared=STRINGS)) as pkg, pytest.raises(BadWorkbook) as e:
        pkg.sheet(pkg.sheets[0])
    assert e.value.code == "bad_xml"


def test_lexed_cells_count_against_the_limit_as_the_handler_counts_them(tmp_path, lexed):
    rows = "".join(f'<row r="{r}">' + "".join(f'<c r="{c}{r}" s="1"/>' for c in "ABCDE") + "</row>"
                   for r in range(1, 21))   # 100 cells, every one empty (formatted): counted all the same
    path = workbook(tmp_path / "many.xlsx", sheet_xml(rows), shared=STRINGS)
    fast, plain = read_ways(path, limits=Limits(max_cells=100))
    same(fast, plain)
    for read in (lambda pkg: pkg.sheet(pkg.sheets[0]),
                 lambda pkg: pkg._parse(pkg.sheets[0].part, _SheetHandler(pkg, Sheet(""), None))):
        with Package(path, Limits(max_cells=99)) as pkg, pytest.raises(BadWorkbook) as e:
            read(pkg)
        assert e.value.code == "too_large"
    assert lexed and all(lexed)


def test_only_the_cells_asked_for_are_kept(tmp_path, lexed):
    path = workbook(tmp_path / "want.xlsx", sheet_xml(PLAIN), shared=STRINGS)
    with Package(path) as pkg:
        sheet = pkg.sheet(pkg.sheets[0], want={"A2", "C1", "Z9"})
    assert lexed == [True]
    assert sheet.cells == {"A2": ("实施单位", None), "C1": (1.0, 'IF(B1>0,B1&"<",1)')}


def test_returns_written_by_xlform_openpyxl_and_libreoffice_read_the_same_every_way(tmp_path, lo, lexed):
    """Real files, with styles and number formats: the form as xlform's writer issues it, filled by openpyxl
    (no cached values, empty <v/>) and by LibreOffice (aca=, explicit types, every row's attributes)."""
    _, issued, registry = small_form(tmp_path)
    registry.close()
    by_openpyxl = fill_openpyxl(issued, tmp_path / "openpyxl.xlsx", GOOD)
    by_libreoffice = tmp_path / "libreoffice.xlsx"
    lo.fill(issued, by_libreoffice, GOOD)
    for path in (issued, by_openpyxl, by_libreoffice):
        with Package(path) as pkg:
            count = len(pkg.sheets)
        for index in range(count):
            lexed.clear()
            fast, plain = read_ways(path, index)
            same(fast, plain)
            assert fast.cells and (fast.cell_formats or index)
            if path != by_openpyxl:
                assert lexed == [True], (path.name, index)


# -- shared strings: plain texts lexed (_strings_lexed), the rest through the tree --------------------------
STRING_CASES = {
    "plain": (['<t>项目名称</t>', '<t xml:space="preserve"> 达成 </t>', "<t/>", "<t></t>",
               "<t>A&amp;B &lt;x&gt; &#38;&#x4E2D;</t>", "<t>第一行_x000D_第二行 _x005F_x000D_</t>"], True),
    "rich text": (['<t>项目</t>', '<r><t>部分</t></r><r><t xml:space="preserve"> 达成</t></r>'], False),
    "phonetic": (['<t>项目</t><rPh sb="0" eb="1"><t>こう</t></rPh>'], False),
    "carriage return": (["<t>a\r\nb</t>"], False),
    "comment": (["<t>a</t><!-- x -->"], False),
}


def strings_ways(path):
    with Package(path) as pkg:
        fast = pkg.shared_strings
    with Package(path) as pkg:
        plain = []
        pkg._parse("xl/sharedStrings.xml", reader._SharedStrings(plain, pkg.limits))
    return fast, plain


@pytest.fixture
def strings_lexed(monkeypatch):
    seen, real = [], reader._strings_lexed
    monkeypatch.setattr(reader, "_strings_lexed", lambda *a: seen.append(real(*a) is not None) or real(*a))
    return seen


@pytest.mark.parametrize("name", STRING_CASES)
def test_shared_strings_read_the_same_lexed_or_through_the_tree(tmp_path, strings_lexed, name):
    items, lexed = STRING_CASES[name]
    path = workbook(tmp_path / "s.xlsx", sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'),
                    shared=sst(*items))
    fast, plain = strings_ways(path)
    assert fast == plain and strings_lexed == [lexed]
    if name == "plain":
        assert fast == ["项目名称", " 达成 ", "", "", "A&B <x> &中", "第一行\r第二行 _x000D_"]


@pytest.mark.parametrize("part", [
    sst("<t>a</t>").replace("<sst ", "<x:sst xmlns:x=\"%s\" " % reader._MAIN_NS[0]).replace("</sst>", "</x:sst>")
    .replace("<si>", "<x:si>").replace("</si>", "</x:si>").replace("<t>", "<x:t>").replace("</t>", "</x:t>"),
    sst("<t>a</t>") + "<!-- </sst> -->",
    sst("<t>a</t>").replace("<si>", '<si xmlns="urn:other">', 1),
    sst("<t>a</t>", ns=reader._MAIN_NS[1]),
])
def test_strings_the_lexemes_do_not_take_alone_read_as_the_handler_reads_them(tmp_path, part):
    path = workbook(tmp_path / "s.xlsx", sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), shared=part)
    fast, plain = strings_ways(path)
    assert fast == plain


@pytest.mark.parametrize("items, limits", [
    (["<t>a</t>"] * 11, Limits(max_strings=10)),
    (["<t>" + "长" * 101 + "</t>"], Limits(max_text=100)),
])
def test_lexed_strings_keep_the_limits(tmp_path, items, limits):
    path = workbook(tmp_path / "s.xlsx", sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'),
                    shared=sst(*items))
    with Package(path, limits) as pkg, pytest.raises(BadWorkbook) as e:
        pkg.shared_strings
    assert e.value.code == "too_large"


@pytest.mark.parametrize("bad", ["<t>&bogus;</t>", "<t>a\x01</t>", "<t>a</si>"])
def test_strings_that_are_no_xml_are_refused(tmp_path, bad):
    path = workbook(tmp_path / "s.xlsx", sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'),
                    shared=sst(bad))
    with Package(path) as pkg, pytest.raises(BadWorkbook) as e:
        pkg.shared_strings
    assert e.value.code == "bad_xml"


def test_a_dtd_in_the_shared_strings_is_refused(tmp_path):
    part = sst("<t>&e;</t>").replace("<sst ", '<!DOCTYPE sst [<!ENTITY e "项目">]><sst ', 1)
    path = workbook(tmp_path / "s.xlsx", sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), shared=part)
    with Package(path) as pkg, pytest.raises(BadWorkbook) as e:
        pkg.shared_strings
    assert e.value.code == "hostile"
