"""Definitions as YAML written as by hand (the README's style): comments first, one flow mapping per
indicator, Chinese as is, quotes only where YAML needs them, a comment at the end of a line where a value
came from a cell."""
from __future__ import annotations

import functools
import json
import re

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# text that is plain in a flow mapping for sure: starts with a CJK character or letter, none of , [ ] { } : #
_PLAIN = re.compile(r"^[\u4e00-\u9fffA-Za-z（“][^,\[\]{}:#\n\r\t'\"]*$")


@functools.lru_cache(maxsize=65536)
def scalar(value) -> str:
    """A value as YAML: numbers as numbers, text plain where it reads back as the same text, else quoted."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value)
    if _PLAIN.match(text) and not text.endswith(" ") and text.lower() not in ("yes", "no", "on", "off", "true",
                                                                             "false", "null", "y", "n"):
        return text
    try:
        if text and text == text.strip() and yaml.load("{k: " + text + "}", Loader=_Loader) == {"k": text}:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text, ensure_ascii=False)


def flow(mapping: dict) -> str:
    return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in mapping.items()) + "}"


def definition_yaml(d: dict, comments: list[str], kind_keys=(), budget: str = "annual") -> str:
    """The YAML text of a definition dict: form, year, id, the kind's keys, project, department, implementer,
    funds {weight, rows}, goal, indicators [{level1, level2, name, target, weight, … , cell}], allow_total.

    An indicator's `cell` (and a fund row's) becomes a trailing comment; `comments` head the file."""
    out = [f"# {c}" for c in comments]
    for key in ("form", "year", "id", *kind_keys, "project", "department", "implementer"):
        if d.get(key) not in (None, ""):
            out.append(f"{key}: {scalar(d[key])}")
    funds = d["funds"]
    out.append("funds:")
    out.append(f"  weight: {scalar(funds['weight'])}")
    width = max((len(k) for k in funds["rows"]), default=0)
    for row, values in funds["rows"].items():
        pair = {"initial": values["initial"], budget: values.get(budget, values.get("annual", 0))}
        line = f"  {row}:{' ' * (width - len(row) + 1)}{flow(pair)}"
        out.append(line + (f"   # {values['cell']}" if values.get("cell") else ""))
    out.append(f"goal: {scalar(d.get('goal') or '')}")
    out.append("indicators:")
    tree: dict[str, dict[str, list]] = {}
    for ind in d["indicators"]:
        tree.setdefault(ind["level1"], {}).setdefault(ind["level2"], []).append(ind)
    for level1, level2s in tree.items():
        out.append(f"  {scalar(level1)}:")
        for level2, items in level2s.items():
            out.append(f"    {scalar(level2)}:")
            for ind in items:
                shown = {k: ind[k] for k in ("id", "name", "target", "weight", "rule", "kind") if ind.get(k) is not None}
                out.append(f"      - {flow(shown)}" + (f"   # {ind['cell']}" if ind.get("cell") else ""))
    if d.get("allow_total") is not None:
        out.append(f"allow_total: {scalar(d['allow_total'])}   # the 分值 found add up to this, not 100")
    return "\n".join(out) + "\n"
