"""Definitions -> issued workbooks: one per project, or one per 主管部门 with a sheet per project."""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from ..definition.definition import Project
from ..kinds.forms import form_kind
from ..names import file_stems, sheet_name
from ..outputs import atomic_write, now
from ..xlsx.writer import SheetSpec, write
from .registry import Registry, issued_map


@dataclass
class Issued:
    file: Path
    sheets: list[tuple[str, str, int]]   # (sheet, template id, version)


def render(projects: list[Project], out_dir: str | Path = "output", per: str = "project",
           password: str | None = None, registry: Registry | None = None, jobs: int = 1,
           kinds: dict | None = None) -> list[Issued]:
    """Render each group of projects into one workbook; records every issued version in the registry.
    `kinds`: {project id: FormKind} where a project is issued in a kind other than the one its form names
    (a 监控表's fund rows are its definition's kind's: xlform/issue/monitoring.py).

    Versions are assigned here, in order; with jobs > 1 the workbooks are written by worker processes.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    own_registry = registry is None
    registry = registry or Registry()
    stamp = now()
    try:
        work = []
        for stem, group in _groups(projects, per):
            taken: set[str] = set()
            specs, new = [], set()
            for p in group:
                kind = (kinds or {}).get(p.id) or form_kind(p.form)
                name = sheet_name(kind.spec["sheet"] if per == "project" else p.project, taken)
                version, is_new = registry.issue(p, kind, stamp)
                if is_new:
                    new.add((p.id, version))
                specs.append(SheetSpec(p, kind, version, name))
            work.append((out_dir / f"{stem}.xlsx", specs, password, stamp, new))
        if jobs > 1 and len(work) > 1:
            import multiprocessing
            # (no more processes than workbooks: --jobs 1000 for two forked a thousand)
            with multiprocessing.get_context("fork").Pool(min(jobs, len(work))) as pool:
                maps = pool.starmap(_write_file, work, chunksize=2)  # small: an even finish matters more
        else:
            maps = [_write_file(*args) for args in work]
        registry.keep([m for group in maps for m in group])
        registry.record_files([(s.project, s.version, str(path), s.sheet) for path, specs, *_ in work
                               for s in specs], stamp)
    finally:
        if own_registry:
            registry.close()
    return [Issued(path, [(s.sheet, s.project.id, s.version) for s in specs]) for path, specs, *_ in work]


def _write_file(path: Path, specs: list[SheetSpec], password: str | None, stamp: str, new: set) -> list:
    """Write one workbook; the issued maps of its new versions, worked out here (in a worker process when
    rendering in parallel: about 5 ms a version, which the parent would otherwise spend alone)."""
    buffer = io.BytesIO()
    write(buffer, specs, password, stamp)
    atomic_write(path, buffer.getvalue())
    return [(s.project.id, s.version, issued_map(s.project, s.kind, s.version)) for s in specs
            if (s.project.id, s.version) in new]


def _groups(projects: list[Project], per: str):
    if per == "project":
        return [(p.id, [p]) for p in projects]
    if per != "department":
        raise ValueError(f"per must be 'project' or 'department', not {per!r}")
    by_department: dict[str, list[Project]] = {}
    for p in projects:
        by_department.setdefault(p.department, []).append(p)
    stems = file_stems(by_department)
    return [(stems[department], group) for department, group in by_department.items()]
