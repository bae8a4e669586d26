"""Failing with one clear line: the exit-code policy (0 clean, 1 returns or definitions with errors, 2 the
command could not run), real read-only folders and full disks, locked databases, files that crash the
reader, and a batch that never loses the good files' output because one file failed."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from conditions import full_disk, read_only
from helpers import GOOD, fill_openpyxl, small_form
from xlform.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error_line(result, *parts):
    """The command failed with exactly one 'Error:' line holding every part, and no traceback."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert all(p in errors[0] for p in parts), (errors[0], parts)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return errors[0]


def test_the_one_error_line_check_fails_on_a_traceback():
    """The check above must catch a command that prints a traceback and exits 2 (it once let one pass)."""
    import click

    @click.command()
    def broken():
        click.echo("Traceback (most recent call last):\n  File \"x.py\"\nKeyError: 'date'", err=True)
        click.echo("Error: cannot read x.xlsx", err=True)
        raise SystemExit(2)

    result = CliRunner().invoke(broken, [])
    assert result.exit_code == 2
    with pytest.raises(AssertionError):
        one_error_line(result, "cannot read")


@pytest.fixture()
def issued(tmp_path):
    """A registry, the issued form of one small project, and a return filled with openpyxl."""
    p, path, reg = small_form(tmp_path, tmp_path / "reg" / "registry.db")
    reg.close()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = fill_openpyxl(path, inbox / "good.xlsx", GOOD)
    return {"registry": reg.path, "form": path, "good": good, "inbox": inbox, "project": p}


def with_part(src: Path, dst: Path, part: str, change) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, change(data) if item.filename == part else data)
    return dst


def invalid_utf8(src: Path, dst: Path) -> Path:
    """The return with bytes that are not UTF-8 in the 实际完成情况 it holds (openpyxl writes inline strings)."""
    def change(data):
        assert "<t>完成</t>".encode() in data
        return data.replace("<t>完成</t>".encode(), b"<t>\xff\xfe</t>", 1)
    return with_part(src, dst, "xl/worksheets/sheet1.xml", change)


# -- a batch never loses the good files' output ---------------------------------------------------------
def test_read_writes_every_good_record_when_a_file_is_not_utf8(issued, tmp_path):
    good, reg = issued["good"], issued["registry"]
    bad = invalid_utf8(good, tmp_path / "bad.xlsx")
    second = shutil.copy(good, tmp_path / "second.xlsx")
    out = tmp_path / "out.json"
    r = run("read", good, bad, second, "-o", out, "--registry", reg)
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    records = json.loads(out.read_text(encoding="utf-8"))
    assert [Path(x["file"]).name for x in records] == ["good.xlsx", "bad.xlsx", "second.xlsx"]
    assert records[0]["total_score"] == records[2]["total_score"] == 98 and not records[0]["problems"]
    assert records[1]["problems"] and records[1]["problems"][0]["severity"] == "error"
    assert f"Error: {bad}: " in r.stderr


def test_any_unexpected_exception_costs_one_file(issued, tmp_path, monkeypatch):
    """Whatever a reader bug raises becomes an `internal` error record for that file; read and collect go on."""
    import xlform.returns.reader
    real = xlform.returns.reader._WorkbookReader.records

    def records(self):
        if self.file.endswith("crash.xlsx"):
            raise KeyError("a reader bug")
        return real(self)
    monkeypatch.setattr(xlform.returns.reader._WorkbookReader, "records", records)
    crash = shutil.copy(issued["good"], issued["inbox"] / "crash.xlsx")
    with_part(issued["good"], crash, "docProps/app.xml", lambda d: d + b" ")  # another content
    out = tmp_path / "out.csv"
    r = run("read", issued["good"], crash, "--format", "csv", "-o", out, "--registry", issued["registry"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    text = out.read_text(encoding="utf-8-sig")
    assert text.count("good.xlsx") == 4 and "crash.xlsx" in text
    [line] = [x for x in r.stderr.splitlines() if "crash.xlsx" in x]
    assert "读取此文件时出现意外错误" in line and "a reader bug" not in line and "KeyError" not in line  # no server detail
    c = run("collect", issued["inbox"], "--db", tmp_path / "c.db", "--summary", tmp_path / "s.xlsx",
            "--report", tmp_path / "reports", "--registry", issued["registry"], "--jobs", "2")
    assert c.exit_code == 1 and "2 files: 2 read" in c.stderr and "1 rejected" in c.stderr, c.output
    db = sqlite3.connect(tmp_path / "c.db")
    assert dict(db.execute("SELECT path, status FROM submissions").fetchall()) == {
        str(issued["good"]): "current", str(crash): "rejected"}
    assert db.execute("SELECT code FROM problems").fetchall() == [("internal",)]


# -- outputs that cannot be written: exit 2, one line naming the path and the fix ----------------------
def test_read_into_a_read_only_folder(issued, tmp_path):
    with read_only(tmp_path / "ro") as ro:
        r = run("read", issued["good"], "-o", ro / "out.json", "--registry", issued["registry"])
    assert r.exit_code == 2
    one_error_line(r, f"cannot write {ro / 'out.json'}: ", "; choose another file with -o")


def test_render_into_a_read_only_folder_and_registry(tmp_path):
    example = ROOT / "examples" / "jxjl-2019.yaml"
    with read_only(tmp_path / "ro") as ro:
        r = run("render", example, "-o", ro, "--registry", tmp_path / "reg.db")
        assert r.exit_code == 2
        one_error_line(r, f"cannot write to {ro}: ", "; choose another folder with -o")
        r = run("render", example, "-o", tmp_path / "out", "--registry", ro / "registry.db")
        assert r.exit_code == 2
        one_error_line(r, f"cannot open the registry {ro / 'registry.db'}: ", "name another with --registry")
    assert not list((tmp_path / "out").glob("*.xlsx"))


def test_a_registry_on_a_read_only_file_system_can_still_be_read(issued, tmp_path):
    folder = issued["registry"].parent
    with read_only(folder):
        r = run("read", issued["good"], "--registry", folder / "registry.db", "-o", tmp_path / "out.json")
        c = run("collect", issued["inbox"], "--db", tmp_path / "c.db", "--summary", tmp_path / "s.xlsx",
                "--report", tmp_path / "reports", "--registry", folder / "registry.db")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))[0]["total_score"] == 98
    assert c.exit_code == 0 and "1 files: 1 read, 1 records, 0 errors" in c.stderr, c.output


def test_not_a_registry(issued, tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)")
    r = run("read", issued["good"], "--registry", other)
    assert r.exit_code == 2
    one_error_line(r, f"cannot open the registry {other}: not an xlform database", "--registry")


def collect_args(issued, tmp_path, **paths):
    where = {"db": tmp_path / "c.db", "summary": tmp_path / "summary.xlsx", "report": tmp_path / "reports", **paths}
    return ["collect", issued["inbox"], "--registry", issued["registry"], "--jobs", "1",
            *[x for k, v in where.items() for x in (f"--{k}", v)]]


def test_collect_with_an_unwritable_summary_keeps_the_database_and_the_reports(issued, tmp_path):
    with read_only(tmp_path / "ro") as ro:
        r = run(*collect_args(issued, tmp_path, summary=ro / "summary.xlsx"))
    assert r.exit_code == 2
    one_error_line(r, f"cannot write {ro / 'summary.xlsx'}: ", "choose another file with --summary")
    assert "1 files: 1 read, 1 records" in r.stderr
    assert (tmp_path / "reports" / "测试局.html").is_file()
    again = run(*collect_args(issued, tmp_path))
    assert again.exit_code == 0 and "0 read" in again.stderr and "1 skipped duplicates" in again.stderr
    assert (tmp_path / "summary.xlsx").is_file()


def test_collect_with_unwritable_reports_keeps_the_database_and_the_summary(issued, tmp_path):
    """The reports are written by collect's own process, the summary beside it in a process of its own: a folder
    they cannot write is one line, and neither the summary nor the database is lost."""
    with read_only(tmp_path / "ro") as ro:
        r = run(*collect_args(issued, tmp_path, report=ro / "reports"))
    assert r.exit_code == 2
    one_error_line(r, f"cannot write the reports to {ro / 'reports'}: ", "choose another folder with --report")
    assert "1 files: 1 read, 1 records" in r.stderr
    assert (tmp_path / "summary.xlsx").is_file()
    again = run(*collect_args(issued, tmp_path))
    assert again.exit_code == 0 and "0 read" in again.stderr and "1 skipped duplicates" in again.stderr
    assert (tmp_path / "reports" / "测试局.html").is_file() and "1 department reports" in again.stderr


def test_outputs_go_into_folders_that_do_not_exist_yet(issued, tmp_path):
    r = run(*collect_args(issued, tmp_path, summary=tmp_path / "new" / "deep" / "summary.xlsx"))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "new" / "deep" / "summary.xlsx").is_file()
    r = run("read", issued["good"], "-o", tmp_path / "new" / "records" / "out.json", "--registry", issued["registry"])
    assert r.exit_code == 0 and (tmp_path / "new" / "records" / "out.json").is_file()


def test_collect_with_a_full_disk_for_the_summary(issued, tmp_path, monkeypatch):
    """The summary's temporary file is /dev/full: the kernel's own 'no space left on device'."""
    import tempfile

    import xlform.outputs
    real = tempfile.mkstemp

    def mkstemp(dir=None, prefix=None, suffix=None):
        if Path(dir) == tmp_path / "full":
            return os.open("/dev/full", os.O_WRONLY), str(Path(dir) / f"{prefix}x{suffix}")
        return real(dir=dir, prefix=prefix, suffix=suffix)
    monkeypatch.setattr(xlform.outputs.tempfile, "mkstemp", mkstemp)
    (tmp_path / "full").mkdir()
    r = run(*collect_args(issued, tmp_path, summary=tmp_path / "full" / "summary.xlsx"))
    assert r.exit_code == 2
    one_error_line(r, f"cannot write {tmp_path / 'full' / 'summary.xlsx'}: no space left on the device; "
                      "free some space, or choose another file with --summary")
    assert not list((tmp_path / "full").iterdir())


def test_collect_onto_a_full_disk(issued, tmp_path):
    with full_disk(tmp_path / "full") as full:
        r = run(*collect_args(issued, tmp_path, db=full / "c.db"))
    assert r.exit_code == 2
    one_error_line(r, f"{full / 'c.db'}: ", "free some space, or")


def test_a_full_disk_while_collecting_keeps_what_was_stored(issued, tmp_path, monkeypatch):
    import xlform.collecting.collector
    from xlform.storage.store import Store
    for i in range(4):
        with_part(issued["good"], issued["inbox"] / f"copy{i}.xlsx", "docProps/app.xml", lambda d, i=i: d + b" " * (i + 1))
    monkeypatch.setattr(xlform.collecting.collector, "BATCH_FILES", 1)
    real, calls = Store.add_file, []

    def add_file(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, *args)
    monkeypatch.setattr(Store, "add_file", add_file)
    r = run(*collect_args(issued, tmp_path))
    assert r.exit_code == 2
    one_error_line(r, f"cannot write the database {tmp_path / 'c.db'}: no space left on the device; "
                      "free some space, or run collect again")
    db = sqlite3.connect(tmp_path / "c.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT COUNT(*) FROM files").fetchone() == (2,)
    monkeypatch.setattr(Store, "add_file", real)
    again = run(*collect_args(issued, tmp_path))
    assert again.exit_code == 0 and "5 files: 3 read" in again.stderr and "2 skipped duplicates" in again.stderr


# -- databases -------------------------------------------------------------------------------------------
def test_two_collects_starting_together_on_a_new_database(issued, tmp_path):
    for i in range(6):
        with_part(issued["good"], issued["inbox"] / f"copy{i}.xlsx", "docProps/app.xml", lambda d, i=i: d + b" " * (i + 1))
    cmd = [sys.executable, "-m", "xlform.cli", "collect", str(issued["inbox"]), "--registry", str(issued["registry"]),
           "--db", str(tmp_path / "new.db"), "--jobs", "2", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = [subprocess.Popen(cmd + ["--summary", str(tmp_path / f"s{i}.xlsx"), "--report", str(tmp_path / f"r{i}")],
                             stderr=subprocess.PIPE, text=True, env=env) for i in range(3)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in runs]
    assert all(code == 0 for code, _ in results), results
    db = sqlite3.connect(tmp_path / "new.db")
    assert db.execute("SELECT COUNT(*) FROM files").fetchone() == (7,)


def test_export_without_a_database(tmp_path):
    r = run("export", "--db", tmp_path / "none.db")
    assert r.exit_code == 2
    one_error_line(r, f"no collection database at {tmp_path / 'none.db'}", "--db")


# -- definitions: the same exit code everywhere ----------------------------------------------------------
def test_migrate_without_a_registry_says_so(issued, tmp_path):
    r = run("migrate", issued["good"], "--registry", tmp_path / "none.db", "-o", tmp_path / "m")
    assert r.exit_code == 2
    one_error_line(r, f"no registry at {tmp_path / 'none.db'}", "--registry")
    assert not (tmp_path / "none.db").exists()


def test_a_bad_definition_is_exit_1_for_diff_and_migrate(issued, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("year: 2019\nid: t-001\nbogus: 1\n", encoding="utf-8")
    good = issued["project"].source
    d = run("diff", good, bad)
    m = run("migrate", issued["good"], "--to", bad, "--registry", issued["registry"], "-o", tmp_path / "m")
    assert d.exit_code == m.exit_code == 1
    for r in (d, m):
        assert f"Error: {bad}:3: bogus: unknown key 'bogus'" in r.stderr and "Traceback" not in r.output
    assert run("diff", good, tmp_path / "missing.yaml").exit_code == 2


def test_render_skips_a_shared_part_named_explicitly(tmp_path):
    files = sorted((ROOT / "examples").glob("*.yaml"))
    assert files[0].name == "_fhj-common.yaml"
    r = run("render", *files, "-o", tmp_path / "out", "--registry", tmp_path / "reg.db")
    assert r.exit_code == 0, r.output
    assert f"Note: {files[0]} skipped: a shared part for extends: (no id)" in r.stderr
    assert len(list((tmp_path / "out").glob("*.xlsx"))) == 8   # the seven 2019 forms and the Sichuan one
    alone = tmp_path / "_alone.yaml"
    alone.write_text("year: 2019\nid: x\n", encoding="utf-8")  # it has an id: a definition, and a bad one
    assert run("check", alone).exit_code == 1


def test_an_unexpected_error_is_one_line_exit_2(monkeypatch, tmp_path):
    import xlform.definition.definition

    def boom(*args, **kwargs):
        raise ZeroDivisionError("division by zero")
    monkeypatch.setattr(xlform.definition.definition, "load_many", boom)
    r = run("check", ROOT / "examples")
    assert r.exit_code == 2
    one_error_line(r, "internal error (ZeroDivisionError: division by zero); please report it")


# -- what collect considers a return ---------------------------------------------------------------------
def test_collect_skips_hidden_folders_and_files_that_are_not_workbooks(issued, tmp_path):
    inbox = issued["inbox"]
    (inbox / ".git").mkdir()
    shutil.copy(issued["good"], inbox / ".git" / "old.xlsx")
    (inbox / "说明.txt").write_text("请查收", encoding="utf-8")
    (inbox / "扫描件.pdf").write_bytes(b"%PDF-1.4")
    (inbox / "旧表.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1024)
    (inbox / "表.ET").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2048)
    r = run(*collect_args(issued, tmp_path))
    assert r.exit_code == 1
    assert "3 files: 3 read" in r.stderr and "2 rejected, 2 skipped (not workbooks)" in r.stderr, r.stderr
    db = sqlite3.connect(tmp_path / "c.db")
    rows = db.execute("SELECT s.path, p.code, p.message FROM problems p JOIN submissions s ON s.id = p.submission_id"
                      ).fetchall()
    assert sorted((Path(p).name, c) for p, c, _ in rows) == [("旧表.xls", "save_as_xlsx"), ("表.ET", "save_as_xlsx")]
    assert "文件是 .xls 格式，无法读取。请用 Excel、WPS 或 LibreOffice 打开后另存为 .xlsx 再重新报送。" in {m for _, _, m in rows}
