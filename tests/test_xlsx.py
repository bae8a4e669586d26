"""The .xlsx reader on the shapes other writers give the same sheet: a namespace prefix, another attribute
order, inline strings, rich text, shared formulas. Each must read exactly like the original."""
import html
import re
import zipfile

import pytest

from helpers import cells_for, inputs_from
from xlform.returns.reader import read
from xlform.issue.registry import Registry
from xlform.xlsx.reader import Package

SHEET = "xl/worksheets/sheet1.xml"


def rewrite(src, dst, part, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, change(data, zin) if item.filename == part else data)
    return dst


def prefixed(data, _):
    """Every element as x:name, as some .NET writers do."""
    data = re.sub(rb"<(/?)([A-Za-z])", rb"<\1x:\2", data)
    return data.replace(b'xmlns="', b'xmlns:x="', 1)


def reordered(data, _):
    """Cell attributes in another order than r, s, t."""
    return re.sub(rb'<c r="([A-Z]+\d+)" s="(\d+)"( t="\w+")?', rb'<c\3 s="\2" r="\1"', data)


def inline(data, zin):
    """Shared strings written inline, some as rich text runs."""
    import xml.etree.ElementTree as ET
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    strings = ["".join(t.text or "" for t in si.iter(ns + "t"))
               for si in ET.fromstring(zin.read("xl/sharedStrings.xml")).iter(ns + "si")]

    def one(m):
        text = strings[int(m.group(2))]
        half = len(text) // 2
        body = (f"<r><t>{html.escape(text[:half])}</t></r><r><rPr><b/></rPr><t>{html.escape(text[half:])}</t></r>"
                if half else f"<t>{html.escape(text)}</t>")
        return m.group(1) + b' t="inlineStr"><is>' + body.encode() + b"</is></c>"
    return re.sub(rb'(<c r="[A-Z]+\d+"(?: s="\d+")?) t="s"><v>(\d+)</v></c>', one, data)


@pytest.fixture(scope="module")
def filled(lo, rendered, examples, published, tmp_path_factory):
    p = examples["xj-jrj-2019-07"]
    out = tmp_path_factory.mktemp("xlsx") / "filled.xlsx"
    lo.fill(rendered[p.id], out, cells_for(p, inputs_from(p, published[p.id])))
    return out, Registry(rendered[p.id].parent / "registry.db")


def comparable(record):
    d = record.to_dict()
    d.pop("file")
    return d


@pytest.mark.parametrize("change", [prefixed, reordered, inline], ids=lambda f: f.__name__)
def test_other_writers_shapes_read_the_same(filled, tmp_path, change):
    path, reg = filled
    [original] = read(path, reg)
    variant = rewrite(path, tmp_path / "v.xlsx", SHEET, change)
    assert zipfile.ZipFile(variant).read(SHEET) != zipfile.ZipFile(path).read(SHEET)
    [r] = read(variant, reg)
    assert comparable(r) == comparable(original)


def test_shared_formulas_are_expanded(tmp_path):
    sheet = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             b'<sheetData><row r="1"><c r="A1"><f t="shared" ref="A1:A3" si="0">B1*2</f><v>2</v></c></row>'
             b'<row r="2"><c r="A2"><f t="shared" si="0"/><v>4</v></c></row>'
             b'<row r="3"><c r="A3"><f t="shared" si="0"/><v>6</v></c></row></sheetData></worksheet>')
    book = (b'<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
            b'<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
    rels = (b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<Relationship Id="rId1" Type="worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
    path = tmp_path / "s.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.xml", book)
        z.writestr("xl/_rels/workbook.xml.rels", rels)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    with Package(path) as pkg:
        cells = pkg.sheet(pkg.sheets[0]).cells
    assert [(cells[r].formula, cells[r].value) for r in ("A1", "A2", "A3")] == [("B1*2", 2), ("B2*2", 4), ("B3*2", 6)]
