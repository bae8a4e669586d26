"""Review of the round's cuts: a sheet's header and footer cut out of its outline (xlsx/reader.py _sheet_tree,
_outline), and the registry's layouts table (issue/registry.py). A sheet is read both ways and compared: the
tree path and the handler alone (what a spreadsheet shows: see tests/test_sheet_tree.py); a return is read
against its own version as issued, from registries as they were kept."""
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from helpers import GOOD, SMALL, definition, fill_openpyxl, lay_of, load_def
from make_corpus import workbook, ws
from test_issued_map import MOVED, codes, fresh_process, keep_whole, pg_return, read  # noqa: F401 (autouse)
from test_sheet_tree import FOOTER, PROTECTED, ROWS, STRINGS
from xlform.definition.definition import load
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.returns import sheet as sheet_reader
from xlform.returns.reader import read_file
from xlform.xlsx import reader
from xlform.xlsx.reader import BadWorkbook, Package, Sheet, _SheetHandler

ROOT = Path(__file__).resolve().parent.parent


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



def test_an_outline_known_by_its_digest_never_stands_for_a_sheet_cut_elsewhere(tmp_path, monkeypatch):
    """Two parts whose outlines are the same bytes, cut at different places: the first has its header and
    footer in content and the cut's own markup forged in a comment; the second the forged markup in content
    and a header and footer in a comment, holding "--" (no XML: a comment may not). Read after the first, the
    second is refused as the handler refuses it."""
    monkeypatch.setattr(reader, "_KNOWN_OUTLINES", {})
    forged = "<xlform-cut/><?xlform-cut?>"
    first = ws(ROWS, tail=PROTECTED + FOOTER + f"<!-- {forged} -->")
    second = ws(ROWS, tail=PROTECTED + forged + "<!-- " + FOOTER.replace("甲", "甲--乙") + " -->")
    assert both(tmp_path, "first", first)[0].protected
    fast, plain = both(tmp_path, "second", second)
    assert plain == "bad_xml" and fast == plain

# -- the registry's layouts table --------------------------------------------------------------------------
def a_kind_with_a_column(tmp_path, monkeypatch, key: str):
    """The Sichuan kind, copied, with one more input column of the kind's own, keyed `key`."""
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    form = templates / "sichuan" / "form.yaml"
    spec = yaml.safe_load(form.read_text(encoding="utf-8"))
    spec["columns"].append({"key": key, "width": 10, "input": "text", "limit": 200})
    spec["labels"][key] = "预期成效"
    form.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("XLFORM_TEMPLATES", str(templates))


def test_a_map_kept_whole_whose_kind_has_a_column_named_expected_reads_as_before(tmp_path, monkeypatch):
    """A registry before the layouts table kept '{"layout":L,"expected":E}': a provincial kind may add an input
    column keyed "expected", and L then holds ',"expected":' itself (its columns), before E's."""
    a_kind_with_a_column(tmp_path, monkeypatch, "expected")
    p = load(ROOT / "examples" / "sc-2023-01.yaml")
    reg_path = tmp_path / "registry.db"
    reg = Registry(reg_path)
    [done] = render([p], tmp_path / "issued", registry=reg)
    reg.close()
    filled = fill_openpyxl(done.file, tmp_path / "sc.xlsx", {lay_of(p).cell("indicators.0.expected"): "验收通过"})
    now = read(filled, reg_path)
    assert "验收通过" in json.dumps(now, ensure_ascii=False)   # the column read
    old = tmp_path / "whole-maps.db"   # the same registry as it was kept before the layouts table
    shutil.copy(reg_path, old)
    with sqlite3.connect(old) as db:
        keep_whole(db)
    assert read(filled, old) == now


def test_two_versions_of_equal_locked_cells_but_other_layouts_each_read_as_their_own(tmp_path, monkeypatch):
    """A kind's text limit changed between two versions: their locked cells are the same text, their layouts
    (the limit of 偏差原因分析) are not. Read in one process from one registry, in either order, each return is
    checked against its own version's limit."""
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    monkeypatch.setenv("XLFORM_TEMPLATES", str(templates))
    form = templates / "project" / "form.yaml"
    p = load_def(tmp_path, definition(SMALL, id="rc-limit-01"))
    reg_path = tmp_path / "registry.db"
    reg = Registry(reg_path)
    [v1] = render([p], tmp_path / "v1", registry=reg)
    spec = yaml.safe_load(form.read_text(encoding="utf-8"))
    spec["limits"]["reason"] = 20
    form.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    [v2] = render([p], tmp_path / "v2", registry=reg)
    reg.close()
    assert [s[2] for s in v1.sheets + v2.sheets] == [1, 2]
    with sqlite3.connect(reg_path) as db:
        [(e1, k1), (e2, k2)] = db.execute("SELECT issued, layout FROM templates ORDER BY version").fetchall()
    assert e1 == e2 and k1 != k2
    reason = {**GOOD, "I16": "发放问卷一百二十份，回收一百一十八份，满意率百分之九十五。"}   # 29 characters
    returns = [fill_openpyxl(v.file, tmp_path / f"r{n}.xlsx", reason) for n, v in ((1, v1), (2, v2))]
    for order in (returns, returns[::-1]):
        sheet_reader.forget_versions()
        reg = Registry(reg_path, create=False)
        try:
            too_long = {f.name: {p.code for r in read_file(f, reg) for p in r.problems} >= {"text_too_long"}
                        for f in order}
        finally:
            reg.close()
        assert too_long == {"r1.xlsx": False, "r2.xlsx": True}


def test_a_postgresql_registry_before_the_layouts_table_reads_as_before_and_gains_it(pg_url, tmp_path):
    """As on SQLite (tests/test_issued_map.py): read as it is, then opened to render, the table is added and
    the old maps are left whole and still read."""
    import psycopg
    filled, now = pg_return(pg_url, tmp_path, "rc-pg-01")
    with psycopg.connect(pg_url) as con:
        keep_whole(con, "%s")
    sheet_reader.forget_versions()
    assert read(filled, pg_url) == now
    reg = Registry(pg_url)
    [again] = render([load_def(tmp_path, definition(SMALL, id="rc-pg-02"), "b.yaml")], tmp_path / "b", registry=reg)
    reg.close()
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT COUNT(*), COUNT(layout) FROM templates").fetchone() == (2, 1)
        assert con.execute("SELECT COUNT(*) FROM layouts").fetchone() == (1,)
    sheet_reader.forget_versions()
    assert read(filled, pg_url) == now
    assert not codes(read(fill_openpyxl(again.file, tmp_path / "b.xlsx", GOOD), pg_url)) & MOVED
