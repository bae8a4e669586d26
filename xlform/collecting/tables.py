"""Sheets of any length at flat memory: a workbook whose tables are streamed.

xlsxwriter makes the workbook (formats, header rows, column widths and formats, filters, frozen panes, print
setup, charts); each table's rows wait in a temporary file as they are made, and go as sheet XML into that
sheet's <sheetData> when the package is copied into the output (its column formats known by then). Memory
holds a few hundred rows, whatever the number of rows (xlsxwriter keeps every cell of a workbook; its constant_memory mode writes them
one by one at less than half this speed). A cell takes its column's format, as xlsxwriter gives a cell written
without one; a text is an inline string, as in xlsxwriter's constant_memory mode.

A long table can be made beside the others (Table.make_beside): a process of its own reads its rows and writes
their XML while this one makes the rest; the row count it tells comes first (the filter's range), then the
column formats (known once xlsxwriter has written the package) go to every such process at once, and their
XML is copied in.
"""
from __future__ import annotations

import io
import os
import pickle
import re
import tempfile
import threading
import zipfile
from pathlib import Path
from queue import Queue

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from ..errors import XlformError
from ..outputs import atomic_file
from .processes import Talk

MAX_ROWS, MAX_TEXT = 1_048_576, 32_767   # Excel's limits: rows of a sheet, characters of a cell
SHORT = 64   # characters of a text whose XML is kept for the next row that repeats it
COMPRESSION = 1   # zlib's fastest: its default (6) took 3x as long, for a file 1.6x smaller
_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b-\x1f]|_x[0-9a-fA-F]{4}_")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
_ESCAPED = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_EDGE_SPACE = re.compile(r"^\s|\s$")


def _text(value: str) -> str:
    """XML text as Excel reads it: & < > escaped, a control character as _xHHHH_ (and a text that looks like
    one kept as it is), as xlsxwriter writes its strings."""
    value = _ESCAPED.sub(r"_x005F\1", value)
    value = _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Table:
    """One sheet's rows, spooled (pickled, a few hundred at a time) until the sheet's XML is written."""

    def __init__(self, book: "Book", sheet, columns: int):
        self.book, self.sheet, self.columns = book, sheet, columns
        self.rows = 0          # data rows, below the header row
        self.spool = tempfile.TemporaryFile()
        self._pending: list[list] = []
        self._beside: Talk | None = None   # the process making this table, if one does
        self._made = None                  # the file of the XML it made
        self.styles: list[str] = []        # each column's format, once xlsxwriter has written its package

    def make_beside(self, rows):
        """The table's rows are rows() (an iterable; it opens its own database connection), read and written as
        sheet XML in a process of its own."""
        self._made = made = tempfile.TemporaryFile()   # opened here: the process writes into this very file

        def talk(say, hear):
            for row in rows():
                self.add(row)
            say(self.rows)
            for piece in self.xml(hear()):
                made.write(piece)
                made.flush()
                say(len(piece))   # the parent copies each piece as it is made (see pieces)
            say(None)
        self._beside = Talk(talk)

    def made_beside(self):
        """Wait for the row count of a table made beside (a failure there is raised here)."""
        if self._beside:
            self.rows = self._beside.hear()

    def begin(self, styles: list[str]):
        """The column formats are known (xlsxwriter has written its package): a table made beside writes its XML
        from now on, beside the other tables' (told one at a time, as each was copied, they took turns)."""
        self.styles = styles
        if self._beside:
            self._beside.say(styles)

    def pieces(self):
        """The rows' sheet XML, a piece at a time: made here, or by the process beside."""
        if self._beside is None:
            yield from self.xml(self.styles)
            return
        # read where the process said it wrote (pread: the file's offset is the writer's, shared since the fork)
        fd, at = self._made.fileno(), 0
        while (size := self._beside.hear()) is not None:
            piece = b""
            while len(piece) < size:
                more = os.pread(fd, size - len(piece), at + len(piece))
                if not more:
                    raise OSError(f"the summary's table {self.sheet.name} was cut short")
                piece += more
            at += size
            yield piece

    def close(self):
        self.spool.close()
        if self._beside:
            self._beside.end()
            self._made.close()

    def add(self, values: list):
        """One row: numbers as numbers, None as an empty cell, anything else as its text (checked as written)."""
        if self.rows + 1 >= MAX_ROWS:
            raise self.book.refused(self.sheet.name, self.rows + 1, 0, f"a sheet holds at most {MAX_ROWS:,} rows")
        self.rows += 1
        self._pending.append(values)
        if len(self._pending) >= 500:
            self._flush()

    def _flush(self):
        if self._pending:
            pickle.dump(self._pending, self.spool, pickle.HIGHEST_PROTOCOL)
            self._pending = []

    def xml(self, styles: list[str]):
        """The rows as sheet XML, a few hundred at a time; styles: each column's ' s="N"' (or "")."""
        self._flush()
        self.spool.seek(0)
        # per column: its reference's start, a number's and a text's start after the row number, and the cells
        # of its texts met (after the row number): a table repeats its department, project, level … row after row
        columns = [(f'<c r="{xl_col_to_name(c)}', f'"{style}><v>', f'"{style} t="inlineStr">', {})
                   for c, style in enumerate(styles)]
        r = 1
        while True:
            try:
                rows = pickle.load(self.spool)
            except EOFError:
                return
            parts = []
            add = parts.append
            for row in rows:
                r += 1
                n = str(r)
                add(f'<row r="{n}">')
                for c, ((ref, number, text, known), v) in enumerate(zip(columns, row)):
                    if v is None:
                        continue
                    if v.__class__ is not str:
                        if isinstance(v, (int, float)) and not isinstance(v, bool):
                            add(f'{ref}{n}{number}{v:.16G}</v></c>')
                            continue
                        v = str(v)
                    cell = known.get(v)
                    if cell is None:
                        if len(v) > MAX_TEXT:
                            raise self.book.refused(self.sheet.name, r - 1, c, f"a cell holds at most {MAX_TEXT:,} "
                                                    f"characters, this text has {len(v):,}")
                        cell = f"{text}{_inline(v)}</c>"
                        if len(v) <= SHORT:   # (a long text, a reason or a message, is seldom met twice)
                            if len(known) > 2_000:
                                known.clear()
                            known[v] = cell
                    add(f"{ref}{n}{cell}")
                add("</row>")
            yield "".join(parts).encode("utf-8")


def _inline(v: str) -> str:
    space = ' xml:space="preserve"' if _EDGE_SPACE.search(v) else ""
    return f"<is><t{space}>{_text(v) if _SPECIAL.search(v) else v}</t></is>"


class Book:
    """xlsxwriter's Workbook (`.workbook`) plus tables of any length (`table`); `close` writes it atomically."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.buffer = io.BytesIO()
        self.workbook = xlsxwriter.Workbook(self.buffer, {"in_memory": True, "strings_to_formulas": False,
                                                          "strings_to_numbers": False, "strings_to_urls": False})
        self.sheets = 0
        self.tables: dict[int, Table] = {}   # sheet number (1-based, as xlsxwriter names its parts) -> table

    def add_worksheet(self, name: str):
        self.sheets += 1
        return self.workbook.add_worksheet(name)

    def table(self, name: str, columns: list[tuple[str, object, float]], head_format) -> Table:
        """A sheet of a table: the header row (title, column format, width), frozen, filtered, printed A4
        landscape one page wide with the header on every page; its rows are added to what this returns."""
        ws = self.add_worksheet(name)
        for c, (title, fmt, width) in enumerate(columns):
            ws.write_string(0, c, title, head_format)
            ws.set_column(c, c, width, fmt)
        ws.freeze_panes(1, 0)
        # A4 landscape at 80% (its 11 pt prints at 8.8 pt): the header row on every page, 主管部门 and 项目名称
        # on every page across (one page wide printed 汇总 at 3 pt)
        ws.set_paper(9)
        ws.set_landscape()
        ws.set_print_scale(80)
        ws.repeat_rows(0)
        if [c[0] for c in columns[:2]] == ["主管部门", "项目名称"]:
            ws.repeat_columns(0, 1)
        table = Table(self, ws, len(columns))
        self.tables[self.sheets] = table
        return table

    def refused(self, sheet: str, row: int, col: int, why: str) -> XlformError:
        return XlformError(f"{self.path}: cannot write {sheet}!{xl_rowcol_to_cell(row, col)}: {why}; the summary "
                           "was not written")

    def discard(self):
        """Give up the workbook (a sheet failed before it was written): no process is left making a table."""
        for t in self.tables.values():
            t.close()

    def close(self):
        """Write the workbook: xlsxwriter's package, each table's rows in its sheet."""
        try:
            for t in self.tables.values():
                t.made_beside()
                t.sheet.autofilter(0, 0, max(t.rows, 1), t.columns - 1)
            self.workbook.close()
            with zipfile.ZipFile(self.buffer) as made, atomic_file(self.path) as out, \
                    zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESSION) as package:
                heads = {}   # each table's sheet as xlsxwriter wrote it: its header row, its column formats
                for info in made.infolist():
                    table = self._table_of(info)
                    if table:
                        heads[info.filename] = made.read(info).decode("utf-8")
                        table.begin(_column_styles(heads[info.filename], table.columns))
                # the tables last, the smallest first: each is copied as its process makes it, and the larger
                # ones, made meanwhile, are then copied at the speed of zlib (a part's place in the package is
                # not its sheet's place in the workbook)
                parts = sorted(made.infolist(), key=lambda i: (t := self._table_of(i)) is not None and
                               (1 + t.rows * t.columns))
                for info in parts:
                    table = self._table_of(info)
                    if table is None:
                        data = made.read(info)
                        package.writestr(info, values_only(data) if info.filename.startswith("xl/charts/") else data)
                    else:
                        _copy(heads[info.filename], table, info, package)
        finally:
            self.discard()

    def _table_of(self, info: zipfile.ZipInfo) -> Table | None:
        number = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", info.filename)
        return self.tables.get(int(number.group(1))) if number else None


def values_only(chart: bytes) -> bytes:
    """A chart's data labels show the value and nothing else: xlsxwriter writes only <c:showVal>, and
    LibreOffice reads every flag left out as shown ("良; 评价等级分布; 5" over the bar)."""
    shown = b'<c:showVal val="1"/>'
    return chart.replace(shown, b'<c:showLegendKey val="0"/>' + shown + b'<c:showCatName val="0"/>'
                         b'<c:showSerName val="0"/><c:showPercent val="0"/><c:showBubbleSize val="0"/>')


def _column_styles(xml: str, columns: int) -> list[str]:
    """Each column's ' s="N"' as the sheet's <col> elements give it (or "")."""
    styles = [""] * columns
    for low, high, style in re.findall(r'<col min="(\d+)" max="(\d+)"[^>]*? style="(\d+)"', xml):
        for c in range(int(low) - 1, min(int(high), columns)):
            styles[c] = f' s="{style}"'
    return styles


def _copy(xml: str, table: Table, info: zipfile.ZipInfo, package: zipfile.ZipFile):
    """The sheet's XML with the table's rows after its header row, each cell in its column's format."""
    head, tail = xml.split("</sheetData>", 1)
    last = xl_rowcol_to_cell(table.rows, table.columns - 1)
    head = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{last}"/>', head, count=1)
    entry = zipfile.ZipInfo(info.filename, info.date_time)
    entry.compress_type = zipfile.ZIP_DEFLATED
    with package.open(entry, "w", force_zip64=True) as w:
        w.write(head.encode("utf-8"))
        _write_beside(w, table.pieces())
        w.write(("</sheetData>" + tail).encode("utf-8"))


def _write_beside(w, pieces):
    """w.write(piece) for each piece, in a thread of its own: zlib compresses without the GIL, on another core
    while the next piece is made."""
    queue: Queue = Queue(maxsize=8)
    failed: list[BaseException] = []

    def writer():
        while (piece := queue.get()) is not None:
            if not failed:
                try:
                    w.write(piece)
                except BaseException as e:   # (a full disk): raised in the caller
                    failed.append(e)
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        for piece in pieces:
            if failed:
                break
            queue.put(piece)
    finally:
        queue.put(None)
        thread.join()
    if failed:
        raise failed[0]
