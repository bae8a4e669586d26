"""YAML files as plain data plus the file and line of every key, with `extends:` resolved.

ruamel.yaml is used rather than PyYAML because it refuses duplicate keys and keeps the line of every
key, which is what lets each definition error name its file and line.
"""
from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from .errors import DefinitionError, Problem

Path_ = tuple  # a key path: ("indicators", "产出指标", "数量指标", 0, "weight")


class Located:
    """A definition's data with the origin (file, line) of every key path."""

    def __init__(self, data, positions: dict[Path_, tuple[str, int]]):
        self.data = data
        self.positions = positions

    def where(self, path: Path_) -> str:
        """'file:line' of the path, or of its nearest located ancestor."""
        for n in range(len(path), -1, -1):
            if path[:n] in self.positions:
                file, line = self.positions[path[:n]]
                return f"{file}:{line}"
        return "?"


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def _plain(node, file: str, path: Path_, pos: dict):
    """ruamel's commented tree as dicts, lists and scalars, recording each key's line."""
    if isinstance(node, CommentedMap):
        out = {}
        for k, v in node.items():
            key = str(k)
            pos[path + (key,)] = (file, node.lc.key(k)[0] + 1)
            out[key] = _plain(v, file, path + (key,), pos)
        return out
    if isinstance(node, CommentedSeq):
        out = []
        for i, v in enumerate(node):
            pos[path + (i,)] = (file, node.lc.item(i)[0] + 1)
            out.append(_plain(v, file, path + (i,), pos))
        return out
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return str(node) if isinstance(node, str) else node


def read_file(path: Path) -> Located:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DefinitionError([Problem(file, "", f"cannot read the file: {e}", "unreadable")])
    try:
        root = _yaml().load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        what = " ".join(str(s) for s in (e.context, e.problem) if s)
        if "duplicate key" in what:
            what += " (YAML would silently keep the last one; remove or rename one of them)"
        raise DefinitionError([Problem(f"{file}:{line}", "", what, "yaml")])
    except Exception as e:  # ruamel raises a few unmarked errors (e.g. bad anchors)
        raise DefinitionError([Problem(file, "", f"not valid YAML: {e}", "yaml")])
    pos = {(): (file, 1)}
    if not isinstance(root, CommentedMap):
        raise DefinitionError([Problem(f"{file}:1", "", "a definition must be a YAML mapping of keys "
                                       "(form, year, id, project, …)", "yaml")])
    return Located(_plain(root, file, (), pos), pos)


def load(path: Path, _seen: tuple = ()) -> Located:
    """Read a definition and the files it `extends:`, the definition's own keys winning."""
    path = Path(path)
    if path.resolve() in _seen:
        chain = " -> ".join(str(p) for p in _seen + (path.resolve(),))
        raise DefinitionError([Problem(str(path), "extends", f"extends itself in a cycle: {chain}", "extends")])
    own = read_file(path)
    parent_name = own.data.pop("extends", None)
    if parent_name is None:
        return own
    if not isinstance(parent_name, str):
        raise DefinitionError([Problem(own.where(("extends",)), "extends",
                                       "must be the path of a YAML file, relative to this one", "extends")])
    parent_path = path.parent / parent_name
    if not parent_path.is_file():
        raise DefinitionError([Problem(own.where(("extends",)), "extends",
                                       f"no such file: {parent_path}", "extends")])
    parent = load(parent_path, _seen + (path.resolve(),))
    return _merge(parent, own)


def _merge(base: Located, over: Located) -> Located:
    """Mappings merge key by key, at every depth; anything else (lists, scalars) is replaced whole."""
    positions = dict(base.positions)
    replaced: list[Path_] = []

    def merge(b, o, path):
        if isinstance(b, dict) and isinstance(o, dict):
            out = dict(b)
            for k, v in o.items():
                out[k] = merge(b[k], v, path + (k,)) if k in b else v
            return out
        replaced.append(path)
        return o

    data = merge(base.data, over.data, ())
    for r in replaced:
        for p in [p for p in positions if p[:len(r)] == r]:
            del positions[p]
    positions.update(over.positions)
    return Located(data, positions)
