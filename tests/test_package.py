"""The package shows the pipeline in folders (issue 18): every module imports, no import cycles between
modules, no private name imported from another module, and no room imports a room above it.

The graph is built from the source (the AST of every module, function-level imports included), so a lazy
import inside a function counts as much as one at the top."""
import ast
import importlib
from pathlib import Path

import xlform

ROOT = Path(xlform.__file__).parent

# Rooms from the bottom up: a module may import its own room and the rooms below it, never one above.
# The top-level modules are split in two: the shared base everyone may use, and the commands on top.
ORDER = [
    ("base", ["errors", "messages", "outputs", "names", "yamlsource", "jsontext", "caching"]),
    ("storage", ["storage"]),
    ("scoring", ["scoring"]),
    ("kinds", ["kinds"]),
    ("definition", ["definition"]),
    ("form", ["form"]),
    ("xlsx", ["xlsx"]),
    ("issue", ["issue"]),
    ("returns", ["returns"]),
    ("importing", ["importing"]),
    ("printing", ["printing"]),
    ("collecting", ["collecting"]),
    ("review", ["review"]),
    ("desk", ["desk"]),
    ("commands", ["cli", "bench", ""]),   # "" is the package itself: the public API, loaded lazily
]


def module_names() -> list[str]:
    names = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(["xlform", *parts]))
    return names


def source(name: str) -> tuple[Path, bool]:
    base = ROOT.joinpath(*name.split(".")[1:])
    return (base / "__init__.py", True) if (base / "__init__.py").exists() else (base.with_suffix(".py"), False)


def imports(name: str) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import of xlform in the module."""
    path, package = source(name)
    here = name if package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == "xlform"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[:len(here.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "xlform":
                found.append((target, [a.name for a in node.names], node.lineno))
    return found


def edges() -> dict[str, set[str]]:
    """Module -> the modules of xlform it imports; `from x import m` of a submodule m is an import of x.m."""
    modules = set(module_names())
    graph = {m: set() for m in modules}
    for m in modules:
        for target, names, _ in imports(m):
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            graph[m].update(subs)
            rest = [n for n in names if f"{target}.{n}" not in modules]
            if target == "xlform" and rest == ["__version__"]:
                continue   # the version, set before anything else in xlform/__init__.py, whose imports are lazy
            if rest or not names:
                graph[m].add(target)
    for m in graph:
        graph[m].discard(m)
    return graph


def room(name: str) -> int:
    parts = name.split(".")[1:]
    first = parts[0] if parts else ""
    for i, (_, members) in enumerate(ORDER):
        if first in members:
            return i
    raise AssertionError(f"{name} is in no room of ORDER: give it one")


def test_every_module_imports():
    for name in module_names():
        importlib.import_module(name)


def test_every_module_has_a_room():
    for name in module_names():
        room(name)


def test_no_import_cycles():
    graph = edges()
    state: dict[str, int] = {}
    cycles = []

    def visit(m, path):
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(path[path.index(n):] + [n] if n in path else [m, n])
            elif n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_private_name_imported_from_another_module():
    found = []
    for m in module_names():
        for target, names, line in imports(m):
            found += [f"{m}:{line} takes {n} from {target}" for n in names if n.startswith("_") and n != "__version__"]
    assert not found, "\n".join(found)


def test_no_room_imports_a_room_above_it():
    found = [f"{m} ({ORDER[room(m)][0]}) imports {n} ({ORDER[room(n)][0]})"
             for m, targets in edges().items() for n in targets if room(n) > room(m)]
    assert not found, "\n".join(sorted(found))


def test_the_graph_sees_lazy_imports():
    """A check that cannot see an import inside a function would pass on anything: this one sees them."""
    graph = edges()
    assert "xlform.collecting.collector" in graph["xlform"]   # collect() imports it in its body
    assert "xlform.xlsx.writer" in graph["xlform.returns.sheet"]   # the issued sheet, built on first need
