"""The hidden sheet that makes a workbook self-describing: template id, version, hash and cell map.

Rows of (sheet, key, value). Workbook-wide keys use the sheet name 'xlform'. The cell map and indicator
ids are JSON (split over several cells if long), so that a reader finds every field in a few cells.
"""
from __future__ import annotations

import functools
import json
import re

from .. import __version__, jsontext

META_SHEET = "_xlform"
META_VERSION = "2"
CHUNK = 16_000  # characters per cell: a cell holds 32,767 UTF-16 units, a character beyond U+FFFF takes two


def meta_rows(sheets, layouts, generated: str) -> list[list[str]]:
    rows = [["xlform", "meta_version", META_VERSION],
            ["xlform", "xlform_version", __version__],
            ["xlform", "generated", generated]]
    for spec, lay in zip(sheets, layouts):
        p, s = spec.project, spec.sheet
        rows += [[s, "template_id", p.id], [s, "version", str(spec.version)], [s, "form", p.form],
                 [s, "hash", spec.hash], [s, "indicators", str(len(p.indicators))]]
        cells = cells_text(lay.cell_map())
        ids = json.dumps([i.id for i in p.indicators], ensure_ascii=False, separators=(",", ":"))
        rows += [[s, "cells", cells[i:i + CHUNK]] for i in range(0, len(cells), CHUNK)]
        rows += [[s, "indicator_ids", ids[i:i + CHUNK]] for i in range(0, len(ids), CHUNK)]
    return rows


def cells_text(cell_map: dict) -> str:
    """A cell map as the hidden sheet holds it (JSON, in the layout's order of fields): made once per layout
    in each of collect's workers, 0.16 ms by json, hence orjson."""
    return jsontext.texts(cell_map)


def same_cells(text: str, cell_map: dict) -> bool:
    """Does a hidden sheet's cell map (as parse_meta(parsed=()) leaves it: the text) say `cell_map`? The very text
    the writer wrote is known without parsing it (what a return of a version holds, met once per layout)."""
    known = _TEXTS.get(id(cell_map))
    if known is None or known[0] is not cell_map:
        if len(_TEXTS) >= 256:
            _TEXTS.clear()
        known = _TEXTS[id(cell_map)] = (cell_map, cells_text(cell_map))
    if text == known[1]:
        return True
    try:
        return _parsed(text) == cell_map
    except (ValueError, RecursionError):
        return False


_TEXTS: dict[int, tuple] = {}   # id(cell map) -> (the cell map, its text): a layout's, kept as long as the layout


def parse_meta(rows, numbers=None, parsed=("cells", "indicator_ids")) -> dict[str, dict]:
    """{sheet name: {template_id, version, form, hash, cells: {field: cell}, indicator_ids: [...],
    rows: {key: row number}}}; `numbers` are the sheet's row numbers of `rows`, for problem reports. The JSON
    values not named in `parsed` are left as their text (the reader compares the cell map: see same_cells)."""
    out: dict[str, dict] = {}
    joined: dict[tuple[str, str], str] = {}
    for n, row in enumerate(rows):
        if len(row) < 3 or row[0] in (None, "xlform") or row[1] is None:
            continue
        sheet, key, value = str(row[0]), str(row[1]), "" if row[2] is None else row[2]
        entry = out.setdefault(sheet, {"rows": {}})
        entry["rows"].setdefault(key, numbers[n] if numbers else n + 1)
        if key in ("cells", "indicator_ids"):
            joined[(sheet, key)] = joined.get((sheet, key), "") + str(value)
        else:
            entry[key] = value
    for (sheet, key), text in joined.items():
        if key not in parsed:
            out[sheet][key] = text
            continue
        try:
            found = _parsed(text)
            out[sheet][key] = dict(found) if isinstance(found, dict) else list(found) if isinstance(found, list) \
                else found   # (a copy: the parsed text is kept for the next return)
        except (ValueError, RecursionError):   # RecursionError: JSON nested past Python's depth
            out[sheet][key] = {}  # damaged: the cell map check reports it
    return out


def _parsed(text: str):
    """A cell map's or the indicator ids' JSON, parsed (as a form's size: kept for the next return)."""
    return _json(text) if len(text) <= 100_000 else jsontext.loads(text)


@functools.lru_cache(maxsize=16)
def _json(text: str):
    """The cell map and indicator ids as parsed: every return of a version carries the same text."""
    return jsontext.loads(text)


_REF = re.compile(r"^([A-Z]+)(\d+)$")
_COLUMNS = {"A": 0, "B": 1, "C": 2}


def sheet_rows(cells: dict) -> tuple[list[list], list[int]]:
    """The metadata sheet's cells ({ref: cell}) as rows of its three columns (sheet, key, value), and their
    row numbers; anything further right is never read, however wide a tampered sheet is."""
    rows: dict[int, list] = {}
    for ref, cell in cells.items():
        m = _REF.match(ref)
        col = _COLUMNS.get(m.group(1)) if m else None
        if col is not None:
            rows.setdefault(int(m.group(2)), [None, None, None])[col] = cell.value
    ordered = sorted(rows.items())
    return [r for _, r in ordered], [n for n, _ in ordered]
