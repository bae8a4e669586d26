"""Errors and the exit-code policy, in one place.

Exit codes of every command:
  0  clean;
  1  returns or definitions with errors (the records, reports and workbooks are still written);
  2  the command could not run: bad usage, an unreadable input, an unwritable output, a locked or
     read-only database, a full disk. One line names the path and the fix; never a traceback.
"""
from __future__ import annotations

import errno
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

OK, PROBLEMS, CANNOT_RUN = 0, 1, 2


@dataclass(frozen=True)
class Problem:
    """Something wrong, and where: a file and line (definitions) or a sheet cell (workbooks)."""

    where: str      # "examples/a.yaml:12" or "自评表!F13"
    field: str      # "indicators.产出指标.数量指标[0].weight"
    message: str    # what is wrong and how to fix it
    code: str = "invalid"
    severity: str = "error"

    def __str__(self) -> str:
        field = f" {self.field}:" if self.field else ""
        return f"{self.where}:{field} {self.message}"


class XlformError(Exception):
    """Base of every error xlform raises on purpose; the CLI prints it without a traceback."""

    exit_code = PROBLEMS


class DefinitionError(XlformError):
    """A project definition (YAML) that cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class CannotRun(XlformError):
    """The command cannot do its job (a path it cannot read or write, a locked database, a full disk):
    one line that names the path and the fix."""

    exit_code = CANNOT_RUN


_OS_REASONS = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied", errno.ENOSPC: "no space left on the device",
               errno.EDQUOT: "disk quota exceeded", errno.ENOENT: "no such file or folder",
               errno.ENOTDIR: "part of the path is not a folder", errno.EISDIR: "it is a folder",
               errno.EEXIST: "a file of that name is in the way"}
_FULL = {errno.ENOSPC, errno.EDQUOT}
_SQLITE_REASONS = [  # (text in SQLite's message, reason, is the disk full, is it locked)
    ("database is locked", "the database is locked by another process", False, True),
    ("database table is locked", "the database is locked by another process", False, True),
    ("readonly database", "read-only (file system or permissions)", False, False),
    ("database or disk is full", "no space left on the device", True, False),
    ("unable to open database file", "cannot open it (a missing folder, no permission or a read-only "
                                     "file system)", False, False),
    ("file is not a database", "not a SQLite database", False, False),
    ("no such table", "not an xlform database (tables missing)", False, False),
    ("disk i/o error", "disk I/O error (a full or failing disk?)", False, False),
]


def reason(error: BaseException) -> str:
    """What went wrong, in a few words: 'read-only file system', 'the database is locked by another process'."""
    if isinstance(error, OSError):
        return _OS_REASONS.get(error.errno, (error.strerror or str(error)).lower())
    if isinstance(error, sqlite3.Error):
        text = str(error).lower()
        return next((r for key, r, _, _ in _SQLITE_REASONS if key in text), str(error))
    return f"{type(error).__name__}: {error}"


def _full(error: BaseException) -> bool:
    if isinstance(error, OSError):
        return error.errno in _FULL
    return isinstance(error, sqlite3.Error) and any(k in str(error).lower() for k, _, full, _ in _SQLITE_REASONS
                                                       if full)


def _locked(error: BaseException) -> bool:
    return isinstance(error, sqlite3.Error) and any(k in str(error).lower() for k, _, _, locked in _SQLITE_REASONS
                                                       if locked)


def _why_not_open(path: Path) -> str | None:
    """SQLite says only 'unable to open database file': find out why from the folder."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return _OS_REASONS[errno.EROFS]
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return _OS_REASONS[errno.EACCES]
    return None


def cannot(action: str, path, error: BaseException, fix: str) -> CannotRun:
    """One line: 'cannot write output/summary.xlsx: read-only file system; choose another file with --summary'.

    `fix` says where else to go; a full disk or a locked database get their own first remedy."""
    why = reason(error)
    if isinstance(error, sqlite3.OperationalError) and "unable to open" in str(error):
        why = _why_not_open(Path(path)) or why
    if _full(error):
        fix = f"free some space, or {fix}"
    elif _locked(error):
        fix = f"wait for the other xlform command to finish, or {fix}"
    return CannotRun(f"cannot {action} {path}: {why}; {fix}")


@contextmanager
def failing(action: str, path, fix: str, catch=(OSError, sqlite3.Error)):
    """Within this block an OSError or SQLite error becomes CannotRun naming `path` and `fix`."""
    try:
        yield
    except CannotRun:
        raise
    except catch as e:
        raise cannot(action, Path(path), e, fix) from e
