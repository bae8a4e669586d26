"""Sheet and file names that Excel, LibreOffice, Windows and Linux all accept, whatever the input."""
from __future__ import annotations

import re

_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_FILE_BAD = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def sheet_name(text: str, taken: set[str]) -> str:
    """At most 31 characters, none of []:*?/\\, not quoted at the ends, unique (case-insensitive)."""
    base = _SHEET_BAD.sub("_", text).strip().strip("'") or "Sheet"
    if base.lower() == "history" or base.startswith("_xlform"):
        base = base + "_"
    name, n = base[:31], 1
    while name.lower() in {t.lower() for t in taken}:
        n += 1
        suffix = f"({n})"
        name = base[:31 - len(suffix)] + suffix
    taken.add(name)
    return name


def file_stem(text: str) -> str:
    """A file name stem safe on Windows and Linux: 财政局/预算处 -> 财政局_预算处."""
    stem = _FILE_BAD.sub("_", text).strip().rstrip(". ") or "_"
    if stem.split(".")[0].upper() in _RESERVED:
        stem = "_" + stem
    while len(stem.encode()) > 180:
        stem = stem[:-1]
    return stem
