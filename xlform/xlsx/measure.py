"""How much paper text and rows take: line counts, row heights and page breaks, shared by the writer (the
blank form) and the printer (a filled return fitted to its text).

Widths are in Excel column units (one digit of the body font, 7 px for 宋体 10); a CJK character is about
two of them. The estimates err on the large side: a row a little too tall prints, a row too short cuts text.
"""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

A4_HEIGHT = 841.9              # points
A4_WIDTH = 595.3
MARGINS = {"left": 0.45, "right": 0.45, "top": 0.6, "bottom": 0.7}   # inches, as the writer sets them
PRINTABLE_HEIGHT = A4_HEIGHT - (MARGINS["top"] + MARGINS["bottom"]) * 72
PRINTABLE_WIDTH = A4_WIDTH - (MARGINS["left"] + MARGINS["right"]) * 72
LINE = 1.45                    # line height as a multiple of the font size
PADDING = 5.0                  # points above and below the text of a cell


def text_width(text: str) -> float:
    """Display width in column units: a CJK character is about two digits wide."""
    return sum(1.9 if unicodedata.east_asian_width(ch) in "WF" else 1.0 for ch in text)


def lines(text: str, width: float) -> int:
    """Lines a wrapped text takes in a cell `width` units wide (explicit line breaks count)."""
    usable = max(width - 0.8, 1.0)
    return max(1, sum(max(1, math.ceil(text_width(part) / usable)) for part in str(text).split("\n")))


def height(n_lines: int, size: float, line: float = LINE) -> float:
    """Row height in points for n lines of a font size (`line`: their spacing, as a multiple of the size)."""
    return round(n_lines * size * line + PADDING, 1)


# LibreOffice, which prints for `xlform print`, measured on its PDFs (7.4, 宋体 10 printed in Noto Serif CJK SC):
# a column is 5.6 pt for each unit of its stored width (the width plus 0.71 of padding: a digit of the default
# font, 5.5 pt), less about 2.5 pt of padding for the text; a CJK character is as wide as the font is high, a
# digit or Latin letter 0.55 of it; lines are 1.44 of the size apart. With WenQuanYi Micro Hei (no serif
# installed) a unit is 6.7 pt and lines are 1.2 apart: the serif's figures are the narrower and the taller, so
# they are safe for both. Rounded for headroom.
LO_UNIT = 5.6
LO_PAD = 0.71                  # units Excel adds to a column's width for its padding (stored, not shown)
LO_LINE = 1.45


def lo_width(width: float) -> float:
    """Points of text a column `width` units wide (as shown) holds on a line."""
    return (width + LO_PAD) * LO_UNIT - 3.5


def lo_lines(text: str, width: float, size: float) -> int:
    """Lines a wrapped text takes when LibreOffice prints it in a cell `width` units wide."""
    usable = max(lo_width(width), size)
    count = 0
    for part in str(text).split("\n"):
        line, n = 0.0, 1
        for ch in part:
            w = size * 1.005 if unicodedata.east_asian_width(ch) in "WFA" else size * 0.6
            if line + w > usable:
                n, line = n + 1, 0.0
            line += w
        count += n
    return max(1, count)


def lo_height(n_lines: int, size: float) -> float:
    return height(n_lines, size, LO_LINE)


@dataclass
class Plan:
    breaks: list[int]                 # rows (0-based) that start a new page
    splits: dict[int, list[int]]      # first row of a group -> rows where its label is repeated


def plan_pages(heights: list[float], first_body: int, groups: list[tuple[int, int]], repeated: float,
               capacity: float = PRINTABLE_HEIGHT, keep: float = 0.3, head: int = 1) -> Plan:
    """Page breaks for a form whose rows have the given heights (points, from row 0).

    The body (from `first_body` on: the indicator table and what follows it) is laid block by block: a group
    (a 二级 block, (first, last) rows) or a single row. A block that does not fit on the current page starts
    the next one, unless that would leave more than `keep` of the page empty: then, as for a block taller
    than a page, it is split where the page ends, and the rows where its later parts start are returned so
    that its labels can be repeated there. `repeated` is the height printed again at the top of every later
    page (the table's header, its last `head` rows before `first_body`); a break before the first block falls
    before that header.
    """
    breaks: list[int] = []
    splits: dict[int, list[int]] = {}
    used, placed = sum(heights[:first_body]), False
    starts = dict(groups)
    row = first_body
    while row < len(heights):
        last = starts.get(row, row)
        block = sum(heights[row:last + 1])
        if used + block > capacity and block + repeated <= capacity and \
                (last == row or capacity - used < keep * capacity):
            breaks.append(row if placed else row - head)   # a page never ends with the table's header
            used = repeated
        for r in range(row, last + 1):   # what does not fit goes on: split where each page ends
            if used + heights[r] > capacity and used > repeated:
                breaks.append(r if placed or r > row else r - head)
                if r > row:
                    splits.setdefault(row, []).append(r)
                used = repeated
            used += heights[r]
        placed = True
        row = last + 1
    # no last page of the header and one row (总分, the signatures): the row before it goes along, where the
    # page before keeps a row of the body and the last page holds both
    if breaks and breaks[-1] == len(heights) - 1:
        before = breaks[-2] if len(breaks) > 1 else first_body
        if breaks[-1] - 1 > before and repeated + sum(heights[-2:]) <= capacity:
            breaks[-1] -= 1
    return Plan(breaks, splits)
