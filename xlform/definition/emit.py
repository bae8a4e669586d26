"""Definitions as YAML written as by hand (the README's style): comments first, one flow mapping per
indicator, Chinese as is, quotes only where YAML needs them, a comment at the end of a line where a value
came from a cell."""
from __future__ import annotations

import functools
import json
import math
import re

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# text that is plain in a flow mapping for sure: starts with a CJK character or letter, none of , [ ] { } : #
_PLAIN = re.compile(r"^[\u4e00-\u9fffA-Za-z（“][^,\[\]{}:#\n\r\t'\"]*$")
# What YAML cannot carry as it is: characters outside its printable set (control characters, DEL, C1,
# U+FFFE/U+FFFF), the line breaks NEL, LS and PS (a reader folds them), the byte order mark. Written as an
# escape in a double-quoted string, and escaped in a comment, which a line break would end.
_UNPRINTABLE = "[^\t\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\t\u2028\u2029\ufeff]"
_NEEDS_ESCAPE = re.compile(r'[\\"]|' + _UNPRINTABLE)
_UNSAFE = re.compile(_UNPRINTABLE)
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}
_KEY_LIMIT = 1000   # a YAML reader looks at most 1,024 characters ahead for an implicit key's ':'


def _escape(m) -> str:
    c = m.group()
    if c in _ESCAPES:
        return _ESCAPES[c]
    n = ord(c)
    return f"\\x{n:02X}" if n < 0x100 else f"\\u{n:04X}" if n < 0x10000 else f"\\U{n:08X}"


def quoted(text: str) -> str:
    """Any text as a YAML double-quoted string that reads back as exactly that text, on one line."""
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def comment(text: str) -> str:
    """Text for a comment: nothing in it can end the comment's line or make the file unreadable."""
    return _UNSAFE.sub(_escape, text)


@functools.lru_cache(maxsize=65536)
def scalar(value) -> str:
    """A value as YAML: numbers as numbers, text plain where it reads back as the same text, else quoted."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"
        if float(value).is_integer():
            return str(int(value))
        text = repr(float(value))   # 1e-05 is a text to YAML 1.1, which wants a point: 1.0e-05
        return text.replace("e", ".0e", 1) if "e" in text and "." not in text else text
    text = str(value)
    if _UNSAFE.search(text):
        return quoted(text)
    if _PLAIN.match(text) and not text.endswith(" ") and text.lower() not in ("yes", "no", "on", "off", "true",
                                                                             "false", "null", "y", "n"):
        return text
    return text if _plain_everywhere(text) else quoted(text)


def _plain_everywhere(text: str) -> bool:
    """Whether text reads back as itself written plain where definition_yaml writes it: a flow mapping's
    value, a block mapping's value, a block mapping's key."""
    if not text or text != text.strip():
        return False
    try:
        return (yaml.load("{k: " + text + "}", Loader=_Loader) == {"k": text} and
                yaml.load("k: " + text, Loader=_Loader) == {"k": text} and
                yaml.load(text + ": 0", Loader=_Loader) == {text: 0})
    except yaml.YAMLError:
        return False


def _key(value, indent: str) -> str:
    """A mapping key line: `key:`, or `? key` and `:` when the key is too long for an implicit key."""
    text = scalar(value)
    return f"{indent}{text}:" if len(text) <= _KEY_LIMIT else f"{indent}? {text}\n{indent}:"


def flow(mapping: dict) -> str:
    return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in mapping.items()) + "}"


def definition_yaml(d: dict, comments: list[str], kind_keys=(), budget: str = "annual") -> str:
    """The YAML text of a definition dict: form, year, id, the kind's keys, project, department, implementer,
    funds {weight, rows}, goal, indicators [{level1, level2, name, target, weight, … , cell}], allow_total.

    An indicator's `cell` (and a fund row's) becomes a trailing comment; `comments` head the file."""
    out = [f"# {comment(c)}" for c in comments]
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
        out.append(line + (f"   # {comment(values['cell'])}" if values.get("cell") else ""))
    out.append(f"goal: {scalar(d.get('goal') or '')}")
    out.append("indicators:")
    tree: dict[str, dict[str, list]] = {}
    for ind in d["indicators"]:
        tree.setdefault(ind["level1"], {}).setdefault(ind["level2"], []).append(ind)
    for level1, level2s in tree.items():
        out.append(_key(level1, "  "))
        for level2, items in level2s.items():
            out.append(_key(level2, "    "))
            for ind in items:
                shown = {k: ind[k] for k in ("id", "name", "target", "weight", "rule", "kind") if ind.get(k) is not None}
                out.append(f"      - {flow(shown)}" + (f"   # {comment(ind['cell'])}" if ind.get("cell") else ""))
    if d.get("allow_total") is not None:
        out.append(f"allow_total: {scalar(d['allow_total'])}   # the 分值 found add up to this, not 100")
    return "\n".join(out) + "\n"
