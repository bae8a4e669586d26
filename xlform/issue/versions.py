"""Template versions: which indicator of one definition is which of another, and what changed."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from ..definition.definition import Indicator, Project


def match(old: Project, new: Project) -> dict[int, int]:
    """{new index: old index} for indicators that are the same: by id, or by `was: 旧名称`.

    A rename is only ever taken from `was`, never guessed from similar names.
    """
    by_id = {ind.id: i for i, ind in enumerate(old.indicators)}
    pairs: dict[int, int] = {}
    for j, ind in enumerate(new.indicators):
        if ind.id in by_id:
            pairs[j] = by_id[ind.id]
    taken = set(pairs.values())
    for j, ind in enumerate(new.indicators):
        if j in pairs or not ind.was:
            continue
        free = [i for i, o in enumerate(old.indicators) if i not in taken and o.name == ind.was]
        same_group = [i for i in free if (old.indicators[i].level1, old.indicators[i].level2) ==
                      (ind.level1, ind.level2)]
        chosen = same_group if len(same_group) == 1 else free
        if len(chosen) == 1:
            pairs[j] = chosen[0]
            taken.add(chosen[0])
    return pairs


@dataclass(frozen=True)
class Change:
    kind: str      # added | removed | renamed | changed
    what: str      # 项目 | 项目资金 | the indicator's name
    field: str     # e.g. target, weight, level, fiscal.annual
    old: object = None
    new: object = None


def _indicator_changes(o: Indicator, n: Indicator) -> list[Change]:
    out = []
    if o.name != n.name:
        out.append(Change("renamed", n.name, "name", o.name, n.name))
    if o.target.canonical() != n.target.canonical():
        out.append(Change("changed", n.name, "target", o.target.text, n.target.text))
    if o.weight != n.weight:
        out.append(Change("changed", n.name, "weight", o.weight, n.weight))
    if o.rule != n.rule:
        out.append(Change("changed", n.name, "rule", o.rule, n.rule))
    if (o.level1, o.level2) != (n.level1, n.level2):
        out.append(Change("changed", n.name, "level", f"{o.level1}/{o.level2}", f"{n.level1}/{n.level2}"))
    return out


def diff(old: Project, new: Project) -> list[Change]:
    """Every difference that matters to a filled form, indicators matched by identity."""
    changes = []
    for field in ("project", "department", "implementer", "year", "goal", "form"):
        a, b = getattr(old, field), getattr(new, field)
        if a != b:
            changes.append(Change("changed", "项目", field, a, b))
    for group, old_values, new_values in (("项目", old.extra, new.extra), ("评分规则", old.scoring, new.scoring)):
        for key in dict.fromkeys([*old_values, *new_values]):
            if old_values.get(key) != new_values.get(key):
                changes.append(Change("changed", group, key, old_values.get(key), new_values.get(key)))
    if old.funds.weight != new.funds.weight:
        changes.append(Change("changed", "项目资金", "weight", old.funds.weight, new.funds.weight))
    for row in dict.fromkeys([*old.funds.rows, *new.funds.rows]):
        for part in ("initial", "annual"):
            a, b = (getattr(p.funds.rows[row], part) if row in p.funds.rows else None for p in (old, new))
            if a != b:
                changes.append(Change("changed", "项目资金", f"{row}.{part}", a, b))
    pairs = match(old, new)
    matched_old = set(pairs.values())
    for i, o in enumerate(old.indicators):
        if i not in matched_old:
            changes.append(Change("removed", o.name, "indicator", f"{o.target.text}, {o.weight:g}", None))
    for j, n in enumerate(new.indicators):
        if j in pairs:
            changes += _indicator_changes(old.indicators[pairs[j]], n)
        else:
            changes.append(Change("added", n.name, "indicator", None, f"{n.target.text}, {n.weight:g}"))
    return changes


def table(changes: list[Change]) -> str:
    """A plain-text table whose columns line up with Chinese text too."""
    rows = [("change", "what", "field", "old", "new")] + [
        (c.kind, c.what, c.field, _text(c.old), _text(c.new)) for c in changes]
    widths = [max(_width(r[k]) for r in rows) for k in range(5)]
    lines = ["  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _text(v) -> str:
    if v is None:
        return "—"
    return f"{v:g}" if isinstance(v, float) else str(v)


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)
