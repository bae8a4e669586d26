"""The commands under real use (issue 17): the registry read and collect need, rejections that a later
registry can undo, inputs that cannot be opened (exit 2) or are no workbook (exit 1) in every command,
one-line usage errors, folders as inputs, a migration with nothing to do, and no -wal/-shm left behind."""
import ctypes
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers import GOOD, definition, fill_openpyxl, load_def, small_form
from test_upgrade import DATABASE_0_1
from xlform.cli import main
from xlform.issue.registry import Registry
from xlform.issue.renderer import render


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def only_line(result, *parts) -> str:
    """Standard error is exactly one line, an 'Error:' holding every part, and no traceback."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert all(str(p) in lines[0] for p in parts), (lines[0], parts)
    assert "Traceback" not in result.output
    return lines[0]


def run_unprivileged(*args, cwd):
    """The command in its own process, bound by file permissions: as root, without the capabilities that
    override them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so that a file of mode 000 cannot be opened."""
    def drop():
        if os.geteuid() == 0:
            libc = ctypes.CDLL(None, use_errno=True)
            for cap in (1, 2):
                if libc.prctl(24, cap, 0, 0, 0):   # PR_CAPBSET_DROP: gone from the program run next
                    raise OSError(ctypes.get_errno(), "cannot drop a capability")
    return subprocess.run([sys.executable, "-m", "xlform.cli", *map(str, args)], preexec_fn=drop, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture()
def issued(tmp_path):
    """The small form issued (registry reg/registry.db), a clean return of it in inbox/, and another registry
    (other.db) that exists but issued only another project."""
    project, form, reg = small_form(tmp_path, tmp_path / "reg" / "registry.db")
    reg.close()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = fill_openpyxl(form, inbox / "good.xlsx", GOOD)
    (tmp_path / "elsewhere").mkdir()
    other = Registry(tmp_path / "other.db")
    render([load_def(tmp_path / "elsewhere", definition([("产出指标", "数量指标", "a", "≥1次", 90)], id="x-9"))],
           tmp_path / "elsewhere" / "out", registry=other)
    other.close()
    return {"registry": tmp_path / "reg" / "registry.db", "other": tmp_path / "other.db", "form": form,
            "good": good, "inbox": inbox, "project": project}


def collect(inbox, db, registry, out: Path, *more):
    return run("collect", inbox, "--db", db, "--registry", registry, "--summary", out / "summary.xlsx",
               "--report", out / "reports", "--quiet", "--jobs", "1", *more)


# -- the registry ------------------------------------------------------------------------------------------
def test_read_and_collect_without_the_registry_stop_and_store_nothing(issued, tmp_path):
    missing = tmp_path / "none.db"
    r = run("read", issued["good"], "--registry", missing, "-o", tmp_path / "records.json")
    assert r.exit_code == 2
    only_line(r, f"no registry at {missing}", "--registry")
    assert not (tmp_path / "records.json").exists() and not missing.exists()
    out = tmp_path / "out"
    c = collect(issued["inbox"], out / "collect.db", missing, out)
    assert c.exit_code == 2
    only_line(c, f"no registry at {missing}", "--registry")
    assert not out.exists() and not missing.exists()   # no database, summary or report: nothing stored
    # the registry named after all: every return is read, none is a "duplicate" of a stored rejection
    c = collect(issued["inbox"], out / "collect.db", issued["registry"], out)
    assert c.exit_code == 0 and "1 files: 1 read, 1 records, 0 errors" in c.output, c.output


def test_a_return_rejected_as_unknown_is_read_once_the_registry_knows_it(issued, tmp_path, db_url):
    out = tmp_path / "out"
    first = collect(issued["inbox"], db_url, issued["other"], out)   # a registry that never issued this form
    assert first.exit_code == 1 and "1 read, 1 records, 1 errors" in first.output and "1 rejected" in first.output
    again = collect(issued["inbox"], db_url, issued["other"], out)   # it still does not know it: not read again
    assert again.exit_code == 1 and "0 read" in again.output and "1 skipped duplicates" in again.output
    right = collect(issued["inbox"], db_url, issued["registry"], out)
    assert right.exit_code == 0, right.output
    assert "1 read, 1 records, 0 errors" in right.output and "0 rejected" in right.output
    from xlform.storage.store import Store
    store = Store(db_url, create=False)
    try:
        rows = store.db.all("SELECT status, template_id, errors, total_score FROM submissions")
        files = store.db.all("SELECT status FROM files")
        problems = store.db.all("SELECT COUNT(*) FROM problems")
    finally:
        store.close()
    assert rows == [("current", "t-001", 0, 98)] and files == [("read",)] and problems == [(0,)]
    last = collect(issued["inbox"], db_url, issued["registry"], out)   # read, so now a duplicate
    assert last.exit_code == 0 and "0 read" in last.output and "1 skipped duplicates" in last.output


def test_a_rejection_stored_by_xlform_0_1_is_read_again_too(issued, tmp_path):
    """A 0.1 database holding the return rejected as unknown_template (as 0.1 stored it): collected with the
    registry, the database is upgraded and the return is read."""
    db_path = tmp_path / "collect.db"
    good = issued["good"]
    sha = hashlib.sha256(good.read_bytes()).hexdigest()
    record = {"file": str(good), "sheet": "自评表", "template": {"id": "t-001", "version": 1}, "problems": [
        {"severity": "error", "cell": "_xlform!B2", "code": "unknown_template", "message": "模板编号不在下发记录中"}]}
    db = sqlite3.connect(db_path)
    db.executescript(DATABASE_0_1)
    db.execute("INSERT INTO files VALUES (?,?,?,?,?,?)", (sha, str(good), good.stat().st_size, "2025-01-01",
                                                        "2025-01-01", "rejected"))
    db.execute("INSERT INTO file_paths VALUES (?,?,?)", (str(good), sha, "2025-01-01"))
    db.execute("INSERT INTO submissions (id, sha256, path, sheet, template_id, version, modified, received_at, "
               "status, errors, warnings, record) VALUES (1,?,?,?,?,?,?,?,?,?,?,?)",
               (sha, str(good), "自评表", "t-001", 1, "2025-01-01", "2025-01-01", "rejected", 1, 0,
                json.dumps(record, ensure_ascii=False)))
    db.execute("INSERT INTO problems (submission_id, cell, severity, code, message) VALUES (1,?,?,?,?)",
               ("_xlform!B2", "error", "unknown_template", "模板编号不在下发记录中"))
    db.commit()
    db.close()
    r = collect(issued["inbox"], db_path, issued["registry"], tmp_path / "out")
    assert r.exit_code == 0 and "1 read, 1 records, 0 errors" in r.output, r.output
    db = sqlite3.connect(db_path)
    assert db.execute("SELECT status, total_score, grade FROM submissions").fetchall() == [("current", 98, "优")]
    assert db.execute("SELECT COUNT(*) FROM problems").fetchone() == (0,)


def test_a_rejection_the_file_decides_stays_final(issued, tmp_path):
    """Only a rejection for an unknown template waits for the registry: a file that is no workbook is not read
    again on the next run."""
    (issued["inbox"] / "good.xlsx").unlink()
    (issued["inbox"] / "text.xlsx").write_text("这不是工作簿", encoding="utf-8")
    out = tmp_path / "out"
    assert "1 rejected" in collect(issued["inbox"], out / "c.db", issued["registry"], out).output
    again = collect(issued["inbox"], out / "c.db", issued["registry"], out)
    assert again.exit_code == 1 and "0 read" in again.output and "1 skipped duplicates" in again.output


# -- inputs that cannot be opened: exit 2 in every command ---------------------------------------------------
def commands_reading(path: Path, issued, tmp_path) -> dict[str, list]:
    """Each command given `path` where it wants a file to read."""
    reg, out = issued["registry"], tmp_path / "out"
    return {"check": ["check", path], "render": ["render", path, "-o", out, "--registry", reg],
            "read": ["read", path, "--registry", reg], "import": ["import", path, "-o", out],
            "print": ["print", path, "-o", out], "migrate": ["migrate", path, "--registry", reg, "-o", out],
            "migrate --to": ["migrate", issued["good"], "--to", path, "--registry", reg, "-o", out],
            "diff": ["diff", issued["project"].source, path]}


def test_a_missing_input_is_exit_2_in_one_line_everywhere(issued, tmp_path):
    missing = tmp_path / "missing.xlsx"
    for name, args in commands_reading(missing, issued, tmp_path).items():
        r = run(*args)
        assert r.exit_code == 2, (name, r.output)
        only_line(r, "missing.xlsx")
    assert not (tmp_path / "out").exists()


def test_an_input_that_loops_is_exit_2_everywhere(issued, tmp_path):
    loop = tmp_path / "loop.xlsx"
    loop.symlink_to(loop)   # exists as a name, opens as nothing: even root cannot read it
    for name, args in commands_reading(loop, issued, tmp_path).items():
        r = run(*args)
        assert r.exit_code == 2, (name, r.output)
        only_line(r, f"cannot read {loop}", "symbolic links")


def test_a_folder_where_a_file_is_wanted_is_exit_2(issued, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in ("migrate", "migrate --to", "diff"):
        r = run(*commands_reading(folder, issued, tmp_path)[name])
        assert r.exit_code == 2, (name, r.output)
        only_line(r, "folder")


def test_an_input_without_permission_is_exit_2_everywhere(issued, tmp_path):
    locked = tmp_path / "locked.xlsx"
    shutil.copy(issued["good"], locked)
    locked_yaml = tmp_path / "locked.yaml"
    shutil.copy(issued["project"].source, locked_yaml)
    locked.chmod(0)
    locked_yaml.chmod(0)
    try:
        for name, args in commands_reading(locked, issued, tmp_path).items():
            if name in ("check", "render", "migrate --to", "diff"):
                args = commands_reading(locked_yaml, issued, tmp_path)[name]
            r = run_unprivileged(*args, cwd=tmp_path)
            assert r.returncode == 2, (name, r.stdout, r.stderr)
            [line] = r.stderr.splitlines()
            assert line.startswith("Error: cannot read ") and "locked" in line and "permission denied" in line, line
        # a return in a collected folder: the others are collected, the command says it could not do it all
        shutil.copy(issued["good"], issued["inbox"] / "locked.xlsx")
        (issued["inbox"] / "locked.xlsx").chmod(0)
        (issued["inbox"] / "other.xlsx").write_bytes(issued["good"].read_bytes() + b"\0")  # another content
        out = tmp_path / "collected"
        r = run_unprivileged("collect", issued["inbox"], "--db", out / "c.db", "--registry", issued["registry"],
                             "--summary", out / "s.xlsx", "--report", out / "reports", "--quiet", "--jobs", "1",
                             cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        [error] = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
        assert f"cannot read {issued['inbox'] / 'locked.xlsx'}: permission denied" in error
        assert "3 files: 2 read" in r.stderr and "1 unreadable" in r.stderr
    finally:
        for f in (locked, locked_yaml, issued["inbox"] / "locked.xlsx"):
            if f.exists():
                f.chmod(0o644)


# -- a file that opens but is no workbook: a problem of that input, exit 1, in every command ----------------
def test_a_file_that_is_no_workbook_is_exit_1_everywhere(issued, tmp_path):
    text = issued["inbox"] / "text.xlsx"
    text.write_text("这不是工作簿", encoding="utf-8")
    reg, out = issued["registry"], tmp_path / "out"
    for args in (["read", text, "--registry", reg], ["import", text, "-o", out / "defs"],
                 ["migrate", text, "--registry", reg, "-o", out / "m"], ["print", text, "-o", out / "pdf"]):
        r = run(*args)
        assert r.exit_code == 1, (args[0], r.output)
        assert f"Error: {text}: 文件不是 Excel 工作簿" in r.stderr, (args[0], r.output)
    assert not (out / "pdf").exists()   # print: no PDF of it, and LibreOffice never asked
    c = collect(issued["inbox"], out / "c.db", reg, out)
    assert c.exit_code == 1 and "1 rejected" in c.output


def test_print_takes_a_folder_and_prints_its_workbooks_beside_one_that_is_none(issued, tmp_path):
    inbox = issued["inbox"]
    (inbox / "text.xlsx").write_text("这不是工作簿", encoding="utf-8")
    (inbox / "~$good.xlsx").write_bytes(b"lock")              # Office's lock file: not an input
    (inbox / ".hidden").mkdir()
    (inbox / ".hidden" / "copy.xlsx").write_bytes(b"hidden")   # a hidden folder: not an input
    r = run("print", inbox, "-o", tmp_path / "pdf")
    assert r.exit_code == 1, r.output
    assert [line for line in r.stderr.splitlines() if line.startswith("Error:")] == [
        f"Error: {inbox / 'text.xlsx'}: 文件不是 Excel 工作簿（.xlsx），无法读取。请在下发的自评表模板中填写并保存为 .xlsx 后重新报送。"]
    assert sorted(p.name for p in (tmp_path / "pdf").iterdir()) == ["good.pdf"]
    assert (tmp_path / "pdf" / "good.pdf").read_bytes().startswith(b"%PDF")


# -- folders as inputs: read and import find workbooks as collect does -----------------------------------------
def folder_of_returns(issued) -> Path:
    inbox = issued["inbox"]
    (inbox / "sub").mkdir()
    shutil.copy(issued["good"], inbox / "sub" / "again.xlsx")
    (inbox / "~$good.xlsx").write_bytes(b"lock")
    (inbox / ".hidden").mkdir()
    (inbox / ".hidden" / "copy.xlsx").write_bytes(b"hidden")
    (inbox / "notes.txt").write_text("notes", encoding="utf-8")
    return inbox


def test_read_takes_a_folder_as_collect_does(issued, tmp_path):
    inbox = folder_of_returns(issued)
    r = run("read", inbox, "--registry", issued["registry"], "-o", tmp_path / "r.json")
    assert r.exit_code == 0, r.output
    records = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert sorted(Path(x["file"]).relative_to(inbox).as_posix() for x in records) == ["good.xlsx", "sub/again.xlsx"]
    assert [x["total_score"] for x in records] == [98, 98]
    assert "2 files, 2 records, 0 errors" in r.stderr


def test_import_takes_a_folder_as_collect_does(issued, tmp_path):
    inbox = folder_of_returns(issued)
    (inbox / "good.xlsx").unlink()   # one return of the template, in sub/
    r = run("import", inbox, "-o", tmp_path / "defs")
    assert r.exit_code == 0, r.output
    assert [p.name for p in (tmp_path / "defs").iterdir()] == ["t-001.yaml"]
    assert "1 files, 1 projects found, 1 definitions written" in r.stderr


def test_a_folder_with_no_workbooks_is_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x", encoding="utf-8")
    for command in ("read", "import", "print"):
        r = run(command, tmp_path / "empty")
        assert r.exit_code == 2, (command, r.output)
        only_line(r, f"no workbooks in {tmp_path / 'empty'}")


# -- definitions not found; usage errors -------------------------------------------------------------------------
def test_check_and_render_of_a_folder_without_definitions_exit_2(tmp_path):
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "notes.txt").write_text("x", encoding="utf-8")
    for args in (["check", folder], ["render", folder, "-o", tmp_path / "out", "--registry", tmp_path / "r.db"]):
        r = run(*args)
        assert r.exit_code == 2, r.output
        only_line(r, f"no definitions in {folder}")
    assert not (tmp_path / "out").exists() and not (tmp_path / "r.db").exists()


@pytest.mark.parametrize("args,parts", [
    (["render", "examples", "--per", "nobody"], ["'nobody' is not one of", "xlform render --help"]),
    (["read"], ["Missing argument", "xlform read --help"]),
    (["nosuch"], ["No such command", "xlform --help"]),
    (["--bogus"], ["No such option", "--bogus", "xlform --help"]),
    (["collect", ".", "--jobs", "-1"], ["--jobs", "xlform collect --help"]),
    (["links", "issue"], ["give the department", "xlform links --help"]),
])
def test_a_usage_error_is_one_line(args, parts):
    r = run(*args)
    assert r.exit_code == 2
    only_line(r, *parts)


def test_xlform_alone_still_shows_the_help():
    r = run()
    assert "Commands:" in r.output and "Traceback" not in r.output


# -- migrate: a return already current ---------------------------------------------------------------------------
def test_migrate_of_a_current_return_says_so_and_writes_nothing(issued, tmp_path):
    before = sqlite3.connect(issued["registry"]).execute("SELECT COUNT(*) FROM issued_files").fetchone()
    r = run("migrate", issued["good"], "--registry", issued["registry"], "-o", tmp_path / "m")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == f"{issued['good']}: already on the version wanted (自评表: t-001 v1); nothing written"
    assert not (tmp_path / "m").exists()
    assert sqlite3.connect(issued["registry"]).execute("SELECT COUNT(*) FROM issued_files").fetchone() == before
    # --to the definition it was issued from: the same version, nothing to do either
    r = run("migrate", issued["good"], "--to", issued["project"].source, "--registry", issued["registry"],
            "-o", tmp_path / "m")
    assert r.exit_code == 0 and "already on the version wanted" in r.stdout and not (tmp_path / "m").exists()


# -- no -wal or -shm left behind --------------------------------------------------------------------------------
def test_no_wal_or_shm_file_stays_after_a_command(issued, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XLFORM_REGISTRY", raising=False)
    out = tmp_path / "output"

    def leftovers():
        return sorted(p.name for p in tmp_path.rglob("*") if p.name.endswith(("-wal", "-shm", "-journal")))
    steps = [["render", issued["project"].source],
             ["read", issued["good"]],
             ["collect", issued["inbox"], "--quiet", "--jobs", "1"],
             ["collect", issued["inbox"], "--quiet", "--jobs", "2"],
             ["export", "-o", tmp_path / "export.csv"],
             ["diff", "t-001", "1", "1"],
             ["links", "list"],
             ["migrate", issued["good"], "-o", tmp_path / "m"]]
    for args in steps:
        r = run(*args)
        assert r.exit_code in (0, 1), (args, r.output)
        assert leftovers() == [], args
    assert (out / "registry.db").is_file() and (out / "collect.db").is_file()


def test_a_rejection_read_again_by_two_workers_at_once_is_stored_once(issued, tmp_path, db_url):
    """The same content under two names, rejected, then collected by two processes side by side once the
    registry knows it: one reading replaces the rejection, the other is a duplicate, whatever the order."""
    shutil.copy(issued["good"], issued["inbox"] / "copy.xlsx")
    out = tmp_path / "out"
    first = collect(issued["inbox"], db_url, issued["other"], out)
    assert "1 read" in first.output and "1 skipped duplicates" in first.output and "1 rejected" in first.output
    right = run("collect", issued["inbox"], "--db", db_url, "--registry", issued["registry"], "--summary",
                out / "summary.xlsx", "--report", out / "reports", "--quiet", "--jobs", "2")
    assert right.exit_code == 0, right.output
    assert "2 files: 1 read, 1 records, 0 errors" in right.output and "1 skipped duplicates" in right.output
    from xlform.storage.store import Store
    store = Store(db_url, create=False)
    try:
        assert store.db.all("SELECT status, template_id FROM submissions") == [("current", "t-001")]
        assert store.db.all("SELECT COUNT(*) FROM file_paths") == [(2,)]
    finally:
        store.close()


def test_a_fifo_opens_and_is_no_workbook_without_a_wait(issued, tmp_path):
    """A FIFO named as a return opens (nothing to wait for) and is a problem of that input: exit 1, never a
    hang. Each run takes well under a second; 60 s only catches a command waiting for a writer."""
    fifo = tmp_path / "return.xlsx"
    os.mkfifo(fifo)
    for args in (["read", fifo, "--registry", issued["registry"]], ["import", fifo, "-o", tmp_path / "defs"],
                 ["print", fifo, "-o", tmp_path / "pdf"]):
        r = subprocess.run([sys.executable, "-m", "xlform.cli", *map(str, args)], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 1, (args[0], r.stderr)
        assert f"{fifo}" in r.stderr and "Traceback" not in r.stderr, (args[0], r.stderr)
