"""A small, guarded SpreadsheetML (.xlsx) reader: exactly what checking a returned form needs, read the way a
spreadsheet reads it.

One pass per sheet gives every cell's value and formula, with the sheet's state and protection: what openpyxl
needs two full loads for (formulas, then cached values), and nothing else.

Every XML part goes through expat, fed in chunks from the zip stream, so comments, CDATA, processing
instructions, namespace prefixes, Strict OOXML and any declared encoding read as Excel and LibreOffice read
them. A form's parts (under 1 MB) are taken whole: shared strings and a sheet's sheetData are built into trees
by C (expat too) and walked, and what one issuer's returns share byte for byte (styles, the package and
workbook parts, a sheet's outline around sheetData) is parsed once per digest of its bytes.

A DTD is refused by the parser itself (no entity expansion, no external entities, in any encoding).
Limits are applied to what is really there: the file's size on disk, the bytes actually inflated (never the
sizes the zip declares) and the cells the parser meets.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import itertools
import math
import os
import posixpath
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import NamedTuple
from xml.etree import ElementTree
from xml.parsers import expat

from ..errors import XlformError


class BadWorkbook(XlformError):
    """A file that cannot be read as a workbook; `code` names why (see messages.py)."""

    def __init__(self, code: str, detail: str = ""):
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}" if detail else code)


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 100 * 1024 * 1024          # the file itself
    max_uncompressed: int = 200 * 1024 * 1024   # bytes inflated, all parts and reads together
    max_ratio: int = 200                        # inflated/compressed for a part, once past 1 MB
    max_parts: int = 5000
    max_cells: int = 500_000                    # <c> elements parsed, all sheets and reads together
    max_strings: int = 500_000                  # entries of the shared string table
    max_text: int = 1024 * 1024                 # characters of one value, formula or string (Excel: 32,767)
    max_shared: int = 256 * 1024                # characters of shared formulas copied into their cells: a form
                                                # holds a few KB; each copy is re-tokenised (about 2 µs a character)
    max_elements: int = 5_000_000               # XML elements of every part together (Package.scan only)
    max_styles: int = 1_000_000                 # cell formats (<xf>) of the styles part (Package.scan only)


CHUNK = 64 * 1024
WHOLE = 1024 * 1024   # the largest styles or shared strings part read whole (see Package._parse); a form's
                      # have 4 and 20 KB
MAX_FORMULA = 8192   # characters, Excel's own limit


class Cell(NamedTuple):
    value: object = None        # str, float, bool, or Error
    formula: str | None = None  # without '='


EMPTY = Cell(None, None)   # what a cell not in the sheet holds
_new_cell = tuple.__new__  # Cell(...) without a Python call: _new_cell(Cell, (value, formula))


@dataclass(frozen=True)
class Error:
    """A formula error value such as #VALUE!."""
    text: str

    def __str__(self):
        return self.text


@dataclass
class Sheet:
    name: str
    state: str = "visible"
    protected: bool = False
    cells: dict[str, Cell] = field(default_factory=dict)
    hidden_rows: set[int] = field(default_factory=set)      # 1-based
    hidden_cols: set[int] = field(default_factory=set)      # 1-based, A = 1
    cell_formats: dict[str, str] = field(default_factory=dict)  # ref -> number format, where not General
    # What openpyxl lays out: the last row and column of any row, cell (empty ones too) or range, and the cells of
    # merged ranges, hyperlinks and comments, which it makes or visits one by one. Measured for `layout` only.
    extent: tuple[int, int] = (0, 0)
    spanned: int = 0


@dataclass
class SheetInfo:
    name: str
    state: str
    part: str
    index: int


# Element names as expat gives them with namespace processing ("uri local"), for both SpreadsheetML
# namespaces: transitional (what Excel writes by default) and Strict.
_MAIN_NS = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main", "http://purl.oclc.org/ooxml/spreadsheetml/main")
_REL_NS = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
           "http://purl.oclc.org/ooxml/officeDocument/relationships")
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships Relationship"
_MAIN = {f"{ns} {local}": local for ns in _MAIN_NS
         for local in ("worksheet", "workbook", "sheet", "sheetData", "row", "c", "v", "f", "is", "t", "r", "rPh",
                       "si", "sst", "sheetProtection", "col", "numFmt", "cellXfs", "xf", "mergeCell",
                       "hyperlink", "comment", "sheetCalcPr")}
_TREE = {f"{{{ns}}}{local}": local for ns in _MAIN_NS
         for local in ("si", "t", "rPh", "sheetData", "row", "c", "v", "f", "is")}   # as ElementTree names them
_REL_ID = {f"{ns} id" for ns in _REL_NS}
_BUILTIN_FORMATS = {"1": "0", "2": "0.00", "3": "#,##0", "4": "#,##0.00", "9": "0%", "10": "0.00%",
                    "11": "0.00E+00", "12": "# ?/?", "13": "# ??/??", "49": "@"}
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_REF = re.compile(r"[A-Z]{1,3}[1-9][0-9]{0,6}")
_RANGE = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,10})(?::\$?([A-Za-z]{1,3})\$?([0-9]{1,10}))?")
_ROWS = re.compile(r"\$?([0-9]{1,10}):\$?([0-9]{1,10})")
_COLUMNS = re.compile(r"\$?([A-Za-z]{1,3}):\$?([A-Za-z]{1,3})")
MAX_ROW, MAX_COL = 1048576, 16384
_XML_START = (b"<", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\0<")   # how an XML part can begin


def _column(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _span(ref: str) -> tuple[int, int, int] | None:
    """The last row and column of a range ("A1:C3", "A1", "1:3", "A:C") and how many cells it covers; None for
    what openpyxl cannot read either."""
    if m := _RANGE.fullmatch(ref):
        first_col, first_row = _column(m[1]), int(m[2])
        last_col, last_row = (_column(m[3]), int(m[4])) if m[3] else (first_col, first_row)
    elif m := _ROWS.fullmatch(ref):
        first_col, first_row, last_col, last_row = 1, int(m[1]), MAX_COL, int(m[2])
    elif m := _COLUMNS.fullmatch(ref):
        first_col, first_row, last_col, last_row = _column(m[1]), 1, _column(m[2]), MAX_ROW
    else:
        return None
    area = (abs(last_row - first_row) + 1) * (abs(last_col - first_col) + 1)
    return max(first_row, last_row), max(first_col, last_col), area


def _unescape(text: str) -> str:
    """Excel's _xHHHH_ escapes (control characters, CR): _x000D_ is CR; _x005F_x000D_ is the text "_x000D_"."""
    if "_x" not in text:
        return text
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    if any("\ud800" <= ch <= "\udfff" for ch in text):  # UTF-16 pairs escaped one half at a time
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _refuse_dtd(*_):
    raise BadWorkbook("hostile", "含有文档类型定义")


def _parser() -> expat.XMLParserType:
    p = expat.ParserCreate(namespace_separator=" ")
    # No part of a workbook has a DTD; one is how entity bombs and external entities get in.
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    p.StartDoctypeDeclHandler = p.EntityDeclHandler = _refuse_dtd
    p.buffer_text, p.buffer_size = True, CHUNK
    return p


class Package:
    """An opened .xlsx; parts are parsed on demand."""

    def __init__(self, path, limits: Limits = Limits()):
        self.path, self.limits = path, limits
        # without waiting: a FIFO or a terminal opens at once, and fstat below refuses it
        self._file = os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)),
                               "rb")
        try:
            self._open_zip()
        except BaseException:
            self._file.close()
            raise
        self._shared: list[str] | None = None
        self._inflated = self._cells = 0
        try:
            self._read_workbook()
        except BaseException:
            self.close()
            raise

    def _open_zip(self):
        st = os.fstat(self._file.fileno())  # the real size, before a byte is read
        if not stat.S_ISREG(st.st_mode):
            raise BadWorkbook("not_zip", "不是普通文件")
        if st.st_size > self.limits.max_bytes:
            raise BadWorkbook("too_large", f"文件大于 {self.limits.max_bytes // 2**20} MB")
        head = self._file.read(8)
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise BadWorkbook("ole", "加密的 .xlsx，或 .xls/.et 文件")
        if not head.startswith(b"PK"):
            raise BadWorkbook("not_zip")
        self._file.seek(0)
        try:
            self.zip = zipfile.ZipFile(self._file)
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            raise BadWorkbook("truncated", "压缩结构损坏")
        if len(infos) > self.limits.max_parts:
            raise BadWorkbook("too_large", f"含有 {len(infos)} 个内部文件，最多 {self.limits.max_parts} 个")
        # Part names are case-insensitive; two parts of one name are two readings of one file.
        self.names: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            key = info.filename.lower()
            if key in self.names:
                raise BadWorkbook("hostile", "两个内部文件同名")
            self.names[key] = info
        if "encryptedpackage" in self.names:
            raise BadWorkbook("ole")
        # What the zip declares may lie (what is inflated is counted in _parse), but a declared bomb, even
        # in a part never read, is refused at once.
        lim = self.limits
        if sum(i.file_size for i in infos) > lim.max_uncompressed:
            raise BadWorkbook("too_large", f"解压后超过 {lim.max_uncompressed // 2**20} MB")
        for i in infos:
            if i.file_size > 2**20 and i.file_size > lim.max_ratio * max(i.compress_size, 1):
                raise BadWorkbook("too_large", f"压缩比超过 {lim.max_ratio}:1")

    def close(self):
        if hasattr(self, "zip"):
            self.zip.close()
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- parts ------------------------------------------------------------------------------
    def _parse(self, name: str, handler, whole=None):
        """Feed one part to a fresh parser as it is inflated, counting the bytes really inflated.

        With `whole`, a part of at most WHOLE bytes is first given to whole(its bytes): a result other than None
        is returned instead of parsing the part here."""
        info = self.names.get(name.lower())
        if info is None:
            raise BadWorkbook("not_xlsx", "缺少必需的内部文件")
        try:
            with self.zip.open(info) as f:
                chunks = self._inflate(f, info)
                if whole is not None:
                    head, size = [], 0
                    while size <= WHOLE and (chunk := next(chunks, None)) is not None:
                        head.append(chunk)
                        size += len(chunk)
                    if size <= WHOLE and (found := whole(b"".join(head))) is not None:
                        return found
                    chunks = itertools.chain(head, chunks)
                p = _parser()
                handler.bind(p)
                try:
                    for chunk in chunks:
                        p.Parse(chunk, False)
                        handler.chunk_done()
                    p.Parse(b"", True)
                finally:
                    # the handler and its parser (with its 64 KB buffer) hold each other: freed now, not by the
                    # cyclic GC, which a collection's reading runs seldom (see collecting.processes.few_collections)
                    handler.parser = None
        except expat.ExpatError as e:
            raise BadWorkbook("bad_xml", f"内部数据第 {e.lineno} 行格式错误")
        except ElementTree.ParseError as e:
            lineno = e.position[0]
            raise BadWorkbook("bad_xml", f"内部数据第 {lineno} 行格式错误")
        except RuntimeError:  # zipfile: an encrypted entry
            raise BadWorkbook("ole", "内部文件已加密")
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError):
            raise BadWorkbook("truncated", "内部文件损坏")
        except (ValueError, UnicodeError, LookupError):  # an encoding expat cannot read, a bad number
            raise BadWorkbook("bad_xml", "内部数据的编码或数值无法识别")
        return None

    def _inflate(self, f, info: zipfile.ZipInfo):
        """The chunks of a part as inflated, within the limits on what is really inflated."""
        lim, done = self.limits, 0
        while chunk := f.read(CHUNK):
            done += len(chunk)
            self._inflated += len(chunk)
            if self._inflated > lim.max_uncompressed:
                raise BadWorkbook("too_large", f"解压后超过 {lim.max_uncompressed // 2**20} MB")
            if done > 2**20 and done > lim.max_ratio * max(info.compress_size, 1):
                raise BadWorkbook("too_large", f"压缩比超过 {lim.max_ratio}:1")
            yield chunk

    def _rels(self, part: str) -> dict[str, tuple[str, str]]:
        """A part's relationships: id -> (type, e.g. "worksheet", target part)."""
        folder, base = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", base + ".rels")
        if rels.lower() not in self.names:
            return {}
        out: dict[str, tuple[str, str]] = {}
        return dict(self._once(rels, _Rels(folder, out), lambda: out, "rels " + folder))

    def _once(self, part: str, handler, result, salt: str):
        """result() of a small part read by handler, parsed once per digest of its bytes and salt (the package
        and workbook parts of one issuer's returns are the same bytes): the very same bytes were parsed before,
        whole, well-formed, with no DTD, by the same handler (salt names it and what it depends on)."""
        digest = None

        def known(data: bytes):
            nonlocal digest
            digest = hashlib.sha256(salt.encode() + b"\0" + data).digest()
            return _KNOWN_PARTS.get(digest)
        found = self._parse(part, handler, known)
        if found is None:
            found = result()
            if digest is not None:
                if len(_KNOWN_PARTS) >= 1024:
                    _KNOWN_PARTS.clear()
                _KNOWN_PARTS[digest] = found
        return found

    def _read_workbook(self):
        """The sheets: name, state and part (nothing else of the workbook part is needed)."""
        main = next((t for kind, t in self._rels("").values() if kind == "officeDocument"), "xl/workbook.xml")
        if main.lower() not in self.names:
            raise BadWorkbook("not_xlsx", "缺少工作簿内容")
        self._book_rels = self._rels(main)
        book = _Workbook()
        root, sheets = self._once(main, book, lambda: (book.root, tuple(book.sheets)), "workbook")
        if not root:
            raise BadWorkbook("unsupported", "工作簿结构异常")
        self.sheets: list[SheetInfo] = [SheetInfo(name, state, self._book_rels.get(rid, ("", ""))[1], i)
                                        for i, (name, state, rid) in enumerate(sheets)]

    @property
    def shared_strings(self) -> list[str]:
        if self._shared is None:
            strings: list[str] = []
            part = next((t for kind, t in self._book_rels.values() if kind == "sharedStrings"),
                        "xl/sharedStrings.xml")
            if part.lower() in self.names:
                # a form's (20 KB) as a tree built by C; a larger one through the handler, its memory bounded
                with _untracked():
                    strings = self._parse(part, _SharedStrings(strings, self.limits),
                                          lambda data: _strings_tree(data, self.limits)) or strings
            self._shared = strings
        return self._shared

    @property
    def number_formats(self) -> tuple[str, ...]:
        """The number format code of each cell style (cellXfs), by style index (what a cell's s= names)."""
        if getattr(self, "_formats", None) is None:
            part = next((t for kind, t in self._book_rels.values() if kind == "styles"), "xl/styles.xml")
            self._formats = self._styles(part) if part.lower() in self.names else ()
        return self._formats

    def _styles(self, part: str) -> tuple[str, ...]:
        """Returns of one issuer share their styles part, byte for byte: each one is parsed once (looked up by
        the digest of its bytes: the very same bytes were parsed before, whole, well-formed, with no DTD)."""
        digest = None

        def known(data: bytes):
            nonlocal digest
            digest = hashlib.sha256(data).digest()
            return _KNOWN_STYLES.get(digest)
        styles = _Styles()
        found = self._parse(part, styles, known)
        if found is None:
            found = styles.result()
            if digest is not None:
                if len(_KNOWN_STYLES) >= 16:
                    _KNOWN_STYLES.clear()
                _KNOWN_STYLES[digest] = found
        return found

    def scan(self) -> int:
        """Every XML part through the guarded parser (a DTD refused, inflated bytes and elements counted),
        for a caller that hands the whole file to another library; returns the elements met."""
        counter = _Counter(self.limits)
        for key, info in self.names.items():
            if info.is_dir():
                continue
            with self.zip.open(info) as f:
                head = f.read(64).lstrip(b" \t\r\n")
            if head.startswith(_XML_START):   # images and other binary parts are no XML to parse
                self._parse(info.filename, counter)
        return counter.count

    def sheet(self, info: SheetInfo, want: set[str] | None = None, layout: bool = False) -> Sheet:
        """One sheet: every cell with content (or only those in `want`), and its protection; with layout, also
        its extent and spanned cells (see Sheet), its comments' cells included.

        Cells with no content (<c r=".." s=".."/>) are left out: they read as blank either way.
        """
        sheet = Sheet(info.name, info.state)
        if not info.part:
            return sheet
        reader = _SheetHandler(self, sheet, want, layout)
        # a form's sheet (80 KB) is read as a tree built by C; a larger one, or one a tree cannot stand for, and
        # a layout, through the handler
        whole = None if layout else (lambda data: _sheet_tree(self, Sheet(info.name, info.state), want, data))
        with _untracked():
            found = self._parse(info.part, reader, whole)
        if found is not None:
            return found
        self._cells = reader.counted
        if layout:
            for kind, part in self._rels(info.part).values():
                if kind == "comments" and part.lower() in self.names:
                    self._parse(part, _Comments(reader))
        sheet.extent = (reader.rows, reader.cols)
        return sheet


class _Handler:
    """Expat callbacks; text is collected only inside the elements that hold values (set per element)."""
    parser: expat.XMLParserType
    text: list | None = None
    max_text = 1 << 62

    def bind(self, p):
        self.parser = p
        p.StartElementHandler, p.EndElementHandler = self.start, self.end

    def collect(self, into: list):
        self.text = into
        self.parser.CharacterDataHandler = into.append

    def stop(self):
        self.parser.CharacterDataHandler = None

    def chunk_done(self):
        """Called after each chunk: one value may not grow past the limit (memory per cell is bounded)."""
        if self.text and sum(map(len, self.text)) > self.max_text:
            raise BadWorkbook("too_large", "单元格内容超过表格软件允许的长度")


class _Counter(_Handler):
    def __init__(self, limits: Limits):
        self.count = self.styles = 0
        self.limits = limits

    def start(self, name, attrs):
        self.count += 1
        if self.count > self.limits.max_elements:
            raise BadWorkbook("too_large", f"内部数据超过 {self.limits.max_elements} 项")
        if _MAIN.get(name) == "xf":
            self.styles += 1
            if self.styles > self.limits.max_styles:
                raise BadWorkbook("too_large", f"单元格格式超过 {self.limits.max_styles} 种")

    def end(self, name):
        pass


class _Comments(_Handler):
    """A comments part: the cells its comments are attached to (openpyxl makes each one)."""

    def __init__(self, reader: "_SheetHandler"):
        self.reader = reader

    def start(self, name, attrs):
        if _MAIN.get(name) == "comment":
            self.reader._cover(attrs.get("ref", ""))

    def end(self, name):
        pass


class _Rels(_Handler):
    def __init__(self, folder: str, out: dict):
        self.folder, self.out = folder, out

    def start(self, name, attrs):
        if name == _PKG_REL and attrs.get("TargetMode") != "External":
            target = attrs.get("Target", "")
            path = (target.lstrip("/") if target.startswith("/")
                    else posixpath.normpath(posixpath.join(self.folder, target)))
            self.out[attrs.get("Id", "")] = (attrs.get("Type", "").rsplit("/", 1)[-1], path)

    def end(self, name):
        pass


class _Workbook(_Handler):
    def __init__(self):
        self.root, self.sheets = None, []

    def bind(self, p):
        self.parser = p
        p.StartElementHandler = self.start

    def start(self, name, attrs):
        tag = _MAIN.get(name)
        if self.root is None:
            self.root = tag == "workbook"
        if tag == "sheet" and self.root:
            rid = next((v for k, v in attrs.items() if k in _REL_ID), "")
            self.sheets.append((attrs.get("name", ""), attrs.get("state", "visible"), rid))
        elif self.sheets:   # past the sheets (where the schema puts them): the rest is expat's alone (a form
            self.parser.StartElementHandler = None   # defines a hundred names)


def _strings_tree(data: bytes, limits: Limits) -> list[str]:
    """The shared strings of a part given whole, as _SharedStrings reads them: lexed (_strings_lexed) once
    expat has found the part well-formed, with no DTD; else its tree is built by C and only its <si> are walked
    in Python."""
    _well_formed(data)
    lexed = _strings_lexed(data, limits)
    if lexed is not None:
        return lexed
    out = []
    tags, max_strings, max_text = _TREE.get, limits.max_strings, limits.max_text
    for si in ElementTree.fromstring(data).iter():
        if tags(si.tag) != "si":
            continue
        if len(out) >= max_strings:
            raise BadWorkbook("too_large", f"文本超过 {max_strings} 条")
        if len(si) == 1 and tags(si[0].tag) == "t" and not len(si[0]):
            text = si[0].text or ""   # plain text, no runs
        else:   # runs of rich text; phonetic guides (rPh) show none of their text
            text = _inline(si, tags)
        if len(text) > max_text:
            raise BadWorkbook("too_large", "单元格内容超过表格软件允许的长度")
        out.append(_unescape(text) if "_x" in text else text)
    return out


_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?(?:<\?[^>]*\?>|\s)*")   # a declaration, instructions, whitespace

# A shared string of plain text, as every office suite writes one, or any other character (see _LEXEMES)
_STRING = re.compile(r'<si><t(?: xml:space="preserve")?>([^<]*)</t></si>|<si><t/></si>|([\s\S])')


def _strings_lexed(data: bytes, limits: Limits) -> list[str] | None:
    """The shared strings of a well-formed part in the main namespace as its default, each plain text, lexed by
    _STRING; None where one is rich text, or anything else stands in the root (or a carriage return, which expat
    makes a line feed; or an encoding declared other than UTF-8; or an attribute of the root in single quotes,
    whose value might hold what _MAIN_DEFAULT finds; or an <sst> that is not the root, the handler reading every
    <si> of the part)."""
    root = _start_tag(b"sst").search(data)
    end = data.rfind(b"</sst>")
    if root is None or root[1] or root[2] or not _MAIN_DEFAULT.search(data, root.start(), root.end()) or \
            b"'" in data[root.start():root.end()] or not _utf8(data) or \
            not _PROLOG.fullmatch(data, 0, root.start()) or data[end + len(b"</sst>"):].strip():
        return None
    text = data[root.end():end].decode()
    if "\r" in text or "xmlns" in text:
        return None
    out = []
    for value, other in _STRING.findall(text):
        if other:
            return None
        value = _entities(value)
        if value is None:   # (expat has checked them: not met)
            return None
        if len(value) > limits.max_text:   # (its characters, as the tree counts them)
            raise BadWorkbook("too_large", "单元格内容超过表格软件允许的长度")
        out.append(_unescape(value) if "_x" in value else value)
    if len(out) > limits.max_strings:
        raise BadWorkbook("too_large", f"文本超过 {limits.max_strings} 条")
    return out


class _SharedStrings(_Handler):
    def __init__(self, out: list, limits: Limits):
        self.out, self.limit, self.max_text = out, limits.max_strings, limits.max_text
        self.parts: list[str] = []
        self.phonetic = False

    def start(self, name, attrs):
        tag = _MAIN.get(name)
        if tag == "t" and not self.phonetic:
            self.collect(self.parts)
        elif tag == "si":
            self.parts = []
            self.text = None
        elif tag == "rPh":  # phonetic guides: Excel shows none of their text
            self.phonetic = True

    def end(self, name):
        tag = _MAIN.get(name)
        if tag == "t":
            self.stop()
        elif tag == "si":
            if len(self.out) >= self.limit:
                raise BadWorkbook("too_large", f"文本超过 {self.limit} 条")
            self.out.append(_unescape("".join(self.parts)))
        elif tag == "rPh":
            self.phonetic = False


class _Styles(_Handler):
    """styles.xml: numFmts (id -> code) and the numFmtId of every cellXfs entry."""

    def __init__(self):
        self.custom: dict[str, str] = {}
        self.ids: list[str] = []
        self.in_cell_xfs = False

    def start(self, name, attrs):
        tag = _MAIN.get(name)
        if tag == "numFmt":
            self.custom[attrs.get("numFmtId", "")] = attrs.get("formatCode") or "General"
        elif tag == "cellXfs":
            self.in_cell_xfs = True
        elif tag == "xf" and self.in_cell_xfs:
            self.ids.append(attrs.get("numFmtId", "0"))

    def end(self, name):
        if _MAIN.get(name) == "cellXfs":
            self.in_cell_xfs = False

    def result(self) -> tuple[str, ...]:
        return tuple(self.custom.get(i) or _BUILTIN_FORMATS.get(i, "General") for i in self.ids)


class _SheetHandler(_Handler):
    """sheetData/row/c with its <v>, <f> and <is>; cols and sheetProtection. Everything else passes by.

    The handlers change with the region of the sheet, so that expat calls Python only where something is read:
    before sheetData, a start handler for the columns; inside it, the cell handlers; right after it, one for the
    protection, where the schema puts it (nowhere else: a sheet protected elsewhere reads as unprotected); past
    that, none at all (validations, conditional formats and merges are most of a form's bytes, and expat still
    reads them whole), but with layout, which counts merges and hyperlinks wherever they are, as openpyxl does."""

    def __init__(self, pkg: Package, sheet: Sheet, want: set[str] | None, layout: bool = False):
        self.pkg, self.sheet, self.want, self.layout = pkg, sheet, want, layout
        self.shared = self.formats = None
        self.expanded = 0
        self.counted, self.max_cells = pkg._cells, pkg.limits.max_cells
        self.max_text = pkg.limits.max_text
        self.masters: dict[str, tuple[str, str]] = {}
        self.rows = self.cols = 0   # the extent so far
        self.outline: dict | None = None   # set by _sheet_tree: sheetData is read as a tree

    def bind(self, p):
        self.parser = p
        p.StartElementHandler, p.EndElementHandler = self.before, None

    def _reach(self, row: int, col: int):
        self.rows, self.cols = max(self.rows, row), max(self.cols, col)

    def _cover(self, ref: str):
        """A merged range, hyperlink or comment: its cells are counted and it widens the extent."""
        span = _span(ref)
        if span:   # (else openpyxl refuses it too: the file is reported as unreadable then)
            self._reach(span[0], span[1])
            self.sheet.spanned += span[2]

    # -- outside sheetData -----------------------------------------------------------------------
    def before(self, name, attrs):
        tag = _MAIN.get(name)
        if tag == "sheetData":
            if self.outline is not None:   # (see _sheet_tree) where it begins; its cells are the tree's
                self.outline["at"] = self.parser.CurrentByteIndex
                self.parser.StartElementHandler = self.after
                self.parser.StartNamespaceDeclHandler = None
                return
            self.parser.StartElementHandler, self.parser.EndElementHandler = self._in_sheet_data()
        elif tag == "col":
            if attrs.get("hidden") in ("1", "true") and attrs.get("min", "").isdigit():
                first = int(attrs["min"])
                last = int(attrs["max"]) if attrs.get("max", "").isdigit() else first
                self.sheet.hidden_cols.update(range(first, min(last, MAX_COL) + 1))
        elif self.layout:
            self.spans(name, attrs)

    def after(self, name, attrs):
        tag = _MAIN.get(name)
        if tag == "sheetProtection":
            self.sheet.protected = attrs.get("sheet") in ("1", "true")
        elif tag != "sheetCalcPr":   # (the one element the schema puts before it)
            self.parser.StartElementHandler = self.spans if self.layout else None
            if self.layout:
                self.spans(name, attrs)

    def spans(self, name, attrs):
        if _MAIN.get(name) in ("mergeCell", "hyperlink"):
            self._cover(attrs.get("ref", ""))

    # -- sheetData ---------------------------------------------------------------------------------
    def _in_sheet_data(self):
        """Enter sheetData: its handlers are closures over the cell being read (faster than attributes of self:
        a form has a thousand cells, each two to five calls from expat)."""
        p, sheet, cells, want, layout = self.parser, self.sheet, self.sheet.cells, self.want, self.layout
        main, good_refs, max_cells = _MAIN.get, _GOOD_REFS, self.max_cells
        codes: dict[str, str] = {}   # style index -> number format, as met
        ref = last = kind = style = v = f = fattrs = inline = None
        phonetic, depth, row, counted = False, 1, 0, self.counted

        def start(name, attrs):
            nonlocal ref, last, kind, style, v, f, fattrs, inline, phonetic, depth, row, counted
            tag = main(name)
            if tag == "c":
                counted += 1
                if counted > max_cells:
                    raise BadWorkbook("too_large", f"单元格超过 {max_cells} 个")
                ref = attrs.get("r") or _next_ref(last, row)
                if ref not in good_refs:   # a reference is checked before anything uses it
                    ref = _checked_ref(ref)
                # most cells of a form are empty and only formatted: the rest is done at their end, for the others
                last = ref
                if layout:
                    letters = ref.rstrip("0123456789")
                    self._reach(int(ref[len(letters):]), _column(letters))
                kind, style = attrs.get("t", "n"), attrs.get("s")
                v = f = inline = None
            elif tag == "v":
                if ref is not None:
                    v = self.text = []
                    p.CharacterDataHandler = v.append
            elif ref is None:
                if tag == "row":
                    r = attrs.get("r")
                    row = int(r) if r and r.isdigit() else row + 1
                    if layout:   # a row of no cell still has its height and style
                        self.rows = max(self.rows, row)
                    last = None
                    if attrs.get("hidden") in ("1", "true"):
                        sheet.hidden_rows.add(row)
                elif tag == "sheetData":
                    depth += 1
            elif tag == "f":
                f, fattrs = [], attrs
                self.text, p.CharacterDataHandler = f, f.append
            elif tag == "is":
                inline = []
            elif tag == "t" and inline is not None and not phonetic:
                self.text = inline
                p.CharacterDataHandler = inline.append
            elif tag == "rPh":
                phonetic = True

        def end(name):
            nonlocal ref, phonetic, depth
            tag = main(name)
            if ref is None:
                if tag == "sheetData":
                    depth -= 1
                    if not depth:
                        self.counted = counted
                        p.StartElementHandler, p.EndElementHandler = self.after, None
                return
            if tag == "c":
                at, ref = ref, None
                if v is None and f is None and inline is None:
                    return  # an empty (formatted) cell
                if want is not None and at not in want:
                    return
                if style and style != "0":
                    code = codes.get(style)
                    if code is None:
                        code = codes[style] = self._format(style)
                    if code != "General":
                        sheet.cell_formats[at] = code
                if kind == "n" and v is not None:   # (most values: numbers, and shared strings below)
                    value = _number("".join(v), sheet.name, at)
                elif kind == "s" and v is not None:
                    value = self._shared("".join(v))
                else:
                    value = self._value(at, kind, v, inline)
                cells[at] = _new_cell(Cell, (value, None if f is None else self._formula(at, "".join(f), fattrs)))
            elif tag in ("v", "f", "t"):
                p.CharacterDataHandler = self.text = None
            elif tag == "rPh":
                phonetic = False
        return start, end

    def _format(self, style: str) -> str:
        """The number format of a style index (s=)."""
        if self.formats is None:
            self.formats = self.pkg.number_formats
        return self.formats[int(style)] if style.isdigit() and int(style) < len(self.formats) else "General"

    def _formula(self, ref: str, formula: str, attrs: dict) -> str:
        if len(formula) > MAX_FORMULA:
            raise BadWorkbook("bad_xml", f"公式长 {len(formula)} 个字符，Excel 最多允许 {MAX_FORMULA} 个")
        if attrs.get("t") == "shared":
            formula = _shared_formula(self.masters, attrs.get("si"), ref, formula)
            self.expanded += len(formula)   # one short formula may be copied into many cells
            if self.expanded > self.pkg.limits.max_shared:
                raise BadWorkbook("too_large", "共享公式展开后超过读取限制")
        return formula

    def _shared(self, index: str) -> str:
        if self.shared is None:
            self.shared = self.pkg.shared_strings
        try:
            at = int(index)
            if at >= 0:   # (-1 is no string of the part, not its last)
                return self.shared[at]
        except (IndexError, ValueError):
            pass
        raise BadWorkbook("bad_xml", "引用了不存在的共享文本")

    def _value(self, ref: str, t: str, v: list | None, inline: list | None):
        if t == "inlineStr":
            return None if inline is None else _unescape("".join(inline))
        if v is None:
            return None
        value = "".join(v)
        if t == "n" or t == "":
            return _number(value, self.sheet.name, ref)
        if t == "s":
            return self._shared(value)
        if t == "b":
            return value.strip() in ("1", "true")
        if t == "e":
            return Error(value)
        if t == "str":
            return _unescape(value) or None
        return value


def _number(text: str, sheet: str, ref: str) -> float | None:
    """A cell's number (None where its <v> is blank), or BadWorkbook naming the cell where it is none a spreadsheet
    writes: float() also reads nan, inf, 1_000, and 1e999 as inf (a score of NaN compares false everywhere)."""
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if value - value or "_" in text:   # (nan and inf: not 0)
        raise BadWorkbook("bad_xml", f"单元格 {sheet}!{ref} 的数值无法识别")
    return value


# where the header and footer were, in a sheet's outline (see _sheet_tree): an element, as they were one (the
# protection is read no further than it, a second root is refused), then an instruction that the outline's expat
# must meet right after it (so the element was markup, not in a comment or CDATA section)
_CUT = b"<xlform-cut/><?xlform-cut?>"


@functools.lru_cache(maxsize=None)
def _start_tag(local: bytes) -> re.Pattern:
    """The start tag of an element of this local name, in any prefix; group 1 the prefix, group 2 "/" if empty."""
    return re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?" + local +
                      rb"""(?:\s+[^\s=<>/]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*\s*(/?)>""")


def _element(data: bytes, local: bytes, pos: int = 0) -> tuple[int, int, bytes] | None:
    """(start, end, prefix) of the first element of this local name in the bytes from pos: its end is the first
    end tag of its name after it (whether these bytes are an element is for expat to say); None if none."""
    first = data.find(local, pos)   # (memchr's speed: the regular expression starts at the "<" before it)
    if first < 0:
        return None
    found = _start_tag(local).search(data, max(data.rfind(b"<", pos, first), pos))
    if found is None:
        return None
    prefix = found[1] + b":" if found[1] else b""
    if found[2]:   # <name/>
        return found.start(), found.end(), prefix
    close = re.compile(rb"</" + re.escape(prefix + local) + rb"\s*>").search(data, found.end())
    return (found.start(), close.end(), prefix) if close else None


_DECLARED = re.compile(rb"""\A(?:\xef\xbb\xbf)?<\?xml\s[^>]*?encoding\s*=\s*["']([^"']*)["']""")


def _utf8(data: bytes) -> bool:
    """Does expat read this part as UTF-8 (what the tree and the lexemes take it for)? No UTF-16 mark, and no
    other encoding declared ("utf8" neither: expat knows only the name UTF-8)."""
    return not data.startswith((b"\xff\xfe", b"\xfe\xff", b"\0", b"<\0")) and \
        not ((m := _DECLARED.match(data)) and m[1].lower() != b"utf-8")


def _sheet_tree(pkg: Package, sheet: Sheet, want: set[str] | None, data: bytes) -> Sheet | None:
    """A sheet given whole, read as _SheetHandler reads it, with its sheetData built into a tree by C (expat
    too) rather than met cell by cell in Python; None where the handler must read it instead (another
    encoding than UTF-8, an element the tree walk does not expect, a sheetData this cannot delimit).

    The part is parsed by expat with sheetData emptied (`<sheetData/>`): its prolog (no DTD), columns,
    protection and well-formedness, as the handler checks them. sheetData, found in the bytes, is parsed
    alone, declared as the root declares it: its end is the first end tag of its name after it, and, should
    that one sit in a comment or CDATA section, the region is no element and the tree is refused, as is a
    start the outline's expat does not meet at the very same byte."""
    if not _utf8(data):
        return None
    found = _element(data, b"sheetData")
    if found is None:
        return None
    begin, end, prefix = found
    stub = data[:begin] + b"<" + prefix + b"sheetData/>" + data[end:]
    # the header and footer (xlform prints the project's name there) are all that differ between the outlines of
    # forms laid out alike: cut out too, _CUT in their place that the outline's expat must meet as markup where
    # they stood (so they were content, where well-formed content may stand), and parsed alone
    cut = footer = None
    header = _element(stub, b"headerFooter", begin)
    if header:
        cut, footer = header[0], stub[header[0]:header[1]]
        stub = stub[:cut] + _CUT + stub[header[1]:]
    # (with where sheetData and the cut stand: the same bytes, cut elsewhere, are another outline to check)
    digest = (hashlib.sha256(stub).digest(), begin, cut)
    known = _KNOWN_OUTLINES.get(digest)
    if known is None:
        known = _outline(pkg, stub, begin, cut)
        if known is None:
            return None
        if len(_KNOWN_OUTLINES) >= 1024:
            _KNOWN_OUTLINES.clear()
        _KNOWN_OUTLINES[digest] = known
    wrapper, sheet.protected = known[0], known[2]
    sheet.hidden_cols.update(known[1])
    try:
        if footer:
            ElementTree.fromstring(b"<x" + wrapper + b">" + footer + b"</x>")
        region = data[begin:end]
        if not prefix and _MAIN_DEFAULT.search(wrapper) and _sheet_lexed(pkg, sheet, want, region, len(data),
                                                                         wrapper):
            return sheet
        if b"xmlns" in region:   # a namespace declared in it: expat here and the handler's expat (its separator
            return None           # " ") do not refuse the same names (a space in one)
        tree = ElementTree.fromstring(b"<x" + wrapper + b">" + region + b"</x>")
    except (ElementTree.ParseError, expat.ExpatError):
        return None
    if len(tree) != 1 or _TREE.get(tree[0].tag) != "sheetData":
        return None
    reader = _SheetHandler(pkg, sheet, want)   # (for its conversions)
    ns = tree[0].tag[:-len("sheetData")]
    ROW, C, V, F, IS = (ns + local for local in ("row", "c", "v", "f", "is"))
    cells, formats, hidden_rows = sheet.cells, sheet.cell_formats, sheet.hidden_rows
    good_refs, counted, max_cells, max_text = _GOOD_REFS, pkg._cells, pkg.limits.max_cells, pkg.limits.max_text
    codes = {"": "General", "0": "General"}   # style index -> number format, as met
    long_texts = max_text < len(data)   # (a value has no more characters than its part has bytes)
    row = 0
    for r in tree[0]:
        if r.tag != ROW:
            return None
        n = r.get("r")
        row = int(n) if n and n.isdigit() else row + 1
        last = None
        if r.get("hidden") in ("1", "true"):
            hidden_rows.add(row)
        counted += len(r)
        if counted > max_cells:   # past the limit in this row: the handler says what comes first, the limit or a
            return None           # bad cell before it
        for c in r:
            if c.tag != C:
                return None
            ref = c.get("r") or _next_ref(last, row)
            if ref not in good_refs:
                ref = _checked_ref(ref)
            last = ref
            n = len(c)
            if not n:
                continue   # an empty (formatted) cell
            part = c[0]
            if n == 1 and part.tag == V and not len(part):   # most cells with content: a value alone
                v, f, inline = part.text or "", None, None
            else:
                v = f = fattrs = inline = None
                for part in c:
                    tag = part.tag
                    if tag == V and not len(part):
                        v = part.text or ""
                    elif tag == F and not len(part):
                        f, fattrs = part.text or "", part.attrib
                    elif tag == IS:
                        inline = _inline(part, _TREE.get)
                    else:
                        return None
            if long_texts and max(len(v or ""), len(f or ""), len(inline or "")) > max_text:
                raise BadWorkbook("too_large", "单元格内容超过表格软件允许的长度")
            if want is not None and ref not in want:
                continue
            style = c.get("s")
            if style is not None:
                code = codes.get(style)
                if code is None:
                    code = codes[style] = reader._format(style)
                if code != "General":
                    formats[ref] = code
            kind = c.get("t", "n")
            if kind == "n" and v is not None:
                value = _number(v, sheet.name, ref)
            elif kind == "s" and v is not None:
                value = reader._shared(v)
            else:
                value = reader._value(ref, kind, None if v is None else [v], None if inline is None else [inline])
            cells[ref] = _new_cell(Cell, (value, None if f is None else reader._formula(ref, f, fattrs)))
    pkg._cells = counted
    return sheet


# The lexemes of a sheetData as Excel, LibreOffice, WPS and xlform's writer write its rows and cells, for one
# regular expression (C) to find rather than a tree built and walked: a cell (reference, style, type, formula,
# "<v" and the value if it has one), a row's start tag (number, attributes, "/" if empty), a row's end tag. Each
# alternative is an exact XML lexeme (an attribute's value holds no quote, a text no markup, a value no reference
# either), and the last matches any other character, so the lexemes follow one another from the start: anything
# else hands the sheet to the tree.
_LEXEMES = re.compile(
    r'<c r="([A-Z]{1,3}[1-9][0-9]{0,6})"(?: s="([0-9]{1,9})")?(?: t="([A-Za-z]{1,9})")?'
    r'(?:/>|>(?:<f(?: aca="(?:false|true)")?>([^<]+)</f>)?(?:(<v)(?:>([^<&]*)</v>|/>))?</c>)'
    r'|<row r="([1-9][0-9]{0,6})"((?: [A-Za-z_][A-Za-z0-9_.:-]*="[^"<&]*")*)(/?)>'
    r'|</row>'
    r'|([\s\S])')
_ROW_ATTRIBUTE = re.compile(r' ([^=]+)="([^"]*)"')
_CONTROLS = bytes(range(0x09)) + b"\x0b\x0c" + bytes(range(0x0e, 0x20))   # no characters of XML, nor are
_NOT_CHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")                      # U+FFFE and U+FFFF
_MAIN_DEFAULT = re.compile(rb' xmlns="(?:' + rb"|".join(re.escape(ns.encode()) for ns in _MAIN_NS) + rb')"')
_ENTITY = re.compile(r"&(?:#0*([0-9]{1,7})|#x([0-9A-Fa-f]+)|(amp|lt|gt|quot|apos));")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _entities(text: str) -> str | None:
    """A text's character and entity references replaced, as expat replaces them; None where one is no
    reference XML has (an "&" alone, an entity never declared, a character XML has not)."""
    if "&" not in text:
        return text
    if text.count("&") != len(refs := _ENTITY.findall(text)) or not all(
            _xml_char(int(d) if d else int(h, 16)) for d, h, _ in refs if d or h):
        return None
    return _ENTITY.sub(lambda m: chr(int(m[1])) if m[1] else chr(int(m[2], 16)) if m[2] else _ENTITIES[m[3]],
                       text)


def _xml_char(n: int) -> bool:
    return n in (9, 10, 13) or 0x20 <= n <= 0xD7FF or 0xE000 <= n <= 0xFFFD or 0x10000 <= n <= 0x10FFFF


def _row_attributes(attributes: str, wrapper: bytes) -> dict[str, str] | None:
    """A row's attributes after its r= (as _LEXEMES found them), by name; None where XML with namespaces has them
    otherwise: each named once (r= too), a prefix declared on the root (the only declarations in scope: sheetData
    declares none, nor does the row). Two prefixes may name one namespace: two prefixed attributes of one local
    name are left to expat."""
    found = _ROW_ATTRIBUTE.findall(attributes)
    names = ["r"] + [name for name, _ in found]
    if len(set(names)) != len(names):
        return None
    prefixed = [name.partition(":")[2] for name in names if ":" in name]
    if len(set(prefixed)) != len(prefixed):
        return None
    for name in names:
        if ":" in name:
            prefix, _, local = name.partition(":")
            if not prefix or not local or ":" in local or not _NAME_START.match(local) or \
                    b" xmlns:" + prefix.encode() + b"=" not in wrapper:
                return None
    return dict(found)


_NAME_START = re.compile(r"[A-Za-z_]")


def _well_formed(data: bytes):
    """Expat's word (ExpatError) on bytes the caller will lex: well-formed, with no DTD (_parser refuses one)."""
    _parser().Parse(data, True)


def _sheet_lexed(pkg: Package, sheet: Sheet, want: set[str] | None, region: bytes, size: int,
                 wrapper: bytes) -> bool:
    """A sheetData in the main namespace as its default (the root's declarations: `wrapper`), read by _LEXEMES
    as _sheet_tree reads its tree; False (nothing read) where a lexeme is not one of them, or the tree must say
    what the cells are: a carriage return (expat makes it a line feed), a namespace declared, a cell outside a
    row, anything that is no XML (expat says what). Lexemes are exact, so what they leave to check of XML's
    rules is checked here: every character one of XML's, "]]>" in no text, every reference one of XML's, a row's
    attributes each named once, their prefixes declared."""
    if b"\r" in region or b"xmlns" in region or b"]]>" in region or \
            len(region.translate(None, _CONTROLS)) != len(region) or \
            (b"\xef\xbf" in region and any(c in region for c in _NOT_CHARACTERS)):
        return False
    try:
        text = region.decode()
    except UnicodeDecodeError:
        return False
    if not text.startswith("<sheetData>") or not text.endswith("</sheetData>"):
        return False
    lexemes = _LEXEMES.findall(text, len("<sheetData>"), len(text) - len("</sheetData>"))
    reader = _SheetHandler(pkg, sheet, want)   # (for its conversions)
    cells, formats, hidden_rows = {}, {}, set()
    good_refs, counted, max_cells, max_text = _GOOD_REFS, pkg._cells, pkg.limits.max_cells, pkg.limits.max_text
    codes = {"": "General", "0": "General"}   # style index -> number format, as met
    long_texts = max_text < size   # (a value has no more characters than its part has bytes)
    in_row = False
    rows_hidden = {"": False}   # row attributes found well-formed: whether they hide the row (rows repeat theirs)
    for ref, style, kind, f, has_value, v, row, attributes, empty, other in lexemes:
        if not ref:
            if other:
                return False
            if row:   # a row's start tag
                if in_row:
                    return False
                hidden = rows_hidden.get(attributes)
                if hidden is None:
                    named = _row_attributes(attributes, wrapper)
                    if named is None:
                        return False
                    hidden = rows_hidden[attributes] = named.get("hidden") in ("1", "true")
                in_row = not empty
                if hidden:
                    hidden_rows.add(int(row))
            elif in_row:   # its end tag
                in_row = False
            else:          # an end tag of no row
                return False
            continue
        if not in_row:
            return False
        counted += 1
        if counted > max_cells:
            raise BadWorkbook("too_large", f"单元格超过 {max_cells} 个")
        if ref not in good_refs:
            ref = _checked_ref(ref)
        if not (has_value or f):
            continue   # an empty (formatted) cell
        if f:   # (checked in every cell, wanted or not, as expat would; its length is its characters')
            f = _entities(f)
            if f is None:
                return False
        if long_texts and max(len(v), len(f)) > max_text:
            raise BadWorkbook("too_large", "单元格内容超过表格软件允许的长度")
        if want is not None and ref not in want:
            continue
        if style:
            code = codes.get(style)
            if code is None:
                code = codes[style] = reader._format(style)
            if code != "General":
                formats[ref] = code
        if not kind or kind == "n":
            value = _number(v, sheet.name, ref)
        elif kind == "s" and has_value:
            value = reader._shared(v)
        else:
            value = reader._value(ref, kind, [v] if has_value else None, None)
        cells[ref] = _new_cell(Cell, (value, reader._formula(ref, f, {}) if f else None))
    if in_row:   # a row never ended
        return False
    sheet.cells.update(cells)
    sheet.cell_formats.update(formats)
    sheet.hidden_rows.update(hidden_rows)
    pkg._cells = counted
    return True


@contextlib.contextmanager
def _untracked():
    """The cyclic GC paused while a sheet or the shared strings are read: a sheet's tree, a thousand elements
    and as many attribute dicts, holds no cycle and is freed by reference counting when the walk ends, but
    allocating it would start two or three collections per sheet that only walk it (and, promoted, a full
    collection every few dozen returns). Left paused if a caller paused it."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_KNOWN_OUTLINES: dict[tuple, tuple] = {}   # sheets outlined: (digest, at, cut) -> what _outline gave


def _outline(pkg: Package, stub: bytes, at: int, cut: int | None) -> tuple[bytes, frozenset, bool] | None:
    """A sheet with its sheetData emptied, through expat as the handler reads it: (the root's namespace
    declarations, as attributes for the tree's root; the hidden columns; whether protected), or None where the
    handler must read it. Returns of one template share it byte for byte (validations, conditional formats and
    merges are most of a form's bytes): _sheet_tree parses each one once, looked up by the digest of its bytes
    (the very same bytes were parsed before, well-formed, with no DTD). `cut`: where _CUT stands for the cut
    header and footer, its instruction met right after its element or the outline is refused."""
    sheet = Sheet("")
    outline = _SheetHandler(pkg, sheet, None)
    outline.outline = marks = {"at": None, "root": None, "declared": [], "cut": []}
    p = _parser()

    def declared(prefix, uri):
        marks["declared"].append((prefix, uri))

    def instruction(target, _):
        if target == "xlform-cut":
            marks["cut"].append(p.CurrentByteIndex)

    def root(name, attrs):   # the root's declarations, the only ones in scope at sheetData (where else: refused)
        marks["root"], marks["declared"] = marks["declared"], []
        p.StartElementHandler = outline.before
        outline.before(name, attrs)
    outline.bind(p)
    p.StartElementHandler, p.StartNamespaceDeclHandler, p.ProcessingInstructionHandler = root, declared, instruction
    try:
        p.Parse(stub, True)
    except expat.ExpatError:
        return None   # (the handler says where)
    finally:
        p = outline.parser = None   # the parser, its handlers and their closures hold each other (see Package._parse)
    if marks["at"] != at or marks["declared"] or marks["root"] is None or marks["cut"] != ([] if cut is None
                                                                                        else [cut + _CUT.index(b"<?")]):
        return None
    wrapper = b"".join(b" xmlns" + (b":" + ns.encode() if ns else b"") + b"=" + _attribute(uri or "").encode()
                       for ns, uri in marks["root"])
    return wrapper, frozenset(sheet.hidden_cols), sheet.protected


def _attribute(value: str) -> str:
    """An attribute's value as XML writes it, in double quotes: every character that would end or change it
    escaped (xml.sax.saxutils.quoteattr's escapes; its module imports urllib, 12 ms of a reader's start)."""
    return '"' + value.translate(_ATTRIBUTE_ESCAPES) + '"'


_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;",
                                    "\r": "&#13;", "\t": "&#9;"})


def _inline(element, tags) -> str:
    """The text of an inline string (<is>) as the handler collects it: its <t>, in runs too, not the phonetic."""
    phonetic = {id(t) for r in element.iter() if tags(r.tag) == "rPh" for t in r.iter()}
    return "".join("".join(t.itertext()) for t in element.iter() if tags(t.tag) == "t" and id(t) not in phonetic)


def _next_ref(last: str | None, row: int) -> str:
    """A cell without r= follows the previous one in its row (the schema allows leaving it out)."""
    col = 0
    for ch in (last or "").rstrip("0123456789"):
        col = col * 26 + ord(ch) - 64
    col += 1
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row}"


_KNOWN_STYLES: dict[bytes, tuple[str, ...]] = {}   # styles parts parsed: digest -> number formats
# package and workbook parts parsed: digest -> what Package._once gave. A workbook part names the inputs (its
# defined names), so forms laid out alike share it: a province's 1,000 returns have 222, which 64 entries, cleared
# when full, could not hold (0.26 ms of a 4.2 ms read went to parsing them again)
_KNOWN_PARTS: dict[bytes, object] = {}

_GOOD_REFS: set[str] = set()   # references met and found well-formed (a form uses a few thousand)


def _checked_ref(ref: str) -> str:
    """A cell reference as spreadsheets read it (case-insensitively), or BadWorkbook."""
    if len(ref) > 10 or not _REF.fullmatch(ref):
        ref = ref.upper()
        if len(ref) > 10 or not _REF.fullmatch(ref):
            raise BadWorkbook("bad_xml", "单元格地址无效")
    if len(_GOOD_REFS) > 20_000:
        _GOOD_REFS.clear()
    _GOOD_REFS.add(ref)
    return ref


def _shared_formula(masters: dict, si, ref: str, formula: str) -> str:
    """Expand a shared formula (Excel writes filled-down formulas once) for the cell at ref."""
    if formula:
        masters[si] = (ref, formula)
        return formula
    if si in masters:
        from openpyxl.formula.translate import Translator
        origin, text = masters[si]
        return Translator("=" + text, origin).translate_formula(ref)[1:]
    return formula
