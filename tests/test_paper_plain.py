"""Paper from plain LibreOffice (issue 21): a department opens the issued form, types its return, saves it and
prints it from LibreOffice as it is (no `xlform print`). Measured on the PDFs of the seed's forms filled
with 200-character texts and the funds as executed (every budget spent: no warning stands)."""
import pdfplumber
import pytest
import xlsxwriter

from helpers import lay_of
from test_paper import BOTTOM, pixels, used, visible
from test_print import _edges, typed


def fill_plain(project) -> dict:
    """Every text input 200 characters (or its limit), every fund row executed as budgeted."""
    cells = {}
    for n, (key, f) in enumerate(lay_of(project).inputs().items()):
        if f.type == "text":
            cells[f.cell] = typed(f"{n:02d}", min(200, f.limit or 200))
        elif key.startswith("funds.") and key.endswith(".executed"):
            annual = project.funds.rows[key.split(".")[1]].annual
            if annual:
                cells[f.cell] = annual
    return cells


@pytest.fixture(scope="module")
def plain(lo, rendered, examples, tmp_path_factory):
    """{id: (cells typed, the filled return's PDF, the blank's PDF)}, both as plain LibreOffice prints them."""
    out = tmp_path_factory.mktemp("plain")
    found = {}
    for tid, path in rendered.items():
        cells = fill_plain(examples[tid])
        lo.fill(path, out / f"{tid}.xlsx", cells)
        lo.pdf(out / f"{tid}.xlsx", out / f"{tid}.pdf")
        lo.pdf(path, out / f"{tid}.blank.pdf")
        found[tid] = (cells, out / f"{tid}.pdf", out / f"{tid}.blank.pdf")
    return found


def test_every_typed_character_prints(plain, examples):
    """实际完成情况, Sichuan's 评价结论 / 存在问题 / 改进措施 and the signatures (cells merged across their
    row) grow their rows as the 偏差原因 do: nothing typed is cut (before, every merged input was)."""
    for tid, (cells, pdf, _) in plain.items():
        keys = {f.cell: k for k, f in lay_of(examples[tid]).inputs().items()}
        missing = [keys[c] for c, text in cells.items() if isinstance(text, str) and text not in whole(pdf)]
        assert not missing, (tid, missing)


def whole(pdf) -> str:
    """The characters a page shows: on the page above its bottom margin (a row taller than the page runs on
    past it and the paper's edge; a merged cell begun on the page before writes its glyphs above the top) and
    drawn (LibreOffice also writes glyphs that a clip hides)."""
    out = []
    with pdfplumber.open(pdf) as doc:
        for page in doc.pages:
            image = page.to_image(resolution=72).original.convert("L")
            out += [c["text"] if not "\u4e00" <= c["text"] <= "\u9fff" or visible(image, c) else "\0"
                    for c in page.chars if c["text"].strip() and 0 <= c["top"] and
                    c["bottom"] <= page.height - BOTTOM + 1]
    return "".join(out)   # (an ideograph's box shows ink; a comma's may not, at 72 dpi)


def tinted(pdf) -> list:
    with pdfplumber.open(pdf) as doc:
        found = []
        for n, page in enumerate(doc.pages):
            image = page.to_image(resolution=36).original.convert("RGB")
            found += [(n, px) for px in pixels(image) if max(px) - min(px) > 24]
    return found


def test_nothing_coloured_prints(plain):
    """The blank and the completed return print black, white and grey: the inputs carry no fill (LibreOffice
    prints every fill, see test_libreoffice_prints_fills_in_black_and_white), and no warning stands."""
    for tid, (_, pdf, blank) in plain.items():
        for path in (pdf, blank):
            found = tinted(path)
            assert not found, (path.name, len(found), found[:3])


def test_the_inputs_are_found_on_screen_by_the_cursor_not_by_a_fill(plain, rendered, examples):
    """The cue that replaces the yellow: the sheet protection lets the cursor reach the inputs only (Tab goes
    from one to the next), in the issued form and in the return LibreOffice saved; no input carries a fill."""
    import openpyxl
    for tid, (_, pdf, _) in plain.items():
        issued, saved = (openpyxl.load_workbook(path).worksheets[0] for path in (rendered[tid],
                                                                               pdf.with_suffix(".xlsx")))
        for ws in (issued, saved):
            assert ws.protection.sheet and ws.protection.selectLockedCells and not ws.protection.selectUnlockedCells
        for f in lay_of(examples[tid]).inputs().values():
            cell = issued[f.cell]
            assert not cell.protection.locked and not cell.fill.fill_type, (tid, f.cell)


def test_pages_but_the_last_are_full(plain):
    """No part-empty page: the workbook sets no page break of its own (a break planned for the blank's heights
    left a page 34% used once the reasons grew their rows); LibreOffice breaks where each page is full."""
    for tid, (_, pdf, blank) in plain.items():
        for path in (pdf, blank):
            with pdfplumber.open(path) as doc:
                shares = [used(page) for page in doc.pages]
            assert all(share >= 0.7 for share in shares[:-1]), (path.name, [round(s, 2) for s in shares])


def test_the_table_header_and_its_labels_print_on_every_page(plain, examples):
    """Every page that holds indicator rows starts with the table's header (三级指标) and shows 绩效指标."""
    for tid, (_, pdf, _) in plain.items():
        names = ["".join(i.name.split())[:4] for i in examples[tid].indicators]
        with pdfplumber.open(pdf) as doc:
            for n, page in enumerate(doc.pages):
                flat = "".join(c["text"] for c in page.chars if c["text"].strip())
                if any(name in flat for name in names):
                    assert "三级指标" in flat and "绩效指标" in flat, (tid, n)


def test_no_label_is_cut_by_a_page_break(plain, examples):
    """LibreOffice breaks pages where it will, through a merged 一级/二级 label's rows: the label, set at the
    top of its group, prints whole (centred, 11 were cut in two on these forms); every label prints."""
    for tid, (_, pdf, _) in plain.items():
        p = examples[tid]
        labels = {i.level1 for i in p.indicators} | {i.level2 for i in p.indicators} | {"绩效指标"}
        printed = whole(pdf)
        assert all(label in printed for label in labels), (tid, [w for w in labels if w not in printed])
        with pdfplumber.open(pdf) as doc:
            for n, page in enumerate(doc.pages):
                chars = [c for c in page.chars if c["text"].strip()]
                flat = "".join(c["text"] for c in chars)
                image = page.to_image(resolution=72).original.convert("L")
                for label in labels:
                    at = flat.find(label)
                    while at >= 0:
                        drawn = [0 <= c["top"] and c["bottom"] <= page.height - BOTTOM + 1 and visible(image, c)
                                 for c in chars[at:at + len(label)]]
                        assert all(drawn) or not any(drawn), (tid, n, label, drawn)
                        at = flat.find(label, at + 1)


def test_no_last_page_of_the_header_and_one_row(plain):
    for tid, (_, pdf, blank) in plain.items():
        for path in (pdf, blank):
            with pdfplumber.open(path) as doc:
                page = doc.pages[-1]
                rows = {round(s["top"]) for s in _edges(page.lines + page.rects) if abs(s["top"] - s["bottom"]) < 1}
                assert len(doc.pages) == 1 or len(rows) - 1 >= 3, (path.name, sorted(rows))


# -- what plain LibreOffice cannot do, measured (the README says so; `xlform print` does it) -------------------

LONG = "【长文】" + "这是一段由程序写入的很长的文字，用来检验行高。" * 8


def test_libreoffice_sizes_no_row_on_load(lo, tmp_path):
    """A return filled by a program (openpyxl writes the values, no spreadsheet lays them out) keeps the rows'
    heights as stored: LibreOffice 7.4 sizes a row when something is typed in it, never on load, even a row
    that carries no height and no customHeight. So such a return prints cut from plain LibreOffice whatever
    the issued workbook says; `xlform print` fits its rows (test_paper). Should this fail, LibreOffice sizes
    rows on load now: drop the README's caveat."""
    path = tmp_path / "program.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet()
    ws.set_column(0, 0, 26)
    ws.write_string(0, 0, LONG, wb.add_format({"text_wrap": True, "valign": "top"}))   # a row of no height
    wb.close()
    lo.pdf(path, tmp_path / "program.pdf")
    assert LONG not in whole(tmp_path / "program.pdf") and LONG[:8] in whole(tmp_path / "program.pdf")
    lo.fill(path, tmp_path / "typed.xlsx", {"A1": LONG})   # typed, the same text grows its row
    lo.pdf(tmp_path / "typed.xlsx", tmp_path / "typed.pdf")
    assert LONG in whole(tmp_path / "typed.pdf")


def test_libreoffice_prints_fills_in_black_and_white(lo, tmp_path):
    """LibreOffice ignores the sheet's black-and-white print setting (xlsx pageSetup blackAndWhite): a fill
    prints in colour. Hence no fill on inputs; a warning (red) still standing prints red from plain
    LibreOffice, and `xlform print` removes it."""
    path = tmp_path / "fill.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet()
    ws.write_string(0, 0, "警告", wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}))
    ws.print_black_and_white()
    wb.close()
    lo.pdf(path, tmp_path / "fill.pdf")
    assert tinted(tmp_path / "fill.pdf")


# -- the 监控表 (landscape), as the 自评表 ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def monitoring(lo, examples, tmp_path_factory):
    """The longest seed form's 监控表 (month 7) filled in LibreOffice with every text as long as its limit
    (原因说明, 备注, a qualitative target's 执行情况, 实际完成情况), every indicator ticked 确定能, the funds on
    schedule; printed plain and by xlform print."""
    from xlform.form.layout import layout
    from xlform.issue.monitoring import monitored
    from xlform.issue.registry import Registry
    from xlform.issue.renderer import render
    from xlform.printing.printer import print_pdfs
    out = tmp_path_factory.mktemp("monitoring-paper")
    mp, kind = monitored(max(examples.values(), key=lambda p: len(p.indicators)), 7)
    [issued] = render([mp], out / "forms", registry=Registry(out / "r.db"), kinds={mp.id: kind})
    cells = {}
    for n, (key, f) in enumerate(layout(mp, kind).inputs().items()):
        if f.type == "text":
            cells[f.cell] = typed(f"{n:03d}", min(f.limit, 1000))   # as long as the form takes
        elif key.endswith(".sure"):
            cells[f.cell] = "√"
        elif key.startswith("funds."):
            annual = mp.funds.rows[key.split(".")[1]].annual
            cells[f.cell] = round(annual * (7 / 12 if key.endswith(".executed") else 1), 2)
    lo.fill(issued.file, out / "filled.xlsx", cells)
    lo.pdf(out / "filled.xlsx", out / "filled.plain.pdf")
    [printed] = print_pdfs([out / "filled.xlsx"], out / "pdf")
    return cells, {"plain": out / "filled.plain.pdf", "print": printed.pdf}, mp


@pytest.mark.parametrize("way", ["plain", "print"])
def test_the_monitoring_form_prints_full_landscape_pages_with_its_two_row_header(monitoring, way):
    """Every page across (landscape); each page holding indicator rows starts with both rows of the table's
    header (偏差原因分析 over 原因说明), every page but the last at least 70% used, every typed character printed."""
    cells, pdfs, mp = monitoring
    names = ["".join(i.name.split())[:4] for i in mp.indicators]
    with pdfplumber.open(pdfs[way]) as doc:
        assert len(doc.pages) > 2
        shares = [used(page) for page in doc.pages]
        for n, page in enumerate(doc.pages):
            assert page.width > page.height, n
            flat = "".join(c["text"] for c in page.chars if c["text"].strip())
            if any(name in flat for name in names):
                assert "偏差原因分析" in flat and "原因说明" in flat and "完成目标可能性" in flat, (way, n)
    assert all(share >= 0.7 for share in shares[:-1]), (way, [round(s, 2) for s in shares])
    printed = whole(pdfs[way])
    missing = [c for c, text in cells.items() if isinstance(text, str) and len(text) > 1 and text not in printed]
    assert not missing, (way, sorted({c.rstrip("0123456789") for c in missing}), len(missing))
