"""Real failure conditions for the tests: a read-only folder and a full disk, as root (CI) or not."""
from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest


def _run(*cmd) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


def _writable(folder: Path) -> bool:
    try:
        (folder / ".probe").write_bytes(b"x")
    except OSError:
        return False
    (folder / ".probe").unlink()
    return True


@contextmanager
def read_only(folder: Path):
    """The folder read-only for real: a read-only bind mount (root), else the immutable attribute (root
    where mounting is not allowed), else no write permission (not root: root ignores permission bits)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        undo = lambda: folder.chmod(0o755)  # noqa: E731
    elif _run("mount", "--bind", "-o", "ro", str(folder), str(folder)):
        undo = lambda: _run("umount", "--lazy", str(folder))  # noqa: E731  (lazy: even if a file is open)
    elif _run("chattr", "+i", str(folder)):
        undo = lambda: _run("chattr", "-i", str(folder))  # noqa: E731
    else:
        pytest.fail(f"cannot make {folder} read-only here (no bind mount, no chattr)")
    try:
        assert not _writable(folder), f"{folder} is still writable"
        yield folder
    finally:
        undo()


@contextmanager
def full_disk(folder: Path, size_kb: int = 512):
    """A small tmpfs at `folder`, filled up (root with mount rights only; skipped elsewhere)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not _run("mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)):
        if os.environ.get("CI"):   # CI runs as root on a machine that allows it: never a silent skip there
            pytest.fail("cannot mount a small tmpfs for the full-disk test (root with mount rights needed)")
        pytest.skip("mounting a small tmpfs needs root with mount rights")
    try:
        fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        yield folder
    finally:
        _run("umount", "--lazy", str(folder))
