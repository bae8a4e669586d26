"""`xlform print`: a print-ready PDF of a blank or returned form (or of the summary workbook).

A copy of the workbook is prepared for paper: every row fitted to the text it holds (merged cells too,
which no spreadsheet fits by itself), page breaks planned again between 二级 groups with the labels of a
split group repeated, no screen highlights; LibreOffice then prints the copy. The workbook given is never
changed.
"""
from __future__ import annotations

import math
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import CannotRun
from ..outputs import atomic_write
from ..xlsx import measure
from ..xlsx.reader import Limits

LIBREOFFICE = "LibreOffice prints the PDF: install it (Debian/Ubuntu: apt-get install libreoffice-calc-nogui)"
# A profile that recalculates on load (openpyxl saves formulas without their cached values), never updates a
# link (external workbooks, DDE, WEBSERVICE) and loads no image from the network.
_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update"><prop oor:name="Link" oor:op="fuse">
<value>1</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks"
 oor:op="fuse"><value>true</value></prop></item>
</oor:items>
"""
# The forms name 宋体 (a summary may name 黑体), which a Linux machine does not have: fontconfig would give a
# Latin sans and LibreOffice a CJK sans for the characters. LibreOffice prints with this fontconfig file, the
# system's plus aliases, so that 宋体 prints in a CJK serif (Noto Serif CJK SC, Debian's fonts-noto-cjk) where
# one is installed, as the form asks; the tests' LibreOffice uses it too.
_SERIF = ("宋体", "SimSun", "新宋体", "NSimSun", "仿宋", "FangSong", "楷体", "KaiTi")
_SANS = ("黑体", "SimHei", "微软雅黑", "Microsoft YaHei")
FONTS = "".join(['<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n<fontconfig>\n',
                 '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'] +
                [f'<alias binding="same"><family>{name}</family><prefer><family>Noto {style} CJK SC</family>'
                 '</prefer></alias>\n' for names, style in ((_SERIF, "Serif"), (_SANS, "Sans")) for name in names] +
                ["</fontconfig>\n"])

# What print hands to openpyxl and LibreOffice is bounded before either opens the file: openpyxl makes an object
# for every row and cell of a sheet's extent (from A1 to its last row, cell or range), for every cell of a merged
# range, hyperlink or comment, and for every XML element (about 20 us each, 50 us a row, 120 us a cell format);
# LibreOffice lays out every sheet. Each limit keeps its part of the work to a few seconds. A form is a few
# thousand cells; a summary of a thousand returns about a hundred thousand.
LIMITS = Limits(max_uncompressed=50 * 2**20, max_cells=150_000, max_elements=400_000, max_styles=20_000)
MAX_SHEETS = 64
MAX_ROWS = 50_000       # rows of the sheets' extents together
MAX_AREA = 150_000      # cells of the sheets' extents together
MAX_SPANNED = 100_000   # cells of merged ranges, hyperlinks and comments together
MAX_TEXT = 2_000_000    # characters of text fitted to its rows, all cells together
PLANNED = 1000          # indicators and merged ranges of a sheet whose pages print plans (a form has ~100)
MAX_PAGES = 500         # A4 pages, estimated once the rows are fitted (LibreOffice takes about 10 ms a page)
TIMEOUT = 180           # seconds LibreOffice may take for one workbook
MEMORY = 2 * 2**30      # LibreOffice's address space (RLIMIT_AS); it maps 0.5-0.6 GB to print a form or
                        # 500 pages


@dataclass
class Printed:
    source: Path
    pdf: Path


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        raise CannotRun(f"cannot print: {LIBREOFFICE}")
    return found


def print_pdfs(paths, out_dir: Path, timeout: float = TIMEOUT) -> list[Printed]:
    """One PDF per workbook, named after it, in out_dir."""
    program = soffice()
    out_dir = Path(out_dir)
    done = []
    with _stopped_cleanly(), tempfile.TemporaryDirectory(prefix="xlform-print-") as work:
        work = Path(work)
        profile = work / "profile"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(_PROFILE, encoding="utf-8")
        (work / "tmp").mkdir()
        (work / "fonts.conf").write_text(FONTS, encoding="utf-8")
        taken: set[str] = set()
        for n, path in enumerate(map(Path, paths)):
            copy = work / f"{n}" / f"{path.stem}.xlsx"
            copy.parent.mkdir()
            prepare(path, copy)
            pdf = _convert(program, profile, work / "tmp", copy, path, timeout)
            stem, k = path.stem, 1
            while stem.lower() in taken:   # a/x.xlsx and b/x.xlsx: x.pdf and x-2.pdf, never one over the other
                k += 1
                stem = f"{path.stem}-{k}"
            taken.add(stem.lower())
            target = out_dir / f"{stem}.pdf"
            atomic_write(target, pdf.read_bytes())
            done.append(Printed(path, target))
    return done


def _convert(program: str, profile: Path, tmp: Path, copy: Path, source: Path, timeout: float) -> Path:
    """LibreOffice prints the copy, in a process group of its own with a bounded address space and time; the
    group is killed whatever happens (done, timed out, interrupted), so that no soffice.bin outlives print."""
    log = copy.with_suffix(".log")
    proc = None
    try:
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [program, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                 "--convert-to", "pdf", "--outdir", str(copy.parent), str(copy)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=tmp, start_new_session=True,
                env={**os.environ, "TMPDIR": str(tmp),   # its temporary files go where print's are removed
                     "FONTCONFIG_FILE": str(tmp.parent / "fonts.conf")},   # 宋体 in a serif: see FONTS
                preexec_fn=_limit_memory)
        if not _exited(proc, timeout):
            raise CannotRun(f"cannot print {source}: LibreOffice did not finish in {timeout:g} s; try again, or "
                            "close other LibreOffice windows")
    finally:
        if proc is not None:
            try:   # the leader is not reaped yet (_exited waits without reaping): its group id is still its own
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    pdf = copy.with_suffix(".pdf")
    if not pdf.is_file():
        said = log.read_text(encoding="utf-8", errors="replace").strip().replace(str(copy.parent), "")
        raise CannotRun(f"cannot print {source}: LibreOffice made no PDF ({' '.join(said.split())[:200]})")
    return pdf


def _limit_memory():
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = MEMORY if hard == resource.RLIM_INFINITY else min(MEMORY, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _exited(proc: subprocess.Popen, timeout: float) -> bool:
    """Wait for the process to end, leaving it unreaped (WNOWAIT) so that its process group can still be
    killed safely."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(0.05)
    return False


class _Terminated(CannotRun):
    pass


@contextmanager
def _stopped_cleanly():
    """SIGTERM and SIGHUP end print like Ctrl-C does, through every `finally` (LibreOffice's group killed, the
    temporary folder removed), instead of killing the process where it stands."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, _frame):
        raise _Terminated(f"cannot print: stopped by {signal.Signals(signum).name}")
    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def prepare(source: Path, target: Path):
    """The copy of a workbook that prints well: see the module's docstring."""
    import openpyxl
    from openpyxl.styles import PatternFill
    _guard(source)
    try:
        with warnings.catch_warnings():   # openpyxl warns of what it drops or mends, on stderr: not print's say
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(source)
    except Exception as e:  # openpyxl raises many kinds on a file that is no workbook
        raise CannotRun(f"cannot print {source}: not a readable .xlsx workbook ({type(e).__name__}); "
                        "`xlform read` says what is wrong with it") from None
    _inert(wb)
    cells = _cell_maps(wb)
    pages = 0
    for ws in wb.worksheets:
        if ws.sheet_state != "visible":
            continue
        heights = _fit_rows(ws)
        pages += _pages(ws, heights)
        if pages > MAX_PAGES:
            raise CannotRun(f"cannot print {source}: refused, too large to print (about {pages} pages by sheet "
                            f"{ws.title}; print makes {MAX_PAGES} at most)")
        if ws.title in cells:
            _plan_pages(ws, cells[ws.title], heights)
        for row in ws.iter_rows():  # the highlights of inputs are for the screen
            for cell in row:
                if cell.fill is not None and cell.fill.fill_type:
                    cell.fill = PatternFill(fill_type=None)
    wb.save(target)


def _guard(source: Path):
    """A return comes from outside: xlform's guarded parser reads every part first (size, zip ratio, DTD and
    entity limits) and every sheet openpyxl and LibreOffice will lay out (see LIMITS), so that neither ever
    opens a hostile file."""
    from openpyxl.utils import get_column_letter
    from ..xlsx.reader import BadWorkbook, Package
    try:
        with Package(source, LIMITS) as pkg:
            if len(pkg.sheets) > MAX_SHEETS:
                raise _TooLarge(f"{len(pkg.sheets)} sheets; print takes {MAX_SHEETS} at most")
            pkg.scan()
            area = spanned = text = height = 0
            for info in pkg.sheets:
                sheet = pkg.sheet(info, layout=True)
                rows, cols = sheet.extent
                area, spanned, height = area + rows * cols, spanned + sheet.spanned, height + rows
                text += sum(len(c.value) for c in sheet.cells.values() if isinstance(c.value, str))
                if height > MAX_ROWS:
                    raise _TooLarge(f"{height} rows to lay out, sheet {info.name} reaching row {rows}; print takes "
                                    f"{MAX_ROWS} at most")
                if area > MAX_AREA:
                    raise _TooLarge(f"{area} cells to lay out, sheet {info.name} reaching "
                                    f"{get_column_letter(cols)}{rows}; print takes {MAX_AREA} at most")
                if spanned > MAX_SPANNED:
                    raise _TooLarge(f"merged ranges, links and comments cover {spanned} cells (sheet "
                                    f"{info.name}); print takes {MAX_SPANNED} at most")
                if text > MAX_TEXT:
                    raise _TooLarge(f"more than {MAX_TEXT} characters of text (sheet {info.name})")
    except _TooLarge as e:
        raise CannotRun(f"cannot print {source}: refused, too large to print ({e})") from None
    except BadWorkbook as e:
        if e.code == "too_large":   # print's limits are tighter than the reader's
            raise CannotRun(f"cannot print {source}: refused, too large to print ({e.detail})") from None
        detail = f" ({e.detail})" if e.detail else ""
        raise CannotRun(f"cannot print {source}: refused, {e.code}{detail}; `xlform read` says what is wrong "
                        "with it") from None
    except OSError as e:
        raise CannotRun(f"cannot print {source}: {e.strerror or e}") from None


class _TooLarge(Exception):
    pass


# Calls that would show where the copy lies (CELL("filename"), INFO("directory")) or reach out (WEBSERVICE,
# FILTERXML's entities, DDE, IMAGE, RTD): none belongs on a form, each prints as #N/A.
_REACHING = {"CELL", "INFO", "WEBSERVICE", "FILTERXML", "DDE", "IMAGE", "RTD"}
_SUSPECT = re.compile(r"(?:CELL|INFO|WEBSERVICE|FILTERXML|DDE|IMAGE|RTD)\s*\(", re.IGNORECASE)
_PATH_CODE = re.compile(r"(?<!&)&[Zz]")   # a header's or footer's "file path" field


def _inert(wb):
    """The copy's formulas, names and headers without the calls and fields that reveal or fetch anything; no
    conditional format (screen highlights) nor validation (lists and rules for typing) either."""
    from openpyxl.formatting.formatting import ConditionalFormattingList
    from openpyxl.worksheet.datavalidation import DataValidationList
    from openpyxl.worksheet.formula import ArrayFormula
    for names in [wb.defined_names] + [ws.defined_names for ws in wb.worksheets]:
        for name in names.values():
            if name.attr_text:
                name.attr_text = _inert_formula("=" + name.attr_text)[1:]
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type != "f":
                    continue
                if isinstance(cell.value, str):
                    cell.value = _inert_formula(cell.value)
                elif isinstance(cell.value, ArrayFormula) and cell.value.text:
                    cell.value.text = _inert_formula(cell.value.text)
        ws.conditional_formatting = ConditionalFormattingList()
        ws.data_validations = DataValidationList()
        for item in (ws.HeaderFooter.oddHeader, ws.HeaderFooter.oddFooter, ws.HeaderFooter.evenHeader,
                     ws.HeaderFooter.evenFooter, ws.HeaderFooter.firstHeader, ws.HeaderFooter.firstFooter):
            for part in (item.left, item.center, item.right):
                if part.text:
                    part.text = _PATH_CODE.sub("", part.text)


def _inert_formula(formula: str) -> str:
    """`formula` (with its "=") with every call of _REACHING replaced by NA()."""
    if not _SUSPECT.search(formula):
        return formula
    from openpyxl.formula import Tokenizer
    from openpyxl.formula.tokenizer import TokenizerError
    try:
        items = Tokenizer(formula).items
    except TokenizerError:
        return "=NA()"
    out, depth = [], 0
    for n, t in enumerate(items):
        step = (t.type in ("FUNC", "PAREN")) * ((t.subtype == "OPEN") - (t.subtype == "CLOSE"))
        if depth == -1:   # "CELL (": the call's arguments begin at the parenthesis
            depth = 1 if step == 1 else -1
        elif depth:       # inside a call being replaced
            depth += step
        elif _name(t.value) in _REACHING and (t.type == "FUNC" and step == 1 or _called(items, n)):
            out.append("NA()")
            depth = step or -1
        else:
            out.append(t.value)
    return "=" + "".join(out)


def _name(token: str) -> str:
    """The function a token names: "_xlfn.WEBSERVICE(" -> "WEBSERVICE"."""
    return token.rstrip("(").rsplit(".", 1)[-1].strip().upper()


def _called(items, n: int) -> bool:
    """A name followed by spaces and a parenthesis, "CELL (": LibreOffice reads it as a call."""
    rest = [t for t in items[n + 1:n + 3] if t.type != "WHITE-SPACE"]
    return bool(rest) and rest[0].type == "PAREN" and rest[0].subtype == "OPEN"


_CELL = re.compile(r"[A-Z]{1,3}[1-9][0-9]{0,6}")
_INDICATOR_NAME = re.compile(r"(indicators|declared)\.([0-9]{1,6})\.name")   # 自评表 | 申报表 rows


def _cell_maps(wb) -> dict[str, dict]:
    """{sheet: field -> cell} from the hidden _xlform sheet of an xlform workbook ({} for any other)."""
    from ..xlsx.metadata import META_SHEET, parse_meta
    if META_SHEET not in wb.sheetnames:
        return {}
    rows = [[c.value for c in row] for row in wb[META_SHEET].iter_rows(max_col=3)]
    try:
        meta = parse_meta(rows)
    except RecursionError:   # JSON nested past Python's depth: no map, the form prints as it is
        return {}
    return {sheet: {k: v for k, v in entry["cells"].items() if isinstance(v, str) and _CELL.fullmatch(v)}
            for sheet, entry in meta.items() if isinstance(entry.get("cells"), dict)}


def _widths(ws) -> dict[int, float]:
    """Column (1-based) -> its width as stored, with its padding; a <col> may stand for a run of columns, which
    openpyxl keeps under the first one's letter only."""
    out: dict[int, float] = {}
    for dim in list(ws.column_dimensions.values()):
        for c in range(max(dim.min or 1, 1), min(dim.max or dim.min or 0, ws.max_column) + 1):
            out[c] = 0 if dim.hidden else dim.width or 8.43
    return out


def _pages(ws, heights: dict[int, float]) -> int:
    """About how many pages a sheet prints on: its fitted rows down, its columns across, at its scale or fitted
    to the pages it asks for."""
    setup = ws.page_setup
    width, height = measure.PRINTABLE_WIDTH, measure.PRINTABLE_HEIGHT
    if setup.orientation == "landscape":
        width, height = width + measure.A4_HEIGHT - measure.A4_WIDTH, height - measure.A4_HEIGHT + measure.A4_WIDTH
    down = sum(h for r, h in heights.items() if not ws.row_dimensions[r].hidden) / height
    stored = _widths(ws)
    widths = [stored.get(c, 8.43) for c in range(1, ws.max_column + 1)]
    across = sum(widths) * measure.LO_UNIT / width
    if ws.sheet_properties.pageSetUpPr is not None and ws.sheet_properties.pageSetUpPr.fitToPage:
        wide, tall = setup.fitToWidth, setup.fitToHeight   # 0: as many as it takes; None: 1
        wide, tall = 1 if wide is None else wide, 1 if tall is None else tall
        shrink = min(1.0, wide / across if wide and across else 1.0, tall / down if tall and down else 1.0)
        shrink = max(shrink, 0.1)   # spreadsheets shrink to 10% at most: past that, more pages
        return math.ceil(across * shrink) * math.ceil(down * shrink)
    scale = max((setup.scale or 100) / 100, 1)
    return math.ceil(down * scale) * math.ceil(across * scale)


def _fit_rows(ws) -> dict[int, float]:
    """Give every row the height its text needs (1-based rows -> points); merged ranges count too."""
    merged = {(r.min_row, r.min_col): r for r in ws.merged_cells.ranges}
    stored = _widths(ws)
    need: dict[int, float] = {}
    spans: list[tuple[int, int, float]] = []
    for row in ws.iter_rows():
        for cell in row:
            text = cell.value
            if not text and _text_input(cell):   # a blank to write in by hand: room for 3 lines
                text = "\n\n"
            if not isinstance(text, str) or cell.data_type == "f" or text.startswith("="):
                continue
            size = (cell.font.sz if cell.font is not None and cell.font.sz else 10.0)
            rng = merged.get((cell.row, cell.column))
            first_col, last_col = (rng.min_col, rng.max_col) if rng else (cell.column, cell.column)
            # the columns' widths as shown: each stores its padding, a merged cell pads its text once
            width = max(sum(stored.get(c, 8.43) for c in range(first_col, last_col + 1)) - measure.LO_PAD, 1.0)
            h = measure.lo_height(measure.lo_lines(text, width, size), size)
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


def _text_input(cell) -> bool:
    """An input a department writes text in: unlocked, its text set at the top left (the writer's in_text;
    number inputs are centred or set right)."""
    return cell.protection is not None and cell.protection.locked is False and cell.alignment is not None and \
        cell.alignment.vertical == "top" and cell.alignment.horizontal in (None, "left", "general")


def _plan_pages(ws, cells: dict, heights: dict[int, float]):
    """Page breaks between 二级 groups for the fitted heights; a split group gets its labels again."""
    from openpyxl.utils.cell import coordinate_from_string, column_index_from_string
    from openpyxl.worksheet.pagebreak import Break, RowBreak
    names = sorted((k for k in cells if _INDICATOR_NAME.fullmatch(k)), key=lambda k: int(k.split(".")[1]))
    table = names[0].split(".")[0] if names else ""
    names = [k for k in names if k.startswith(table + ".")]
    if not names or f"{table}.0.level1" not in cells or f"{table}.0.level2" not in cells:
        return
    rows = [coordinate_from_string(cells[k])[1] for k in names]
    cols = {level: column_index_from_string(coordinate_from_string(cells[f"{table}.0.{level}"])[0])
            for level in ("level1", "level2")}
    if max(rows) > ws.max_row or max(cols.values()) > ws.max_column or rows != sorted(set(rows)) or \
            len(rows) > PLANNED or len(ws.merged_cells.ranges) > PLANNED:
        return   # a map that does not fit the sheet (a tampered one): the sheet prints as it is
    shown = _shown(ws, set(cols.values()))
    labels = {level: [ws.cell(*shown.get((r, col), (r, col))).value for r in rows] for level, col in cols.items()}
    # 绩效指标 in column A, merged from the table's header down, in as many parts as the writer planned pages
    section = [rng for rng in ws.merged_cells.ranges if rng.min_col == rng.max_col == 1 and
               rows[0] - 1 <= rng.max_row and rng.min_row <= rows[-1]]
    styles = {col: ws.cell(rows[0], col)._style for col in cols.values()}   # the labels' look, kept below
    styles[1] = ws.cell(section[0].min_row, 1)._style if section else None
    section_text = next((ws.cell(r.min_row, 1).value for r in section if ws.cell(r.min_row, 1).value), None)
    section_rows = (min(r.min_row for r in section), max(r.max_row for r in section)) if section else None
    for rng in list(ws.merged_cells.ranges):   # labels are merged again below, page by page
        if rng.min_col == rng.max_col and (rng.min_col in cols.values() or rng in section) and \
                rows[0] <= rng.max_row and rng.min_row <= rows[-1]:
            ws.unmerge_cells(str(rng))
    groups = _runs(rows, list(zip(labels["level1"], labels["level2"])))
    # the table's header, printed on every page: its row(s) as the sheet repeats them (the 监控表's are two)
    titles = re.fullmatch(r"\$?([0-9]+):\$?([0-9]+)", (ws.print_title_rows or "").split("!")[-1])
    first, last = (int(titles[1]), int(titles[2])) if titles else (rows[0] - 1, rows[0] - 1)
    repeated = sum(heights.get(r, measure.lo_height(1, 10)) for r in range(first, min(last, first + 10) + 1))
    capacity = measure.PRINTABLE_HEIGHT   # A4 portrait; landscape (the 监控表) is the width less the margins
    if ws.page_setup.orientation == "landscape":
        capacity -= measure.A4_HEIGHT - measure.A4_WIDTH
    plan = measure.plan_pages([heights.get(r + 1, 0.0) for r in range(ws.max_row)], rows[0] - 1,
                              [(a - 1, b - 1) for a, b in groups], repeated, capacity,
                              head=max(1, min(rows[0] - first, 10)))
    cuts = sorted(b + 1 for b in plan.breaks)     # 1-based rows that start a page
    ws.row_breaks = RowBreak()
    for r in cuts:
        ws.row_breaks.append(Break(id=r - 1))
    blocks = []   # (first, last, column, text): every label, cut where a page ends
    for level, col in cols.items():
        keyed = labels["level1"] if level == "level1" else list(zip(labels["level1"], labels["level2"]))
        at = {r: n for n, r in enumerate(rows)}
        blocks += [(first, last, col, labels[level][at[first]]) for first, last in _runs(rows, keyed)]
    if section_rows:
        blocks.append((*section_rows, 1, section_text))
    for r in range(section_rows[0] if section_rows else 1, section_rows[1] + 1 if section_rows else 1):
        ws.cell(r, 1).value = None   # the writer's parts of 绩效指标: one label a page, below
    for first, last, col, text in blocks:
        starts = [first] + [r for r in cuts if first < r <= last]
        for a, b in zip(starts, starts[1:] + [last + 1]):
            ws.cell(a, col).value = text
            ws.cell(a, col)._style = styles[col]
            if b - 1 > a:
                ws.merge_cells(start_row=a, start_column=col, end_row=b - 1, end_column=col)


def _shown(ws, cols: set[int]) -> dict[tuple[int, int], tuple[int, int]]:
    """(row, col) -> the first cell of the merged range over it, in the given columns: the cell whose value is
    shown there."""
    out = {}
    for rng in ws.merged_cells.ranges:
        for col in (c for c in cols if rng.min_col <= c <= rng.max_col):
            for row in range(rng.min_row, rng.max_row + 1):
                out[(row, col)] = (rng.min_row, rng.min_col)
    return out


def _runs(rows: list[int], keys: list) -> list[tuple[int, int]]:
    """(first, last) rows of the runs of equal keys."""
    out: list[list] = []
    for r, key in zip(rows, keys):
        if out and out[-1][2] == key and out[-1][1] == r - 1:
            out[-1][1] = r
        else:
            out.append([r, r, key])
    return [(a, b) for a, b, _ in out]

