"""What people really type into a number cell, read leniently, and said so when it was not a plain number."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from ..scoring.target import LARGEST, normalize
from ..xlsx.reader import Error

_NUMBER = re.compile(r"^([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)(%)?([^\d\s%()（）]{1,4})?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
_VERSION = re.compile(r"[1-9][0-9]{0,8}")


class NotANumber(ValueError):
    pass


class TooLarge(NotANumber):
    """A number, but not below LARGEST."""


def read_number(raw) -> tuple[float | None, str | None]:
    """(value, how) where how says what was forgiven (None for a plain number); NotANumber otherwise, TooLarge
    for a number not below LARGEST.

    Percent text becomes a fraction ("85%" -> 0.85), as a percent cell holds it.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    if isinstance(raw, bool) or isinstance(raw, Error):
        raise NotANumber(str(raw))
    if isinstance(raw, (int, float)):
        if not abs(raw) < LARGEST:
            raise TooLarge(str(raw))
        return float(raw), None
    text = str(raw)
    how = []
    plain = normalize(text)
    if plain != text:
        how.append("全角字符按半角读取")
    squeezed = re.sub(r"[\s\u00a0]+", "", plain)
    if squeezed != plain.strip():
        how.append("去掉多余空格")
    elif squeezed != plain:
        how.append("去掉首尾空格")
    if _THOUSANDS.match(squeezed):
        squeezed = squeezed.replace(",", "")
        how.append("去掉千位分隔符")
    m = _NUMBER.match(squeezed)
    if not m:
        raise NotANumber(text)
    try:
        number = Decimal(m.group(1))
    except InvalidOperation:
        raise NotANumber(text)
    if m.group(2):
        number /= 100
        how.append("文本格式的百分比")
    if m.group(3):
        how.append(f"去掉单位“{m.group(3)}”")
    if not how:
        how.append("文本格式的数字")
    if not abs(number) < LARGEST:   # (400 digits would be inf)
        raise TooLarge(text)
    return float(number), "，".join(how)


def read_version(raw) -> int | None:
    """A template's version as the hidden sheet holds it: a whole number of 1 to 9 digits (1 or "1"); None for
    anything else (1e300 is an int no registry's INTEGER holds, inf and nan none at all)."""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) or not _VERSION.fullmatch(str(raw)):
        return None
    return int(raw)


def read_text(raw) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, float):
        return f"{raw:g}"
    text = str(raw).strip()
    return text or None
