"""The schema of a kind's form.yaml: every key a kind may write, what its value must be, and which keys
are required; checked with the file and line of every key (yamlsource), so that a misspelt section or
key is one `FILE:LINE` error at `check` rather than an internal error at `render`.

A small schema written here rather than JSON Schema: it walks the same located data as the definition
checks, its messages say what to write in the project's words, and docs/kinds.md is tested against
`documented_keys()`. The keys of a section (text_rows, signatures, a kind module's own) are declared by
the section itself (`Section.keys`, kinds/sections.py) and added to the schema for the kinds that may use it."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import Problem
from ..scoring.scoring import PROFILES, profile
from ..yamlsource import Located, key_path, quoted

# Indicator table columns the sections know; a kind may add input columns of its own (`input: text|number`).
INDICATOR_COLUMNS = ("section", "level1", "level2", "name", "target", "nature", "target_value", "unit",
                     "actual", "weight", "score", "reason")
FUNDS_COLUMNS = ("initial", "annual", "executed", "weight", "rate", "score", "reason")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
DEFAULT_SECTIONS = ("header", "funds", "goal", "indicators", "total")


@dataclass(frozen=True)
class Node:
    def problems(self, value, path) -> list[tuple[tuple, str]]:
        return []


@dataclass(frozen=True)
class Text(Node):
    most: int = 32767    # Excel's limit for a cell
    name: bool = False   # a key of the definition or of the layout: letters, digits and _

    def problems(self, value, path):
        if not isinstance(value, str) or (not value and self.name):
            return [(path, f"must be text, not {quoted(value)}")]
        if len(value) > self.most:
            return [(path, f"is {len(value)} characters long; at most {self.most}")]
        if self.name and not _NAME.fullmatch(value):
            return [(path, f"{quoted(value)} is not a plain key: letters, digits and _, not first a digit")]
        return []


@dataclass(frozen=True)
class Number(Node):
    least: float = 0
    most: float = 32767
    whole: bool = False

    def problems(self, value, path):
        ok = isinstance(value, int) if self.whole else isinstance(value, (int, float))
        if not ok or isinstance(value, bool):
            return [(path, f"must be a {'whole number' if self.whole else 'number'}, not {quoted(value)}")]
        if not self.least <= value <= self.most:
            return [(path, f"must be from {self.least:g} to {self.most:g} (got {value:g})")]
        return []


@dataclass(frozen=True)
class Choice(Node):
    values: tuple = ()

    def problems(self, value, path):
        if value not in self.values or isinstance(value, bool):
            return [(path, f"{quoted(value)} is not one of {', '.join(map(str, self.values))}")]
        return []


@dataclass(frozen=True)
class Flag(Node):
    def problems(self, value, path):
        return [] if isinstance(value, bool) else [(path, f"must be true or false, not {quoted(value)}")]


@dataclass(frozen=True)
class ListOf(Node):
    item: Node = field(default_factory=Node)
    least: int = 0
    most: int = 1000
    unique: bool = True

    def problems(self, value, path):
        if not isinstance(value, list):
            return [(path, "must be a list, e.g. [a, b]")]
        if not self.least <= len(value) <= self.most:
            return [(path, f"must hold {self.least} to {self.most} items (holds {len(value)})")]
        out = [p for i, v in enumerate(value) for p in self.item.problems(v, path + (i,))]
        if self.unique and not out:
            seen = [repr(v) for v in value]
            out += [(path + (i,), f"{quoted(v)} is listed twice") for i, v in enumerate(value) if seen.index(repr(v)) < i]
        return out


@dataclass(frozen=True)
class Keys(Node):
    """A mapping: named keys (`fields`), and any other key's value checked by `rest` (refused if None)."""
    fields: dict = field(default_factory=dict)
    required: tuple = ()
    rest: Node | None = None
    rest_name: bool = False   # the other keys are plain keys (letters, digits, _)

    def problems(self, value, path):
        if not isinstance(value, dict):
            return [(path, "must be a mapping of keys")]
        out = []   # a misspelt key first: it is the cause of the missing one
        for k, v in value.items():
            if k in self.fields:
                out += self.fields[k].problems(v, path + (k,))
            elif self.rest is None:
                out.append((path + (k,), f"unknown key {quoted(k)}; known here: {', '.join(self.fields)}"))
            elif self.rest_name and not _NAME.fullmatch(k):
                out.append((path + (k,), f"{quoted(k)} is not a plain key: letters, digits and _"))
            else:
                out += self.rest.problems(v, path + (k,))
        return out + [(path, f"missing required key {quoted(k)}") for k in self.required if k not in value]


class Anything(Node):
    pass


_LENGTH = Number(1, 32767, whole=True)
_PROMPT = Keys({"title": Text(), "message": Text(), "error": Text()}, ("title", "message", "error"))

BASE = Keys({
    "extends": Text(),   # resolved (and removed) before the check; listed for the docs test
    "profile": Choice(tuple(PROFILES)),
    "scoring": Keys(rest=Anything(), rest_name=True),
    "sheet": Text(31),
    "sections": ListOf(Choice(()), least=1),   # the names of the kind's section types: see schema()
    "optional": ListOf(Choice(("goal", "indicators"))),
    "definition": Keys(rest=Keys({"required": Flag(), "type": Choice(("rows",))}), rest_name=True),
    "reserve_lines": Number(1, 20, whole=True),
    "fonts": Keys({"body": Text(64), "title": Text(64), "size": Number(6, 72), "title_size": Number(6, 72)},
                  ("body", "title", "size", "title_size")),
    "columns": ListOf(Keys({"key": Text(name=True), "width": Number(1, 255), "input": Choice(("text", "number")),
                            "limit": _LENGTH}, ("key", "width")), least=1, unique=False),
    "funds": Keys({"rows": ListOf(Text(name=True), least=1), "budget": Text(name=True),
                   "columns": ListOf(Choice(FUNDS_COLUMNS), least=1), "reason_below": Number(0, 1)},
                  ("rows", "columns")),
    "limits": Keys(rest=_LENGTH, rest_name=True),
    "texts": Keys({"title": Text(), "subtitle": Text(), "header": Text(255), "footer": Text(255),
                   "project_line": Text()}, ("title", "subtitle", "header", "footer")),
    "labels": Keys(rest=Text(255), rest_name=True),
    "prompts": Keys({"error_title": Text(32)}, ("error_title",), rest=_PROMPT, rest_name=True),
}, ("sheet", "fonts", "columns", "funds", "limits", "texts", "labels", "prompts"))


def schema(section_types: dict) -> Keys:
    """The schema of a kind that may use these sections: the shared keys and each section's own."""
    fields = dict(BASE.fields)
    fields["sections"] = ListOf(Choice(tuple(section_types)), least=1)
    for section in section_types.values():
        fields.update(section.keys)
    return Keys(fields, BASE.required)


def check(spec: Located, section_types: dict) -> list[Problem]:
    """Every problem of a resolved form.yaml, each at the file and line of its key."""
    found = schema(section_types).problems(spec.data, ())
    if not found:
        found = _consistency(spec.data, section_types)
    return [Problem(spec.where(path), key_path(path), message, "kind") for path, message in found]


def _consistency(d: dict, section_types: dict) -> list[tuple[tuple, str]]:
    """What the keys say of each other: a section has its key, a key shown on the sheet has a label."""
    out = []
    for i, section in enumerate(d.get("sections", DEFAULT_SECTIONS)):
        for need in section_types[section].needs:
            if need not in d:
                out.append((("sections", i), f"section {section} needs the key {need}: in form.yaml"))
    labels = d["labels"]
    keys = [(("funds", "rows", i), k) for i, k in enumerate(d["funds"]["rows"])]
    keys += [(("columns", i, "key"), c["key"]) for i, c in enumerate(d["columns"]) if c.get("input")]
    for section in dict.fromkeys(d.get("sections", DEFAULT_SECTIONS)):
        if any(need not in d for need in section_types[section].needs):
            continue   # said above
        keys += section_types[section].labelled(d)
        out += section_types[section].problems(d)
    out += [(path, f"{quoted(k)} has no label: add labels.{k}") for path, k in keys
            if k not in labels and f"{k}_column" not in labels]
    seen = []
    known = INDICATOR_COLUMNS + tuple(c for name in d.get("sections", DEFAULT_SECTIONS)
                                      for c in section_types[name].columns)
    for i, c in enumerate(d["columns"]):
        if c["key"] in seen:
            out.append((("columns", i, "key"), f"column {quoted(c['key'])} is listed twice"))
        seen.append(c["key"])
        if c["key"] not in known and not c.get("input"):
            out.append((("columns", i, "key"), f"{quoted(c['key'])} is not a column the indicator table knows "
                        f"({', '.join(known)}); a column of the kind's own needs input: text|number"))
    try:
        profile(d.get("profile", "national"), d.get("scoring"))
    except (ValueError, TypeError) as e:
        out.append((("scoring",), str(e)))
    return out


def documented_keys(node: Node, prefix: str = "") -> list[str]:
    """Every key path the schema knows, as docs/kinds.md names them: funds.rows, columns[].width, labels.*."""
    out = []
    if isinstance(node, ListOf):
        return documented_keys(node.item, prefix + "[]")
    if isinstance(node, Keys):
        for k, sub in node.fields.items():
            path = f"{prefix}.{k}" if prefix else k
            out += [path, *documented_keys(sub, path)]
        if node.rest is not None:
            path = f"{prefix}.*"
            out += [path, *documented_keys(node.rest, path)]
    return out
