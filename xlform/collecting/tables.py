"""Sheets of any length at flat memory: a workbook whose tables are streamed.

xlsxwriter makes the workbook (formats, header rows, column widths and formats, filters, frozen panes, print
setup, charts) and writes its package first; then each table's rows are read and made as sheet XML into a
temporary file (the column formats known by then), and go into that sheet's <sheetData> as the package is
copied into the output, each filter set to its table's last row. Memory holds a few hundred rows, whatever the
number of rows (xlsxwriter keeps every cell of a workbook; its constant_memory mode writes them one by one at
less than half this speed). A cell takes its column's format, as xlsxwriter gives a cell written without one; a
text is an inline string, as in xlsxwriter's constant_memory mode.

A long table can be made beside the others (Table.make_beside): a process of its own reads its rows and writes
their XML, beside the other such processes and this one, and tells how many rows it wrote.

A table's rows may come in groups (grouped=True): rows sharing their first cells and their last (a project's
indicators, a file's problems), their cells between as the database gives them; the shared cells are made once
a group, the others without a list made per row. Tables may be made together from one reading (Book.together:
问题 and 质量 read the same problems).
"""
from __future__ import annotations

import io
import re
import tempfile
import zipfile
from operator import getitem
from pathlib import Path
from xml.sax.saxutils import escape

import xlsxwriter
from xlsxwriter.utility import quote_sheetname, xl_col_to_name, xl_range, xl_range_abs, xl_rowcol_to_cell

from ..errors import XlformError
from ..outputs import atomic_file
from .processes import Talk
from .zipped import ZipWriter

MAX_ROWS, MAX_TEXT = 1_048_576, 32_767   # Excel's limits: rows of a sheet, characters of a cell
SHORT = 64   # characters of a text whose XML is kept for the next row that repeats it
LONG = 256   # in a column of texts that repeat (Book.table's repeated: a problem's message)
_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b-\x1f]")   # or "_x" (a text that may look like an escape)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
_ESCAPED = re.compile(r"(_x[0-9a-fA-F]{4}_)")


def _text(value: str) -> str:
    """XML text as Excel reads it: & < > escaped, a control character as _xHHHH_ (and a text that looks like
    one kept as it is), as xlsxwriter writes its strings."""
    value = _ESCAPED.sub(r"_x005F\1", value)
    value = _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Table:
    """One sheet's rows, made as sheet XML into a temporary file once the column formats are known (fill: here;
    make_beside: in a process of its own), then copied into the package after the header row."""

    def __init__(self, book: "Book", sheet, columns: int, shown: dict[int, dict] | None = None, repeated=()):
        self.book, self.sheet, self.columns = book, sheet, columns
        self.shown, self.repeated = shown or {}, set(repeated)
        self.rows: int | None = None   # data rows, below the header row (once made)
        self.made = tempfile.TemporaryFile()   # their XML (opened here: a process beside writes into this file)
        self._rows = ()                        # fill: the rows, made here
        self.beside = None                     # make_beside: the function giving them, in a process of its own
        self.grouped = False
        self.fellows = [self]                  # the tables made with this one, this one first (Book.together)
        self.paired = False                    # (its rows are (n, group) of its fellows: Book.together)
        self._leader: Table | None = None      # the table this one is made with
        self._process: Talk | None = None

    def fill(self, rows, grouped: bool = False):
        """The table's rows: an iterable, read when the workbook is written. A row is a list of values: numbers
        as numbers, None as an empty cell, anything else as its text (checked as written).

        grouped: the iterable gives groups of rows instead, each (lead, tails, trail): a row of the group for each
        of tails (a list), its cells lead + tail + trail, the group's rows made in one go. lead and trail are
        checked as a row is; a tail is a sequence of str, int, float or None as a database gives them, or a text
        as its UTF-8 bytes (never a bool: True is 1 to a column's cells), and what it has past the columns between
        lead and trail is left out (a submission id it was grouped by)."""
        self._rows, self.grouped = rows, grouped

    def make_beside(self, rows, grouped: bool = False):
        """The table's rows are rows() (an iterable, grouped as fill says; it opens its own database connection),
        read and written as sheet XML in a process of its own once the column formats are known."""
        self.beside, self.grouped = rows, grouped

    def begin(self, styles: list[str]):
        """The column formats are known (xlsxwriter has written its package), each column's ' s="N"' (or "")."""
        self.styles = styles

    def start(self):
        """Every table's formats known: a table made beside starts its process (the tables made beside each other
        and beside this one)."""
        if self.beside is not None:
            self._process = Talk(lambda say, hear: say(self._write(self.beside())))

    @property
    def here(self) -> bool:
        """Whether this table is made in this process."""
        return (self._leader or self).beside is None

    def make(self):
        """The rows' XML made here, or waited for (a failure beside is raised here), once; self.rows then counts
        them (and those of the tables made with it)."""
        if self.rows is None and self._leader is not None:
            self._leader.make()
        elif self.rows is None:
            counts = self._process.hear() if self._process else self._write(self._rows)
            for table, rows in zip(self.fellows, counts):
                table.rows = rows

    def xml(self):
        """The rows' sheet XML, a piece at a time, once made."""
        self.made.seek(0)
        while piece := self.made.read(1 << 20):
            yield piece

    def close(self):
        self.made.close()
        if self._process:
            self._process.end()

    def _write(self, rows) -> list[int]:
        """Each row's XML into self.made (and those of its fellows into theirs); returns the number of rows of each."""
        writers = [_Writer(t) for t in self.fellows]
        if self.paired:   # (n, group) of the n-th table
            adds = [w.add for w in writers]
            for n, group in rows:
                adds[n](*group)
        else:
            add = writers[0].add
            for lead, tails, trail in rows if self.grouped else ((row, _ONE, ()) for row in rows):
                add(lead, tails, trail)
        return [w.close() for w in writers]


class _Writer:
    """A table's rows as XML into its file. A cell's XML is its column's, by value, with the row number left as
    \\0 (no text holds one: a control character is written _x0000_), put in per row: a table repeats its
    department, project, level, score … row after row."""

    def __init__(self, table: Table):
        self.table, self.out, self.parts, self.r, self.written = table, table.made, [], 1, 1
        self.cells = [_Cells(c, style, table.shown.get(c), c in table.repeated)
                      for c, style in enumerate(table.styles)]

    def add(self, lead, tails, trail):
        """A group's rows (see Table.fill)."""
        if not tails:   # (a group of no rows writes nothing, its cells neither)
            return
        r, join = self.r, b"".join
        if r + len(tails) > MAX_ROWS:
            raise self.table.book.refused(self.table.sheet.name, MAX_ROWS, 0,
                                          f"a sheet holds at most {MAX_ROWS:,} rows")
        try:   # (the group's first row is the sheet's row r, 0-based: the header row is 0)
            head, between, end = _ends(self.cells, lead, trail)
        except _TooLong as e:
            raise self._too_long(r, e) from None
        try:
            self.parts.append(join([(b'<row r="\0">%b%b%b</row>' % (head, join(map(getitem, between, tail)), end))
                                    .replace(b"\0", b"%d" % n) for n, tail in enumerate(tails, r + 1)]))
        except _TooLong as e:
            raise self._too_long(r + _first_refused(between, tails), e) from None
        self.r = r = r + len(tails)
        if r - self.written >= 500:
            self.out.write(join(self.parts))
            self.parts.clear()
            self.written = r

    def close(self) -> int:
        """The rows written: their number."""
        self.out.write(b"".join(self.parts))
        self.out.flush()
        return self.r - 1

    def _too_long(self, row: int, e: "_TooLong") -> XlformError:
        return self.table.book.refused(self.table.sheet.name, row, e.column, f"a cell holds at most {MAX_TEXT:,} "
                                       f"characters, this text has {e.length:,}")


_ONE = ((),)   # a row alone: a group of one row, all its cells the lead


def _first_refused(between: list["_Cells"], tails) -> int:
    """Which row of a group (0: its first) has a text too long in its tail."""
    for n, tail in enumerate(tails):
        try:
            b"".join(map(getitem, between, tail))
        except _TooLong:
            return n
    return 0


def _ends(cells: list["_Cells"], lead, trail) -> tuple[bytes, list["_Cells"], bytes]:
    """A group's lead cells' XML, the columns of its tails, its trail cells' XML."""
    if not _PLAIN.issuperset(map(type, lead)):
        lead = list(map(_plain, lead))
    if not _PLAIN.issuperset(map(type, trail)):
        trail = list(map(_plain, trail))
    last = len(cells) - len(trail)
    return (b"".join(map(getitem, cells, lead)), cells[len(lead):last],
            b"".join(map(getitem, cells[last:], trail)))


_PLAIN = frozenset((str, int, float, type(None)))


def _plain(v):
    """A value as a cell of _Cells takes it: a bool as its text (True is 1 to a dict), any other number as an int
    or a float, anything else as its text."""
    if v is None or v.__class__ in _PLAIN:
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v) if isinstance(v, float) else int(v)
    return str(v)


class _TooLong(Exception):
    def __init__(self, column: int, length: int):
        self.column, self.length = column, length


class _Cells(dict):
    """One column's cells' XML by value (None: no cell), as made: numbers, and texts of up to SHORT characters
    (a long text, a reason, is seldom met twice); at most KEPT of them and HELD bytes (then it starts again). A
    column of repeated texts keeps texts up to LONG characters, REPEATED_KEPT of them: a message is met again and
    again (494,000 problems of a province say 5,762 things; kept, 问题 took 0.6 s less)."""
    KEPT, REPEATED_KEPT, HELD = 2_000, 16_384, 4 << 20

    def __init__(self, column: int, style: str, shown: dict | None = None, repeated: bool = False):
        super().__init__({None: b""})
        ref = xl_col_to_name(column)
        self.column, self.held, self.shown = column, 0, shown
        self.kept, self.longest = (self.REPEATED_KEPT, LONG) if repeated else (self.KEPT, SHORT)
        self.number, self.text = f'<c r="{ref}\0"{style}><v>', f'<c r="{ref}\0"{style} t="inlineStr">'

    def __missing__(self, v) -> bytes:
        text = v.decode("utf-8", "replace") if v.__class__ is bytes else v   # (a text as UTF-8, see Table.fill)
        if self.shown is not None and text in self.shown:   # a stored code shown as its label (错误 for error)
            return self._keep(v, self._cell(self.shown[text]))
        if text.__class__ is not str and text.__class__ is not int and text.__class__ is not float:
            return self._cell(_plain(v))   # (another type a database gives, in a group's tail: as a row's is taken)
        cell = self._cell(text)
        return cell if text.__class__ is str and len(text) > self.longest else self._keep(v, cell)

    def _cell(self, v) -> bytes:
        """The XML of a cell of v (str, int, float or None)."""
        if v.__class__ is str:
            if len(v) > MAX_TEXT:
                raise _TooLong(self.column, len(v))
            return f"{self.text}{_inline(v)}</c>".encode("utf-8")
        return b"" if v is None else f"{self.number}{v:.16G}</v></c>".encode("utf-8")

    def _keep(self, v, cell: bytes) -> bytes:
        key = 4 * len(v) if v.__class__ is str else len(v) if v.__class__ is bytes else 0
        cost = len(cell) + key + 150   # (and a dict entry's own)
        if len(self) > self.kept or self.held + cost > self.HELD:
            self.clear()
            self[None] = b""
            self.held = 0
        self.held += cost
        self[v] = cell
        return cell


def _inline(v: str) -> str:
    # (as xlsxwriter's ^\s|\s$ decides, without its regex's scan of a long text)
    space = ' xml:space="preserve"' if v[:1].isspace() or v[-1:].isspace() else ""
    return f"<is><t{space}>{_text(v) if '_x' in v or _SPECIAL.search(v) else v}</t></is>"


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

    def table(self, name: str, columns: list[tuple[str, object, float]], head_format,
              shown: dict[int, dict] | None = None, repeated=()) -> Table:
        """A sheet of a table: the header row (title, column format, width), frozen, filtered, printed A4
        landscape one page wide with the header on every page; its rows are given to what this returns (fill or
        make_beside). shown: {column: {value: what its cell shows}}, a stored code shown as its label; repeated:
        the columns of texts met again and again (see _Cells)."""
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
        table = Table(self, ws, len(columns), shown, repeated)
        self.tables[self.sheets] = table
        return table

    def together(self, tables: list[Table], rows, beside: bool = True):
        """tables made from one reading: rows() (beside: in a process of its own, which opens its own database
        connection; else here) gives (n, group) for each group of rows of tables[n] (see Table.fill)."""
        first = tables[0]
        first.fellows, first.paired = list(tables), True
        for t in tables[1:]:
            t._leader = first
        if beside:
            first.make_beside(rows)
        else:
            first.fill(rows())

    def refused(self, sheet: str, row: int, col: int, why: str) -> XlformError:
        return XlformError(f"{self.path}: cannot write {sheet}!{xl_rowcol_to_cell(row, col)}: {why}; the summary "
                           "was not written")

    def discard(self):
        """Give up the workbook (a sheet failed before it was written): no process is left making a table."""
        for t in self.tables.values():
            t.close()

    def close(self):
        """Write the workbook: xlsxwriter's package (each table's filter to its last row, once known), each
        table's rows in its sheet."""
        try:
            # the rows are counted as they are made, after xlsxwriter has written the package (their cells'
            # formats known then): each filter is set to a row no table reaches, then to the table's last
            for t in self.tables.values():
                t.sheet.autofilter(0, 0, _PLACED, t.columns - 1)
            self.workbook.close()
            with zipfile.ZipFile(self.buffer) as made, atomic_file(self.path) as out:
                heads = {}   # each table's sheet as xlsxwriter wrote it: its header row, its column formats
                for info in made.infolist():
                    table = self._table_of(info)
                    if table:
                        heads[info.filename] = made.read(info).decode("utf-8")
                        table.begin(_column_styles(heads[info.filename], table.columns))
                for t in self.tables.values():
                    t.start()
                for t in self.tables.values():   # the tables made here while those beside are made
                    if t.here:
                        t.make()
                package = ZipWriter(out)
                for info in made.infolist():   # each table's sheet copied in as soon as it is made
                    table = self._table_of(info)
                    if table:
                        table.make()
                        package.write(info.filename, _sheet(heads[info.filename], table), info.date_time)
                        continue
                    data = made.read(info)
                    if info.filename == "xl/workbook.xml":   # its filters: every table made first
                        for t in self.tables.values():
                            t.make()
                        data = _workbook_filters(data.decode("utf-8"), self.tables.values()).encode("utf-8")
                    elif info.filename.startswith("xl/charts/"):
                        data = values_only(data)
                    package.write(info.filename, [data], info.date_time)
                package.close()
        finally:
            self.discard()

    def _table_of(self, info: zipfile.ZipInfo) -> Table | None:
        number = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", info.filename)
        return self.tables.get(int(number.group(1))) if number else None


_PLACED = MAX_ROWS - 2   # (the sheet's last row would make the filter's range whole columns, $A:$M)


def _filter_ref(table: Table, last_row: int) -> str:
    """The <autoFilter ref> of a table's sheet whose filter ends at last_row (0-based), as xlsxwriter writes it."""
    return f'<autoFilter ref="{xl_range(0, 0, last_row, table.columns - 1)}"/>'


def _filter_area(table: Table, last_row: int) -> str:
    """The _xlnm._FilterDatabase of a table's sheet in the workbook part, as xlsxwriter writes it."""
    return f">{escape(quote_sheetname(table.sheet.name))}!{xl_range_abs(0, 0, last_row, table.columns - 1)}<"


def _filtered(xml: str, table: Table, form) -> str:
    """xml with the table's filter set to its rows (a header row and an empty one if it has none), where
    xlsxwriter wrote it to the sheet's last row."""
    placed = form(table, _PLACED)
    if xml.count(placed) != 1:   # (xlsxwriter writes it otherwise: no workbook with a filter gone wrong)
        raise RuntimeError(f"the filter of {table.sheet.name} was not found in the package xlsxwriter wrote")
    return xml.replace(placed, form(table, max(table.rows, 1)))


def _workbook_filters(xml: str, tables) -> str:
    for table in tables:
        xml = _filtered(xml, table, _filter_area)
    return xml


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


def _sheet(xml: str, table: Table):
    """The sheet's XML, a piece at a time: xlsxwriter's, its dimension and filter set to the table's rows, with
    the rows after its header row."""
    head, tail = _filtered(xml, table, _filter_ref).split("</sheetData>", 1)
    last = xl_rowcol_to_cell(table.rows, table.columns - 1)
    yield re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{last}"/>', head, count=1).encode("utf-8")
    yield from table.xml()
    yield ("</sheetData>" + tail).encode("utf-8")
