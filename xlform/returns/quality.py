"""Quality flags (质量提示) of a returned 自评表: what reviewers find in returns that pass every check, each a
warning at its cell, never an error (issue 20).

One return at a time (`flag`, run by the reader once a sheet's record is built):
- a required narrative (偏差原因, 原因, 存在问题, 改进措施, 评价结论) written as 无 / 暂无 / / / — or a few characters;
- the same 偏差原因 on REPEATED_AT or more indicators of the return;
- every indicator at full marks with every narrative empty;
- a 成本指标 whose target is ≥ (more cost scores better);
- a 满意度 indicator met at exactly 100%;
- 实际完成值 equal to 年度指标值 on every quantitative indicator.
Across returns (`flag_copies`, run when collecting): the same non-trivial text in returns of different
主管部门, from the stored current records.
"""
from __future__ import annotations

import re
import unicodedata

from ..messages import problem
from ..scoring.scoring import approx_equal, below, rate_below
from ..storage.record import Record

# -- thresholds, in one place ------------------------------------------------------------------------------
SHORT_BELOW = 4          # a narrative of fewer characters (spaces and punctuation aside) says nothing
EMPTY_WORDS = frozenset({"无", "暂无", "没有", "无偏差", "无问题", "暂无问题", "没有问题", "不存在", "不存在问题", "略",
                         "同上", "不适用", "na", "n/a", "none", "nil"})   # a narrative in words that say nothing
REPEATED_AT = 3          # the same 偏差原因 on this many indicators of one return
COPIED_FROM = 20         # a text this long (spaces and punctuation aside) is not the same in two departments by chance
EQUAL_FROM = 3           # 实际完成值 = 年度指标值 on every quantitative indicator, when there are at least this many
SHOWN = 30               # characters of a narrative quoted in a message

# code -> its name in the summary's 质量 sheet (the messages are in xlform/messages.py)
FLAGS = {"quality_empty_text": "说明无实际内容", "quality_same_reason": "偏差原因雷同",
         "quality_copied": "与其他部门雷同", "quality_all_full": "全部满分且无说明",
         "quality_cost_at_least": "成本指标方向", "quality_satisfaction_full": "满意度恰为100%",
         "quality_actual_is_target": "完成值等于指标值"}

_NOISE = re.compile(r"[\s\W_]+")   # spaces and punctuation (Chinese and ASCII), dashes and slashes


def normalized(text) -> str:
    """A narrative as compared: full-width as half-width, lower case, without spaces or punctuation."""
    if not text:
        return ""
    core = _NOISE.sub("", str(text))       # the full-width punctuation first: what is left is mostly NFKC already
    if not unicodedata.is_normalized("NFKC", core):   # (the quick check costs far less than NFKC)
        core = _NOISE.sub("", unicodedata.normalize("NFKC", core))
    return core.lower()


def says_nothing(text, core: str | None = None) -> bool:
    """Filled in, yet saying nothing: an empty word (无, 暂无 …), dashes or slashes, or a few characters.
    `core`: normalized(text), where the caller has it already."""
    if core is None:
        core = normalized(text)
    return bool(text) and (core in EMPTY_WORDS or len(core) < SHORT_BELOW)


def _quote(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"


def narrative_keys(lay) -> list[str]:
    """The project-level narratives a kind has: the funds 原因, then its text rows (评价结论, 存在问题 …)."""
    keys = ["funds.reason"] + list(lay.kind.spec.get("text_rows", {}).get("keys", ()))
    return [k for k in keys if k in lay.fields]


def _target_cell(lay, i: int) -> str:
    for column in ("target", "target_value", "nature"):   # a kind may split the target (指标性质 | 指标值)
        if f"indicators.{i}.{column}" in lay.fields:
            return lay.cell(f"indicators.{i}.{column}")
    return lay.cell(f"indicators.{i}.actual")


class _Plan:
    """What the flags ask of a version's layout, worked out once per layout (the same for its every return)."""

    def __init__(self, lay):
        self.narratives = narrative_keys(lay)
        self.reason_below = lay.kind.spec.get("funds", {}).get("reason_below")
        self.rules, self.targets = lay.rules(), [i.target for i in lay.project.indicators]
        self.total_cell = lay.cell("total_score") if "total_score" in lay.fields else None
        self.watched, self.quantitative = [], []   # (i, a 成本指标 with ≥?, a 满意度 in %?); i of numeric targets
        for i, (ind, target) in enumerate(zip(lay.project.indicators, self.targets)):
            words = f"{ind.level1}{ind.level2}"
            cost, satisfaction = "成本" in words and target.op in (">=", ">"), "满意" in words + ind.name and target.percent
            if cost or satisfaction:
                self.watched.append((i, cost, satisfaction))
            if not target.qualitative:
                self.quantitative.append(i)


def _plan(lay) -> _Plan:
    """The layout's plan, made once and kept with it (as long as the reader keeps the version)."""
    found = lay.memo.get("quality")
    if found is None:
        found = lay.memo["quality"] = _Plan(lay)
    return found


def flag(record: Record, lay, sheet: str):
    """Add the quality flags of one 自评表 record, read against its layout `lay`, at cells of `sheet`."""
    if not record.indicators:
        return

    def at(cell: str) -> str:   # (the sheet's name is the workbook's: never a format string)
        return f"{sheet}!{cell}"
    add = record.problems.append
    plan, inds, extra = _plan(lay), record.indicators, record.extra
    reasons = [ind.deviation_reason for ind in inds]
    cores = [normalized(r) for r in reasons]   # each text normalised once
    empty = [says_nothing(r, c) for r, c in zip(reasons, cores)]
    # a required narrative that says nothing
    for key in plan.narratives:
        required = key != "funds.reason" or (plan.reason_below is not None and
                                              rate_below(record.funds.get("rate"), plan.reason_below))
        if required and says_nothing(extra.get(key)):
            add(problem("quality_empty_text", at(lay.cell(key)), label=lay.fields[key].label,
                        text=_quote(extra[key])))
    for i, (ind, rule) in enumerate(zip(inds, plan.rules)):
        if empty[i] and rule.needs_reason(ind.actual, ind.score, ind.weight):
            add(problem("quality_empty_text", at(lay.cell(f"indicators.{i}.reason")),
                        label=f"“{ind.name}”的偏差原因", text=_quote(ind.deviation_reason)))
    # the same 偏差原因 on several indicators
    same: dict[str, list[int]] = {}
    for i, reason in enumerate(reasons):
        if reason and not empty[i]:
            same.setdefault(cores[i], []).append(i)
    for group in same.values():
        if len(group) >= REPEATED_AT:
            for i in group:
                add(problem("quality_same_reason", at(lay.cell(f"indicators.{i}.reason")), name=inds[i].name,
                            others=len(group) - 1, text=_quote(inds[i].deviation_reason)))
    # every indicator at full marks, every narrative empty
    if (plan.total_cell and all(not r or e for r, e in zip(reasons, empty))
            and all(ind.score is not None and not below(ind.score, ind.weight) for ind in inds)
            and all(not t or says_nothing(t) for t in (extra.get(k) for k in plan.narratives))):
        add(problem("quality_all_full", at(plan.total_cell), count=len(inds)))
    # the targets and actuals
    for i, cost, satisfaction in plan.watched:
        if cost:
            add(problem("quality_cost_at_least", at(_target_cell(lay, i)), name=inds[i].name,
                        target=plan.targets[i].text))
        if satisfaction and _number(inds[i].actual) and approx_equal(inds[i].actual, 1.0):
            add(problem("quality_satisfaction_full", at(lay.cell(f"indicators.{i}.actual")), name=inds[i].name))
    quantitative = plan.quantitative
    if len(quantitative) >= EQUAL_FROM and all(_number(inds[i].actual) and
                                               approx_equal(inds[i].actual, plan.targets[i].value)
                                               for i in quantitative):
        first = quantitative[0]
        add(problem("quality_actual_is_target", at(lay.cell(f"indicators.{first}.actual")), count=len(quantitative)))


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def flag_copies(store, registry) -> int:
    """Flag the same non-trivial text (COPIED_FROM characters and more) in current returns of different 主管部门,
    at each place it stands, in the store (the last run's flags replaced): what `xlform collect` runs once the
    files are stored. Returns how many returns gained or lost a flag."""
    from .sheet import issued_layout
    # two passes over the texts, so that a large collection is never held: which texts (by hash) stand in
    # more than one department's returns, then those texts' places
    first: dict[int, object] = {}     # hash of a text -> the one department it was found in, or MANY
    for row in store.current_texts(COPIED_FROM):
        core = normalized(row[-1])
        if len(core) >= COPIED_FROM:
            h = hash(core)
            seen = first.setdefault(h, row[1])
            if seen is not _MANY and seen != row[1]:
                first[h] = _MANY
    groups: dict[str, list[tuple]] = {}
    for row in store.current_texts(COPIED_FROM):
        core = normalized(row[-1])
        if len(core) >= COPIED_FROM and first.get(hash(core)) is _MANY:
            groups.setdefault(core, []).append(row)
    del first
    layouts: dict[tuple, object] = {}

    def layout_of(template_id, version):
        key = (template_id, version)
        if key not in layouts:
            reg = registry.lookup(template_id, version) if template_id and version is not None else None
            kind = reg and (reg["kind"] or _kind(reg["form"]))
            self_evaluation = kind and "declared_indicators" not in kind.sections   # not a 申报表
            layouts[key] = issued_layout(reg["project"], kind, reg.get("issued")) if self_evaluation else None
        return layouts[key]

    flags: dict[int, list[dict]] = {}
    for rows in groups.values():
        if len({r[1] for r in rows}) < 2:
            continue
        placed = []   # (department, project, cell, label, submission id) of each narrative of the group
        for sid, department, project, template_id, version, sheet, key, name, _ in rows:
            lay = layout_of(template_id, version)
            narrative = lay and (key in ("goal.actual", *narrative_keys(lay)) or key.startswith("indicators."))
            if narrative and key in lay.fields:
                label = f"“{name}”的偏差原因" if key.startswith("indicators.") else lay.fields[key].label
                placed.append((department or "", project or "", f"{sheet}!{lay.cell(key)}", label, sid))
        for department, _, cell, label, sid in placed:
            others = sorted(p for p in placed if p[0] != department)
            if others:
                found = problem("quality_copied", cell, label=label, count=len({p[0] for p in others}),
                                department=others[0][0], project=others[0][1], where=others[0][2])
                flags.setdefault(sid, []).append({"cell": found.where, "severity": found.severity,
                                                  "message": found.message})
    return store.replace_flags("quality_copied", flags)


_MANY = object()


def _kind(form: str | None):
    from ..errors import XlformError
    from ..kinds.forms import form_kind
    try:
        return form_kind(form or "project")
    except XlformError:   # a kind this xlform lacks: its returns were not read either
        return None
