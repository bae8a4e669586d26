"""Where xlform writes: every output path, and how a file is written so that nobody sees half of it."""
from __future__ import annotations

import csv
import errno
import os
import stat
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from .errors import CannotRun


class _LineFeeds:
    """What csv.writer writes into: its lines end in CR LF (so it quotes a cell holding a carriage return: it
    quotes only the characters of its line end, and a bare CR in an unquoted cell breaks the line in Excel and
    LibreOffice), and go on ending in LF."""

    def __init__(self, write):
        self._write = write

    def write(self, line: str):
        return self._write(line[:-2] + "\n")


def csv_writer(out):
    """csv.writer on `out` (anything with write()): lines end in LF, and a cell holding a line feed or a carriage
    return is quoted."""
    return csv.writer(_LineFeeds(out.write), lineterminator="\r\n")


def now() -> str:
    """The time stamp of an issue or a migration: UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def inside(folder: Path, name: str, suffix: str = "") -> Path:
    """folder/name+suffix, where name comes from data (an id, a department): one plain file name, and the
    path stays in the folder even through symlinks. Anything else is refused, never written."""
    base = name + suffix
    if (not name or base in (".", "..") or any(c in base for c in "/\\\0")
            or Path(base).is_absolute() or Path(base).name != base):
        raise CannotRun(f"cannot write {base!r} into {folder}: not a plain file name")
    target = Path(folder) / base
    real_folder = Path(folder).resolve()
    if target.resolve().parent != real_folder:  # a symlink planted in the folder points out of it
        raise CannotRun(f"cannot write {target}: it leads out of {folder} (a symbolic link)")
    return target


def atomic_write(path: Path, data: bytes):
    """Readers never see half a workbook: write beside it (its folder made if need be), then rename over;
    an error (read-only, disk full) leaves the old file as it was and no temporary file.

    Only a regular file or a new path is replaced so: a character device or a pipe (-o /dev/null, a FIFO a
    program reads) is written through, as the shell's > does, never replaced by a file; a folder, or a disk,
    where the file should be is refused."""
    with atomic_file(path) as f:
        f.write(data)


@contextmanager
def atomic_file(path: Path):
    """atomic_write for what is written piece by piece: a binary file to write, in place at the end."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with _through(path, mode) as f:
            yield f
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".xlsx")
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes it 0600: a colleague on the share must open it too (POSIX)
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _through(path: Path, mode: int):
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):  # a disk, a socket: nothing to write a file onto
        raise CannotRun(f"cannot write {path}: it is not a file but a "
                        f"{'block device (a disk)' if stat.S_ISBLK(mode) else 'socket'}; name a file")
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))  # never O_CREAT: the device is there
    return os.fdopen(fd, "wb")


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it: put it straight back
    os.umask(mask)
    return mask
