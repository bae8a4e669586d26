"""YAML files as plain data plus the file and line of every key, with `extends:` resolved.

PyYAML's C parser composes the node tree (with the line of every node); building the data from the nodes
ourselves lets a duplicate key be an error, where a YAML loader silently keeps the last one.

A definition is data from anyone, so every step is bounded before it is taken: a file is read only if it is
a regular file, and at most MAX_BYTES of it; the composed node graph is measured as it would be expanded
(every alias counted as the copy it stands for) before anything is built, so an alias bomb ("billion
laughs") or a recursive alias is refused at once; `extends:` goes at most MAX_EXTENDS files deep.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml

from .errors import DefinitionError, Problem

Path_ = tuple  # a key path: ("indicators", "产出指标", "数量指标", 0, "weight")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"

MAX_BYTES = 1024 * 1024      # a definition is a few KB; the largest real ones are far below this
MAX_NODES = 100_000          # keys, values and list items, every alias counted as what it copies
MAX_CHARS = 2 * MAX_BYTES    # characters of every key and value, aliases counted likewise
MAX_DEPTH = 32               # nesting; a definition needs 8 (indicators -> 一级 -> 二级 -> list -> target -> …)
MAX_EXTENDS = 20             # files in one `extends:` chain
SUFFIXES = (".yaml", ".yml")


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


def _problem(file: str, node, message: str, field: str = "", code: str = "yaml") -> DefinitionError:
    where = f"{file}:{node.start_mark.line + 1}" if node is not None else file
    return DefinitionError([Problem(where, field, message, code)])


def _measure(root, file: str):
    """Refuse a node graph too big, too deep or recursive once its aliases are expanded, before expanding
    anything: each node's expanded size is computed once (memoised), so an alias bomb costs no more than
    its file."""
    sizes: dict[int, tuple[int, int, int]] = {}   # id(node) -> (nodes, characters, depth) expanded
    open_: set[int] = set()

    def size(node, depth):
        if depth > MAX_DEPTH:
            raise _problem(file, node, f"nested more than {MAX_DEPTH} levels deep; a definition needs far fewer")
        key = id(node)
        if key in sizes:
            known = sizes[key]
            if depth + known[2] > MAX_DEPTH:
                raise _problem(file, node, f"nested more than {MAX_DEPTH} levels deep (through an alias)")
            return known
        if key in open_:
            raise _problem(file, node, "an alias (*name) inside the value it names: a value that contains "
                           "itself cannot be written out")
        open_.add(key)
        if isinstance(node, yaml.ScalarNode):
            found = (1, len(node.value), 0)
        else:
            children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) \
                else node.value
            nodes, chars, deep = 1, 0, 0
            for child in children:
                n, c, d = size(child, depth + 1)
                nodes, chars, deep = nodes + n, chars + c, max(deep, d + 1)
                if nodes > MAX_NODES or chars > MAX_CHARS:
                    raise _problem(file, node, f"too large: more than {MAX_NODES:,} values or {MAX_CHARS:,} "
                                   "characters, every alias (*name) counted as what it copies; a definition is far "
                                   "smaller")
            found = (nodes, chars, deep)
        open_.discard(key)
        sizes[key] = found
        return found

    size(root, 0)


def _pairs(node, file: str):
    """A mapping's (key node, value node, own?) with merge keys (<<: *base) resolved as YAML says: the
    merged mappings' keys first, an earlier one winning over a later one; the mapping's own keys win over
    all of them."""
    own, merged = [], []
    for key_node, value_node in node.value:
        if key_node.tag != _MERGE:
            own.append((key_node, value_node, True))
            continue
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise _problem(file, source, "<< (a merge key) takes a mapping or a list of mappings, "
                               "e.g. <<: *common")
            merged += [(k, v, False) for k, v, _ in _pairs(source, file)]
    return merged + own


class _Builder:
    """Composed nodes -> dicts, lists and scalars, recording each key's line; duplicate keys refused."""

    def __init__(self, file: str):
        self.file, self.pos = file, {}
        self.scalars = yaml.constructor.SafeConstructor()  # one per file: it remembers every node it built

    def scalar(self, node, path: Path_):
        try:
            return self.scalars.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, AttributeError, OverflowError) as e:
            what = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise _problem(self.file, node, f"not a usable YAML value: {what[:200]}",
                           key_path(path)) from None

    def plain(self, node, path: Path_):
        file, pos = self.file, self.pos
        if isinstance(node, yaml.MappingNode):
            out, own = {}, set()
            for key_node, value_node, is_own in _pairs(node, file):
                if not isinstance(key_node, yaml.ScalarNode):
                    raise _problem(file, key_node, "a key must be plain text")
                key = str(self.scalar(key_node, path))
                line = key_node.start_mark.line + 1
                if not is_own:
                    if key in out:  # an own key, or an earlier merged mapping's: it wins
                        continue
                elif key in own:
                    first = pos[path + (key,)][1]
                    raise DefinitionError([Problem(f"{file}:{line}", key_path(path + (key,)),
                                                   f"duplicate key {quoted(key)} (first at line {first}); YAML would "
                                                   "silently keep the last one: remove or rename one of them", "yaml")])
                else:
                    own.add(key)
                    out.pop(key, None)  # a merged value it overrides
                pos[path + (key,)] = (file, line)
                out[key] = self.plain(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            out = []
            for i, item in enumerate(node.value):
                pos[path + (i,)] = (file, item.start_mark.line + 1)
                out.append(self.plain(item, path + (i,)))
            return out
        value = self.scalar(node, path)
        if hasattr(value, "isoformat"):  # a date: keep it as the text that was written
            return str(node.value)
        return value


def key_path(path: Path_) -> str:
    """A key path as problems name it (indicators.产出指标.数量指标.0.name), every part kept short."""
    return ".".join(str(p) if len(str(p)) <= 40 else str(p)[:40] + "…" for p in path)


def quoted(value, limit: int = 60) -> str:
    """A key or value from a file as a message quotes it: never all of a long one."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def read_bytes(path: Path, what: str = "a definition") -> bytes:
    """At most MAX_BYTES of a regular file; a folder, device, pipe or larger file is refused, unread."""
    file = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        if os.path.isdir(path):
            raise DefinitionError([Problem(file, "", f"is a folder, not {what} (a YAML file)", "unreadable")])
        raise DefinitionError([Problem(file, "", f"cannot read the file: {e.strerror or e}", "unreadable")])
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise DefinitionError([Problem(file, "", f"is a folder, not {what} (a YAML file)", "unreadable")])
        if not stat.S_ISREG(info.st_mode):
            raise DefinitionError([Problem(file, "", f"is not a regular file (a device, pipe or socket), not {what}",
                                           "unreadable")])
        if info.st_size > MAX_BYTES:
            raise DefinitionError([Problem(file, "", f"is {info.st_size:,} bytes, larger than {what} can be "
                                           f"({MAX_BYTES:,} bytes)", "unreadable")])
        with os.fdopen(os.dup(fd), "rb") as f:
            raw = f.read(MAX_BYTES + 1)  # the file may have grown since
    except OSError as e:
        raise DefinitionError([Problem(file, "", f"cannot read the file: {e.strerror or e}", "unreadable")])
    finally:
        os.close(fd)
    if len(raw) > MAX_BYTES:
        raise DefinitionError([Problem(file, "", f"is larger than {what} can be ({MAX_BYTES:,} bytes)",
                                       "unreadable")])
    return raw


def read_file(path: Path, what: str = "a definition") -> Located:
    file = str(path)
    raw = read_bytes(path, what)
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
        what_ = " ".join(str(s) for s in (e.context, e.problem) if s)
        raise DefinitionError([Problem(f"{file}:{line}", "", f"not valid YAML: {what_}", "yaml")])
    except yaml.YAMLError as e:
        raise DefinitionError([Problem(file, "", f"not valid YAML: {str(e)[:200]}", "yaml")])
    if not isinstance(root, yaml.MappingNode):
        keys = " (form, year, id, project, …)" if what == "a definition" else ""
        raise DefinitionError([Problem(f"{file}:1", "", f"is not {what}: that is a YAML mapping of keys{keys}",
                                       "not_mapping")])
    _measure(root, file)
    builder = _Builder(file)
    builder.pos[()] = (file, 1)
    return Located(builder.plain(root, ()), builder.pos)


def load(path: Path, _seen: tuple = ()) -> Located:
    """Read a definition and the files it `extends:`, the definition's own keys winning."""
    path = Path(path)
    chain = _seen + (path.resolve(),)
    if path.resolve() in _seen:
        raise DefinitionError([Problem(str(path), "extends", "extends itself in a cycle: "
                                       + " -> ".join(map(str, chain)), "extends")])
    if len(chain) > MAX_EXTENDS:
        raise DefinitionError([Problem(str(_seen[0]), "extends", f"extends goes more than {MAX_EXTENDS} files deep: "
                                       + " -> ".join(map(str, chain)), "extends")])
    own = read_file(path, "a definition" if not _seen else "a part to extend")
    parent_name = own.data.pop("extends", None)
    if parent_name is None:
        return own
    where = own.where(("extends",))
    if not isinstance(parent_name, str) or not parent_name.strip() or "\0" in parent_name:
        raise DefinitionError([Problem(where, "extends", "must be the path of a YAML file, relative to this one",
                                       "extends")])
    parent_path = path.parent / parent_name
    try:
        found = parent_path.exists()
    except OSError as e:  # a name too long
        raise DefinitionError([Problem(where, "extends", f"cannot use {quoted(str(parent_path))}: "
                                       f"{e.strerror or e}", "extends")]) from None
    if not found:
        raise DefinitionError([Problem(where, "extends", f"no such file: {parent_path}", "extends")])
    if parent_path.is_dir():
        raise DefinitionError([Problem(where, "extends", f"{parent_path} is a folder: extends names a YAML "
                                       "file, relative to this one", "extends")])
    if parent_path.suffix.lower() not in SUFFIXES:
        raise DefinitionError([Problem(where, "extends", f"{parent_path} is not a YAML file: extends names a "
                                       ".yaml or .yml file, relative to this one", "extends")])
    try:
        parent = load(parent_path, chain)
    except DefinitionError as e:  # say which definition reached the part
        first = e.problems[0]
        if len(e.problems) == 1 and first.code in ("unreadable", "not_mapping") and \
                first.where in (str(parent_path), f"{parent_path}:1"):
            raise DefinitionError([Problem(where, "extends", f"{parent_path} {first.message}",
                                           "extends")]) from None
        raise
    return merge(parent, own)


def merge(base: Located, over: Located) -> Located:
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
