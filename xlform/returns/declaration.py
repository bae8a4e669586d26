"""Returned 绩效目标申报表 (form kind `declaration`) -> the declared project, every input checked at its cell.

Two ways in: `xlform read` with the registry (the locked cells are compared with the issued form first, then
the kind's declared_indicators section reads it: templates/declaration/sections.py) and `xlform import` without one (the hidden sheet's cell map says where each field
is, read_declared). Both check the same things: 项目属性, 年度绩效目标, each indicator row (a name needs its
指标值 and 分值; the 指标值 is a target of the grammar or clear qualitative text), at least one indicator
under each 一级指标 of the profile's split, and the 分值 of each 一级指标 adding up to the split.
"""
from __future__ import annotations

import re

from ..kinds.forms import FormKind
from ..messages import problem
from ..scoring.scoring import Profile
from ..scoring.target import in_range, normalize, parse
from ..storage.record import IndicatorRecord, Record
from .values import NotANumber, TooLarge, read_number, read_text

_OPERATOR_FIRST = re.compile(r"^\s*(>=|<=|≥|≤|>|<|=)")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORDS = re.compile(r"以上|以下|不低于|不少于|不高于|不超过|不多于|至少|最多|低于|高于|大于|小于|超过")


def is_declared_kind(kind: FormKind) -> bool:
    """A kind whose sections give no score: a 申报表, read by read_declared."""
    return not any(kind.section_types[name].scored for name in kind.sections)


def unclear_target(text: str) -> str | None:
    """Why a qualitative 指标值 is not clear qualitative text (a hint in Chinese), or None when it is fine.

    Clear: a target of the grammar (≥100家), or words with no number in a comparison (有效提升,
    2020年实现100%脱贫). Unclear: what starts like a target and is none (≥百分之九十), has no words at all
    (90-95), or says a comparison in words around a number (不低于95%, 100家以上)."""
    target = parse(text)
    if not target.qualitative:   # (a number past 15 digits is none a definition holds: check refused it on import)
        return None if in_range(target.value) else "指标值中的数字应小于 10 的 15 次方（且不小于 10 的 -15 次方）"
    plain = normalize(text).strip()
    if _OPERATOR_FIRST.match(plain) or not _CJK.search(plain):
        return "可计分的目标值写成运算符、数字和单位，如 ≥100家、≤30天、=100%、≥95%"
    if re.search(r"\d", plain) and _WORDS.search(plain):
        return "“以上、不低于、不超过”等请改用运算符，如“不低于95%”写成 ≥95%，“100家以上”写成 ≥100家"
    return None


def _weights_text(profile: Profile) -> str:
    names = {"funds": "预算执行率"}
    return "、".join(f"{names.get(k, k.removesuffix('指标'))} {v:g}" for k, v in profile.weights.items())


def read_declared(cell_at, cells: dict[str, str], kind: FormKind, profile: Profile, at, record: Record,
                  year: int | None) -> list[int]:
    """Fill `record` with the declared project read through `cells` (field key -> cell), appending every
    problem; `cell_at(ref)` gives a cell (value, formula) and `at(ref)` names it for a problem ("申报表!F13").
    Returns the row numbers n (fields declared.n.*) of the indicators read, in order.

    A 指标值 typed as =100% is a formula to Excel: its text is read ("=100%"), not its result."""
    add = record.problems.append

    def value(ref):
        return cell_at(ref).value

    def text(key):
        if key not in cells:
            return None
        got = cell_at(cells[key])
        if got.formula is not None and key.endswith(".target"):
            return "=" + got.formula
        if got.formula is not None:
            add(problem("input_formula", at(cells[key]), formula=got.formula, value=got.value))
        return read_text(got.value)

    def number(key, what):
        raw = value(cells[key])
        try:
            return read_number(raw)[0]
        except TooLarge:
            add(problem("number_too_large", at(cells[key]), value=raw))
            return None
        except NotANumber:
            add(problem("not_a_number", at(cells[key]), value=raw, hint="（分值只填数字）" if what else ""))
            return None

    record.template["form"] = kind.name
    attribute = text("attribute")
    record.project = {"name": text("project.name"), "department": text("project.department"),
                      "implementer": text("project.implementer"), "year": year, "attribute": attribute}
    choices = list(kind.spec.get("attributes", ()))
    if "attribute" in cells and attribute not in choices:
        add(problem("decl_attribute", at(cells["attribute"]), value=attribute or "（空）", choices="、".join(choices)))
    rows = {}
    for row in ("total",) + kind.fund_rows:
        key = f"funds.{row}.initial"
        rows[row] = {"initial": (number(key, None) or 0.0) if key in cells else 0.0}
    record.funds = {"weight": number("funds.weight", None) if "funds.weight" in cells else None, "rows": rows}
    goal = text("goal.expected")
    record.goal = {"expected": goal}
    if goal is None:
        add(problem("decl_goal_missing", at(cells["goal.expected"])))
    elif len(goal) > kind.limit("goal"):
        add(problem("text_too_long", at(cells["goal.expected"]), limit=kind.limit("goal"), length=len(goal)))

    count = 1 + max((int(k.split(".")[1]) for k in cells if k.startswith("declared.") and k != "declared.total"),
                    default=-1)
    read_rows, seen = [], set()
    for n in range(count):
        key = f"declared.{n}"
        name, target, remark = text(f"{key}.name"), text(f"{key}.target"), text(f"{key}.remark")
        raw_weight = value(cells[f"{key}.weight"])
        for part, got in (("name", name), ("target", target), ("remark", remark)):
            limit = kind.limit(part)
            if got and len(got) > limit:
                add(problem("text_too_long", at(cells[f"{key}.{part}"]), limit=limit, length=len(got)))
        if name is None:
            if target is not None or read_text(raw_weight) is not None:
                add(problem("decl_name_missing", at(cells[f"{key}.name"])))
            continue
        level1, level2 = text(f"{key}.level1") or "", text(f"{key}.level2") or ""
        weight = number(f"{key}.weight", "分值")
        if target is None:
            add(problem("decl_target_missing", at(cells[f"{key}.target"]), name=name))
        else:
            hint = unclear_target(target)
            if hint:
                add(problem("decl_target_unclear", at(cells[f"{key}.target"]), name=name, value=target, hint=hint))
        if weight is None and read_text(raw_weight) is None:
            add(problem("decl_weight_missing", at(cells[f"{key}.weight"]), name=name))
        elif weight is not None and weight <= 0:
            add(problem("decl_weight_positive", at(cells[f"{key}.weight"]), name=name, value=f"{weight:g}"))
        if (level1, level2, name) in seen:
            add(problem("decl_duplicate", at(cells[f"{key}.name"]), name=name, level2=level2))
        seen.add((level1, level2, name))
        record.indicators.append(IndicatorRecord(f"{level1}/{level2}/{name}", level1, level2, name, target, None,
                                                 weight, None, None, {"remark": remark}))
        read_rows.append(n)

    first_of = {}
    for n in range(count):
        first_of.setdefault(read_text(value(cells[f"declared.{n}.level1"])), cells[f"declared.{n}.level1"])
    split = _weights_text(profile)
    for level1, want in profile.weights.items():
        if level1 == "funds":
            continue
        mine = [i for i in record.indicators if i.level1 == level1]
        cell = at(first_of.get(level1) or cells.get("declared.0.level1", "A1"))
        if not mine:
            add(problem("decl_too_few", cell, level1=level1))
            continue
        have = sum(i.weight for i in mine if isinstance(i.weight, float))
        if abs(have - want) > 1e-9:
            add(problem("decl_split", cell, level1=level1, have=f"{have:g}", want=f"{want:g}", split=split))
    return read_rows
