"""The SQLite databases (registry, collection): opened together by several processes, and read where
nothing may be written."""
import os
import subprocess
import sys
import time
from pathlib import Path

from conditions import read_only
from xlform.kinds.forms import form_kind
from xlform.issue.registry import Registry
from xlform.storage.store import Store

ROOT = Path(__file__).resolve().parent.parent


def test_many_processes_opening_a_new_database_at_once(tmp_path):
    """Switching a new database to WAL takes a lock SQLite does not wait for: no 'database is locked'."""
    code = ("import sys, time; from pathlib import Path; from xlform.storage.store import Store; "
            "t = float(sys.argv[2]); time.sleep(max(0, t - time.time())); Store(Path(sys.argv[1])).close()")
    for n in range(8):
        start = time.time() + 0.5
        procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / f"{n}.db"), str(start)],
                                  stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
                 for _ in range(4)]
        assert [(p.wait(timeout=60), p.stderr.read()) for p in procs] == [(0, "")] * 4



def test_a_registry_and_a_database_on_a_read_only_file_system_can_be_read(tmp_path, examples):
    folder = tmp_path / "ro"
    folder.mkdir()
    reg = Registry(folder / "registry.db")
    reg.version_for(examples["xj-jrj-2019-01"], form_kind("project"), "2019-12-01T00:00:00+00:00")
    reg.close()
    Store(folder / "c.db").close()
    with read_only(folder):
        reg = Registry(folder / "registry.db", create=False)
        assert [t[0] for t in reg.templates()] == ["xj-jrj-2019-01"]
        reg.close()
        store = Store(folder / "c.db", create=False)
        assert store.current_records() == []
        store.close()
        assert sorted(p.name for p in folder.iterdir()) == ["c.db", "registry.db"]
