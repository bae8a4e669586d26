"""`xlform print`: a print-ready PDF of a blank or returned form (or of the summary workbook).

A copy of the workbook is prepared for paper: every row fitted to the text it holds (merged cells too,
which no spreadsheet fits by itself), page breaks planned again between 二级 groups with the labels of a
split group repeated, no screen highlights; LibreOffice then prints the copy. The workbook given is never
changed.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import measure
from .errors import CannotRun
from .outputs import atomic_write

LIBREOFFICE = "LibreOffice prints the PDF: install it (Debian/Ubuntu: apt-get install libreoffice-calc-nogui)"
# A profile that recalculates on load: openpyxl saves formulas without their cached values.
_RECALC = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
</oor:items>
"""


@dataclass
class Printed:
    source: Path
    pdf: Path


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        raise CannotRun(f"cannot print: {LIBREOFFICE}")
    return found


def print_pdfs(paths, out_dir: Path, timeout: float = 180) -> list[Printed]:
    """One PDF per workbook, named after it, in out_dir."""
    program = soffice()
    out_dir = Path(out_dir)
    done = []
    with tempfile.TemporaryDirectory(prefix="xlform-print-") as work:
        work = Path(work)
        profile = work / "profile"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(_RECALC, encoding="utf-8")
        taken: set[str] = set()
        for n, path in enumerate(map(Path, paths)):
            copy = work / f"{n}" / f"{path.stem}.xlsx"
            copy.parent.mkdir()
            prepare(path, copy)
            try:
                result = subprocess.run(
                    [program, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                     "--convert-to", "pdf", "--outdir", str(copy.parent), str(copy)],
                    stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise CannotRun(f"cannot print {path}: LibreOffice did not finish in {timeout:g} s; try again, or "
                                "close other LibreOffice windows") from None
            pdf = copy.with_suffix(".pdf")
            if not pdf.is_file():
                raise CannotRun(f"cannot print {path}: LibreOffice made no PDF ({result.stderr.strip()[:200]})")
            stem, k = path.stem, 1
            while stem.lower() in taken:   # a/x.xlsx and b/x.xlsx: x.pdf and x-2.pdf, never one over the other
                k += 1
                stem = f"{path.stem}-{k}"
            taken.add(stem.lower())
            target = out_dir / f"{stem}.pdf"
            atomic_write(target, pdf.read_bytes())
            done.append(Printed(path, target))
    return done


def prepare(source: Path, target: Path):
    """The copy of a workbook that prints well: see the module's docstring."""
    import openpyxl
    from openpyxl.formatting.formatting import ConditionalFormattingList
    from openpyxl.styles import PatternFill
    _guard(source)
    try:
        wb = openpyxl.load_workbook(source)
    except Exception as e:  # openpyxl raises many kinds on a file that is no workbook
        raise CannotRun(f"cannot print {source}: not a readable .xlsx workbook ({type(e).__name__}); "
                        "`xlform read` says what is wrong with it") from None
    cells = _cell_maps(wb)
    for ws in wb.worksheets:
        if ws.sheet_state != "visible":
            continue
        heights = _fit_rows(ws)
        if ws.title in cells:
            _plan_pages(ws, cells[ws.title], heights)
        for row in ws.iter_rows():  # the highlights of inputs are for the screen
            for cell in row:
                if cell.fill is not None and cell.fill.fill_type:
                    cell.fill = PatternFill(fill_type=None)
        ws.conditional_formatting = ConditionalFormattingList()
    wb.save(target)


def _guard(source: Path):
    """A return comes from outside: xlform's guarded parser reads every sheet first (size, zip ratio, DTD and
    entity limits), so that openpyxl never opens a hostile file."""
    from .xlsx import BadWorkbook, Package
    try:
        pkg = Package(source)
        try:
            for info in pkg.sheets:
                pkg.sheet(info)
        finally:
            pkg.close()
    except BadWorkbook as e:
        detail = f" ({e.detail})" if e.detail else ""
        raise CannotRun(f"cannot print {source}: refused, {e.code}{detail}; `xlform read` says what is wrong "
                        "with it") from None
    except OSError as e:
        raise CannotRun(f"cannot print {source}: {e.strerror or e}") from None


def _cell_maps(wb) -> dict[str, dict]:
    """{sheet: field -> cell} from the hidden _xlform sheet of an xlform workbook ({} for any other)."""
    from .metadata import META_SHEET, parse_meta
    if META_SHEET not in wb.sheetnames:
        return {}
    rows = [[c.value for c in row] for row in wb[META_SHEET].iter_rows()]
    return {sheet: entry["cells"] for sheet, entry in parse_meta(rows).items() if isinstance(entry.get("cells"), dict)}


def _width(ws, col: int) -> float:
    from openpyxl.utils import get_column_letter
    dim = ws.column_dimensions.get(get_column_letter(col))
    width = dim.width if dim is not None and dim.width else 8.43
    return max(width - 0.71, 1.0)   # the file stores the width with its padding


def _fit_rows(ws) -> dict[int, float]:
    """Give every row the height its text needs (1-based rows -> points); merged ranges count too."""
    merged = {(r.min_row, r.min_col): r for r in ws.merged_cells.ranges}
    need: dict[int, float] = {}
    spans: list[tuple[int, int, float]] = []
    for row in ws.iter_rows():
        for cell in row:
            if not isinstance(cell.value, str) or cell.data_type == "f" or cell.value.startswith("="):
                continue
            size = (cell.font.sz if cell.font is not None and cell.font.sz else 10.0)
            rng = merged.get((cell.row, cell.column))
            first_col, last_col = (rng.min_col, rng.max_col) if rng else (cell.column, cell.column)
            width = sum(_width(ws, c) for c in range(first_col, last_col + 1))
            h = measure.lo_height(measure.lo_lines(cell.value, width, size), size)
            if rng and rng.max_row > rng.min_row:
                spans.append((rng.min_row, rng.max_row, h))
            else:
                need[cell.row] = max(need.get(cell.row, 0.0), h)
    default = measure.lo_height(1, 10)
    heights = {r: need.get(r, default) for r in range(1, ws.max_row + 1)}
    for first, last, h in spans:  # a label over several rows: the rows share what it needs
        short = h - sum(heights[r] for r in range(first, last + 1))
        if short > 0:
            for r in range(first, last + 1):
                heights[r] += short / (last - first + 1)
    for r, h in heights.items():
        ws.row_dimensions[r].height = round(h, 1)
    return heights


def _plan_pages(ws, cells: dict, heights: dict[int, float]):
    """Page breaks between 二级 groups for the fitted heights; a split group gets its labels again."""
    from openpyxl.utils.cell import coordinate_from_string, column_index_from_string
    from openpyxl.worksheet.pagebreak import Break, RowBreak
    names = sorted((k for k in cells if k.startswith("indicators.") and k.endswith(".name")),
                   key=lambda k: int(k.split(".")[1]))
    if not names or "indicators.0.level1" not in cells:
        return
    rows = [coordinate_from_string(cells[k])[1] for k in names]
    cols = {level: column_index_from_string(coordinate_from_string(cells[f"indicators.0.{level}"])[0])
            for level in ("level1", "level2")}
    labels = {level: [_merged_value(ws, r, cols[level]) for r in rows] for level in cols}
    section = [rng for rng in ws.merged_cells.ranges if rng.min_col == rng.max_col == 1 and
               rng.min_row <= rows[0] <= rng.max_row]
    styles = {col: ws.cell(rows[0], col)._style for col in cols.values()}   # the labels' look, kept below
    styles[1] = ws.cell(section[0].min_row, 1)._style if section else None
    section_text = ws.cell(section[0].min_row, 1).value if section else None
    section_rows = (section[0].min_row, section[0].max_row) if section else None
    for rng in list(ws.merged_cells.ranges):   # labels are merged again below, page by page
        if rng.min_col == rng.max_col and (rng.min_col in cols.values() or rng in section) and \
                rows[0] <= rng.max_row and rng.min_row <= rows[-1]:
            ws.unmerge_cells(str(rng))
    groups = _runs(rows, list(zip(labels["level1"], labels["level2"])))
    repeated = heights.get(rows[0] - 1, measure.lo_height(1, 10))   # the table's header, printed on every page
    plan = measure.plan_pages([heights.get(r + 1, 0.0) for r in range(ws.max_row)], rows[0] - 1,
                              [(a - 1, b - 1) for a, b in groups], repeated)
    cuts = sorted(b + 1 for b in plan.breaks)     # 1-based rows that start a page
    ws.row_breaks = RowBreak()
    for r in cuts:
        ws.row_breaks.append(Break(id=r - 1))
    blocks = []   # (first, last, column, text): every label, cut where a page ends
    for level, col in cols.items():
        keyed = labels["level1"] if level == "level1" else list(zip(labels["level1"], labels["level2"]))
        blocks += [(first, last, col, labels[level][rows.index(first)]) for first, last in _runs(rows, keyed)]
    if section_rows:
        blocks.append((*section_rows, 1, section_text))
    for first, last, col, text in blocks:
        starts = [first] + [r for r in cuts if first < r <= last]
        for a, b in zip(starts, starts[1:] + [last + 1]):
            ws.cell(a, col).value = text
            ws.cell(a, col)._style = styles[col]
            if b - 1 > a:
                ws.merge_cells(start_row=a, start_column=col, end_row=b - 1, end_column=col)


def _merged_value(ws, row: int, col: int):
    """The value shown at a cell: its merged range's first cell's."""
    for rng in ws.merged_cells.ranges:
        if rng.min_col <= col <= rng.max_col and rng.min_row <= row <= rng.max_row:
            return ws.cell(rng.min_row, rng.min_col).value
    return ws.cell(row, col).value


def _runs(rows: list[int], keys: list) -> list[tuple[int, int]]:
    """(first, last) rows of the runs of equal keys."""
    out: list[list] = []
    for r, key in zip(rows, keys):
        if out and out[-1][2] == key and out[-1][1] == r - 1:
            out[-1][1] = r
        else:
            out.append([r, r, key])
    return [(a, b) for a, b, _ in out]

