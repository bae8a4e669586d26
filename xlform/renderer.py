"""Definitions -> issued workbooks: one per project, or one per 主管部门 with a sheet per project."""
from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .definition import Project
from .forms import form_kind
from .names import file_stems, sheet_name
from .registry import Registry
from .writer import SheetSpec, write


@dataclass
class Issued:
    file: Path
    sheets: list[tuple[str, str, int]]   # (sheet, template id, version)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def render(projects: list[Project], out_dir: str | Path = "output", per: str = "project",
           password: str | None = None, registry: Registry | None = None, jobs: int = 1) -> list[Issued]:
    """Render each group of projects into one workbook; records every issued version in the registry.

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
            specs = []
            for p in group:
                kind = form_kind(p.form)
                name = sheet_name(kind.spec["sheet"] if per == "project" else p.project, taken)
                specs.append(SheetSpec(p, kind, registry.version_for(p, kind, stamp), name))
            work.append((out_dir / f"{stem}.xlsx", specs, password, stamp))
        if jobs > 1 and len(work) > 1:
            import multiprocessing
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                pool.starmap(_write_file, work, chunksize=2)  # small: an even finish matters more
        else:
            for args in work:
                _write_file(*args)
        registry.record_files([(s.project, s.version, str(path), s.sheet) for path, specs, _, _ in work
                               for s in specs], stamp)
    finally:
        if own_registry:
            registry.close()
    return [Issued(path, [(s.sheet, s.project.id, s.version) for s in specs]) for path, specs, _, _ in work]


def _write_file(path: Path, specs: list[SheetSpec], password: str | None, stamp: str):
    buffer = io.BytesIO()
    write(buffer, specs, password, stamp)
    atomic_write(path, buffer.getvalue())


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


def atomic_write(path: Path, data: bytes):
    """Readers never see half a workbook: write beside it (its folder made if need be), then rename over;
    an error (read-only, disk full) leaves the old file as it was and no temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".xlsx")
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes it 0600: a colleague on the share must open it too (POSIX)
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it: put it straight back
    os.umask(mask)
    return mask
