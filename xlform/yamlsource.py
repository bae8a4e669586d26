"""YAML files as plain data plus the file and line of every key, with `extends:` resolved.

PyYAML's C parser composes the node tree (with the line of every node); building the data from the nodes
ourselves lets a duplicate key be an error, where a YAML loader silently keeps the last one.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from .errors import DefinitionError, Problem

Path_ = tuple  # a key path: ("indicators", "产出指标", "数量指标", 0, "weight")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_scalars = yaml.constructor.SafeConstructor()


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


def _plain(node, file: str, path: Path_, pos: dict):
    """A composed node as dicts, lists and scalars, recording each key's line; duplicate keys refused."""
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise DefinitionError([Problem(f"{file}:{key_node.start_mark.line + 1}", "", "a key must be "
                                               "plain text", "yaml")])
            key = str(_scalars.construct_object(key_node))
            line = key_node.start_mark.line + 1
            if key in out:
                first = pos[path + (key,)][1]
                raise DefinitionError([Problem(f"{file}:{line}", ".".join(map(str, path + (key,))),
                                               f"duplicate key {key!r} (first at line {first}); YAML would silently "
                                               "keep the last one: remove or rename one of them", "yaml")])
            pos[path + (key,)] = (file, line)
            out[key] = _plain(value_node, file, path + (key,), pos)
        return out
    if isinstance(node, yaml.SequenceNode):
        out = []
        for i, item in enumerate(node.value):
            pos[path + (i,)] = (file, item.start_mark.line + 1)
            out.append(_plain(item, file, path + (i,), pos))
        return out
    value = _scalars.construct_object(node)
    if hasattr(value, "isoformat"):  # a date: keep it as the text that was written
        return str(node.value)
    return value


def read_file(path: Path) -> Located:
    file = str(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DefinitionError([Problem(file, "", f"cannot read the file: {e.strerror or e}", "unreadable")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:  # Windows editors in China often save as GBK; GB18030 reads that and all of Unicode
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            raise DefinitionError([Problem(file, "", "the file is neither UTF-8 nor GBK/GB18030 text: save it as "
                                           "UTF-8", "unreadable")])
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        what = " ".join(str(s) for s in (e.context, e.problem) if s)
        raise DefinitionError([Problem(f"{file}:{line}", "", f"not valid YAML: {what}", "yaml")])
    except yaml.YAMLError as e:
        raise DefinitionError([Problem(file, "", f"not valid YAML: {e}", "yaml")])
    if not isinstance(root, yaml.MappingNode):
        raise DefinitionError([Problem(f"{file}:1", "", "a definition must be a YAML mapping of keys "
                                       "(form, year, id, project, …)", "yaml")])
    pos = {(): (file, 1)}
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
