"""The 复核 rules, each once: the Excel formula and the Python value of a reviewer's 复核得分, of the 偏离度 and
of its class come from the same definition, as scoring.py does for the 自评表 (the review worksheet's
sections, templates/review/sections.py, draw the formulas; the reader and the report use the values).

- 复核得分 of an indicator: 0 where the 扣分原因 says so (its effect `zero` in the profile's `deductions`);
  else the indicator's own rule applied to the 复核完成值 (a typed 得分: the 复核评分 typed); a blank
  复核完成值 (复核评分) accepts the department's: its 得分 as returned.
- 复核总分: the 总分 rule of the 自评表 over the funds 得分 as returned and every 复核得分.
- 偏离度 = (自评总分 − 复核总分) / 自评总分, rounded to 4 decimals (0.01%); per indicator the same with its
  自评得分 and 复核得分; none where the 自评 is 0 or blank.
- its class: the first of the profile's `review_classes` whose bound |偏离度| stays below.
"""
from __future__ import annotations

from . import scoring
from .scoring import PROFILE_KEYS, Profile, Rule, below, quotient, xl_round

ZERO, RULES = "zero", "rules"
REVIEW_KEYS = ("deductions", "review_classes")   # the review kind's own keys of a profile


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _num(c: float) -> str:
    """A bound as formula text, exact to the double (as scoring.py writes its constants)."""
    return repr(float(c)).removesuffix(".0") if float(c).is_integer() else repr(float(c))


def _text(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def reasons(profile: Profile) -> list[str]:
    """The 扣分原因 a reviewer chooses from, in order."""
    return [name for name, _ in profile.deductions]


def zeroing(profile: Profile) -> set[str]:
    """The 扣分原因 that make the 复核得分 0."""
    return {name for name, effect in profile.deductions if effect == ZERO}


def zero_formula(reason: str, profile: Profile) -> str:
    names = [name for name, effect in profile.deductions if effect == ZERO]
    return "FALSE" if not names else "OR(" + ",".join(f"{reason}={_text(n)}" for n in names) + ")"


def score_formula(rule: Rule, y: str, t: str | None, reason: str, s: str, w: str, profile: Profile) -> str:
    """复核得分: y the 复核完成值, t the 复核评分 (a typed 得分; None where the rule computes it), s the 自评得分."""
    accepted = f'IF(ISNUMBER({s}),{s},"")'
    own = f"IF(ISNUMBER({t}),{t},{accepted})" if rule.manual else f"IF(ISNUMBER({y}),{rule.formula(y, w)},{accepted})"
    zero = zero_formula(reason, profile)
    return own if zero == "FALSE" else f"IF({zero},0,{own})"


def score(rule: Rule, y, t, reason, s, w: float, profile: Profile) -> float | None:
    if reason in zeroing(profile):
        return 0.0
    accepted = float(s) if _number(s) else None
    if rule.manual:
        return float(t) if _number(t) else accepted
    return rule.score(y, w) if _number(y) else accepted


def total_formula(cells: str, rate: str, profile: Profile) -> str:
    """复核总分: the 自评表's 总分 rule over the funds 得分 as returned and every 复核得分."""
    return scoring.total_formula(cells, rate, profile)


def total_score(scores: list, rate, profile: Profile) -> float | None:
    return scoring.total_score(scores, rate, profile)


def deviation_formula(s: str, r: str) -> str:
    return f'IF(AND(ISNUMBER({s}),ISNUMBER({r})),IF({s}<>0,ROUND(({s}-{r})/{s},4),""),"")'


def deviation(s, r) -> float | None:
    """None where the 自评 is 0, and where the quotient is past a double (a 自评得分 of 5e-324): the formula's "" and
    #NUM!, no number."""
    d = quotient(s - r, s) if _number(s) and _number(r) else None
    return None if d is None else xl_round(d, 4)


def class_formula(d: str, profile: Profile) -> str:
    inner = _text(profile.review_classes[-1][1])
    for bound, name in reversed(profile.review_classes[:-1]):
        inner = f"IF(ABS({d})<{_num(bound)},{_text(name)},{inner})"
    return f'IF(ISNUMBER({d}),{inner},"")'


def deviation_class(d, profile: Profile) -> str | None:
    if not _number(d):
        return None
    for bound, name in profile.review_classes[:-1]:
        if below(abs(d), bound):
            return name
    return profile.review_classes[-1][1]


def overrides(reviewed: Profile, base: Profile) -> dict:
    """The profile keys in which the reviewed return's scoring differs from the review kind's, as a definition
    writes them under `scoring:`: the review worksheet applies the very rules of the 自评表 it reviews."""
    out = {}
    for key in PROFILE_KEYS:
        value = getattr(reviewed, key)
        if key in REVIEW_KEYS or value == getattr(base, key):
            continue
        if key == "grades":
            value = {name: threshold for threshold, name in value}
        elif key == "rate_caps":
            value = {repr(rate): cap for rate, cap in value}
        out[key] = value
    return out
