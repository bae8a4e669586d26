"""`xlform print` is bounded like `read` (issue 16): a hostile workbook is refused before openpyxl or LibreOffice
opens it, LibreOffice runs in a process group of its own that never outlives print, nothing is fetched, and the
PDF shows no temporary path."""
import http.server
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import pdfplumber
import pytest

from conftest import ROOT
from make_corpus import MAIN, PKG, REL, SML, sst, workbook, ws
from xlform.printing import printer
from xlform.errors import CannotRun
from xlform.xlsx.reader import BadWorkbook, Limits, Package

CELL_A1 = '<row r="1"><c r="A1" t="inlineStr"><is><t>表</t></is></c></row>'
MERGE_ALL = '<mergeCells count="1"><mergeCell ref="A3:XFD1048576"/></mergeCells>'


def last_row_sheet() -> str:
    return ws('<row r="1048576"><c r="A1048576"><v>1</v></c></row>')


def overlapping_merges() -> str:
    """2,000 merged ranges of 2,600 cells over one small area: 5.2 million cells for openpyxl to make."""
    merges = "".join('<mergeCell ref="A1:Z100"/>' for _ in range(2000))
    return ws(CELL_A1, tail=f'<mergeCells count="2000">{merges}</mergeCells>')


TEXT = "因外地培训费用无法报销而未开展" * 66   # a thousand characters


def text_rows(n: int) -> str:
    return "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{TEXT}</t></is></c></row>' for r in range(1, n + 1))


def one_string_everywhere(path):
    """One shared string of 32,767 characters (Excel's most) in 200 cells: 6.5 million characters to fit."""
    cells = "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c></row>' for r in range(1, 201))
    return workbook(path, ws(cells), shared=sst(f"<t>{'字' * 32767}</t>"))


def with_comment(path, ref: str):
    """A one-sheet workbook with a comment attached at `ref` (openpyxl makes the cells it names)."""
    workbook(path, ws(CELL_A1))
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("xl/worksheets/_rels/sheet1.xml.rels", f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" '
                   f'Type="{REL}/comments" Target="../comments1.xml"/></Relationships>')
        z.writestr("xl/comments1.xml", f'<comments xmlns="{MAIN}"><authors><author>a</author></authors><commentList>'
                   f'<comment ref="{ref}" authorId="0"><text><t>注</t></text></comment></commentList></comments>')
    return path


def many_formats(path, count: int = 100_000):
    """A styles part of `count` cell formats (openpyxl takes ~120 us for each)."""
    workbook(path, ws(CELL_A1))
    xfs = "".join(f'<xf numFmtId="{i % 50}"/>' for i in range(count))
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/styles.xml", f'<styleSheet xmlns="{MAIN}"><cellXfs count="{count}">{xfs}</cellXfs></styleSheet>')
    return path


HOSTILE = {   # name -> builder(path): the findings of issue 16, each a small file
    "one-merge-to-the-last-cell": lambda p: workbook(p, ws(CELL_A1, tail=MERGE_ALL)),
    "four-sheets-with-a-cell-in-the-last-row": lambda p: workbook(p, *[last_row_sheet()] * 4),
    "4000-sheets": lambda p: workbook(p, *[ws(CELL_A1)] * 4000),
    "the-merge-on-a-hidden-sheet": lambda p: workbook(p, ws(CELL_A1), ws(CELL_A1, tail=MERGE_ALL),
                                                      states=["visible", "hidden"]),
    "overlapping-merges": lambda p: workbook(p, overlapping_merges()),
    "thousands-of-pages": lambda p: workbook(p, ws(text_rows(1800))),   # 1.8 MB of text, 40 KB zipped
    "one-long-string-in-many-cells": one_string_everywhere,
    "a-link-over-the-whole-sheet": lambda p: workbook(p, ws(CELL_A1, tail='<hyperlinks><hyperlink ref="A2:XFD1048576" '
                                                               'location="S1!A1"/></hyperlinks>')),
    "a-link-over-every-row": lambda p: workbook(p, ws(CELL_A1, tail='<hyperlinks><hyperlink ref="2:1048576" '
                                                         'location="S1!A1"/></hyperlinks>')),
    "a-comment-on-the-last-cell": lambda p: with_comment(p, "XFD1048576"),
    "a-comment-over-a-range": lambda p: with_comment(p, "A2:XFD1048576"),
    "150000-rows-of-no-cell": lambda p: workbook(p, ws(CELL_A1 + "".join(f'<row r="{r}" ht="20" customHeight="1"/>'
                                                                       for r in range(2, 150_002)))),
    "100000-cell-formats": many_formats,
}

# Runs one command in a child under a 1 GB address-space limit: (exit code, seconds, peak RSS in bytes, stderr).
MEASURE = textwrap.dedent("""
    import resource, subprocess, sys, time
    limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
    start = time.perf_counter()
    r = subprocess.run(sys.argv[1:], capture_output=True, text=True, preexec_fn=limit)
    print(r.returncode, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
    sys.stdout.write(r.stderr)
""")


def measured_print(path: Path, out: Path):
    result = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "xlform.cli", "print", str(path),
                             "-o", str(out)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    head, stderr = result.stdout.split("\n", 1)
    code, seconds, rss = head.split()
    return int(code), float(seconds), int(rss), stderr


@pytest.mark.parametrize("name", HOSTILE)
def test_a_workbook_too_large_to_print_is_refused_fast_in_bounded_memory(tmp_path, name):
    path = HOSTILE[name](tmp_path / f"{name}.xlsx")
    code, seconds, rss, stderr = measured_print(path, tmp_path / "pdf")
    assert code in (1, 2) and len(stderr.strip().splitlines()) == 1, (code, stderr)
    assert str(path) in stderr and "refused" in stderr and "internal error" not in stderr, stderr
    # measured: 0.1-1.3 s and 30-36 MB each (issue 16: up to 214 s and 10 GB); bounds kept far from that
    assert seconds < 60 and rss < 2**30, (seconds, rss)
    assert not (tmp_path / "pdf").exists() or not list((tmp_path / "pdf").iterdir())


def test_the_one_merge_workbook_is_as_small_as_the_issue_says(tmp_path):
    path = HOSTILE["one-merge-to-the-last-cell"](tmp_path / "m.xlsx")
    assert path.stat().st_size < 2000
    with Package(path) as pkg:
        sheet = pkg.sheet(pkg.sheets[0], layout=True)
    assert sheet.extent == (1048576, 16384) and sheet.spanned == (1048576 - 2) * 16384


def test_the_extent_counts_empty_cells_merges_links_and_comments(tmp_path):
    rows = '<row r="2"><c r="C2" s="1"/></row><row r="5"><c r="b5"><v>1</v></c></row>'
    path = workbook(tmp_path / "w.xlsx", ws(rows, tail='<mergeCells><mergeCell ref="$D$1:$e$3"/>'
                                                       '<mergeCell ref="a7"/></mergeCells>'))
    with Package(path) as pkg:
        sheet = pkg.sheet(pkg.sheets[0], layout=True)
    assert sheet.extent == (7, 5) and sheet.spanned == 6 + 1
    path = workbook(tmp_path / "l.xlsx", ws(rows, tail='<hyperlinks><hyperlink ref="F2:G3" location="S1!A1"/>'
                                                       '</hyperlinks>'))
    with Package(path) as pkg:
        sheet = pkg.sheet(pkg.sheets[0], layout=True)
    assert sheet.extent == (5, 7) and sheet.spanned == 4
    with_comment(tmp_path / "c.xlsx", "H9")
    with Package(tmp_path / "c.xlsx") as pkg:
        assert pkg.sheet(pkg.sheets[0]).extent == (0, 0)   # the reader does not need it
        assert pkg.sheet(pkg.sheets[0], layout=True).extent == (9, 8)


def test_every_xml_part_is_scanned_for_a_dtd_and_counted(tmp_path):
    """Parts the reader never reads (styles, comments, drawings) are XML openpyxl parses: scanned too."""
    path = workbook(tmp_path / "w.xlsx", ws(CELL_A1))
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("xl/styles.xml", '<!DOCTYPE s [<!ENTITY e "x">]><styleSheet xmlns="%s">&e;</styleSheet>' % MAIN)
        z.writestr("xl/media/image1.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100)   # not XML: left alone
    with Package(path) as pkg, pytest.raises(BadWorkbook) as e:
        pkg.scan()
    assert e.value.code == "hostile"
    with pytest.raises(CannotRun, match="refused, hostile"):
        printer.prepare(path, tmp_path / "copy.xlsx")
    clean = workbook(tmp_path / "c.xlsx", ws(CELL_A1))
    with Package(clean) as pkg:
        elements = pkg.scan()
    with Package(clean, Limits(max_elements=elements - 1)) as pkg, pytest.raises(BadWorkbook) as e:
        pkg.scan()
    assert e.value.code == "too_large"


def summary_shaped(path: Path, returns: int) -> Path:
    """A workbook shaped like `xlform collect`'s summary of `returns` returns of 12 indicators: 汇总 (16 columns)
    and 指标 (13 columns, a row an indicator), landscape, one page wide."""
    import xlsxwriter
    wb = xlsxwriter.Workbook(path)
    for name, columns, rows in (("汇总", 16, returns), ("指标", 13, returns * 12)):
        ws = wb.add_worksheet(name)
        ws.set_column(0, columns - 1, 16)
        for r in range(rows + 1):
            ws.write_row(r, 0, [f"第{r}行{c}" if c % 3 else r * 1.5 for c in range(columns)])
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0)
    wb.close()
    return path


def test_every_form_and_a_summary_of_500_returns_pass_the_limits(rendered, tmp_path):
    for path in rendered.values():
        printer.prepare(path, tmp_path / "copy.xlsx")
    printer.prepare(summary_shaped(tmp_path / "summary.xlsx", 500), tmp_path / "copy.xlsx")


def test_a_forged_cell_map_cannot_make_print_merge_a_million_rows(rendered, tmp_path):
    """The hidden sheet's cell map says the second indicator stands in row 1,000,000: the labels are merged
    only within the sheet, and the form prints."""
    import json
    import openpyxl
    wb = openpyxl.load_workbook(rendered["xj-jrj-2019-01"])
    meta = wb["_xlform"]
    found = [row for row in meta.iter_rows() if row[1].value == "cells"]
    cells = json.loads("".join(str(row[2].value) for row in found))
    cells["indicators.1.name"] = "D1000000"
    found[0][2].value = json.dumps(cells)
    for row in found[1:]:
        row[2].value = ""
    wb.save(tmp_path / "forged.xlsx")
    code, seconds, rss, stderr = measured_print(tmp_path / "forged.xlsx", tmp_path / "pdf")
    assert code == 0 and (tmp_path / "pdf" / "forged.pdf").is_file(), stderr
    assert seconds < 60 and rss < 2**30, (seconds, rss)   # measured: 2 s, 210 MB (LibreOffice)


# -- LibreOffice: its own process group, a memory limit, killed and cleaned on every path -----------------------
def ours(folder: Path) -> list[int]:
    """Processes started by a print whose temporary folder is under `folder` (LibreOffice's get TMPDIR there)."""
    mark = f"TMPDIR={folder}".encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if any(v.startswith(mark + b"/xlform-print-") for v in env.split(b"\0")):
            found.append(int(pid))
    return found


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_print_stopped_mid_run_leaves_no_libreoffice_and_no_temporary_files(rendered, tmp_path, sig):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    forms = [rendered["xj-jrj-2019-01"]] * 30   # long enough to be caught while LibreOffice prints
    proc = subprocess.Popen([sys.executable, "-m", "xlform.cli", "print", *map(str, forms), "-o",
                             str(tmp_path / "pdf")], cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120   # far: LibreOffice starts in about a second
        while not ours(tmp) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        office = ours(tmp)
        assert office, "LibreOffice was never seen running"
        limits = Path(f"/proc/{office[0]}/limits").read_text()
        assert f"{printer.MEMORY}" in next(line for line in limits.splitlines() if "address space" in line)
        assert os.getpgid(office[0]) != os.getpgid(proc.pid)   # a group of its own: killed as one
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0 and "Traceback" not in stderr, stderr
    deadline = time.monotonic() + 30   # far: a killed process is gone at once, unless the machine is very busy
    while ours(tmp) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ours(tmp) == [] and list(tmp.iterdir()) == []


def test_libreoffice_running_past_its_time_is_killed_and_cleaned_up(rendered, tmp_path, monkeypatch):
    import tempfile
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    with pytest.raises(CannotRun, match="did not finish in 0.5 s"):
        printer.print_pdfs([rendered["xj-jrj-2019-01"]], tmp_path / "pdf", timeout=0.5)
    assert ours(tmp) == [] and list(tmp.iterdir()) == []


# -- nothing fetched, no temporary path printed ------------------------------------------------------------------
class Listener(http.server.BaseHTTPRequestHandler):
    asked: list = []

    def do_GET(self):
        Listener.asked.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"<x>fetched</x>")

    def log_message(self, *_):
        pass


@pytest.fixture()
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    urllib.request.urlopen(url + "/probe").read()   # the server answers: a fetch would be seen
    assert Listener.asked == ["/probe"]
    Listener.asked.clear()
    yield url
    httpd.shutdown()
    httpd.server_close()


def reaching_workbook(path: Path, url: str) -> Path:
    """Formulas and parts that would fetch from `url`: WEBSERVICE, FILTERXML with an external entity, DDE, a
    cell of an external workbook, a remote image; and CELL("filename") between markers."""
    def esc(s):
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    formulas = [f'_xlfn.WEBSERVICE("{url}/webservice")',
                f'_xlfn.FILTERXML("<!DOCTYPE x [<!ENTITY e SYSTEM \'{url}/entity\'>]><x>&e;</x>","//x")',
                f'DDE("soffice","{url}/dde","A1")', "[1]Sheet1!A1", f'HYPERLINK("{url}/link","link")',
                '"<<"&IFERROR(CELL("filename"),"-")&">>"']
    cells = "".join(f'<row r="{r}"><c r="A{r}" t="str"><f>{esc(f)}</f><v>0</v></c></row>'
                    for r, f in enumerate(formulas, start=1))
    sheet = ws(cells, tail='<drawing r:id="rId1"/>')
    path = workbook(path, sheet)
    xdr = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    drawing = (f'<xdr:wsDr xmlns:xdr="{xdr}" xmlns:a="{a}" xmlns:r="{REL}"><xdr:oneCellAnchor>'
               '<xdr:from><xdr:col>2</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>1</xdr:row><xdr:rowOff>0</xdr:rowOff>'
               '</xdr:from><xdr:ext cx="952500" cy="952500"/><xdr:pic><xdr:nvPicPr><xdr:cNvPr id="2" name="p"/>'
               '<xdr:cNvPicPr/></xdr:nvPicPr><xdr:blipFill><a:blip r:link="rId1"/><a:stretch><a:fillRect/></a:stretch>'
               '</xdr:blipFill><xdr:spPr><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></xdr:spPr></xdr:pic>'
               '<xdr:clientData/></xdr:oneCellAnchor></xdr:wsDr>')
    external = (f'<externalLink xmlns="{MAIN}" xmlns:r="{REL}"><externalBook r:id="rId1"><sheetNames>'
                '<sheetName val="Sheet1"/></sheetNames><sheetDataSet><sheetData sheetId="0"><row r="1">'
                '<cell r="A1"><v>1</v></cell></row></sheetData></sheetDataSet></externalBook></externalLink>')
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    parts["xl/worksheets/_rels/sheet1.xml.rels"] = (
        f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/drawing" '
        'Target="../drawings/drawing1.xml"/></Relationships>').encode()
    parts["xl/drawings/drawing1.xml"] = drawing.encode()
    parts["xl/drawings/_rels/drawing1.xml.rels"] = (
        f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/image" Target="{url}/image.png" '
        'TargetMode="External"/></Relationships>').encode()
    parts["xl/externalLinks/externalLink1.xml"] = external.encode()
    parts["xl/externalLinks/_rels/externalLink1.xml.rels"] = (
        f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/externalLinkPath" '
        f'Target="{url}/book.xlsx" TargetMode="External"/></Relationships>').encode()
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", f'<Relationship Id="rIdX" Type="{REL}/externalLink" '
        'Target="externalLinks/externalLink1.xml"/></Relationships>'.encode())
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(
        b"</sheets>", b'</sheets><externalReferences><externalReference r:id="rIdX"/></externalReferences>')
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b"</Types>", (
        f'<Override PartName="/xl/drawings/drawing1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        f'drawing+xml"/><Override PartName="/xl/externalLinks/externalLink1.xml" ContentType="{SML}.externalLink+xml"/>'
        '</Types>').encode())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


def test_printing_fetches_nothing_and_shows_no_temporary_path(server, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    path = reaching_workbook(tmp_path / "reach.xlsx", server)
    r = subprocess.run([sys.executable, "-m", "xlform.cli", "print", str(path), "-o", str(tmp_path / "pdf")],
                       cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp)}, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    pdf = tmp_path / "pdf" / "reach.pdf"
    with pdfplumber.open(pdf) as doc:
        text = "".join((page.extract_text() or "") for page in doc.pages)
        meta = " ".join(map(str, doc.metadata.values()))
    assert "fetched" not in text and Listener.asked == [], (text, Listener.asked)
    assert "<<->>" in text, text   # CELL("filename") was computed, and shows nothing
    for shown in (text, meta, pdf.read_bytes().decode("latin-1")):
        assert str(tmp) not in shown and "xlform-print-" not in shown
    assert list(tmp.iterdir()) == []


def test_calls_that_reveal_or_reach_out_become_na_wherever_they_stand():
    inert = printer._inert_formula
    assert inert('=IFERROR(_xlfn.WEBSERVICE("http://x"),CELL("filename",A1))&"x"') == '=IFERROR(NA(),NA())&"x"'
    assert inert('=A1&info ("directory")&(1+(2))') == "=A1&NA()&(1+(2))"
    assert inert('="CELL("&SUM(A1:A3)') == '="CELL("&SUM(A1:A3)'   # a text, not a call
