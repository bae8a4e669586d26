"""What the registry holds of issued layouts (issue 22, memory): a lookup's issued map reads its layout's JSON
from the layouts table when asked for, rather than the registry holding every layout's JSON it met (~94 KB each
as a str: 21 MB in each of collect's workers at a province's 222 layouts, beside the reader's parse of each)."""
import gc
import sqlite3
import tracemalloc

import pytest

from xlform.bench import definition_text
from xlform.definition.definition import load
from xlform.errors import CannotRun
from xlform.issue.registry import Registry, issued_map
from xlform.kinds.forms import form_kind

COUNTS = range(111, 121)   # indicators: each version laid out otherwise, each layout's JSON ~50 KB


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    """A registry of ten templates, each of a layout of its own: (its path, {id: the issued map kept})."""
    folder = tmp_path_factory.mktemp("registry")
    kind, maps = form_kind("project"), {}
    registry = Registry(folder / "r.db")
    try:
        for n in COUNTS:
            (folder / f"{n}.yaml").write_text(definition_text(n, f"big-{n}"), encoding="utf-8")
            project = load(folder / f"{n}.yaml")
            version = registry.version_for(project, kind, "2026-01-01")
            maps[project.id] = issued_map(project, kind, version)
    finally:
        registry.close()
    return folder / "r.db", maps


def test_a_lookup_gives_the_layout_kept(issued):
    path, maps = issued
    registry = Registry(path, create=False)
    try:
        for tid, kept in maps.items():
            for found in (registry.lookup(tid), registry.lookup(tid, 1), registry.lookup(tid, 1)):
                got = found["issued"]
                assert (got.layout_key, got.layout) == (kept.layout_key, kept.layout)
                assert got.expected in (kept.expected, kept.expected.encode())
    finally:
        registry.close()


def test_the_registry_holds_no_layout_json(issued):
    path, maps = issued
    held = sum(len(m.layout) for m in maps.values())   # characters of the ten layouts' JSON
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        registry = Registry(path, create=False)
        try:
            for _ in range(3):
                for tid in maps:   # (the latest version: a lookup the registry does not cache)
                    assert registry.lookup(tid)["issued"].layout
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            registry.close()
    finally:
        tracemalloc.stop()
    # measured: held, the JSON took 1.5 MB (760,000 characters); read when asked for, the registry's connection
    # and statements take 80 KB. The bound lies far from both
    assert grown < held // 2, (grown, held)


def test_a_lost_layout_is_told_at_the_lookup(issued, tmp_path):
    path, maps = issued
    copy = tmp_path / "lost.db"
    copy.write_bytes(path.read_bytes())
    tid, kept = next(iter(maps.items()))
    con = sqlite3.connect(copy)
    with con:
        con.execute("DELETE FROM layouts WHERE key=?", (kept.layout_key,))
    con.close()
    registry = Registry(copy, create=False)
    try:
        with pytest.raises(CannotRun, match=f"lost the layout {kept.layout_key}"):
            registry.lookup(tid, 1)
    finally:
        registry.close()
