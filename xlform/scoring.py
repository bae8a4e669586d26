"""Each scoring rule once: the Excel formula and the Python evaluation come from the same object.

Rules mirror their formula step by step (same operations, same order) so that the Python value and the
value LibreOffice or Excel computes agree; `xl_round` is Excel's ROUND, not Python's round().
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .target import Target


def xl_round(x: float, digits: int = 2) -> float:
    """Excel/LibreOffice ROUND: the value at 15 significant digits, then half away from zero."""
    return float(Decimal(f"{x:.15g}").quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def approx_equal(a: float, b: float) -> bool:
    """LibreOffice's comparison equality (rtl::math::approxEqual): equal within about 15 digits."""
    return a == b or abs(a - b) <= max(abs(a), abs(b)) * 2.0 ** -48


def at_least(a: float, b: float) -> bool:
    return a >= b or approx_equal(a, b)


def at_most(a: float, b: float) -> bool:
    return a <= b or approx_equal(a, b)


def _decimal(x: float) -> float:
    """A derived constant as a person would write it (15 significant digits): 0.01 × 1.3 is 0.013."""
    return float(f"{x:.15g}")


def _num(c: float) -> str:
    """A constant as formula text, exact to the double (repr round-trips)."""
    return repr(float(c)).removesuffix(".0") if float(c).is_integer() else repr(float(c))


@dataclass(frozen=True)
class Preset:
    """A scoring preset chosen by the form kind (templates/<form>/form.yaml)."""
    name: str = "national"
    overshoot: float = 0.3   # a ≥ target exceeded by this share asks for 偏差原因


PRESETS = {"national": Preset()}


@dataclass(frozen=True)
class Rule:
    """Scores one 三级指标 from its 实际完成值 (x) and 分值 (w)."""
    target: Target
    preset: Preset = PRESETS["national"]
    manual: bool = False

    kind = "base"

    def formula(self, x: str, w: str) -> str:
        """Excel formula text (no leading '=') for the 得分 cell; x and w are cell references."""
        return f'IF(ISNUMBER({x}),{self._formula(x, w)},"")'

    def score(self, x: float | None, w: float) -> float | None:
        if x is None:
            return None
        return self._score(float(x), float(w))

    def overshot(self, x: float | None) -> bool:
        """True where the target was exceeded enough that a 偏差原因 is asked for (≥ rules only)."""
        return False

    def overshoot_formula(self, x: str) -> str:
        return "FALSE"

    def reason_formula(self, x: str, w: str, score: str, reason: str) -> str:
        """Condition for highlighting an empty 偏差原因 that the rules require."""
        return (f'AND(ISBLANK({reason}),ISNUMBER({score}),'
                f'OR({score}<{w},{self.overshoot_formula(x)}))')

    def needs_reason(self, x: float | None, score: float | None, w: float) -> bool:
        below = score is not None and score < w and not approx_equal(score, w)
        return below or (score is not None and self.overshot(x))

    def _formula(self, x: str, w: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score(self, x: float, w: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class AtLeast(Rule):
    """≥ and >: full 分值 at or above the target, else in proportion."""
    kind = "at_least"

    def _formula(self, x, w):
        t = self.target.value
        if t == 0:
            return w
        return f"IF({x}>={_num(t)},{w},ROUND({w}*{x}/{_num(t)},2))"

    def _score(self, x, w):
        t = self.target.value
        if t == 0 or at_least(x, t):
            return w
        return xl_round(w * x / t)

    def threshold(self) -> float:
        """The 实际完成值 from which an overshoot asks for a 偏差原因."""
        return _decimal(self.target.value * (1 + self.preset.overshoot))

    def overshot(self, x):
        return x is not None and self.target.value > 0 and at_least(x, self.threshold())

    def overshoot_formula(self, x):
        if self.target.value == 0:
            return "FALSE"
        return f"AND(ISNUMBER({x}),{x}>={_num(self.threshold())})"


class AtMost(Rule):
    """≤ and <: full 分值 at or below the target, else target/actual of it."""
    kind = "at_most"

    def _formula(self, x, w):
        t = self.target.value
        if t == 0:
            return f"IF({x}<=0,{w},0)"
        return f"IF({x}<={_num(t)},{w},ROUND({w}*{_num(t)}/{x},2))"

    def _score(self, x, w):
        t = self.target.value
        if at_most(x, t):
            return w
        return 0.0 if t == 0 else xl_round(w * t / x)


class Exactly(Rule):
    """=: full 分值 when exact, else less by the relative deviation, never below 0."""
    kind = "exactly"

    def _formula(self, x, w):
        t = self.target.value
        if t == 0:
            return f"IF({x}=0,{w},0)"
        return f"IF({x}={_num(t)},{w},ROUND({w}*MAX(0,1-ABS({x}-{_num(t)})/{_num(t)}),2))"

    def _score(self, x, w):
        t = self.target.value
        if approx_equal(x, t):
            return w
        return 0.0 if t == 0 else xl_round(w * max(0.0, 1 - abs(x - t) / t))


class Qualitative(Rule):
    """Qualitative: 实际完成值 is a completion share 0–100%; 得分 is that share of 分值."""
    kind = "qualitative"

    def _formula(self, x, w):
        return f"ROUND({w}*{x},2)"

    def _score(self, x, w):
        return xl_round(w * x)


class Manual(Rule):
    """`rule: manual`: the evaluator types the 得分; nothing is computed."""
    kind = "manual"

    def formula(self, x, w):
        raise TypeError("a manual 得分 is an input, not a formula")

    def score(self, x, w):
        raise TypeError("a manual 得分 is read from its cell")


def rule_for(target: Target, manual: bool = False, preset: Preset = PRESETS["national"]) -> Rule:
    if manual:
        return Manual(target, preset, True)
    if target.qualitative:
        return Qualitative(target, preset)
    cls = {">=": AtLeast, ">": AtLeast, "<=": AtMost, "<": AtMost, "=": Exactly}[target.op]
    return cls(target, preset)


# The funds row: 执行率 = 全年执行数 / 全年预算数 on the 年度资金总额 row; 得分 = 分值 × min(执行率, 1).

def funds_rate_formula(executed_cells: str, executed_total: str, annual_total: str) -> str:
    return (f'IF(AND(COUNT({executed_cells})>0,{annual_total}>0),'
            f'{executed_total}/{annual_total},"")')


def funds_rate(executed: list[float | None], annual_total: float) -> float | None:
    if all(v is None for v in executed) or not annual_total > 0:
        return None
    return funds_executed_total(executed) / annual_total


def funds_executed_total(executed: list[float | None]) -> float:
    total = 0.0
    for v in executed:
        total += v or 0.0
    return total


def funds_score_formula(rate: str, w: str) -> str:
    return f'IF(ISNUMBER({rate}),ROUND({w}*MIN({rate},1),2),"")'


def funds_score(rate: float | None, w: float) -> float | None:
    return None if rate is None else xl_round(w * min(rate, 1))


def total_formula(cells: str) -> str:
    return f"ROUND(SUM({cells}),2)"


def total_score(scores: list[float | None]) -> float:
    total = 0.0
    for s in scores:
        total += s or 0.0
    return xl_round(total)
