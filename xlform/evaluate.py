"""A form's computed values (执行率, every 得分, 总分) from its inputs, by the scoring rules.

The writer uses it for the cached values of formula cells; the reader uses it to recompute a return.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import scoring
from .definition import FUND_ROWS, Project
from .scoring import Preset


@dataclass
class Inputs:
    """What a department fills in (None where blank)."""
    executed: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(FUND_ROWS))
    goal_actual: str | None = None
    actual: list[float | None] = field(default_factory=list)
    reason: list[str | None] = field(default_factory=list)
    manual_score: list[float | None] = field(default_factory=list)

    @classmethod
    def blank(cls, project: Project) -> "Inputs":
        n = len(project.indicators)
        return cls(actual=[None] * n, reason=[None] * n, manual_score=[None] * n)


@dataclass
class Result:
    executed_total: float
    rate: float | None
    funds_score: float | None
    scores: list[float | None]
    needs_reason: list[bool]
    total: float


def rules(project: Project, preset: Preset) -> list[scoring.Rule]:
    return [scoring.rule_for(i.target, i.manual, preset) for i in project.indicators]


def evaluate(project: Project, inputs: Inputs, preset: Preset) -> Result:
    executed = [inputs.executed.get(k) for k in FUND_ROWS]
    rate = scoring.funds_rate(executed, project.funds.total.annual)
    funds_score = scoring.funds_score(rate, project.funds.weight)
    scores, needs = [], []
    for i, (ind, rule) in enumerate(zip(project.indicators, rules(project, preset))):
        x = inputs.actual[i]
        s = inputs.manual_score[i] if rule.manual else rule.score(x, ind.weight)
        scores.append(s)
        needs.append(rule.needs_reason(x, s, ind.weight))
    return Result(scoring.funds_executed_total(executed), rate, funds_score, scores, needs,
                  scoring.total_score([funds_score] + scores))
