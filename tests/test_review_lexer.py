"""Review of the reader's fast paths (issue 22): a sheetData lexed without expat (reader._sheet_lexed), shared
strings lexed (reader._strings_lexed) and the hidden sheet's cell map compared as text (metadata.same_cells).
Whatever path reads a part, it reads what the expat handler alone reads, and refuses what it refuses with the
same code. Each case below was read differently by a fast path before its fix; the properties generate sheets
and string tables as the writers write them, with one odd lexeme here and there, and compare both ways."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from make_corpus import MAIN, sst, workbook, ws
from xlform.xlsx import reader
from xlform.xlsx.metadata import cells_text, same_cells
from xlform.xlsx.reader import BadWorkbook, Limits, Package, Sheet, _SheetHandler

X14AC = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"
ROOT = f' xmlns:x14ac="{X14AC}"'
STRINGS = sst("<t>项目名称</t>", "<t>实施单位</t>")
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def sheet_xml(rows: str, root: str = ROOT) -> str:
    return ws(rows, tail='<sheetProtection sheet="1"/>').replace("<worksheet ", f"<worksheet{root} ", 1)


def outcome(read):
    """What a read gives: the sheet (NaN written "NaN": it is no NaN's equal) or the code it is refused with."""
    try:
        s = read()
    except BadWorkbook as e:
        return e.code
    if isinstance(s, list):
        return s
    cells = {ref: ("NaN" if c.value != c.value else c.value, c.formula) for ref, c in s.cells.items()}
    return cells, s.protected, s.hidden_rows, s.hidden_cols, s.cell_formats


def sheet_ways(path, want=None, limits=Limits()):
    """The first sheet as the reader reads it, and as the handler alone reads it."""
    def fast():
        with Package(path, limits) as pkg:
            return pkg.sheet(pkg.sheets[0], want)

    def plain():
        with Package(path, limits) as pkg:
            sheet = Sheet(pkg.sheets[0].name)
            pkg._parse(pkg.sheets[0].part, _SheetHandler(pkg, sheet, want))
            return sheet
    return outcome(fast), outcome(plain)


def strings_ways(path, limits=Limits()):
    def fast():
        with Package(path, limits) as pkg:
            return pkg.shared_strings

    def plain():
        with Package(path, limits) as pkg:
            out = []
            pkg._parse("xl/sharedStrings.xml", reader._SharedStrings(out, pkg.limits))
            return out
    return outcome(fast), outcome(plain)


@pytest.fixture
def lexed(monkeypatch):
    seen, real = [], reader._sheet_lexed
    monkeypatch.setattr(reader, "_sheet_lexed", lambda *a: seen.append(real(*a)) or seen[-1])
    return seen


ZEROS = "&#" + "0" * 5000 + "65;"   # "A": expat reads any number of leading zeros (int() stops at 4,300 digits)
# name: (sheet XML, want, limits, what the handler reads: a code, or {ref: (value, formula)})
SHEETS = {
    # r= was left out of the row's attributes checked for duplicates
    "r twice": (sheet_xml('<row r="1" r="2"><c r="A1"><v>1</v></c></row>'), None, Limits(), "bad_xml"),
    "r twice, after another": (sheet_xml('<row r="1" spans="1:1" r="2"/>'), None, Limits(), "bad_xml"),
    # two prefixes of one namespace: one attribute named twice, as XML with namespaces sees it
    "one attribute under two prefixes": (
        sheet_xml('<row r="1" x14ac:a="1" y:a="2"><c r="A1"><v>1</v></c></row>', ROOT + f' xmlns:y="{X14AC}"'),
        None, Limits(), "bad_xml"),
    # a formula's references were checked only in the cells asked for
    "no reference in a cell not asked for": (
        sheet_xml('<row r="1"><c r="A1"><f>&bogus;</f><v>1</v></c><c r="B1"><v>2</v></c></row>'),
        {"B1"}, Limits(), "bad_xml"),
    "no reference, then too many cells": (
        sheet_xml('<row r="1"><c r="A1"><f>1&amp</f><v>1</v></c><c r="B1"/><c r="C1"/><c r="D1"/></row>'),
        {"D1"}, Limits(max_cells=3), "bad_xml"),
    # the tree counted a row's cells before reading them: past the limit, before the bad reference the handler meets
    "too many cells after a bad reference": (
        sheet_xml('<row r="1"><c r="A1"><v>1</v></c><c r="A0"/><c r="B1"/><c r="C1"/></row>'),
        None, Limits(max_cells=3), "bad_xml"),
    # a decimal reference of many leading zeros raised ValueError (bad_xml) in int()
    "leading zeros": (sheet_xml(f'<row r="1"><c r="A1" t="str"><f>"{ZEROS}"</f><v>A</v></c></row>'),
                      None, Limits(), {"A1": ("A", '"A"')}),
    # expat knows the name "UTF-8" only: "utf8" is an encoding it decodes byte by byte, and a byte past ASCII is
    # refused; the tree and the lexemes read it as UTF-8
    "declared utf8": (sheet_xml('<row r="1"><c r="A1" t="str"><f>"中"</f><v>中</v></c></row>')
                      .replace('encoding="UTF-8"', 'encoding="utf8"'), None, Limits(), "bad_xml"),
    # the handler's expat separates namespace and name by a space and refuses a namespace holding one; the tree's
    # separator is "}"
    "namespace with a space": (sheet_xml('<row r="1" xmlns:q="a b"><c r="A1"><v>1</v></c></row>'),
                               None, Limits(), "bad_xml"),
    # the limit counted a formula's references as written (150 characters), not its characters (32)
    "long references, short formula": (
        sheet_xml('<row r="1"><c r="A1" t="str"><f>"' + "&amp;" * 30 + '"</f><v>1</v></c></row>'),
        None, Limits(max_text=40), {"A1": ("1", '"' + "&" * 30 + '"')}),
}


@pytest.mark.parametrize("name", SHEETS)
def test_a_sheet_reads_as_the_handler_reads_it(tmp_path, name):
    part, want, limits, expected = SHEETS[name]
    fast, plain = sheet_ways(workbook(tmp_path / "s.xlsx", part, shared=STRINGS), want, limits)
    assert fast == plain
    assert (fast if isinstance(expected, str) else fast[0]) == expected


def test_what_the_lexemes_take_is_still_lexed(tmp_path, lexed):
    """The fixes hand the lexemes' usual input to nobody else: prefixed row attributes of distinct names, a
    formula's references in cells not asked for, a leading zero."""
    rows = ('<row r="1" spans="1:2" x14ac:dyDescent="0.25" x14ac:hidden="0" hidden="1"><c r="A1" s="1" t="str">'
            '<f>"&#065;&amp;"</f><v>A</v></c><c r="B1"><f aca="false">A1&amp;"x"</f><v>0</v></c></row>')
    path = workbook(tmp_path / "s.xlsx", sheet_xml(rows), shared=STRINGS)
    with Package(path) as pkg:
        sheet = pkg.sheet(pkg.sheets[0], want={"A1"})
    assert lexed == [True]
    assert sheet.cells == {"A1": ("A", '"A&"')} and sheet.hidden_rows == {1}


MAIN_SST = f'<sst xmlns="{MAIN}"'
# name: (the part's bytes, limits, the strings the handler reads)
STRING_PARTS = {
    # the lexemes decoded the part as UTF-8 whatever it declared
    "declared latin-1": (sst("<t>café</t>").replace("UTF-8", "ISO-8859-1").encode("latin-1"), Limits(), ["café"]),
    "declared latin-1, bytes of UTF-8": (sst("<t>café</t>").replace("UTF-8", "ISO-8859-1").encode(), Limits(),
                                         ["cafÃ©"]),
    # the main namespace found in an attribute's value: the root's own default namespace is another
    "main namespace in a value": (sst("<t>a</t>").replace(MAIN_SST, f'<sst a=\' xmlns="{MAIN}"\' xmlns="urn:o"')
                                  .encode(), Limits(), []),
    "leading zeros": (sst(f"<t>{ZEROS}</t>").encode(), Limits(), ["A"]),
    # an <sst> that is not the root: the handler reads every <si> of the part, before and after it
    "strings before an inner sst": (f'<foo xmlns="urn:o" xmlns:m="{MAIN}"><m:si><m:t>b</m:t></m:si>{MAIN_SST}><si><t>a'
                                    '</t></si></sst></foo>'.encode(), Limits(), ["b", "a"]),
    "strings after an inner sst": (f'<foo xmlns="urn:o" xmlns:m="{MAIN}">{MAIN_SST}><si><t>a</t></si></sst><m:si><m:t>'
                                   'b</m:t></m:si></foo>'.encode(), Limits(), ["a", "b"]),
    "long references, short text": (sst("<t>" + "&amp;" * 30 + "</t>").encode(), Limits(max_text=40), ["&" * 30]),
}


@pytest.mark.parametrize("name", STRING_PARTS)
def test_shared_strings_read_as_the_handler_reads_them(tmp_path, name):
    part, limits, expected = STRING_PARTS[name]
    path = workbook(tmp_path / "s.xlsx", sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), shared=part)
    fast, plain = strings_ways(path, limits)
    assert fast == plain == expected


# -- generated: rows and cells as the writers write them, one lexeme of them (or none) written otherwise --------
ODD_TEXTS = ["&amp;", "&#65;", "&#x4E2D;", "&#00065;", "&", "&bogus;", "&#0;", "&#X41;", "&#xD800;", "&#xFFFE;",
             "&#x110000;", "&AMP;", "\r", "\r\n", "]]>", "\ufffe", "\uffff", "\x01", "\x0b", "<", "\t", "\n", "\u0085",
             "\u2028", "\ufeff", "\ufdd0", "\U0001fffe", "\x7f", "_x000D_", "nan", "1_0", " "]
ODD_ROW_ATTRIBUTES = [' r="2"', ' r="1"', ' y:dyDescent="1"', ' y:hidden="1"', ' x14ac:hidden="1"', ' zz:a="1"',
                      ' xml:space="preserve"', ' a:b:c="1"', ' x14ac:="1"', ' :a="1"', " hidden='1'", ' hidden="&#49;"',
                      ' hidden=" 1"', ' hidden="1\t"', ' hidden="1\n"', '  ht="1"', ' hidden="TRUE"', ' a=">"',
                      ' spans="1:3"', ' hidden="1"', ' xmlns:q="a b"', ' xmlns:q="urn:q"', ' Hidden="1"']
BETWEEN = ["\n", " ", "<!--x-->", "<?p?>", "<![CDATA[x]]>", "</row>", '<row r="99">', '<c r="A9"><v>9</v></c>', "&#32;",
           "&amp;"]


@st.composite
def rows(draw):
    """sheetData's rows; the odd_at-th choice (if there are that many) is one of the odd ones."""
    odd_at, choices = draw(st.integers(0, 40)), iter(range(10 ** 6))

    def pick(usual, odd):
        return draw(st.sampled_from(odd)) if next(choices) == odd_at else usual

    def cell(row):
        col = draw(st.sampled_from("ABCD"))
        ref = pick(f"{col}{row}", [f"{col.lower()}{row}", f"{col}0", "XFE1", f"{col}{row} ", ""])
        start = pick(f'<c r="{ref}"', ["<c", f"<c r='{ref}'", f'<c  r="{ref}"'])
        start += pick(draw(st.sampled_from(["", ' s="1"', ' s="2"', ' s="0"', ' s="99"'])), [" s='1'", ' s=""'])
        kind = pick(draw(st.sampled_from(["", "s", "n", "str", "b", "e"])), ["inlineStr", "d", "S", ""])
        start += f' t="{kind}"' if kind else ""
        if draw(st.integers(0, 4)) == 0:
            return start + pick("/>", [" />", "></c>", "/ >"])
        body = ""
        if draw(st.booleans()):
            formula = draw(st.sampled_from(["1+1", 'A1&amp;"x"', "SUM(A1:B2)", '"&#65;"&lt;"b"']))
            body += pick("<f>", ['<f aca="false">', "<f >", '<f t="shared" si="0">', '<f aca="1">']) + \
                formula + pick("", ODD_TEXTS) + pick("</f>", ["</f >", "</F>"])
        if draw(st.integers(0, 5)):
            value = {"s": "0", "b": "1", "e": "#N/A", "str": "实施"}.get(kind, draw(st.sampled_from(["1", "1.5", " 2 "])))
            body += pick(f"<v>{value}</v>", [f"<v>{value}{odd}</v>" for odd in ODD_TEXTS] +
                         ["<v/>", "<v></v>", f"<v >{value}</v>", f"<v>{value}</v >", "<v />"])
        return start + ">" + body + pick("</c>", ["</c >", "", "<is><t>a</t></is></c>", "<x/></c>"])

    out = ""
    for n in range(1, draw(st.integers(1, 4)) + 1):
        r = draw(st.sampled_from([n, n, 1, n + 7]))
        start = pick(f'<row r="{r}"', ["<row", f"<row r='{r}'", f'<row r="0{r}"', f'<row  r="{r}"'])
        start += "".join(draw(st.lists(st.sampled_from(
            [' spans="1:3"', ' ht="12.8"', ' x14ac:dyDescent="0.25"', ' hidden="1"', ' hidden="true"', ' hidden="0"',
             ' customHeight="1"']), max_size=2, unique=True)))
        start += pick("", ODD_ROW_ATTRIBUTES)
        if draw(st.integers(0, 6)) == 0:
            out += start + "/>"
            continue
        out += start + pick(">", [" >", "\n>", "/ >"])
        for _ in range(draw(st.integers(0, 4))):
            out += cell(r) + pick("", BETWEEN)
        out += pick("</row>", ["</row >", "", "</Row>", "</x14ac:row>"])
    return out


@PROPERTY
@given(body=rows(), root=st.sampled_from([ROOT, ROOT + f' xmlns:y="{X14AC}"', ROOT + ' xmlns:zz="urn:zz"']),
       want=st.sampled_from([None, {"A1", "B2", "C3"}]), max_cells=st.sampled_from([500_000, 3]),
       odd=st.sampled_from([b"", b"", b"", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xef\xbf\xbf", b"\0",
                            b"\xc3"]),
       at=st.integers(0, 10 ** 4))
def test_generated_sheets_read_as_the_handler_reads_them(tmp_path, body, root, want, max_cells, odd, at):
    part = sheet_xml(body, root).encode()
    at = part.index(b"<sheetData>") + len(b"<sheetData>") + at % (len(body) + 1)
    part = part[:at] + odd + part[at:]   # (bytes no UTF-8 decoder takes, or no character of XML)
    fast, plain = sheet_ways(workbook(tmp_path / "g.xlsx", part, shared=STRINGS), want, Limits(max_cells=max_cells))
    assert fast == plain


def sometimes(usual, *others):
    return st.sampled_from([usual] * len(others) + list(others))


STRING_TEXT = st.lists(st.sampled_from(["a", "中", " ", "项目"] * 3 + ODD_TEXTS), max_size=3).map("".join)


@PROPERTY
@given(items=st.lists(st.tuples(sometimes("<t>{}</t>", '<t xml:space="preserve">{}</t>', "<t/>", "<r><t>{}</t></r>",
                                          "<t>{}</t><rPh><t>x</t></rPh>", "<t >{}</t>", "<t>{}</t><!--c-->"), STRING_TEXT),
                      max_size=5),
       head=sometimes('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0" encoding="ISO-8859-1"?>',
                      '<?xml version="1.0" encoding="US-ASCII"?>', '<?xml version="1.0" encoding="utf8"?>', ""),
       root=sometimes(f'<sst xmlns="{MAIN}">', f"<sst xmlns='{MAIN}'>", f'<sst xmlns="urn:o" a=\' xmlns="{MAIN}"\'>',
                      f'<sst xmlns="{MAIN}" xmlns:x="{MAIN}">', f'<sst  xmlns="{MAIN}" count="1">'),
       around=sometimes("{}", "{}\n<!--x--><?p?>", "<!--x-->{}", f'<o xmlns:m="{MAIN}"><m:si><m:t>b</m:t></m:si>{{}}</o>',
                        f'<o xmlns:m="{MAIN}">{{}}<m:si><m:t>b</m:t></m:si></o>', f'<o xmlns="{MAIN}">{{}}</o>'),
       encoding=st.sampled_from(["utf-8", "utf-8", "latin-1"]))
def test_generated_shared_strings_read_as_the_handler_reads_them(tmp_path, items, head, root, around, encoding):
    xml = head + around.format(root + "".join("<si>" + shape.format(text) + "</si>" for shape, text in items) +
                               "</sst>")
    try:
        part = xml.encode(encoding)
    except UnicodeEncodeError:
        part = xml.encode()
    path = workbook(tmp_path / "g.xlsx", sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), shared=part)
    fast, plain = strings_ways(path)
    assert fast == plain


# -- the cell map, compared as text --------------------------------------------------------------------------
CELL_MAPS = st.dictionaries(st.text(max_size=4), st.sampled_from(["C5", "D7", "B12", "中"]), max_size=4)


@PROPERTY
@given(cell_map=CELL_MAPS, other=CELL_MAPS, shape=st.sampled_from(["same", "reordered", "ascii", "spaced", "other",
                                                                   "null", "broken", "list"]))
def test_a_cell_map_is_the_same_exactly_when_its_json_says_so(cell_map, other, shape):
    text = {"same": cells_text(cell_map), "reordered": json.dumps(dict(reversed(cell_map.items()))),
            "ascii": json.dumps(cell_map), "spaced": json.dumps(cell_map, indent=1), "other": cells_text(other),
            "null": "null", "broken": cells_text(cell_map)[:-1], "list": json.dumps(list(cell_map))}[shape]
    try:
        said = json.loads(text) == cell_map
    except ValueError:
        said = False
    assert same_cells(text, cell_map) == said
    assert same_cells(text, dict(cell_map)) == said   # (an equal map, another object: known apart)

