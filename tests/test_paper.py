"""Paper an office would file (issue 21), measured on the PDFs: every seed form filled in LibreOffice with
200-character texts, printed both by `xlform print` and as plain LibreOffice prints the saved return."""
import collections

import pdfplumber
import pytest

from helpers import lay_of
from test_print import _edges, body_chars, cell_box, fill_texts, typed
from xlform.printing.printer import print_pdfs
from xlform.xlsx import measure

TOP, BOTTOM = measure.MARGINS["top"] * 72, measure.MARGINS["bottom"] * 72


def pixels(image):
    """An image's pixels (Pillow 12.1 deprecated getdata for get_flattened_data: either is used)."""
    flat = getattr(image, "get_flattened_data", None)
    return flat() if flat else image.getdata()


@pytest.fixture(scope="module")
def paper(lo, rendered, examples, tmp_path_factory):
    """{id: (cells typed, xlform print's PDF, plain LibreOffice's PDF)} for the seed's forms, and the blanks
    printed by xlform print."""
    out = tmp_path_factory.mktemp("paper")
    filled = {}
    for tid, path in rendered.items():
        cells = fill_texts(examples[tid])
        saved = out / f"{tid}.xlsx"
        lo.fill(path, saved, cells)
        lo.pdf(saved, out / f"{tid}.plain.pdf")
        filled[tid] = (saved, cells)
    printed = {p.source: p.pdf for p in print_pdfs([f for f, _ in filled.values()] + list(rendered.values()),
                                                   out / "pdf")}
    for tid, path in rendered.items():   # and the blanks as plain LibreOffice prints them
        lo.pdf(path, out / f"{tid}.blank.plain.pdf")
    plain = {tid: out / f"{tid}.plain.pdf" for tid in filled}
    return ({tid: (cells, printed[saved], plain[tid]) for tid, (saved, cells) in filled.items()},
            {tid: printed[path] for tid, path in rendered.items()})


def used(page) -> float:
    """How much of the page's printable height its content takes, down to its lowest border or character."""
    body = body_chars(page.height, [c for c in page.chars if c["text"].strip()])
    bottom = max([s["bottom"] for s in page.lines + page.rects if s["bottom"] < page.height - BOTTOM + 1] +
                 [c["bottom"] for c in body])
    return (bottom - TOP) / (page.height - TOP - BOTTOM)


def stream(pdf) -> str:
    with pdfplumber.open(pdf) as doc:
        return "".join(c["text"] for page in doc.pages for c in page.chars if c["text"].strip())


def test_full_pages_and_no_more_of_them_than_plain_libreoffice(paper):
    filled, _ = paper
    for tid, (_, pdf, plain) in filled.items():
        with pdfplumber.open(pdf) as doc, pdfplumber.open(plain) as other:
            shares = [used(page) for page in doc.pages]
            assert len(doc.pages) <= len(other.pages), (tid, len(doc.pages), len(other.pages))
        assert all(share >= 0.7 for share in shares[:-1]), (tid, [round(s, 2) for s in shares])


def test_a_200_character_reason_reads_as_a_paragraph(paper, examples):
    """偏差原因 (and Sichuan's 原因 and 未完成原因分析): at least 14 characters a line, 15 lines at most."""
    filled, _ = paper
    for tid in ("xj-jrj-2019-01", "sc-2023-01"):
        cells, pdf, _ = filled[tid]
        lay = lay_of(examples[tid])
        keys = ["indicators.0.reason"] + (["funds.reason"] if "funds.reason" in lay.fields else [])
        with pdfplumber.open(pdf) as doc:
            for key in keys:
                text = cells[lay.cell(key)]
                assert len(text) == 200
                for page in doc.pages:
                    shown = [c for c in page.chars if c["text"].strip()]
                    at = "".join(c["text"] for c in shown).find(text)
                    if at >= 0:
                        lines = collections.Counter(round(c["top"]) for c in shown[at:at + len(text)])
                        break
                else:
                    pytest.fail(f"{tid} {key}: not printed whole on one page")
                assert max(lines.values()) >= 14 and len(lines) <= 15, (tid, key, sorted(lines.values()))


def test_every_typed_character_prints_in_xlform_print(paper):
    filled, _ = paper
    for tid, (cells, pdf, _) in filled.items():
        printed = stream(pdf)
        missing = [text[:4] for text in cells.values() if isinstance(text, str) and text not in printed]
        assert not missing, (tid, missing)


def test_the_forms_print_in_a_serif_for_songti(paper):
    filled, blanks = paper
    for pdf in [blanks["xj-jrj-2019-01"], blanks["sc-2023-01"], filled["xj-jrj-2019-07"][1]]:
        with pdfplumber.open(pdf) as doc:
            fonts = {c["fontname"] for page in doc.pages for c in page.chars if c["text"].strip()}
        assert fonts and all("Serif" in f for f in fonts), fonts


def test_the_indicators_label_prints_once_on_every_page_the_table_reaches(paper, examples):
    """绩效指标 once on each page that holds indicator rows, never twice on a page (LibreOffice also writes the
    glyphs of a label its clip hides: only what the rendered page shows counts)."""
    filled, blanks = paper
    for tid, pdf in [(tid, pdf) for tid, (_, pdf, _) in filled.items()] + list(blanks.items()):
        names = ["".join(i.name.split())[:4] for i in examples[tid].indicators]
        with pdfplumber.open(pdf) as doc:
            for n, page in enumerate(doc.pages):
                shown = [c for c in page.chars if c["text"].strip()]
                flat = "".join(c["text"] for c in shown)
                image = page.to_image(resolution=72).original.convert("L")
                seen = [at for at in range(len(flat)) if flat.startswith("绩效指标", at) and
                        visible(image, shown[at])]
                holds = "三级指标" in flat and any(name in flat for name in names)
                assert len(seen) == (1 if holds else len(seen[:1])), (tid, n, [round(shown[at]["top"]) for at in seen])


def visible(image, char) -> bool:
    """Is the character drawn on the rendered page (LibreOffice also writes glyphs that a clip hides, and those
    of a merged cell begun on the page before, above the page: cropped off the image they would read as ink)?"""
    if char["top"] < 0 or char["bottom"] > image.height or char["x0"] < 0 or char["x1"] > image.width:
        return False
    box = image.crop((int(char["x0"]) + 1, int(char["top"]) + 1, int(char["x1"]) - 1, int(char["bottom"]) - 1))
    return box.getextrema()[0] < 128


def test_no_last_page_of_the_header_and_one_row(paper):
    filled, _ = paper
    for tid, (_, pdf, _) in filled.items():
        with pdfplumber.open(pdf) as doc:
            page = doc.pages[-1]
            rows = {round(s["top"]) for s in _edges(page.lines + page.rects) if abs(s["top"] - s["bottom"]) < 1}
        assert len(doc.pages) == 1 or len(rows) - 1 >= 3, (tid, sorted(rows))   # the header and two rows or more


def test_plain_libreoffice_prints_no_last_page_of_the_header_and_one_row(paper):
    """The blanks as a department prints them from LibreOffice, by the page breaks the writer planned: no
    page of the table's header and 总分 (or the signatures) alone."""
    filled, _ = paper
    for tid, (_, _, plain) in filled.items():
        with pdfplumber.open(plain.parent / f"{tid}.blank.plain.pdf") as doc:
            for n, page in enumerate(doc.pages[1:], 1):
                rows = {round(s["top"]) for s in _edges(page.lines + page.rects) if abs(s["top"] - s["bottom"]) < 1}
                assert len(rows) - 1 >= 3, (tid, n, sorted(rows))


def test_no_highlight_prints(paper):
    """The input cells' yellow and the warnings' red are for the screen: xlform print's pages are black,
    white and grey (the typed pages of a filled form hold warnings: reasons are asked for)."""
    filled, blanks = paper
    for pdf in [filled["xj-jrj-2019-07"][1], filled["sc-2023-01"][1], blanks["sc-2023-01"]]:
        with pdfplumber.open(pdf) as doc:
            for n, page in enumerate(doc.pages):
                image = page.to_image(resolution=36).original.convert("RGB")
                tinted = [px for px in pixels(image) if max(px) - min(px) > 24]
                assert not tinted, (pdf.name, n, len(tinted), tinted[:3])


def test_a_return_filled_by_a_program_prints_every_character_inside_its_cell(rendered, examples, tmp_path):
    """openpyxl (a program) fills the 偏差原因 without growing any row: xlform print fits the rows itself."""
    import openpyxl
    p = examples["xj-jrj-2019-07"]
    lay = lay_of(p)
    wb = openpyxl.load_workbook(rendered[p.id])
    texts = {lay.cell(f"indicators.{i}.reason"): typed(f"程序{i}") for i in range(3)}
    for cell, text in texts.items():
        wb["自评表"][cell] = text
    wb.save(tmp_path / "program.xlsx")
    [done] = print_pdfs([tmp_path / "program.xlsx"], tmp_path / "pdf")
    found = set()
    with pdfplumber.open(done.pdf) as doc:
        for page in doc.pages:
            shown = [c for c in page.chars if c["text"].strip()]
            flat = "".join(c["text"] for c in shown)
            for text in texts.values():
                at = flat.find(text)
                if at >= 0:
                    left, right, top, bottom = cell_box(shown[at], _edges(page.lines + page.rects))
                    assert all(top - 0.5 <= c["top"] and c["bottom"] <= bottom + 0.5
                               for c in shown[at:at + len(text)]), text[:4]
                    found.add(text)
    assert found == set(texts.values())


def test_sichuan_prints_a_percent_target_as_value_and_unit(paper, examples):
    """指标值 100 | 度量单位 %, as the form splits it, not "100%" beside an empty 度量单位."""
    _, blanks = paper
    [ind] = [i for i in examples["sc-2023-01"].indicators if i.name == "项目验收合格率"]
    assert ind.target.percent and not ind.target.unit
    with pdfplumber.open(blanks["sc-2023-01"]) as doc:
        words = [w for page in doc.pages for w in page.extract_words(keep_blank_chars=False)]
    [name] = [w for w in words if w["text"].startswith("项目验收")]
    beside = [w["text"] for w in words if name["top"] - 12 < w["top"] < name["bottom"] + 12 and w["x0"] > name["x1"]]
    assert "100" in beside and "%" in beside and "100%" not in beside, beside


def test_printed_blanks_leave_three_lines_to_write_in(paper, examples):
    """An empty text input prints at least three lines tall: 实际完成情况, 偏差原因, and Sichuan's 评价结论 /
    存在问题 / 改进措施 and signatures (each found by a text that shares the blank's row)."""
    _, blanks = paper
    three = 3 * measure.LO_LINE * 10
    for tid, labels in (("xj-jrj-2019-07", []), ("sc-2023-01", ["评价结论", "存在问题", "改进措施", "项目负责人"])):
        goal = examples[tid].goal
        labels = labels + ["".join(examples[tid].indicators[0].name.split())[:4]]   # its 偏差原因 is blank
        with pdfplumber.open(blanks[tid]) as doc:
            # the 预期目标 text shares its row with the blank 实际完成情况
            for word in labels + ["".join(goal.split())[:6]]:
                for page in doc.pages:
                    shown = [c for c in page.chars if c["text"].strip()]
                    at = "".join(c["text"] for c in shown).find(word)
                    if at >= 0:
                        break
                assert at >= 0, (tid, word)
                _, _, top, bottom = cell_box(shown[at], _edges(page.lines + page.rects))
                assert bottom - top >= three - 1, (tid, word, bottom - top)


def test_plain_libreoffice_shows_every_typed_indicator_reason(paper, examples):
    """A department printing its saved return from LibreOffice: the 偏差原因 it typed (and Sichuan's 原因 of the
    funds) grows its row and prints whole."""
    filled, _ = paper
    for tid, (cells, _, plain) in filled.items():
        lay = lay_of(examples[tid])
        printed = stream(plain)
        reasons = [cells[lay.cell(f"indicators.{i}.reason")] for i in range(len(examples[tid].indicators))] + \
            [cells[lay.cell(key)] for key in ("funds.reason",) if key in lay.fields]
        missing = [r[:4] for r in reasons if r not in printed]
        assert not missing, (tid, missing)


@pytest.fixture(scope="module")
def declaration(lo, tmp_path_factory):
    """The declaration kind issued blank, and filled in LibreOffice with a 200-character 备注 and 三级指标 in
    every blank row; {state: (workbook, xlform print's PDF)} and the filled one's plain LibreOffice PDF."""
    from test_declaration import DECLARATION
    from helpers import write_def
    from xlform.definition.definition import load
    from xlform.issue.registry import Registry
    from xlform.issue.renderer import render
    out = tmp_path_factory.mktemp("declaration-paper")
    p = load(write_def(out, DECLARATION))
    [issued] = render([p], out, registry=Registry(out / "r.db"))
    lay = lay_of(p)
    cells = {f.cell: typed(f"{n:02d}", 200 if key.endswith("remark") else 40)
             for n, (key, f) in enumerate(lay.inputs().items()) if key.endswith((".remark", ".name"))}
    lo.fill(issued.file, out / "filled.xlsx", cells)
    lo.pdf(out / "filled.xlsx", out / "filled.plain.pdf")
    blank, filled = print_pdfs([issued.file, out / "filled.xlsx"], out / "pdf")
    return {"blank": (issued.file, blank.pdf), "filled": (out / "filled.xlsx", filled.pdf)}, \
        out / "filled.plain.pdf", cells, p


def test_a_blank_declaration_prints_no_zero_for_a_fund_row_left_out(declaration):
    (printed, _, _, p) = declaration
    assert "carryover" not in p.funds.rows or not p.funds.rows["carryover"].initial
    with pdfplumber.open(printed["blank"][1]) as doc:
        words = doc.pages[0].extract_words()
    [label] = [w for w in words if w["text"] == "上年结转资金"]
    beside = [w["text"] for w in words if abs(w["top"] - label["top"]) < 3 and w["x0"] > label["x1"]]
    assert not beside, beside


def test_declaration_rows_grow_with_what_is_typed_and_print_whole(declaration):
    """Its input rows carry no fixed height: LibreOffice grows them to a typed 备注, whose every character
    prints, from plain LibreOffice and from xlform print."""
    import openpyxl
    printed, plain, cells, _ = declaration
    ws = openpyxl.load_workbook(printed["filled"][0]).worksheets[0]
    blank = openpyxl.load_workbook(printed["blank"][0]).worksheets[0]
    remark = next(c for c, v in cells.items() if len(v) == 200)
    row = int("".join(ch for ch in remark if ch.isdigit()))
    assert ws.row_dimensions[row].height > 3 * blank.row_dimensions[row].height
    for pdf in (plain, printed["filled"][1]):
        missing = [v[:4] for v in cells.values() if v not in stream(pdf)]
        assert not missing, (pdf.name, missing)


LEVELS = ["数量指标", "质量指标", "时效指标", "经济效益指标", "社会效益指标", "可持续影响指标", "服务对象满意度指标"]


def test_labels_lie_whole_inside_the_page(paper):
    """xlform print of the filled 自评表s: no 一级/二级 label cut by a page's edge."""
    filled, _ = paper
    for tid, (_, pdf, _) in filled.items():
        labels_whole(pdf, [w for w in LEVELS if w in stream(pdf)])


@pytest.mark.parametrize("state", ["blank", "filled"])
def test_declaration_labels_lie_whole_inside_the_page(declaration, state):
    """No 一级/二级 label is cut by a page's edge: each prints whole, above the bottom margin, on every page
    its group reaches."""
    printed, _, _, _ = declaration
    labels_whole(printed[state][1], LEVELS)


def labels_whole(pdf, levels):
    with pdfplumber.open(pdf) as doc:
        for n, page in enumerate(doc.pages):
            shown = [c for c in page.chars if c["text"].strip()]
            flat = "".join(c["text"] for c in shown)
            assert all(c["bottom"] <= page.height - BOTTOM + 1 for c in body_chars(page.height, shown)), n
            image = page.to_image(resolution=72).original.convert("L")
            for word in levels:
                at = flat.find(word)
                if at >= 0:   # whole and drawn
                    assert all(visible(image, c) for c in shown[at:at + len(word)]), (pdf.name, n, word)
        found = "".join(c["text"] for page in doc.pages for c in page.chars if c["text"].strip())
    assert all(word in found for word in levels), [w for w in levels if w not in found]


@pytest.fixture(scope="module")
def summary_pdf(paper, rendered, tmp_path_factory):
    """The seed's filled returns collected (Sichuan's with its 原因), the summary workbook printed."""
    import shutil
    from click.testing import CliRunner
    from xlform.cli import main
    filled, _ = paper
    out = tmp_path_factory.mktemp("summary-paper")
    (out / "inbox").mkdir()
    for tid, (_, _, plain) in filled.items():
        shutil.copy(plain.parent / f"{tid}.xlsx", out / "inbox" / f"{tid}.xlsx")
    registry = next(iter(rendered.values())).parent / "registry.db"
    r = CliRunner().invoke(main, ["collect", str(out / "inbox"), "--db", str(out / "c.db"), "--registry",
                                  str(registry), "--summary", str(out / "summary.xlsx"), "--report",
                                  str(out / "reports")])
    assert (out / "summary.xlsx").is_file(), r.output
    [done] = print_pdfs([out / "summary.xlsx"], out / "pdf")
    return out / "summary.xlsx", done.pdf


def test_the_summary_prints_at_8_points_with_its_header_on_every_page(summary_pdf):
    _, pdf = summary_pdf
    with pdfplumber.open(pdf) as doc:
        for n, page in enumerate(doc.pages):
            assert page.width > page.height, n   # A4 landscape
            body = body_chars(page.height, [c for c in page.chars if c["text"].strip()])
            text = "".join(c["text"] for c in body)
            if body:
                assert min(c["size"] for c in body) >= 8, (n, min(c["size"] for c in body))
                assert "主管部门" in text or "评价等级" in text, n   # the header row (图表: its tables')


def test_the_summary_heads_its_columns_in_chinese(summary_pdf):
    import openpyxl
    path, _ = summary_pdf
    wb = openpyxl.load_workbook(path)
    heads = [(ws.title, c.value) for ws in wb.worksheets for c in ws[1] if c.value]
    assert "原因" in [h for _, h in heads]   # Sichuan's 原因 of the funds (funds.reason)
    latin = [(s, h) for s, h in heads if not any("\u4e00" <= ch <= "\u9fff" for ch in str(h))]
    assert not latin, latin


def test_the_charts_label_their_bars_with_the_values_alone_beside_them(summary_pdf):
    """As LibreOffice prints them: a data label is a number ("5", "90.50", "80%"), never "良; 评价等级分布; 5",
    and lies beside its bar, not over it."""
    _, pdf = summary_pdf
    with pdfplumber.open(pdf) as doc:
        pages = [p for p in doc.pages if "评价等级分布" in "".join(c["text"] for c in p.chars)]
        assert pages
        for page in pages:
            text = "".join(c["text"] for c in page.chars)
            assert "评价等级分布;" not in text and "; " not in text, text[:200]
            bars = [r for r in page.rects + page.curves if r.get("fill") and _blue(r.get("non_stroking_color"))]
            assert bars
            digits = [c for c in page.chars if c["text"].isdigit() or c["text"] in ".%"]
            over = [c["text"] for c in digits for b in bars
                    if c["x0"] < b["x1"] - 0.5 and c["x1"] > b["x0"] + 0.5 and c["top"] < b["bottom"] - 0.5 and
                    c["bottom"] > b["top"] + 0.5]
            assert not over, over


def _blue(color) -> bool:
    """The bars' fill, #4472C4."""
    return isinstance(color, (tuple, list)) and len(color) == 3 and abs(color[0] - 0x44 / 255) < 0.05 and \
        abs(color[2] - 0xC4 / 255) < 0.05


def test_sichuan_reads_its_split_percent_target_back_unchanged(paper, rendered):
    """The return typed in LibreOffice reads with no locked cell or formula changed: 100 | % is what was
    issued, and the record keeps the target as the definition says it (=100%)."""
    from xlform.issue.registry import Registry
    from xlform.returns.reader import read
    filled, _ = paper
    saved = filled["sc-2023-01"][2].parent / "sc-2023-01.xlsx"
    registry = Registry(next(iter(rendered.values())).parent / "registry.db")
    try:
        [record] = read(saved, registry)
    finally:
        registry.close()
    changed = [p.code for p in record.problems if p.code.endswith("_changed")]
    assert not changed, changed
    assert [i.target for i in record.indicators if i.name == "项目验收合格率"] == ["=100%"]
