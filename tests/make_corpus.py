"""Regenerates the golden corpus of tests/data/corpus: `python tests/make_corpus.py` (needs LibreOffice,
Gnumeric's ssconvert (apt-get install gnumeric, needed only to make the corpus again) and openpyxl).

Each NAME.xlsx comes with NAME.json, the record a reader must give: every sheet's name, state, protection and
cells {ref: {"value", "formula"}}, a value being a string, a number, a boolean or {"error": "#DIV/0!"}. The
records are written by hand below, never by the reader under test: once for the content every writer saves
(SAVED), and one by one for the shapes written by hand after what Excel and WPS write (HAND).
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "data" / "corpus"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRICT = "http://purl.oclc.org/ooxml/spreadsheetml/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
STRICT_REL = "http://purl.oclc.org/ooxml/officeDocument/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
SML = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def workbook(path, *sheets, shared=None, names=None, states=None, strict=False, book=None):
    """A minimal .xlsx around hand-written sheet XML (bytes or str): what Excel needs to open it, nothing else."""
    rel = STRICT_REL if strict else REL
    names = names or [f"S{i + 1}" for i in range(len(sheets))]
    states = states or ["visible"] * len(sheets)
    entries = "".join(f'<sheet name="{n}" sheetId="{i + 1}"' + ("" if s == "visible" else f' state="{s}"')
                      + f' r:id="rId{i + 1}"/>' for i, (n, s) in enumerate(zip(names, states)))
    book = book or (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                    f'<workbook xmlns="{STRICT if strict else MAIN}" xmlns:r="{rel}"><sheets>{entries}</sheets></workbook>')
    rels = "".join(f'<Relationship Id="rId{i + 1}" Type="{rel}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                   for i in range(len(sheets)))
    if shared is not None:
        rels += f'<Relationship Id="rIdS" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
    types = "".join(f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="{SML}.worksheet+xml"/>'
                    for i in range(len(sheets)))
    if shared is not None:
        types += f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SML}.sharedStrings+xml"/>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{CT}">'
                   f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   f'<Default Extension="xml" ContentType="application/xml"/>'
                   f'<Override PartName="/xl/workbook.xml" ContentType="{SML}.sheet.main+xml"/>{types}</Types>')
        z.writestr("_rels/.rels", f'<?xml version="1.0"?><Relationships xmlns="{PKG}"><Relationship Id="rId1" '
                   f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", book)
        z.writestr("xl/_rels/workbook.xml.rels", f'<?xml version="1.0"?><Relationships xmlns="{PKG}">{rels}</Relationships>')
        for i, sheet in enumerate(sheets):
            z.writestr(f"xl/worksheets/sheet{i + 1}.xml", sheet)
        if shared is not None:
            z.writestr("xl/sharedStrings.xml", shared)
    return path


def ws(body: str, ns: str = MAIN, head: str = "", tail: str = "", prefix: str = "") -> str:
    """A worksheet: sheetData `body`, with what goes before (dimension, views) and after (protection)."""
    p = f"{prefix}:" if prefix else ""
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><{p}worksheet xmlns{":" + prefix if prefix else ""}'
            f'="{ns}" xmlns:r="{REL}" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
            f"{head}<{p}sheetData>{body}</{p}sheetData>{tail}</{p}worksheet>")


def sst(*items: str, ns: str = MAIN) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{ns}" count="{len(items)}" uniqueCount="{len(items)}">' + \
        "".join(f"<si>{i}</si>" for i in items) + "</sst>"


def cell(value=None, formula=None):
    return {"value": value, "formula": formula}


def record(*sheets):
    return {"sheets": [{"name": n, "state": s, "protected": p, "cells": c} for n, s, p, c in sheets]}


PROTECT = '<sheetProtection password="CC3D" sheet="1" objects="1" scenarios="1"/>'

# -- the shapes Excel and WPS write, by hand --------------------------------------------------------------
HAND = {
    # Excel's own: shared strings, a shared formula filled down, booleans, an error, a string result
    "excel-shapes": (
        lambda p: workbook(p, ws(
            '<row r="1" spans="1:3"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>3</v></c>'
            '<c r="C1" t="b"><v>1</v></c></row>'
            '<row r="2"><c r="A2" t="s"><v>1</v></c><c r="B2"><f t="shared" ref="B2:B4" si="0">B1*2</f><v>6</v></c>'
            '<c r="C2" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>'
            '<row r="3"><c r="B3"><f t="shared" si="0"/><v>12</v></c><c r="C3" t="str"><f>"a"&amp;"b"</f><v>ab</v></c></row>'
            '<row r="4"><c r="B4" s="1"><f t="shared" si="0"/><v>24</v></c><c r="C4" s="2"/></row>',
            head='<dimension ref="A1:C4"/>', tail=PROTECT),
            shared=sst("<t>项目名称</t>", '<t xml:space="preserve"> 年度 目标 </t>')),
        record(("S1", "visible", True, {
            "A1": cell("项目名称"), "B1": cell(3), "C1": cell(True),
            "A2": cell(" 年度 目标 "), "B2": cell(6, "B1*2"), "C2": cell({"error": "#DIV/0!"}, "1/0"),
            "B3": cell(12, "B2*2"), "C3": cell("ab", '"a"&"b"'), "B4": cell(24, "B3*2")}))),
    # .NET writers: every element prefixed
    "prefixed": (
        lambda p: workbook(p, ws('<x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="B1"><x:f>1+1</x:f>'
                                 '<x:v>2</x:v></x:c></x:row>', prefix="x",
                                 tail='<x:sheetProtection sheet="1"/>'),
                           shared=f'<x:sst xmlns:x="{MAIN}"><x:si><x:t>前缀</x:t></x:si></x:sst>',
                           book=f'<x:workbook xmlns:x="{MAIN}" xmlns:rr="{REL}"><x:sheets><x:sheet name="P" '
                                f'sheetId="1" rr:id="rId1"/></x:sheets></x:workbook>'),
        record(("P", "visible", True, {"A1": cell("前缀"), "B1": cell(2, "1+1")}))),
    # Excel's "Strict Open XML Spreadsheet"
    "strict": (
        lambda p: workbook(p, ws('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>1.5</v></c></row>', ns=STRICT,
                                 tail='<sheetProtection sheet="true"/>'),
                           shared=sst("<t>严格</t>", ns=STRICT), strict=True, names=["严格"]),
        record(("严格", "visible", True, {"A1": cell("严格"), "B1": cell(1.5)}))),
    # rich text runs and phonetic guides (Excel shows no phonetic text), inline and shared
    "rich-and-phonetic": (
        lambda p: workbook(p, ws(
            '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
            '<c r="C1" t="inlineStr"><is><r><t>粗</t></r><r><rPr><b/></rPr><t xml:space="preserve">体 </t></r>'
            '<rPh sb="0" eb="1"><t>ふ</t></rPh></is></c></row>'),
            shared=sst('<r><rPr><b/></rPr><t>实际</t></r><r><t>完成</t></r>',
                       '<t>東京</t><rPh sb="0" eb="2"><t>トウキョウ</t></rPh><phoneticPr fontId="1"/>')),
        record(("S1", "visible", False, {"A1": cell("实际完成"), "B1": cell("東京"), "C1": cell("粗体 ")}))),
    # Excel's escapes: _x000D_ is CR, _x0001_ a control character, _x005F_ an underscore that starts an escape
    "escapes": (
        lambda p: workbook(p, ws(
            '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
            '<c r="C1" t="inlineStr"><is><t>x_x0001_y</t></is></c><c r="D1" t="s"><v>2</v></c></row>'),
            shared=sst("<t>一_x000D_二</t>", "<t>_x005F_x000D_</t>", "<t>a_b_x_</t>")),
        record(("S1", "visible", False, {"A1": cell("一\r二"), "B1": cell("_x000D_"), "C1": cell("x\x01y"),
                                         "D1": cell("a_b_x_")}))),
    # a <dimension> that lies, no cached values (as openpyxl saves), cells without r=, an extension list,
    # comments, CDATA and processing instructions between the cells
    "odd-but-valid": (
        lambda p: workbook(p, ws(
            '<row r="2"><c r="B2"><f>SUM(1,2)</f></c><c><v>7</v></c><c t="inlineStr"><is><t><![CDATA[<x>&]]></t></is></c>'
            '</row><!-- <row r="3"><c r="A3"><v>99</v></c></row> --><?pi <c r="A4"><v>1</v></c>?>'
            '<row><c r="a3"><v>-0.5e1</v></c></row>',
            head='<dimension ref="A1"/><sheetViews><sheetView workbookViewId="0"/></sheetViews>',
            tail='<extLst><ext uri="{78C0D931}" xmlns:x14="http://schemas.microsoft.com/'
                 'office/spreadsheetml/2009/9/main"><x14:c r="Z9"><x14:v>1</x14:v></x14:c></ext></extLst>')),
        record(("S1", "visible", False, {"B2": cell(None, "SUM(1,2)"), "C2": cell(7), "D2": cell("<x>&"),
                                         "A3": cell(-5)}))),
    # sheets hidden and very hidden, protection on and off
    "sheet-states": (
        lambda p: workbook(p, ws('<row r="1"><c r="A1"><v>1</v></c></row>', tail='<sheetProtection sheet="0"/>'),
                           ws('<row r="1"><c r="A1"><v>2</v></c></row>', tail=PROTECT),
                           ws('<row r="1"><c r="A1"><v>3</v></c></row>'),
                           names=["开", "隐藏", "深藏"], states=["visible", "hidden", "veryHidden"]),
        record(("开", "visible", False, {"A1": cell(1)}), ("隐藏", "hidden", True, {"A1": cell(2)}),
               ("深藏", "veryHidden", False, {"A1": cell(3)}))),
    # WPS: UTF-8 with a byte order mark, numbers with spaces, an inline string without runs
    "wps-shapes": (
        lambda p: workbook(p, b"\xef\xbb\xbf" + ws(
            '<row r="1" spans="1:2"><c r="A1" s="1" t="inlineStr"><is><t>金额</t></is></c><c r="B1" s="2">'
            '<v> 12.50 </v></c></row>', tail=PROTECT).encode()),
        record(("S1", "visible", True, {"A1": cell("金额"), "B1": cell(12.5)}))),
}

# -- what every writer saves of one content ---------------------------------------------------------------
# A sheet "表" (protected) and a hidden sheet "隐" (not); formula results as the writers compute them.
SAVED = record(
    ("表", "visible", True, {
        "A1": cell("文本"), "A2": cell(3), "A3": cell(0.25), "A4": cell(True), "A5": cell(6, "A2*2"),
        "A6": cell({"error": "#DIV/0!"}, "1/0"), "A7": cell("ab", '"a"&"b"'), "A8": cell("一\n二"),
        "A9": cell("_x000D_"), "A10": cell("  两边  "), "B1": cell(3.25, "SUM(A2:A3)"),
        "B2": cell(4, "A2+1"), "B3": cell(1.25, "A3+1"), "B4": cell(True, "NOT(FALSE)")}),
    ("隐", "hidden", False, {"A1": cell("藏")}))


def saved_source(path):
    """The content of SAVED written by openpyxl (formulas without cached values)."""
    import openpyxl
    wb = openpyxl.Workbook()
    ws1 = wb.active
    ws1.title = "表"
    for ref, c in SAVED["sheets"][0]["cells"].items():
        ws1[ref] = "=" + c["formula"] if c["formula"] else c["value"]
    ws1["A9"] = "_x005F_x000D_"  # openpyxl writes text unescaped: this is how the text "_x000D_" is saved
    ws1.protection.sheet = True
    ws2 = wb.create_sheet("隐")
    ws2["A1"] = "藏"
    ws2.sheet_state = "hidden"
    wb.save(path)
    return path


def lo_convert(src, dst, filter_name):
    """LibreOffice (its own profile, so it does not meet the tests' instance) loads, recalculates and saves."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp}/profile", "--convert-to",
                        f"xlsx:{filter_name}", "--outdir", tmp, str(src)], check=True, capture_output=True, timeout=180)
        shutil.move(Path(tmp) / (Path(src).stem + ".xlsx"), dst)


def main():
    CORPUS.mkdir(parents=True, exist_ok=True)
    for name, (make, expected) in HAND.items():
        make(CORPUS / f"hand-{name}.xlsx")
        (CORPUS / f"hand-{name}.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        src = saved_source(Path(tmp) / "source.xlsx")
        no_cache = copy.deepcopy(SAVED)
        for c in no_cache["sheets"][0]["cells"].values():
            if c["formula"]:
                c["value"] = None
        # LibreOffice saves TRUE as the formula TRUE() and writes functions with their parentheses
        by_lo = copy.deepcopy(SAVED)
        by_lo["sheets"][0]["cells"].update(A4=cell(True, "TRUE()"), B4=cell(True, "NOT(FALSE())"))
        # Gnumeric does not keep a sheet's hidden state in .xlsx
        by_gnumeric = copy.deepcopy(SAVED)
        by_gnumeric["sheets"][1]["state"] = "visible"
        outputs = {"openpyxl": (lambda dst: shutil.copy(src, dst), no_cache),
                   "libreoffice-excel2007": (lambda dst: lo_convert(src, dst, "Calc MS Excel 2007 XML"), by_lo),
                   "libreoffice-ooxml": (lambda dst: lo_convert(src, dst, "Calc Office Open XML"), by_lo),
                   "gnumeric": (lambda dst: subprocess.run(["ssconvert", "--recalc", "--export-type=Gnumeric_Excel:xlsx2",
                                                            str(src), str(dst)], check=True, capture_output=True,
                                                           timeout=120), by_gnumeric)}
        for name, (save, expected) in outputs.items():
            save(CORPUS / f"{name}.xlsx")
            (CORPUS / f"{name}.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n")
    print(f"{len(list(CORPUS.glob('*.xlsx')))} files in {CORPUS}", file=sys.stderr)


if __name__ == "__main__":
    os.chdir(HERE)
    main()
