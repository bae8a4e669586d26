"""The 年度指标值 grammar: operator, number, optional %, optional unit; anything else is qualitative."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# Full-width ASCII (！ to ～) maps to ASCII; a few CJK comparison signs map to their operators.
_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FULLWIDTH.update({ord("≧"): "≥", ord("≦"): "≤", ord("　"): " ", ord("。"): "."})
_OPS = {">=": ">=", "≥": ">=", ">": ">", "<=": "<=", "≤": "<=", "<": "<", "=": "=", "==": "="}
_TARGET = re.compile(
    r"^\s*(?P<op>>=|<=|==|≥|≤|>|<|=)?\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<pct>%)?\s*"
    r"(?P<unit>[^\d\s()\[\]{}（）【】〔〕%<>=≥≤]{1,4})?\s*$"
)
OPERATORS = (">=", ">", "<=", "<", "=")
# Excel keeps 15 digits: a number past them is no amount, count or rate a form asks for (and a sum of a few
# such numbers is inf, which no summary can write). A return's numbers stay below it (returns/values.py), a
# definition's too, and are 0 or at least its inverse (a rate or ratio divided by less is inf).
LARGEST = 1e15


def in_range(value: float) -> bool:
    """A definition's number: 0, or of a size from 1/LARGEST to below LARGEST (no sum of a form's amounts is inf,
    no rate or ratio by them: 3 × 1e308 summed to inf, an 执行数 by a 全年预算数 of 1e-300 was inf)."""
    return value == 0 or 1 / LARGEST <= abs(value) < LARGEST


_SHOW = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": ""}


def normalize(text: str) -> str:
    """Full-width digits, signs and spaces as their ASCII forms (＞３家 is >3家)."""
    return text.translate(_FULLWIDTH)


@dataclass(frozen=True)
class Target:
    text: str                 # as shown in the 年度指标值 cell
    op: str | None = None     # one of OPERATORS; None for a qualitative indicator
    value: float | None = None  # percent targets are fractions: 80% is 0.8
    unit: str = ""
    percent: bool = False
    bare: bool = field(default=False, compare=False)   # written without an operator (for the check's warning)

    @property
    def qualitative(self) -> bool:
        return self.op is None

    def canonical(self) -> dict:
        if self.qualitative:
            return {"text": self.text, "kind": "qualitative"}
        return {"text": self.text, "op": self.op, "value": self.value,
                "unit": self.unit, "percent": self.percent}


def parse(text: str, bare: str = ">=") -> Target:
    """Parse a target as written in YAML; text that does not fit the grammar is qualitative. A number
    without an operator reads as `bare` (the profile's bare_target: ≥ in the national rules)."""
    text = str(text).strip()
    m = _TARGET.match(normalize(text))
    if not m:
        return Target(text)
    value = float(m["num"])
    percent = bool(m["pct"])
    if percent:
        value = _fraction(m["num"])
    return Target(text, _OPS[m["op"] or bare], value, m["unit"] or "", percent, not m["op"])


def explicit(op: str, value: float, unit: str = "", percent: bool = False) -> Target:
    """The `{op:, value:, unit:}` form; value is given as written (80 with percent means 80%)."""
    op = _OPS[normalize(op).strip()]
    number = _fraction(repr(value)) if percent else float(value)
    shown = f"{_SHOW[op]}{_number_text(value)}{'%' if percent else ''}{unit}"
    return Target(shown, op, number, unit, percent)


def _fraction(digits: str) -> float:
    # 80% -> 0.8 through decimal text, so 57.3% is exactly the double nearest 0.573
    from decimal import Decimal
    return float(Decimal(digits) / 100)


def _number_text(value: float) -> str:
    return f"{value:g}" if float(value) != int(value) else str(int(value))
