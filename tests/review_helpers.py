"""A collection of generated 自评表 returns for the 复核 tests: the small form of helpers.py issued to projects of
three 主管部门, each return filled (openpyxl) and collected."""
from __future__ import annotations

from pathlib import Path

from helpers import GOOD, SMALL, definition, fill_openpyxl, load_def
from xlform.collecting.collector import collect
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.storage.store import Store

SIZES = {"甲局": 10, "乙局": 6, "丙局": 4}
# 全年预算数 of each project: 100 + its number, but the first two of 乙局 are the largest (900 and 800)
LARGEST = {"p-010": 900.0, "p-011": 800.0}


def budget(tid: str, n: int) -> float:
    return LARGEST.get(tid, 100.0 + n)


def projects(folder: Path, sizes=SIZES):
    """The definitions: p-000 … numbered across the departments in order."""
    out, n = [], 0
    for department, count in sizes.items():
        for _ in range(count):
            tid = f"p-{n:03d}"
            a = budget(tid, n)
            out.append(load_def(folder, definition(SMALL, id=tid, project=f"项目{n:02d}", department=department,
                                                   implementer=department,
                                                   funds={"weight": 10, "fiscal": {"initial": a, "annual": a}}),
                                f"{tid}.yaml"))
            n += 1
    return out


def collection(folder: Path, sizes=SIZES, db=None, edits=None):
    """Issue, fill and collect: (database location, registry path, {template id: department}). `edits`:
    {template id: cells} typed over the clean return of that project."""
    folder.mkdir(parents=True, exist_ok=True)
    defs = projects(folder, sizes)
    registry = folder / "registry.db"
    reg = Registry(registry)
    try:
        issued = render(defs, folder / "issued", registry=reg)
    finally:
        reg.close()
    returns = folder / "returns"
    returns.mkdir(exist_ok=True)
    for i in issued:
        tid = i.sheets[0][1]
        fill_openpyxl(i.file, returns / f"{tid}.xlsx", {**GOOD, **(edits or {}).get(tid, {})})
    location = db or folder / "collect.db"
    store = Store(location)
    try:
        collect([returns], store, registry, jobs=1)
    finally:
        store.close()
    return location, registry, {p.id: p.department for p in defs}
