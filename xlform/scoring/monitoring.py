"""The 绩效运行监控 warnings (财预〔2019〕136号, 项目支出绩效目标执行监控表), each rule once: the Excel formula
and the Python value come from the same function pair, step by step (same operations, same order, the ratio
rounded to 6 decimals in both), so that a boundary (80% exactly: 560 of 700) is the same colour in the
workbook and in every record.

序时进度 (the time schedule) is X / 12 for the month X the office monitors (1–11).
- Funds: ratio = 1-X月执行率 / 序时进度; 红 below 60%, 黄 60% to below 80%, 绿 from 80%.
- A numeric ≥, > or bare target T: ratio = 1-X月执行情况 / (T × 序时进度); 红 below 60% (0 too), 黄 60% to below
  80%, 绿 from 80%; 蓝 where 1-X月执行情况 / T reaches 120% already (a target set too low).
- A ≤ or < target: 红 where 1-X月执行情况 already exceeds T, else 绿.
- An = or qualitative target: no colour (the department's ticks say it).
"""
from __future__ import annotations

from .scoring import xl_round
from .target import Target


def _num(c: float) -> str:
    """A constant as formula text, exact to the double."""
    return repr(float(c)).removesuffix(".0")

RED, YELLOW, GREEN, BLUE = "红", "黄", "绿", "蓝"
COLOURS = (RED, YELLOW, GREEN, BLUE)
# the fill and font of each colour's cell (conditional formatting); the word prints in black and white too
LOOKS = {RED: ("#FF0000", "#FFFFFF"), YELLOW: ("#FFFF00", "#000000"), GREEN: ("#00B050", "#FFFFFF"),
         BLUE: ("#00B0F0", "#FFFFFF")}
LOW, MIDDLE, HIGH = 0.6, 0.8, 1.2   # 红 below LOW, 黄 below MIDDLE, 绿 from it; 蓝 from HIGH of the target
DIGITS = 6                          # ratios are compared after rounding to this many decimals


def schedule(month: int) -> float:
    """序时进度: the share of the year gone by the end of month X."""
    return month / 12


def schedule_formula(month: int) -> str:
    return f"{int(month)}/12"


def _band(ratio: float) -> str:
    return RED if ratio < LOW else YELLOW if ratio < MIDDLE else GREEN


def _band_formula(ratio: str) -> str:
    return f'IF({ratio}<{_num(LOW)},"{RED}",IF({ratio}<{_num(MIDDLE)},"{YELLOW}","{GREEN}"))'


# -- funds ---------------------------------------------------------------------------------------------
def funds_rate(executed: float | None, annual: float) -> float | None:
    """1-X月执行率 = 1-X月执行数 / 全年预算数 (None: nothing typed, or no budget)."""
    if executed is None or not annual > 0:
        return None
    return executed / annual


def funds_rate_formula(executed: str, annual: str) -> str:
    return f'IF(AND(ISNUMBER({executed}),N({annual})>0),{executed}/{annual},"")'


def funds_ratio(rate: float | None, month: int) -> float | None:
    """1-X月执行率 / 序时进度, rounded as the formula rounds it."""
    return None if rate is None else xl_round(rate / (month / 12), DIGITS)


def funds_warning(rate: float | None, month: int) -> str | None:
    ratio = funds_ratio(rate, month)
    return None if ratio is None else _band(ratio)


def funds_warning_formula(rate: str, month: int) -> str:
    ratio = f"ROUND({rate}/({schedule_formula(month)}),{DIGITS})"
    return f'IF(ISNUMBER({rate}),{_band_formula(ratio)},"")'


# -- indicators ----------------------------------------------------------------------------------------
def watched(target: Target) -> bool:
    """Does a target get an automatic colour (numeric ≥ > ≤ <; not =, not qualitative)?"""
    return not target.qualitative and target.op in (">=", ">", "<=", "<")


def indicator_ratio(x: float | None, target: Target, month: int) -> float | None:
    """≥ targets: 1-X月执行情况 / (年度指标值 × 序时进度), rounded; None where it does not apply."""
    if x is None or not watched(target) or target.op not in (">=", ">") or target.value == 0:
        return None
    return xl_round(x / (target.value * month / 12), DIGITS)


def indicator_warning(x: float | None, target: Target, month: int) -> str | None:
    """The colour of one indicator row (None: no automatic colour, or nothing typed)."""
    if x is None or not watched(target):
        return None
    t = target.value
    if target.op in ("<=", "<"):
        exceeded = x > 0 if t == 0 else xl_round(x / t, DIGITS) > 1
        return RED if exceeded else GREEN
    if t == 0:
        return GREEN   # ≥0: reached whatever is typed
    if xl_round(x / t, DIGITS) >= HIGH:
        return BLUE
    return _band(indicator_ratio(x, target, month))


def indicator_warning_formula(x: str, target: Target, month: int) -> str | None:
    """The formula of the colour's cell (None where the target gets no automatic colour)."""
    if not watched(target):
        return None
    t = target.value
    if target.op in ("<=", "<"):
        exceeded = f"{x}>0" if t == 0 else f"ROUND({x}/{_num(t)},{DIGITS})>1"
        body = f'IF({exceeded},"{RED}","{GREEN}")'
    elif t == 0:
        body = f'"{GREEN}"'
    else:
        ratio = f"ROUND({x}/({_num(t)}*{schedule_formula(month)}),{DIGITS})"
        body = f'IF(ROUND({x}/{_num(t)},{DIGITS})>={_num(HIGH)},"{BLUE}",{_band_formula(ratio)})'
    return f'IF(ISNUMBER({x}),{body},"")'
