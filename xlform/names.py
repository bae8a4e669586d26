"""Sheet and file names that Excel, LibreOffice, Windows and Linux all accept, whatever the input."""
from __future__ import annotations

import hashlib
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


def file_stems(names) -> dict[str, str]:
    """A file name stem for each name, no two alike even on a case-insensitive file system.

    Names stay readable; where two of them would give the same file (财政局/预算处 and 财政局_预算处,
    ABC and abc), each name the file system cannot hold as it is, and each but the first of names that
    differ only in case, gets 6 hex digits of a hash of the real name: 财政局_预算处_1f2e3d.
    """
    stems = {name: file_stem(name) for name in sorted(set(names))}
    groups: dict[str, list[str]] = {}
    for name, stem in stems.items():
        groups.setdefault(stem.casefold(), []).append(name)
    for group in groups.values():
        if len(group) < 2:
            continue
        plain = next((n for n in group if stems[n] == n), None)  # kept as it is, if one is legal as it is
        for name in group:
            if name != plain:
                tag = hashlib.sha256(name.encode()).hexdigest()[:6]
                stem = stems[name]
                while len(stem.encode()) > 173:
                    stem = stem[:-1]
                stems[name] = f"{stem}_{tag}"
    return stems
