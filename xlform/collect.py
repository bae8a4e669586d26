"""A folder of returned workbooks -> the collection database, a summary workbook and per-department reports.

Files are read in parallel worker processes; only the main process writes the database, one transaction
per file, so a killed run is completed by the next without duplicates.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .messages import problem
from .record import Record
from .registry import Registry
from .store import Prepared, Store


@dataclass
class Outcome:
    files: int = 0          # files found
    read: int = 0           # new files read
    records: int = 0
    errors: int = 0
    warnings: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0
    missing: list[dict] = field(default_factory=list)   # issued templates with no current submission

    def line(self) -> str:
        return (f"{self.files} files: {self.read} read, {self.records} records, {self.errors} errors, "
                f"{self.warnings} warnings, {self.duplicates} skipped duplicates, {self.rejected} rejected, "
                f"{len(self.missing)} not yet returned, {self.seconds:.1f} s")


def find_files(dirs, exclude: set[Path]) -> list[Path]:
    """Every regular file under the folders, except Office lock files (~$…), hidden files and our outputs."""
    out = set()
    for d in map(Path, dirs):
        candidates = [d] if d.is_file() else d.rglob("*")
        for f in candidates:
            if f.is_file() and not f.name.startswith(("~$", ".")) and f.resolve() not in exclude:
                out.add(f)
    return sorted(out)


# -- the worker side (module-level so that it pickles) -------------------------------------------
_REGISTRY: Registry | None = None
_KNOWN: frozenset = frozenset()


def _init(registry_path: str, known: frozenset):
    global _REGISTRY, _KNOWN
    _REGISTRY = Registry(registry_path, create=False)
    _KNOWN = known


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _work(path: str):
    """(path, sha256, size, modified, records or None for content already stored)."""
    from .reader import read_file
    p = Path(path)
    try:
        st = p.stat()
        sha = _sha256(p)
    except OSError as e:
        return path, None, 0, "", None
    modified = datetime.fromtimestamp(st.st_mtime, timezone.utc).isoformat(timespec="microseconds")
    if sha in _KNOWN:
        return path, sha, st.st_size, modified, None
    try:
        records = read_file(p, _REGISTRY)
    except Exception as e:  # a reader bug must cost one file, not the run
        records = [Record(path, problems=[problem("unsupported", p.name, detail=f"{type(e).__name__}: {e}")])]
    # database rows are built here, in parallel, so the process that writes the database only inserts
    return path, sha, st.st_size, modified, [Prepared.of(r) for r in records]


def collect(dirs, store: Store, registry_path: str | Path, jobs: int = 0, progress: bool = False,
            exclude: set[Path] = frozenset()) -> Outcome:
    started = time.monotonic()
    files = find_files(dirs, {Path(p).resolve() for p in exclude} | {store.path.resolve()})
    outcome = Outcome(files=len(files))
    jobs = jobs or os.cpu_count() or 1
    known = frozenset(store.known())
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    paths = [str(f) for f in files]
    if jobs == 1 or len(paths) < 2:
        _init(str(registry_path), known)
        results = map(_work, paths)
        pool = None
    else:
        pool = multiprocessing.get_context("fork").Pool(jobs, _init, (str(registry_path), known))
        results = pool.imap_unordered(_work, paths, chunksize=4)
    bar = None
    if progress:
        import click
        bar = click.progressbar(length=len(paths), label="collecting", file=sys.stderr)
        bar.__enter__()
    try:
        with store.batches() as done_one:
            for path, sha, size, modified, records in results:
                if bar:
                    bar.update(1)
                if sha is None:  # unreadable from disk: nothing to store under a content hash
                    outcome.rejected += 1
                    continue
                if records is None:  # a content known before this run
                    store.add_path(path, sha, now)
                    status = None
                else:
                    status = store.add_file(path, sha, size, modified, now, records)
                done_one()
                if status is None:  # content already collected, under this or another name
                    outcome.duplicates += 1
                    continue
                outcome.read += 1
                outcome.records += len(records)
                outcome.errors += sum(r.errors for r in records)
                outcome.warnings += sum(r.warnings for r in records)
                outcome.rejected += status == "rejected"
    except BaseException:
        if pool:
            pool.terminate()  # interrupted: what was committed stays, the next run does the rest
        raise
    finally:
        if bar:
            bar.__exit__(None, None, None)
        if pool:
            pool.close()
            pool.join()
    outcome.missing = missing_returns(store, registry_path)
    outcome.seconds = time.monotonic() - started
    return outcome


def missing_returns(store: Store, registry_path) -> list[dict]:
    """Issued templates (latest version of each id) with no current submission: 未报送."""
    registry = Registry(registry_path, create=False)
    try:
        issued = registry.db.execute(
            "SELECT id, MAX(version), project, department FROM templates GROUP BY id ORDER BY department, id"
        ).fetchall()
    finally:
        registry.close()
    returned = {r[0] for r in store.rows("SELECT template_id FROM submissions WHERE status='current'")}
    return [{"template_id": i, "version": v, "project": p, "department": d}
            for i, v, p, d in issued if i not in returned]
