"""Review of the round's cuts: a sheet's header and footer cut out of its outline (xlsx/reader.py _sheet_tree,
_outline), and the registry's layouts table (issue/registry.py). Each case is read both ways and compared: the
tree path and the handler alone (what a spreadsheet shows: see tests/test_sheet_tree.py)."""
import pytest

from make_corpus import workbook, ws
from test_sheet_tree import FOOTER, PROTECTED, ROWS, STRINGS
from xlform.xlsx import reader
from xlform.xlsx.reader import BadWorkbook, Package, Sheet, _SheetHandler


def both(tmp_path, name, part):
    """(tree path, handler path): each a Sheet or the code it was refused with."""
    path = workbook(tmp_path / f"{name}.xlsx", part, shared=STRINGS)
    out = []
    for tree in (True, False):
        try:
            with Package(path) as pkg:
                if tree:
                    out.append(pkg.sheet(pkg.sheets[0]))
                else:
                    plain = Sheet(pkg.sheets[0].name)
                    pkg._parse(pkg.sheets[0].part, _SheetHandler(pkg, plain, None))
                    out.append(plain)
        except BadWorkbook as e:
            out.append(e.code)
    return out


def seen(sheet):
    return sheet if isinstance(sheet, str) else (sheet.cells, sheet.protected, sheet.hidden_rows, sheet.hidden_cols)


# -- the header and footer cut out of the outline --------------------------------------------------------
CUT_CASES = {
    # the handler reads the protection only right after sheetData: a header and footer between them end it
    "protection after the footer": ws(ROWS, tail=FOOTER + PROTECTED),
    "protection after an empty footer": ws(ROWS, tail="<headerFooter/>" + PROTECTED),
    # a footer after the root element is a second root: no XML
    "footer after the root": ws(ROWS, tail=PROTECTED) + FOOTER,
    "empty footer after the root": ws(ROWS, tail=PROTECTED) + "<headerFooter/>",
    # holes tried that hold: each is read the same both ways (or refused the same)
    "footer before sheetData": ws(ROWS, head=FOOTER, tail=PROTECTED),
    "footer of another namespace": ws(ROWS, tail=PROTECTED + '<o:headerFooter xmlns:o="urn:o"><o:t/></o:headerFooter>'),
    "footer in a declaring element": ws(ROWS, tail=PROTECTED + '<extLst xmlns:o="urn:o">' + FOOTER + "</extLst>"),
    "footer's end in its comment": ws(ROWS, tail=PROTECTED + "<headerFooter><!-- </headerFooter> --></headerFooter>"),
    "footer's end in its CDATA": ws(ROWS, tail=PROTECTED + "<headerFooter><oddHeader><![CDATA[</headerFooter>]]>"
                                    "</oddHeader></headerFooter>"),
    "footer in an instruction": ws(ROWS, tail=PROTECTED + "<?pi " + FOOTER + " ?>"),
    "footer nested": ws(ROWS, tail=PROTECTED + "<headerFooter><headerFooter></headerFooter></headerFooter>"),
    "footer unbalanced": ws(ROWS, tail=PROTECTED + "<headerFooter><oddHeader></headerFooter>"),
    "footer with an entity": ws(ROWS, tail=PROTECTED + FOOTER.replace("&amp;C", "&e;")),
    "footer with an unbound prefix": ws(ROWS, tail=PROTECTED + FOOTER.replace("<oddHeader>", "<q:oddHeader>")
                                        .replace("</oddHeader>", "</q:oddHeader>")),
    "footer with a doctype": ws(ROWS, tail=PROTECTED + "<headerFooter><!DOCTYPE x></headerFooter>"),
    "cut instruction forged": ws(ROWS, tail=PROTECTED + "<?xlform-cut?>" + FOOTER),
    "cut element forged": ws(ROWS, tail=PROTECTED + "<xlform-cut/><?xlform-cut?>"),
    "cut forged in the footer": ws(ROWS, tail=PROTECTED + FOOTER.replace("</oddFooter>", "</oddFooter><?xlform-cut?>")),
    "footer with a byte-order mark": b"\xef\xbb\xbf" + ws(ROWS, tail=PROTECTED + FOOTER).encode(),
    "footer very long": ws(ROWS, tail=PROTECTED + FOOTER.replace("甲", "甲" * 200_000)),
}


@pytest.mark.parametrize("name", CUT_CASES)
def test_a_cut_header_and_footer_read_as_the_handler_reads_them(tmp_path, name, monkeypatch):
    monkeypatch.setattr(reader, "_KNOWN_OUTLINES", {})
    fast, plain = both(tmp_path, name, CUT_CASES[name])
    assert seen(fast) == seen(plain)
