"""The paper copy, checked on the PDF itself: every kind prints at 9 pt or more, every page names the project
and repeats the table's header, and every character a department typed lies inside its cell."""
import os
import re
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pdfplumber
import pytest
from click.testing import CliRunner

from helpers import lay_of
from xlform.cli import main
from xlform.printing.printer import print_pdfs

ROOT = Path(__file__).resolve().parent.parent
PHRASE = "因外地培训费用无法报销而未开展，下半年改为线上线下结合方式，确保完成全年培训任务；"


def typed(tag: str, length: int = 200) -> str:
    """A text of `length` characters that no other cell holds (it starts with its tag)."""
    text = f"【{tag}】" + PHRASE * (length // len(PHRASE) + 1)
    return text[:length]


def fill_texts(project) -> dict:
    """Inputs a department types, long texts in every text input (200 characters, or the field's limit)."""
    lay = lay_of(project)
    cells = {}
    for n, (key, f) in enumerate(lay.inputs().items()):
        if f.type == "text":
            cells[f.cell] = typed(f"{n:02d}", min(200, f.limit or 200))
        elif f.type == "amount":
            cells[f.cell] = 89.974
    return cells


def as_published(project, published) -> dict:
    """The bureau's published values, with a 200-character 实际完成情况 and 偏差原因 as a department writes them."""
    from helpers import cells_for, inputs_from
    lay = lay_of(project)
    cells = cells_for(project, inputs_from(project, published))
    cells[lay.cell("goal.actual")] = typed("完成情况")
    cells[lay.cell("indicators.1.reason")] = typed("偏差原因")
    return cells


@pytest.fixture(scope="module")
def printed(lo, rendered, examples, published, tmp_path_factory):
    """Every example printed blank; three (both kinds) filled through LibreOffice with long texts in every
    text input, and 专项业务费 as the bureau returned it, with two long texts."""
    out = tmp_path_factory.mktemp("printed")
    filled = {}
    samples = {tid: fill_texts(examples[tid]) for tid in ("xj-jrj-2019-01", "xj-jrj-2019-04", "sc-2023-01")}
    samples["xj-jrj-2019-07"] = as_published(examples["xj-jrj-2019-07"], published["xj-jrj-2019-07"])
    for tid, cells in samples.items():
        path = out / f"filled-{tid}.xlsx"
        lo.fill(rendered[tid], path, cells)
        filled[tid] = (path, cells)
    pdfs = {p.source: p.pdf for p in print_pdfs(list(rendered.values()) + [f for f, _ in filled.values()],
                                                out / "pdf")}
    if os.environ.get("XLFORM_WRITE_DOCS"):  # the picture in the README: `XLFORM_WRITE_DOCS=1 pytest tests/test_print.py`
        subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile",
                        str(pdfs[filled["xj-jrj-2019-07"][0]]), str(ROOT / "docs" / "printed-form")], check=True)
    return {"blank": {tid: pdfs[path] for tid, path in rendered.items()},
            "filled": {tid: (pdfs[path], cells) for tid, (path, cells) in filled.items()}}


def pages(pdf):
    with pdfplumber.open(pdf) as doc:
        return [(page.height, page.chars, page.lines + page.rects, page.extract_text() or "") for page in doc.pages]


def body_chars(page_height, chars):
    """Characters outside the footer (the bottom margin holds the page number, department and template id)."""
    return [c for c in chars if c["top"] < page_height - 50]


@pytest.mark.parametrize("state", ["blank", "filled"])
def test_text_prints_at_9_points_and_the_title_at_14(printed, examples, state):
    for tid, entry in printed[state].items():
        pdf = entry if state == "blank" else entry[0]
        for height, chars, _, _ in pages(pdf):
            body = body_chars(height, chars)
            assert body and min(c["size"] for c in body) >= 9, (tid, min(c["size"] for c in body))
        shown = [c for c in pages(pdf)[0][1] if c["text"].strip()]
        at = "".join(c["text"] for c in shown).index("项目支出绩效自评表")
        assert min(c["size"] for c in shown[at:at + 9]) >= 14, tid


@pytest.mark.parametrize("state", ["blank", "filled"])
def test_every_page_names_the_project_and_repeats_the_table_header(printed, examples, state):
    for tid, entry in printed[state].items():
        pdf = entry if state == "blank" else entry[0]
        p = examples[tid]
        heading = "三级指标"
        for n, (_, _, _, text) in enumerate(pages(pdf)):
            flat = "".join(text.split())
            assert "项目名称：" + (f"{p.extra['code']}{p.project}" if p.extra else p.project) in flat, (tid, n)
            assert n == 0 or heading in flat, (tid, n)   # the table's header begins every later page
        if state == "filled" and tid != "xj-jrj-2019-07":
            assert len(pages(pdf)) > 1, tid   # long texts everywhere: the form goes on over several pages


def cell_box(char, borders):
    """The rectangle of the borders around a character: the nearest lines left, right, above and below."""
    vertical = [b for b in borders if abs(b["x0"] - b["x1"]) < 1 and b["top"] - 1 <= char["top"] and
                b["bottom"] + 1 >= char["bottom"]]
    horizontal = [b for b in borders if abs(b["top"] - b["bottom"]) < 1 and b["x0"] - 1 <= char["x0"] and
                  b["x1"] + 1 >= char["x1"]]
    left = max((b["x0"] for b in vertical if b["x0"] <= char["x0"] + 0.5), default=None)
    right = min((b["x0"] for b in vertical if b["x0"] >= char["x1"] - 0.5), default=None)
    top = max((b["top"] for b in horizontal if b["top"] <= char["top"] + 0.5), default=None)
    bottom = min((b["top"] for b in horizontal if b["top"] >= char["bottom"] - 0.5), default=None)
    return left, right, top, bottom


def test_every_typed_character_lies_inside_its_cell(printed):
    for tid, (pdf, cells) in printed["filled"].items():
        texts = [v for v in cells.values() if isinstance(v, str)]
        found = {}
        for _, chars, lines, _ in pages(pdf):
            shown = [c for c in chars if c["text"].strip()]
            stream = "".join(c["text"] for c in shown)
            borders = [b for b in lines]
            # rects are drawn borders too: their four sides
            for text in texts:
                at = stream.find(text)
                if at < 0:
                    continue
                mine = shown[at:at + len(text)]
                left, right, top, bottom = cell_box(mine[0], _edges(borders))
                assert None not in (left, right, top, bottom), (tid, text[:6])
                outside = [c["text"] for c in mine if not (left - 0.5 <= c["x0"] and c["x1"] <= right + 0.5 and
                                                            top - 0.5 <= c["top"] and c["bottom"] <= bottom + 0.5)]
                assert not outside, (tid, text[:6], "".join(outside))
                found[text] = True
        missing = [t[:6] for t in texts if t not in found]
        assert not missing, (tid, missing)   # a cut text is missing characters: it is not found whole


def _edges(shapes):
    """Lines, and the four sides of every rectangle, as line-like dicts."""
    out = []
    for s in shapes:
        if s.get("object_type") == "rect":
            x0, x1, top, bottom = s["x0"], s["x1"], s["top"], s["bottom"]
            out += [dict(x0=x0, x1=x0, top=top, bottom=bottom), dict(x0=x1, x1=x1, top=top, bottom=bottom),
                    dict(x0=x0, x1=x1, top=top, bottom=top), dict(x0=x0, x1=x1, top=bottom, bottom=bottom)]
        else:
            out.append(s)
    return out


def test_amounts_print_as_typed_and_a_blank_form_prints_no_zero(printed):
    pdf, _ = printed["filled"]["xj-jrj-2019-01"]
    text = "".join(pages(pdf)[0][3].split())
    assert "89.974" in text and "89.97%" not in text
    blank = "".join(pages(printed["blank"]["xj-jrj-2019-01"])[0][3].split())
    assert "0.00" not in blank


def test_a_typed_reason_grows_its_row_and_prints_whole(lo, rendered, examples, tmp_path):
    """A 偏差原因 typed in LibreOffice grows its row (the row carries a height but no customHeight); the
    office's printout of the return shows all of it."""
    import openpyxl
    p = examples["xj-jrj-2019-07"]
    lay = lay_of(p)
    cell = lay.cell("indicators.1.reason")
    row = int(cell[1:])
    with zipfile.ZipFile(rendered[p.id]) as z:   # (openpyxl reports any row with a height as custom)
        tag = re.search(rf'<row r="{row}"[^>]*>', z.read("xl/worksheets/sheet1.xml").decode()).group(0)
    assert 'ht="' in tag and "customHeight" not in tag, tag
    blank = openpyxl.load_workbook(rendered[p.id])["自评表"].row_dimensions[row].height
    text = typed("原因")
    lo.fill(rendered[p.id], tmp_path / "f.xlsx", {cell: text})
    grown = openpyxl.load_workbook(tmp_path / "f.xlsx")["自评表"].row_dimensions[row].height
    assert grown > 3 * blank, (grown, blank)
    [done] = print_pdfs([tmp_path / "f.xlsx"], tmp_path / "pdf")
    for _, chars, lines, _ in pages(done.pdf):
        shown = [c for c in chars if c["text"].strip()]
        at = "".join(c["text"] for c in shown).find(text)
        if at >= 0:
            mine = shown[at:at + len(text)]
            left, right, top, bottom = cell_box(mine[0], _edges(lines))
            assert all(top - 0.5 <= c["top"] and c["bottom"] <= bottom + 0.5 for c in mine)
            return
    pytest.fail("the typed 偏差原因 is not printed whole")


def test_print_takes_the_summary_workbook(tmp_path):
    from xlform.storage.store import Store
    from xlform.collecting.summary import write_summary
    store = Store(tmp_path / "c.db")
    write_summary(tmp_path / "summary.xlsx", store, [{"department": "测试局", "project": "未报送的项目",
                                                      "template_id": "t-1", "version": 1}])
    store.close()
    r = CliRunner().invoke(main, ["print", str(tmp_path / "summary.xlsx"), "-o", str(tmp_path / "pdf")])
    assert r.exit_code == 0, r.output
    text = "".join("".join(t.split()) for *_, t in pages(tmp_path / "pdf" / "summary.pdf"))
    assert "主管部门" in text


def test_print_without_libreoffice_names_the_package(rendered, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    r = CliRunner().invoke(main, ["print", str(rendered["xj-jrj-2019-01"]), "-o", str(tmp_path / "pdf")])
    assert r.exit_code == 2 and "apt-get install libreoffice-calc-nogui" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_files_are_written_with_the_users_umask(tmp_path):
    old = os.umask(0o022)
    try:
        r = CliRunner().invoke(main, ["render", str(ROOT / "examples" / "jxjl-2019.yaml"), "-o", str(tmp_path),
                                      "--registry", str(tmp_path / "r.db")])
        assert r.exit_code == 0, r.output
        mode = stat.S_IMODE((tmp_path / "xj-jrj-2019-06.xlsx").stat().st_mode)
        assert mode == 0o644, oct(mode)
    finally:
        os.umask(old)


def test_the_readme_picture_exists():
    png = ROOT / "docs" / "printed-form.png"
    assert png.is_file() and png.stat().st_size > 10_000 and "docs/printed-form.png" in (ROOT / "README.md").read_text(
        encoding="utf-8")
    assert shutil.which("pdftoppm")


def test_the_declaration_kind_prints_legibly_too(tmp_path):
    from test_declaration import DECLARATION
    from helpers import write_def
    from xlform.definition.definition import load
    from xlform.issue.registry import Registry
    from xlform.issue.renderer import render
    [issued] = render([load(write_def(tmp_path, DECLARATION))], tmp_path, registry=Registry(tmp_path / "r.db"))
    [done] = print_pdfs([issued.file], tmp_path / "pdf")
    for n, (height, chars, _, text) in enumerate(pages(done.pdf)):
        body = body_chars(height, chars)
        assert min(c["size"] for c in body) >= 9, n
        assert "项目名称：乡村振兴专项资金" in "".join(text.split()), n
    shown = [c for c in pages(done.pdf)[0][1] if c["text"].strip()]
    at = "".join(c["text"] for c in shown).index("项目支出绩效目标申报表")
    assert min(c["size"] for c in shown[at:at + 11]) >= 14


@pytest.mark.parametrize("name, content", [("text.xlsx", b"not a workbook"),
                                           ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)])
def test_a_file_that_is_no_workbook_is_one_line_and_exit_1(tmp_path, name, content):
    bad = tmp_path / name
    bad.write_bytes(content)
    r = CliRunner().invoke(main, ["print", str(bad), "-o", str(tmp_path / "pdf")])
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1 and str(bad) in r.stderr
    assert not (tmp_path / "pdf").exists() or not list((tmp_path / "pdf").iterdir())


def test_a_hostile_file_never_reaches_openpyxl(tmp_path):
    """A DTD with an entity in a sheet: the guarded parser refuses it before anything else opens it."""
    import io
    import zipfile
    good = ROOT / "examples"
    from xlform.definition.definition import load
    from xlform.issue.registry import Registry
    from xlform.issue.renderer import render
    [issued] = render([load(good / "jxjl-2019.yaml")], tmp_path, registry=Registry(tmp_path / "r.db"))
    out = io.BytesIO()
    with zipfile.ZipFile(issued.file) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<worksheet", b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><worksheet', 1)
            dst.writestr(item, data)
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(out.getvalue())
    r = CliRunner().invoke(main, ["print", str(bad), "-o", str(tmp_path / "pdf")])
    assert r.exit_code == 1 and "已拒绝读取" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_two_workbooks_of_one_name_print_to_two_pdfs(rendered, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(rendered["xj-jrj-2019-06"], tmp_path / folder / "form.xlsx")
    done = print_pdfs([tmp_path / "a" / "form.xlsx", tmp_path / "b" / "form.xlsx"], tmp_path / "pdf")
    assert [p.pdf.name for p in done] == ["form.pdf", "form-2.pdf"] and all(p.pdf.is_file() for p in done)
