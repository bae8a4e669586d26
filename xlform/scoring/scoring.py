"""Each scoring rule once: the Excel formula and the Python evaluation come from the same object.

Rules mirror their formula step by step (same operations, same order) so that the Python value and the
value LibreOffice or Excel computes agree; `xl_round` is Excel's ROUND, not Python's round(). Which rule
applies, and how, is a scoring profile: the national one (财预〔2020〕10号) unless a form kind or a
definition says otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from decimal import ROUND_HALF_UP, Decimal

from .target import LARGEST, Target


def xl_round(x: float, digits: int = 2) -> float:
    """Excel/LibreOffice ROUND: the value at 15 significant digits, then half away from zero. From 1e15 on, 15
    digits leave no decimal to round (and quantize would want more than its 28 digits: 1e22 to 6 decimals)."""
    shown = Decimal(f"{x:.15g}")
    if not abs(x) < 1e15:
        return float(shown)
    return float(shown.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def quotient(a: float, b: float) -> float | None:
    """a / b as a spreadsheet gives it: None where b is 0 (#DIV/0!) or the quotient is past a double (#NUM!: an
    执行数 of 57 over a 全年预算数 of 5e-324, which Excel would have read as 0)."""
    if not b:
        return None
    q = a / b
    return q if math.isfinite(q) else None


def approx_equal(a: float, b: float) -> bool:
    """LibreOffice's comparison equality (rtl::math::approxEqual): equal within about 15 digits."""
    return a == b or abs(a - b) <= max(abs(a), abs(b)) * 2.0 ** -48


def at_least(a: float, b: float) -> bool:
    return a >= b or approx_equal(a, b)


def at_most(a: float, b: float) -> bool:
    return a <= b or approx_equal(a, b)


def below(a: float, b: float) -> bool:
    """a < b as a spreadsheet compares: not when the two are approximately equal."""
    return a < b and not approx_equal(a, b)


def _decimal(x: float) -> float:
    """A derived constant as a person would write it (15 significant digits): 0.01 × 1.3 is 0.013."""
    return float(f"{x:.15g}")


def _num(c: float) -> str:
    """A constant as formula text, exact to the double (repr round-trips)."""
    return repr(float(c)).removesuffix(".0") if float(c).is_integer() else repr(float(c))


# 定性指标 tiers of the national rules: the tier the department picks, and the share of the 分值 its 得分
# must lie in: [low, high] for the top tier, [low, high) below it.
TIERS = (("达成年度指标", 0.8, 1.0), ("部分达成年度指标并具有一定效果", 0.6, 0.8), ("未达成年度指标且效果较差", 0.0, 0.6))
NATIONAL_GRADES = ((90.0, "优"), (80.0, "良"), (60.0, "中"), (0.0, "差"))
NATIONAL_WEIGHTS = {"funds": 10.0, "产出指标": 50.0, "效益指标": 30.0, "满意度指标": 10.0}
# The 复核 (xlform/scoring/review.py): each 扣分原因 and its effect on the 复核得分 — zero: 0 whatever the
# value; rules: the rules applied to the 复核完成值 — and the classes of |偏离度|, (below, class) ascending, the
# last (None, class) for the rest.
REVIEW_DEDUCTIONS = (("无佐证", "zero"), ("指标与项目无关", "zero"), ("满意度无调查依据", "zero"),
                     ("三级与二级不符", "zero"), ("指标不可衡量", "zero"), ("其他", "rules"))
REVIEW_CLASSES = ((0.01, "一致"), (0.1, "一般偏差"), (0.2, "较大偏差"), (None, "严重偏差"))


@dataclass(frozen=True)
class Profile:
    """How a form is scored; a form kind names one (form.yaml `profile:`), and a form kind or a definition
    may override single keys under `scoring:`."""
    name: str = "national"
    bare_target: str = ">="          # how a target without an operator reads: ">=" or "=" or "<="
    reverse: str = "linear"          # ≤ targets: linear (national) | ratio
    qualitative: str = "tiers"       # tiers (national) | share
    grades: tuple = NATIONAL_GRADES  # (from 总分, 评价等级), highest first; () shows none
    weights: dict | None = field(default_factory=lambda: dict(NATIONAL_WEIGHTS))  # the split `check` warns on
    overshoot: float = 0.3           # a deviation of this share asks for 偏差原因 (and may cost points)
    deviation_penalty: float = 0.0   # points off an indicator deviating by `overshoot` or more (0: off)
    rate_caps: tuple = ()            # ((执行率 below, 总分 at most), ...), e.g. ((0.8, 89), (0.7, 79))
    deductions: tuple = REVIEW_DEDUCTIONS   # 复核: ((扣分原因, zero | rules), ...)
    review_classes: tuple = REVIEW_CLASSES  # 复核: ((|偏离度| below, class), ..., (None, class))

    def merged(self, overrides: dict | None) -> "Profile":
        return replace(self, **profile_values(overrides)) if overrides else self


PROFILES = {
    "national": Profile(),
    # xlform before the 2020 rules: bare targets exact, ≤ by ratio, qualitative as a completion share
    "share": Profile("share", bare_target="=", reverse="ratio", qualitative="share"),
}
PROFILE_KEYS = tuple(f.name for f in fields(Profile) if f.name != "name")
_CHOICES = {"bare_target": (">=", "=", "<="), "reverse": ("linear", "ratio"), "qualitative": ("tiers", "share")}


def profile_values(data: dict) -> dict:
    """Profile keys from YAML data, checked; raises ValueError naming the key and what is allowed."""
    out = {}
    for key, value in (data or {}).items():
        if key not in PROFILE_KEYS:
            raise ValueError(f"unknown scoring key {_short(key)}; known: {', '.join(PROFILE_KEYS)}")
        if key in _CHOICES:
            value = {"≥": ">=", "≤": "<="}.get(str(value), str(value))
            if value not in _CHOICES[key]:
                raise ValueError(f"scoring.{key} must be one of {', '.join(_CHOICES[key])} (got {_short(value)})")
        elif key == "grades":
            value = () if not value else tuple(sorted(((_finite(v, key), _grade_name(k))
                                                       for k, v in dict(value).items()), reverse=True))
            if len(value) > MAX_GRADES:
                raise ValueError(f"scoring.grades: {len(value)} 评价等级, more than {MAX_GRADES}")
        elif key == "weights":
            value = None if not value else {str(k): _finite(v, key) for k, v in dict(value).items()}
        elif key in ("deductions", "review_classes"):
            value = _review_table(key, value)
        elif key == "rate_caps":
            value = tuple(sorted(((_finite(k, key), _finite(v, key)) for k, v in dict(value or {}).items()),
                                 reverse=True))
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < LARGEST:
                raise ValueError(f"scoring.{key} must be a number ≥ 0 (and below 1e15; got {_short(value)})")
            value = float(value)
        out[key] = value
    return out


MAX_GRADES = 20


def _review_table(key: str, value) -> tuple:
    """deductions: {扣分原因: zero | rules}; review_classes: {class: |偏离度| below, …, last class: rest}.
    A name goes into a list validation and a formula's text: 1 to 20 characters, no comma."""
    if not isinstance(value, dict) or not 1 <= len(value) <= MAX_GRADES:
        raise ValueError(f"scoring.{key} must be a mapping of 1 to {MAX_GRADES} names")
    for name in value:
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 20 or "," in name or "，" in name:
            raise ValueError(f"scoring.{key}: {_short(name)} is not a name of 1 to 20 characters without a comma")
    if key == "deductions":
        bad = [v for v in value.values() if v not in ("zero", "rules")]
        if bad:
            raise ValueError(f"scoring.deductions: the effect of a reason is zero or rules (got {_short(bad[0])})")
        return tuple(value.items())
    *bounded, (last, top) = value.items()
    if top != "rest":
        raise ValueError("scoring.review_classes: the last class is the rest (write rest as its bound)")
    bounds = [_finite(v, key) for _, v in bounded]
    if any(b <= 0 for b in bounds) or bounds != sorted(set(bounds)):
        raise ValueError("scoring.review_classes: the bounds of |偏离度| rise, each above 0")
    return tuple(zip(bounds, (n for n, _ in bounded))) + ((None, last),)
FORMULA_TEXT = 255  # Excel: a text within a formula holds at most 255 characters


def _finite(value, key: str) -> float:
    """A number of a scoring table, as it goes into formulas: below LARGEST in size (no .inf, .nan, nor an int of
    400 digits, which float() refuses with OverflowError)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not abs(number) < LARGEST:
        raise ValueError(f"scoring.{key}: {_short(value)} is not a finite number (below 1e15 in size)")
    return number


def _grade_name(name) -> str:
    """A 评价等级 goes into the 评价等级 formula as a text: at most 255 characters, never empty."""
    text = str(name)
    if not text.strip() or len(text.encode("utf-16-le")) // 2 > FORMULA_TEXT:
        raise ValueError(f"scoring.grades: a 评价等级 is 1 to {FORMULA_TEXT} characters (got {_short(text)})")
    return text


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def profile(name: str, overrides: dict | None = None) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown scoring profile {name!r}; known: {', '.join(PROFILES)}")
    return PROFILES[name].merged(overrides)


@dataclass(frozen=True)
class Rule:
    """Scores one 三级指标 from its 实际完成值 (x) and 分值 (w)."""
    target: Target
    profile: Profile = PROFILES["national"]

    kind = "base"
    manual = False      # the 得分 is typed into the form (rule: manual, qualitative tiers)

    def formula(self, x: str, w: str) -> str:
        """Excel formula text (no leading '=') for the 得分 cell; x and w are cell references."""
        base = self._formula(x, w)
        deviates = self.deviates_formula(x)
        if self.profile.deviation_penalty and deviates != "FALSE":
            base = f"MAX(0,{base}-IF({deviates},{_num(self.profile.deviation_penalty)},0))"
        return f'IF(ISNUMBER({x}),{base},"")'

    def score(self, x, w: float) -> float | None:
        if x is None:
            return None
        s = self._score(float(x), float(w))
        if self.profile.deviation_penalty and self.deviates(float(x)):
            s = max(0.0, s - self.profile.deviation_penalty)
        return s

    # -- deviation: the actual off its target by `overshoot` or more ------------------------------------
    def bounds(self) -> tuple[float, float] | None:
        """(low, high): an actual at or below low, or at or above high, deviates; None: never."""
        t = self.target.value
        if self.target.qualitative or not t:
            return None
        ov = self.profile.overshoot
        return _decimal(t * (1 - ov)), _decimal(t * (1 + ov))

    def deviates(self, x: float) -> bool:
        b = self.bounds()
        return b is not None and (at_most(x, b[0]) or at_least(x, b[1]))

    def deviates_formula(self, x: str) -> str:
        b = self.bounds()
        return "FALSE" if b is None else f"OR({x}<={_num(b[0])},{x}>={_num(b[1])})"

    # -- 偏差原因 ----------------------------------------------------------------------------------
    def overshot(self, x) -> bool:
        """True where the target was exceeded enough that a 偏差原因 is asked for (≥ rules only)."""
        return False

    def overshoot_formula(self, x: str) -> str:
        return "FALSE"

    def reason_formula(self, x: str, w: str, score: str, reason: str) -> str:
        """Condition for highlighting an empty 偏差原因 that the rules require."""
        return (f'AND(ISBLANK({reason}),ISNUMBER({score}),'
                f'OR({score}<{w},{self.overshoot_formula(x)}))')

    def needs_reason(self, x, score: float | None, w: float) -> bool:
        short = score is not None and below(score, w)
        return short or (score is not None and self.overshot(x))

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
        return _decimal(self.target.value * (1 + self.profile.overshoot))

    def overshot(self, x):
        return x is not None and self.target.value > 0 and at_least(x, self.threshold())

    def overshoot_formula(self, x):
        if self.target.value == 0:
            return "FALSE"
        return f"AND(ISNUMBER({x}),{x}>={_num(self.threshold())})"


class AtMost(Rule):
    """≤ and <: full 分值 at or below the target. Above it, national (`reverse: linear`): less by the
    relative excess, 0 from twice the target on; `reverse: ratio`: target/actual of the 分值."""
    kind = "at_most"

    def _formula(self, x, w):
        t = self.target.value
        if t == 0:
            return f"IF({x}<=0,{w},0)"
        if self.profile.reverse == "ratio":
            return f"IF({x}<={_num(t)},{w},ROUND({w}*{_num(t)}/{x},2))"
        return f"IF({x}<={_num(t)},{w},IF({x}>={_num(2 * t)},0,ROUND({w}*(1-({x}-{_num(t)})/{_num(t)}),2)))"

    def _score(self, x, w):
        t = self.target.value
        if at_most(x, t):
            return w
        if t == 0:
            return 0.0
        if self.profile.reverse == "ratio":
            return xl_round(w * t / x)
        if at_least(x, 2 * t):
            return 0.0
        return xl_round(w * (1 - (x - t) / t))


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


class Share(Rule):
    """Qualitative, `qualitative: share`: 实际完成值 is a completion share 0–100%; 得分 is that share of 分值."""
    kind = "share"

    def _formula(self, x, w):
        return f"ROUND({w}*{x},2)"

    def _score(self, x, w):
        return xl_round(w * x)


class Typed(Rule):
    """A 得分 typed into the form: nothing is computed, the range is checked."""
    manual = True

    def formula(self, x, w):
        raise TypeError("a typed 得分 is an input, not a formula")

    def score(self, x, w):
        raise TypeError("a typed 得分 is read from its cell")

    def score_range(self, x, w: float) -> tuple[float, float, bool] | None:
        """(low, high, high included) of the 得分 allowed; None: no tier chosen yet."""
        return 0.0, w, True

    def valid_score(self, x, s: float, w: float) -> bool:
        r = self.score_range(x, w)
        if r is None:
            return True
        low, high, closed = r
        return at_least(s, low) and (at_most(s, high) if closed else below(s, high))

    def validation_formula(self, x: str, w: str, s: str) -> str:
        return f"AND(ISNUMBER({s}),{s}>=0,{s}<={w})"


class Manual(Typed):
    """`rule: manual`: the evaluator types the 得分, 0 … 分值."""
    kind = "manual"


class Tiers(Typed):
    """Qualitative, `qualitative: tiers` (national): the department picks a tier in 实际完成值 and types a 得分
    within that tier's share of the 分值; a tier below the top asks for 偏差原因."""
    kind = "tiers"

    def score_range(self, x, w):
        for name, low, high in TIERS:
            if x == name:
                return _decimal(low * w), _decimal(high * w), high == 1.0
        return None

    def validation_formula(self, x, w, s):
        parts = [f'AND({x}="{name}",{s}>={_num(low)}*{w},{s}{"<=" if high == 1.0 else "<"}{_num(high)}*{w})'
                 for name, low, high in TIERS]
        return f"AND(ISNUMBER({s}),OR({','.join(parts)}))"

    def needs_reason(self, x, score, w):
        return x in {name for name, _, _ in TIERS[1:]} or super().needs_reason(x, score, w)

    def reason_formula(self, x, w, score, reason):
        lower = ",".join(f'{x}="{name}"' for name, _, _ in TIERS[1:])
        return f'AND(ISBLANK({reason}),OR({lower},AND(ISNUMBER({score}),{score}<{w})))'


def rule_for(target: Target, manual: bool = False, profile: Profile = PROFILES["national"]) -> Rule:
    if manual:
        return Manual(target, profile)
    if target.qualitative:
        return Tiers(target, profile) if profile.qualitative == "tiers" else Share(target, profile)
    cls = {">=": AtLeast, ">": AtLeast, "<=": AtMost, "<": AtMost, "=": Exactly}[target.op]
    return cls(target, profile)


# The funds row: 执行率 = 全年执行数 / 全年预算数 on the 年度资金总额 row; 得分 = 分值 × min(执行率, 1).

def funds_executed_formula(executed_cells: str) -> str:
    """全年执行数 of the 年度资金总额 row: blank until some row's is typed (a blank form prints no 0)."""
    return f'IF(COUNT({executed_cells})=0,"",SUM({executed_cells}))'


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


def rate_below_formula(rate: str, threshold: float) -> str:
    """True when the 执行率 is known and below a threshold (a reason is then asked for)."""
    return f"AND(ISNUMBER({rate}),{rate}<{_num(threshold)})"


def rate_below(rate: float | None, threshold: float) -> bool:
    return rate is not None and below(rate, threshold)


# 总分: the sum of every 得分, capped by the 执行率 where the profile says so.

def total_formula(cells: str, rate: str, profile: Profile) -> str:
    """总分: blank until some 得分 exists (a blank form prints no 0.00)."""
    total = f"ROUND(SUM({cells}),2)"
    if profile.rate_caps:
        cap = "1E+307"
        for below_rate, at_most_total in profile.rate_caps:  # highest threshold innermost: lowest tested first
            cap = f"IF({rate}<{_num(below_rate)},{_num(at_most_total)},{cap})"
        total = f"MIN({total},IF(ISNUMBER({rate}),{cap},1E+307))"
    return f'IF(COUNT({cells})=0,"",{total})'


def total_score(scores: list[float | None], rate: float | None, profile: Profile) -> float | None:
    if all(s is None for s in scores):
        return None
    total = 0.0
    for s in scores:
        total += s or 0.0
    total = xl_round(total)
    if rate is not None:
        for below_rate, at_most_total in sorted(profile.rate_caps):
            if below(rate, below_rate):
                return min(total, at_most_total)
    return total


def grade_formula(total: str, scored: str, profile: Profile) -> str:
    """评价等级 from the 总分; blank until some 得分 exists."""
    if not profile.grades:
        return '""'
    def text(name):  # a " in a 评价等级 is doubled, as Excel reads a text: it never ends the text early
        return '"' + name.replace('"', '""') + '"'
    inner = text(profile.grades[-1][1])
    for threshold, name in reversed(profile.grades[:-1]):
        inner = f'IF({total}>={_num(threshold)},{text(name)},{inner})'
    return f'IF(COUNT({scored})=0,"",{inner})'


def grade(total: float | None, any_scored: bool, profile: Profile) -> str | None:
    if not profile.grades or total is None or not any_scored:
        return None
    for threshold, name in profile.grades:
        if at_least(total, threshold):
            return name
    return profile.grades[-1][1]
