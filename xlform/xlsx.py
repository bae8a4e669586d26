"""A small, guarded SpreadsheetML (.xlsx) reader: exactly what checking a returned form needs.

One pass per sheet gives every cell's value and formula, with the sheet's state and protection: what
openpyxl needs two full loads for (formulas, then cached values), and nothing else.
Limits are applied before any XML parser sees a byte: zip size and ratio, parts count, no DTDs (so no
entity expansion or external entities).
"""
from __future__ import annotations

import html
import os
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from xml.etree.ElementTree import iterparse

from .errors import XlformError


class BadWorkbook(XlformError):
    """A file that cannot be read as a workbook; `code` names why (see messages.py)."""

    def __init__(self, code: str, detail: str = ""):
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}" if detail else code)


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 100 * 1024 * 1024          # the file itself
    max_uncompressed: int = 200 * 1024 * 1024   # all parts together
    max_ratio: int = 200                        # uncompressed/compressed for parts above 1 MB
    max_parts: int = 5000
    max_cells: int = 2_000_000                  # per sheet
    max_scan: int = 64 * 1024 * 1024            # parts up to this size are scanned in memory (fast path)


@dataclass
class Cell:
    value: object = None        # str, float, bool, or Error
    formula: str | None = None  # without '='



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
    hidden_rows: set[int] = field(default_factory=set)        # row numbers (1-based) with hidden="1"
    hidden_cols: set[int] = field(default_factory=set)        # column numbers (1-based, A = 1) hidden
    cell_formats: dict[str, str] = field(default_factory=dict)  # ref -> number format code, unless General


@dataclass
class SheetInfo:
    name: str
    state: str
    part: str
    index: int


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


_PROLOG_TOKEN = re.compile(rb"\s*(<\?.*?\?>|<!--.*?-->|<!DOCTYPE|<!ENTITY|<[A-Za-z_])", re.S)


def _refuse_dtd(head: bytes):
    """No part of a workbook has a DTD; one is how entity bombs and external entities get in."""
    pos = 0
    if head.startswith(b"\xef\xbb\xbf"):
        pos = 3
    while True:
        m = _PROLOG_TOKEN.match(head, pos)
        if not m:
            if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                raise BadWorkbook("hostile", "a DTD in an XML part")
            return
        token = m.group(1)
        if token in (b"<!DOCTYPE", b"<!ENTITY"):
            raise BadWorkbook("hostile", "a DTD in an XML part")
        if not token.startswith((b"<?", b"<!--")):
            return
        pos = m.end()


def _si_text(si) -> str:
    """A shared string's text: plain or rich-text runs, leaving out phonetic (rPh) runs."""
    parts = []
    for child in si:
        tag = _local(child.tag)
        if tag == "t":
            parts.append(child.text or "")
        elif tag == "r":
            parts += [t.text or "" for t in child if _local(t.tag) == "t"]
    return "".join(parts)


class Package:
    """An opened .xlsx; parts are parsed on demand."""

    def __init__(self, path, limits: Limits = Limits()):
        self.path, self.limits = path, limits
        with open(path, "rb") as f:
            head = f.read(8)
        size = os.path.getsize(path)
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise BadWorkbook("ole", "an OLE2 file: encrypted .xlsx, or .xls/.et")
        if not head.startswith(b"PK"):
            raise BadWorkbook("not_zip")
        if size > limits.max_bytes:
            raise BadWorkbook("too_large", f"file larger than {limits.max_bytes // 2**20} MB")
        try:
            self.zip = zipfile.ZipFile(path)
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise BadWorkbook("truncated", str(e))
        if len(infos) > limits.max_parts:
            raise BadWorkbook("too_large", f"{len(infos)} parts")
        total = 0
        for info in infos:
            total += info.file_size
            if info.file_size > 2**20 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise BadWorkbook("too_large", f"{info.filename} compresses {info.file_size // max(info.compress_size, 1)}:1")
        if total > limits.max_uncompressed:
            raise BadWorkbook("too_large", f"{total // 2**20} MB uncompressed")
        self.names = {i.filename for i in infos}
        if "xl/workbook.xml" not in self.names:
            if "EncryptedPackage" in self.names:
                raise BadWorkbook("ole")
            raise BadWorkbook("not_xlsx", "no xl/workbook.xml")
        self._shared: list[str] | None = None
        self._formats: list[str] | None = None
        self._read_workbook()

    def close(self):
        self.zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- parts ------------------------------------------------------------------------------
    def _open(self, name: str):
        try:
            f = self.zip.open(name)
        except KeyError:
            raise BadWorkbook("not_xlsx", f"missing part {name}")
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
            raise BadWorkbook("truncated", f"{name}: {e}")
        _refuse_dtd(f.peek(4096)[:4096] if hasattr(f, "peek") else b"")
        return f

    def _parse(self, name: str, events=("end",)):
        f = self._open(name)
        try:
            yield from iterparse(f, events)
        except zipfile.BadZipFile as e:
            raise BadWorkbook("truncated", f"{name}: {e}")
        except (EOFError, OSError) as e:
            raise BadWorkbook("truncated", f"{name}: {e}")
        except SyntaxError as e:  # ParseError
            raise BadWorkbook("bad_xml", f"{name}: {e}")
        finally:
            f.close()

    def _rels(self, part: str) -> dict[str, str]:
        folder, base = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", base + ".rels")
        out = {}
        if rels not in self.names:
            return out
        for _, el in self._parse(rels):
            if _local(el.tag) == "Relationship":
                target = el.get("Target", "")
                out[el.get("Id")] = (target.lstrip("/") if target.startswith("/")
                                     else posixpath.normpath(posixpath.join(folder, target)))
        return out

    def _read_workbook(self):
        """The sheets: name, state and part (nothing else of workbook.xml is needed)."""
        rels = self._rels("xl/workbook.xml")
        self.sheets: list[SheetInfo] = []
        data = self._small("xl/workbook.xml")
        if data is None or b"<workbook" not in data:
            raise BadWorkbook("unsupported", "an unusual workbook part")
        for m in _SHEET.finditer(data):
            attrs = {k.decode(): _text(v) for k, v in _ATTR.findall(m.group(1))}
            rid = next((v for k, v in attrs.items() if k.endswith(":id")), "")
            self.sheets.append(SheetInfo(attrs.get("name", ""), attrs.get("state", "visible"), rels.get(rid, ""),
                                         len(self.sheets)))

    @property
    def shared_strings(self) -> list[str]:
        if self._shared is None:
            self._shared = []
            if "xl/sharedStrings.xml" in self.names:
                data = self._small("xl/sharedStrings.xml")
                if data is not None and b"<sst" in data:
                    self._shared = [_si_bytes(m.group(1) or b"") for m in _SI.finditer(data)]
                else:  # a prefixed namespace or a huge table: the streaming parser
                    for _, el in self._parse("xl/sharedStrings.xml"):
                        if _local(el.tag) == "si":
                            self._shared.append(_si_text(el))
                            el.clear()
        return self._shared

    @property
    def number_formats(self) -> list[str]:
        """The number format code of each cell style (cellXfs), by style index."""
        if self._formats is None:
            custom, ids = {}, []
            data = self._small("xl/styles.xml") if "xl/styles.xml" in self.names else None
            if data:
                for m in _NUMFMT.finditer(data):
                    attrs = dict(_ATTR.findall(m.group(1)))
                    custom[_text(attrs.get(b"numFmtId", b""))] = _text(attrs.get(b"formatCode", b"")) or "General"
                xfs = _CELL_XFS.search(data)
                for m in _XF.finditer(xfs.group(1) if xfs else b""):
                    ids.append(_text(dict(_ATTR.findall(m.group(1))).get(b"numFmtId", b"0")))
            self._formats = [custom.get(i) or _BUILTIN_FORMATS.get(i, "General") for i in ids]
        return self._formats

    def _cell_format(self, sheet: Sheet, ref: str, style) -> None:
        if style is not None and style.isdigit():
            formats, i = self.number_formats, int(style)
            if i < len(formats) and formats[i] != "General":
                sheet.cell_formats[ref] = formats[i]

    def _small(self, name: str) -> bytes | None:
        """A part's bytes when it is small enough to scan in memory (DTD refused), else None."""
        try:
            if self.zip.getinfo(name).file_size > self.limits.max_scan:
                return None
            data = self.zip.read(name)
        except KeyError:
            raise BadWorkbook("not_xlsx", f"missing part {name}")
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
            raise BadWorkbook("truncated", f"{name}: {e}")
        _refuse_dtd(data[:4096])
        return data

    def sheet(self, info: SheetInfo, want: set[str] | None = None) -> Sheet:
        """One sheet: every cell with content (or only those in `want`), and its protection.

        Cells with no content (<c r=".." s=".."/>) are left out: they read as blank either way.
        """
        data = self._small(info.part)
        if data is None or b"<worksheet" not in data:  # huge, or a prefixed namespace: stream it
            return self._stream_sheet(info, want)
        sheet = Sheet(info.name, info.state)
        if data.count(b"<c ") > self.limits.max_cells:
            raise BadWorkbook("too_large", f"more than {self.limits.max_cells} cells in {info.name}")
        prot = _PROTECTION.search(data)
        sheet.protected = bool(prot and _SHEET_ON.search(prot.group(1)))
        if b'hidden="1"' in data or b'hidden="true"' in data:
            for m in _ROW_TAG.finditer(data):
                _hide_row(sheet, dict(_ATTR.findall(m.group(1))))
            for m in _COL_TAG.finditer(data):
                _hide_cols(sheet, dict(_ATTR.findall(m.group(1))))
        shared, formats = self.shared_strings, self.number_formats
        masters: dict[str, tuple[str, str]] = {}
        for m in _CELL.finditer(data):
            head, inner = m.group(1), m.group(2)
            fast = _CELL_HEAD.fullmatch(head)  # r="A1" s="3" t="s", the order every writer uses
            if fast:
                ref, style, t = fast.group(1), fast.group(2), fast.group(3)
            else:
                attrs = dict(_ATTR.findall(head))
                ref, style, t = attrs.get(b"r"), attrs.get(b"s"), attrs.get(b"t")
                style = style if style and style.isdigit() else None
                if ref is None:
                    raise BadWorkbook("unsupported", "cells without references")
            ref = ref.decode()
            if want is not None and ref not in want:
                continue
            value = formula = None
            body = _CELL_BODY.fullmatch(inner)  # [<f …>formula</f>][<v>value</v>]
            if body:
                fattrs, ftext, vtext = body.group(1), body.group(2), body.group(3)
                if body.group(0).startswith(b"<f"):
                    formula = _text(ftext) if ftext is not None else ""
                    if fattrs and b"shared" in fattrs:
                        formula = _shared_formula(masters, dict(_ATTR.findall(fattrs)).get(b"si"), ref, formula)
                if vtext is not None:
                    value = _text(vtext)
            else:
                f = _FORMULA.search(inner)
                if f:
                    formula = _text(f.group(2)) if f.group(2) is not None else ""
                    fattrs = dict(_ATTR.findall(f.group(1) or b""))
                    if fattrs.get(b"t") == b"shared":
                        formula = _shared_formula(masters, fattrs.get(b"si"), ref, formula)
                v = _VALUE.search(inner)
                if v:
                    value = _text(v.group(1))
                elif b"<is" in inner:
                    value = "".join(_text(x) for x in _T.findall(inner))
            sheet.cells[ref] = Cell(_typed(t.decode() if t else "n", value, shared), formula)
            if style:
                code = formats[int(style)] if int(style) < len(formats) else "General"
                if code != "General":
                    sheet.cell_formats[ref] = code
        return sheet

    def _stream_sheet(self, info: SheetInfo, want: set[str] | None = None) -> Sheet:
        sheet = Sheet(info.name, info.state)
        shared = self.shared_strings
        masters: dict[str, tuple[str, str]] = {}
        count = 0
        for _, el in self._parse(info.part):
            tag = _local(el.tag)
            if tag == "c":
                count += 1
                if count > self.limits.max_cells:
                    raise BadWorkbook("too_large", f"more than {self.limits.max_cells} cells in {info.name}")
                ref = el.get("r")
                if ref is None:
                    raise BadWorkbook("unsupported", "cells without references")
                if (want is None or ref in want) and len(el):
                    sheet.cells[ref] = self._cell(el, ref, shared, masters)
                    self._cell_format(sheet, ref, el.get("s"))
                el.clear()
            elif tag == "row":
                _hide_row(sheet, {k.encode(): v.encode() for k, v in el.attrib.items()})
                el.clear()
            elif tag == "col":
                _hide_cols(sheet, {k.encode(): v.encode() for k, v in el.attrib.items()})
            elif tag == "sheetProtection":
                sheet.protected = el.get("sheet") in ("1", "true")
        return sheet

    @staticmethod
    def _cell(el, ref, shared, masters) -> Cell:
        value = formula = None
        for child in el:
            tag = _local(child.tag)
            if tag == "v":
                value = child.text
            elif tag == "f":
                formula = child.text or ""
                if child.get("t") == "shared":
                    formula = _shared_formula(masters, child.get("si"), ref, formula)
            elif tag == "is":
                value = "".join(x.text or "" for x in child.iter() if _local(x.tag) == "t")
        return Cell(_typed(el.get("t", "n"), value, shared), formula)


_CELL = re.compile(rb"<c\s([^>]*?)(?<!/)>(.*?)</c>", re.S)
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')
_CELL_HEAD = re.compile(rb'r="([A-Z]{1,3}[0-9]{1,7})"(?: s="([0-9]+)")?(?: t="([a-zA-Z]+)")?')
_ROW_TAG = re.compile(rb"<row\s([^>]*)>")
_COL_TAG = re.compile(rb"<col\s([^>]*?)/?>")
_NUMFMT = re.compile(rb"<numFmt\s([^>]*?)/?>")
_CELL_XFS = re.compile(rb"<cellXfs\b[^>]*>(.*?)</cellXfs>", re.S)
_XF = re.compile(rb"<xf\s([^>]*?)/?>")
_BUILTIN_FORMATS = {"1": "0", "2": "0.00", "3": "#,##0", "4": "#,##0.00", "9": "0%", "10": "0.00%",
                    "11": "0.00E+00", "12": "# ?/?", "13": "# ??/??", "49": "@"}
_CELL_BODY = re.compile(rb"(?:<f(\s[^>]*?)?(?:/>|>([^<]*)</f>))?(?:<v>([^<]*)</v>|<v/>)?")
_FORMULA = re.compile(rb"<f(\s[^>]*?)?(?:/>|>(.*?)</f>)", re.S)
_VALUE = re.compile(rb"<v(?:\s[^>]*)?>(.*?)</v>", re.S)
_T = re.compile(rb"<t(?:\s[^>]*)?>(.*?)</t>", re.S)
_SI = re.compile(rb"<si(?:\s[^>]*)?(?:/>|>(.*?)</si>)", re.S)
_RPH = re.compile(rb"<rPh\b.*?</rPh>", re.S)
_PROTECTION = re.compile(rb"<sheetProtection\b([^>]*)>")
_SHEET = re.compile(rb"<sheet\s([^>]*?)/?>")
_SHEET_ON = re.compile(rb'\ssheet="(?:1|true)"')


def _hide_row(sheet: Sheet, attrs: dict):
    if attrs.get(b"hidden") in (b"1", b"true") and attrs.get(b"r", b"").isdigit():
        sheet.hidden_rows.add(int(attrs[b"r"]))


def _hide_cols(sheet: Sheet, attrs: dict):
    if attrs.get(b"hidden") in (b"1", b"true") and attrs.get(b"min", b"").isdigit():
        first = int(attrs[b"min"])
        last = int(attrs[b"max"]) if attrs.get(b"max", b"").isdigit() else first
        sheet.hidden_cols.update(range(first, min(last, 16384) + 1))


def _text(b: bytes) -> str:
    s = b.decode("utf-8")
    return html.unescape(s) if "&" in s else s


def _si_bytes(inner: bytes) -> str:
    if b"<r>" not in inner and b"<rPh" not in inner:  # plain text: one <t>
        m = _T.search(inner)
        return _text(m.group(1)) if m else ""
    return "".join(_text(t) for t in _T.findall(_RPH.sub(b"", inner)))


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


def _typed(t: str, value, shared):
    if value is None:
        return None
    if t == "s":
        return shared[int(value)]
    if t == "b":
        return value in ("1", "true")
    if t == "e":
        return Error(value)
    if t in ("n", ""):
        return float(value) if value != "" else None
    if t == "str":
        return value or None
    return value
