"""A folder of returned workbooks -> the collection database, a summary workbook and per-department reports.

Each worker process reads its share of the files and stores them itself, whole files in short write
transactions (SQLite serialises the writers; on PostgreSQL they write side by side, locking only the
templates they touch), so no record crosses a process boundary and a killed run leaves only complete
files, which the next run skips.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from multiprocessing.connection import wait as wait_for
from pathlib import Path

from ..errors import CannotRun, reason
from ..issue.registry import Registry, locate as registry_locate
from ..returns.quality import flag_copies
from ..returns.reader import OLD_FORMATS, WORKBOOKS, read_return
from ..storage.db import SQLITE
from ..storage.store import Prepared, Store
from ..xlsx.reader import Limits
from .processes import die_with_parent, few_collections, picklable

BATCH_FILES, BATCH_SECONDS = 50, 0.5
SHARE = 8   # files a worker takes at a time (see _taken)


@dataclass
class Outcome:
    files: int = 0          # files found
    read: int = 0           # new files read
    records: int = 0
    errors: int = 0
    warnings: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0        # files that are not workbooks (.txt, .pdf …), not read
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, why): could not be opened
    seconds: float = 0.0
    missing: list[dict] = field(default_factory=list)   # issued templates with no current submission
    reading: float = 0.0    # seconds spent reading files, and storing them, summed over the processes
    storing: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)   # seconds of the outputs: summary, reports

    def add(self, other: dict):
        for k in _COUNTS:
            setattr(self, k, getattr(self, k) + other[k])

    def line(self) -> str:
        return (f"{self.files} files: {self.read} read, {self.records} records, {self.errors} errors, "
                f"{self.warnings} warnings, {self.duplicates} skipped duplicates, {self.rejected} rejected, "
                f"{self.skipped} skipped (not workbooks), " +
                (f"{len(self.unreadable)} unreadable, " if self.unreadable else "") +
                f"{len(self.missing)} not yet returned, {self.seconds:.1f} s (reading {self.reading:.1f} s, storing "
                f"{self.storing:.1f} s in all processes" +
                "".join(f", {name} {seconds:.1f} s" for name, seconds in self.phases.items()) + ")")


_COUNTS = ("read", "records", "errors", "warnings", "duplicates", "rejected", "unreadable", "reading", "storing")


def find_files(dirs, exclude: set[Path]) -> tuple[list[Path], int]:
    """The workbooks under the folders (.xlsx, .xlsm and the old formats), and how many other files were
    skipped; Office lock files (~$…), hidden files and folders (.name) and our outputs are left out."""
    out, other = set(), set()
    names = {p.name for p in exclude}  # resolve only what may be excluded: a collection has many files
    for d in map(Path, dirs):
        candidates = [d] if d.is_file() else d.rglob("*")
        for f in candidates:
            inside = f.relative_to(d).parts if f != d else (f.name,)
            if any(part.startswith(".") for part in inside) or f.name.startswith("~$") or not f.is_file():
                continue
            if f.name in names and f.resolve() in exclude:
                continue
            (out if f.suffix.lower() in WORKBOOKS | OLD_FORMATS else other).add(f)
    return sorted(out), len(other)


def content_key(path: Path, size: int) -> str:
    """The content's key. A file over the size limit is refused unread, so it is not hashed whole either (a
    20 GB file would cost a minute): its key is the hash of its size and first MB, marked `large-`."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        if size > Limits().max_bytes:
            h.update(f"{size}:".encode() + f.read(1 << 20))
            return "large-" + h.hexdigest()
        # (64 KB at a time: a read of 1 MB allocates, maps and unmaps 1 MB, for a return of 12 KB too: 4% of a read)
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def read_one(path: str, registry: Registry, known: frozenset):
    """(path, sha256, size, modified, database rows, or None for content stored before this run)."""
    p = Path(path)
    try:
        st = p.stat()
        sha = content_key(p, st.st_size)
    except OSError as e:
        return path, None, 0, "", reason(e)
    modified = datetime.fromtimestamp(st.st_mtime, timezone.utc).isoformat(timespec="microseconds")
    if sha in known:
        return path, sha, st.st_size, modified, None
    return path, sha, st.st_size, modified, [Prepared.of(r) for r in read_return(p, registry)]


def store_batch(store: Store, batch: list, now: str, counts: dict, lock=None):
    """Store read files in one transaction, each whole; counts what happened. Writers take `lock` first:
    it wakes a waiting writer at once, where SQLite's own busy wait sleeps in growing steps.

    Files go in by content hash and path, the order of every other writer too, and the transaction first
    locks the templates it may make current: concurrent PostgreSQL writers then never deadlock (should one
    still be chosen as a deadlock's victim, the whole batch is stored again)."""
    batch = sorted(batch, key=lambda f: (f[1] or "", f[0]))
    templates = {r.template_id for _, sha, *_, rows in batch if sha and rows for r in rows if r.usable}

    def write() -> dict:
        done = {k: [] if isinstance(v, list) else 0 for k, v in counts.items()}
        with store.transaction(templates):
            for path, sha, size, modified, rows in batch:
                if sha is None:  # vanished or unreadable from disk: the command could not do its job (exit 2)
                    done["unreadable"].append((path, rows))
                    continue
                status = None if rows is None else store.add_file(path, sha, size, modified, now, rows)
                if rows is None:
                    store.add_path(path, sha, now)
                if status is None:  # content already collected, under this or another name
                    done["duplicates"] += 1
                    continue
                done["read"] += 1
                done["records"] += len(rows)
                done["errors"] += sum(r.errors for r in rows)
                done["warnings"] += sum(r.warnings for r in rows)
                done["rejected"] += status == "rejected"
        return done
    with lock or _NO_LOCK:
        done = store.retrying(write)
    for k, v in done.items():
        counts[k] += v


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NO_LOCK = _NoLock()


def run_share(paths, store: Store, registry: Registry, known: frozenset, now: str, tick, lock=None) -> dict:
    """Read and store a share of the files (any iterable of paths), committing whole files every BATCH_FILES
    files or BATCH_SECONDS."""
    counts = {k: [] if k == "unreadable" else 0 for k in _COUNTS}
    batch, last = [], time.monotonic()
    with few_collections():
        for path in paths:
            started = time.monotonic()
            batch.append(read_one(path, registry, known))
            counts["reading"] += time.monotonic() - started
            tick()
            if len(batch) >= BATCH_FILES or time.monotonic() - last >= BATCH_SECONDS:
                started = time.monotonic()
                store_batch(store, batch, now, counts, lock)
                batch, last = [], time.monotonic()
                counts["storing"] += last - started
        if batch:
            started = time.monotonic()
            store_batch(store, batch, now, counts, lock)
            counts["storing"] += time.monotonic() - started
    return counts


def by_layout(files: list[Path], registry: Registry) -> list[str]:
    """The files as paths, those of one layout together (the layout of the template whose issued name the file
    has: see Registry.layouts_by_name), the others after them. A worker then meets most layouts alone, in a run:
    what a layout costs the first time a process meets it (its outline, its fields: 1 ms) is paid about once,
    where two workers paid it twice (0.5 ms a return, for a worker reading 500 of 1,000 returns of 222
    layouts). Only the order changes: a file renamed since it was issued is read as any other."""
    layouts = registry.layouts_by_name()
    return [str(f) for f in sorted(files, key=lambda f: (layouts.get(f.name.casefold(), "\uffff"), f))]


def _taken(paths: list[str], stretches, me: int) -> Iterator[str]:
    """The paths worker `me` reads, SHARE at a time: from the start of its own stretch of `paths` (the workers'
    stretches one after the other, `stretches` their shared [start, end) bounds), then, its own read, from the
    end of the stretch with the most left, until none is. So each worker reads returns of the same layouts
    together (see by_layout), and the workers end together, where halves fixed at the start left one worker
    reading alone for the last 60 ms of a 2.4 s collection."""
    workers = len(stretches) // 2
    while True:
        with stretches.get_lock():
            start, end = stretches[2 * me], stretches[2 * me + 1]
            if start < end:   # its own, from the start
                stretches[2 * me] = end = min(start + SHARE, end)
            else:             # another's, from the end
                other = max(range(workers), key=lambda w: stretches[2 * w + 1] - stretches[2 * w])
                start, end = stretches[2 * other], stretches[2 * other + 1]
                if start >= end:
                    return
                stretches[2 * other + 1] = start = max(end - SHARE, start)
        yield from paths[start:end]


def _worker(paths, stretches, me, db_location, registry_location, known, now, counter, results, lock):
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it stops us if it is interrupted
    store = registry = None
    try:
        store, registry = Store(db_location), Registry(registry_location, create=False)
    except Exception as e:  # a server that went away since the parent connected: one line in the parent
        results.put(("failed", picklable(e)))
        for opened in (store, registry):
            if opened:
                opened.close()
        return

    def tick():
        with counter.get_lock():
            counter.value += 1
    try:
        results.put(("done", run_share(_taken(paths, stretches, me), store, registry, known, now, tick, lock)))
    except Exception as e:  # the parent reports it (a full disk, a database error) in one line
        results.put(("failed", picklable(e)))
    finally:
        store.close()
        registry.close()


def collect(dirs, store: Store, registry_path, jobs: int = 0, progress: bool = False,
            exclude: set[Path] = frozenset()) -> Outcome:
    """Collect into `store` with the registry at `registry_path` (a path or a URL, see registry.locate)."""
    started = time.monotonic()
    registry_path = registry_locate(registry_path)
    ours = {f.resolve() for f in store.files()}
    found, skipped = find_files(dirs, {Path(p).resolve() for p in exclude} | ours)
    outcome = Outcome(files=len(found), skipped=skipped)
    jobs = min(jobs or os.cpu_count() or 1, max(len(found), 1))
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    registry = Registry(registry_path, create=False)
    bar = None
    try:
        paths = by_layout(found, registry)
        # a file rejected because the registry did not know its template is read again once it does
        known = frozenset(store.known() - {sha for sha, template_id, version in store.awaiting_registry()
                                           if template_id and registry.lookup(template_id, version)})
        if progress:
            import click
            bar = click.progressbar(length=len(paths), label="collecting", file=sys.stderr)
            bar.__enter__()
        if jobs == 1:
            outcome.add(run_share(paths, store, registry, known, now, (lambda: bar.update(1)) if bar else
                                  (lambda: None)))
        else:
            _run_workers(paths, jobs, store.location, registry_path, known, now, outcome, bar)
        flag_copies(store, registry)   # 质量提示 across returns: the same text in different departments' returns
        outcome.missing = missing_returns(store, registry)
    finally:
        if bar:
            bar.__exit__(None, None, None)
        registry.close()
    outcome.seconds = time.monotonic() - started
    return outcome


def _run_workers(paths, jobs, db_location, registry_location, known, now, outcome: Outcome, bar):
    ctx = multiprocessing.get_context("fork")
    counter, results = ctx.Value("l", 0), ctx.SimpleQueue()
    stretches = ctx.Array("l", [n * len(paths) // jobs for w in range(jobs) for n in (w, w + 1)])
    # SQLite: one writer at a time anyway, and the lock wakes the next at once; PostgreSQL: side by side
    lock = ctx.Lock() if db_location.engine == SQLITE else None
    workers = [ctx.Process(target=_worker, args=(paths, stretches, me, db_location, registry_location, known, now,
                                                 counter, results, lock), daemon=True) for me in range(jobs)]
    for w in workers:
        w.start()
    shown, failures = 0, []

    def received():
        while not results.empty():
            how, what = results.get()
            if how == "done":
                outcome.add(what)
            else:
                failures.append(what)
    try:
        running = {w.sentinel for w in workers}
        while running:   # (woken as soon as a worker ends; else every 50 ms, to move the bar)
            running -= set(wait_for(list(running), timeout=0.05))
            received()
            shown = _advance(bar, shown, counter.value)
        received()
    except BaseException:
        for w in workers:  # interrupted: committed files stay, the next run does the rest
            w.terminate()
        for w in workers:
            w.join()
        raise
    for w in workers:
        w.join()
    _advance(bar, shown, counter.value)
    if failures:
        raise failures[0]  # what the workers stored is kept: the next run does the rest
    failed = [w.exitcode for w in workers if w.exitcode]
    if failed:
        raise CannotRun(f"a collecting process stopped unexpectedly (exit {failed[0]}); what it stored is kept: "
                        "run collect again to complete")


def _advance(bar, shown: int, done: int) -> int:
    """Move the bar to `done` files (read once: the workers go on counting meanwhile)."""
    if bar and done > shown:
        bar.update(done - shown)
    return done


def missing_returns(store: Store, registry: Registry) -> list[dict]:
    """Issued templates (latest version of each id) with no current submission: 未报送."""
    issued = registry.latest_issued()
    returned = store.current_templates()
    return [{"template_id": i, "version": v, "project": p, "department": d}
            for i, v, p, d in issued if i not in returned]
