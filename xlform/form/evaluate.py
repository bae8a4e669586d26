"""A form's computed values (执行率, every 得分, 总分, 评价等级) from its inputs, by the scoring rules.

Inputs and results are keyed by the layout's field keys ("funds.fiscal.executed", "indicators.3.actual",
"total_score", …), whatever the kind. The writer uses the results for the cached values of formula cells;
the reader uses them to recompute a return.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..definition.definition import Project
from ..scoring import scoring
from ..scoring.scoring import Profile

Inputs = dict  # field key -> the value typed (None where blank)


@dataclass
class Result:
    values: dict    # computed field key -> value (None where blank)
    needs: dict     # input field key -> True where the rules ask for it (偏差原因, the funds 原因)

    def __getitem__(self, key):
        return self.values[key]


def rules(project: Project, profile: Profile) -> list[scoring.Rule]:
    """Each indicator's scoring rule. A rule is frozen and made of its target, whether it is typed and the
    profile alone, so versions share the rules of the targets they share (a province's ≥95% and 100%: targets
    made from a registry are shared objects, and so is a kind's profile)."""
    out = []
    for i in project.indicators:
        key = (id(i.target), i.rule, id(profile))   # (the rule kept holds both: their ids stand for them)
        rule = _RULES.get(key)
        if rule is None or rule.target is not i.target or rule.profile is not profile:
            if len(_RULES) >= 4096:
                _RULES.clear()
            rule = _RULES[key] = scoring.rule_for(i.target, i.manual, profile)
        out.append(rule)
    return out


_RULES: dict[tuple, scoring.Rule] = {}


def evaluate(project: Project, fund_rows, inputs: Inputs, profile: Profile,
             reason_below: float | None = None, indicator_rules: list | None = None) -> Result:
    executed = [inputs.get(f"funds.{k}.executed") for k in fund_rows]
    rate = scoring.funds_rate(executed, project.funds.total.annual)
    funds_score = scoring.funds_score(rate, project.funds.weight)
    values = {"funds.total.executed": None if all(v is None for v in executed) else
              scoring.funds_executed_total(executed), "funds.rate": rate,
              "funds.score": funds_score}
    needs = {}
    if reason_below is not None:
        needs["funds.reason"] = scoring.rate_below(rate, reason_below)
    scores = []
    indicator_rules = rules(project, profile) if indicator_rules is None else indicator_rules
    for i, (ind, rule) in enumerate(zip(project.indicators, indicator_rules)):
        x = inputs.get(f"indicators.{i}.actual")
        s = inputs.get(f"indicators.{i}.score") if rule.manual else rule.score(x, ind.weight)
        if rule.manual and not isinstance(s, (int, float)):
            s = None
        values[f"indicators.{i}.score"] = s
        scores.append(s)
        needs[f"indicators.{i}.reason"] = rule.needs_reason(x, s, ind.weight)
    total = scoring.total_score([funds_score] + scores, rate, profile)
    values["total_score"] = total
    values["grade"] = scoring.grade(total, total is not None, profile)
    return Result(values, needs)


def evaluate_form(lay, inputs: Inputs) -> Result:
    """The results of a laid-out form (its kind's fund rows, its profile)."""
    return evaluate(lay.project, lay.kind.fund_rows, inputs, lay.profile, lay.kind.spec["funds"].get("reason_below"),
                    lay.rules())
