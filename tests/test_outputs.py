"""Outputs never replace what is not a regular file: -o onto a device or a FIFO writes through it, -o - is
standard output, a folder where a file belongs is one line and exit 2; migrate never writes two inputs to
one output in a run."""
import json
import os
import stat
import threading
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from helpers import GOOD, fill_openpyxl, small_form
from test_failures import one_error_line
from xlform.cli import main
from xlform.errors import CannotRun
from xlform.outputs import atomic_write

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture()
def issued(tmp_path):
    """A registry, the small form issued, and a return filled with openpyxl."""
    _, form, reg = small_form(tmp_path, tmp_path / "reg" / "registry.db")
    reg.close()
    good = fill_openpyxl(form, tmp_path / "good.xlsx", GOOD)
    return {"registry": reg.path, "good": good}


def read_records(issued, out):
    return run("read", issued["good"], "-o", out, "--registry", issued["registry"])


def a_null_device(path: Path) -> Path:
    """A /dev/null of our own (same device numbers) in tmp_path: the real one is never at risk."""
    null = os.stat("/dev/null")
    os.mknod(path, stat.S_IFCHR | 0o666, null.st_rdev)
    return path


@as_root
def test_read_onto_a_character_device_writes_through_it(issued, tmp_path):
    """The finding: `read filled.xlsx -o mynull` left a regular file where the device was."""
    null = a_null_device(tmp_path / "mynull")
    r = read_records(issued, null)
    assert r.exit_code == 0, r.output
    assert stat.S_ISCHR(os.stat(null).st_mode) and os.stat(null).st_rdev == os.stat("/dev/null").st_rdev
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_read_onto_a_fifo_writes_through_it(issued, tmp_path):
    fifo = tmp_path / "records.fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    r = read_records(issued, fifo)
    reader.join(timeout=60)  # far bound: the write ends as soon as the command does
    assert r.exit_code == 0, r.output
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    [record] = json.loads(got[0].decode("utf-8"))
    assert record["total_score"] == 98 and Path(record["file"]).name == "good.xlsx"


@pytest.mark.parametrize("command", ["read", "export"])
def test_dash_is_standard_output(issued, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    if command == "read":
        r = run("read", issued["good"], "-o", "-", "--registry", issued["registry"])
    else:
        c = run("collect", tmp_path / "good.xlsx", "--db", tmp_path / "c.db", "--summary", tmp_path / "s.xlsx",
                "--report", tmp_path / "reports", "--registry", issued["registry"], "--jobs", "1")
        assert c.exit_code == 0, c.output
        r = run("export", "--db", tmp_path / "c.db", "--format", "json", "-o", "-")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["total_score"] == 98
    assert not (tmp_path / "-").exists()


def test_a_folder_where_the_records_file_belongs(issued, tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    r = read_records(issued, folder)
    assert r.exit_code == 2
    one_error_line(r, str(folder))
    assert folder.is_dir() and not list(folder.iterdir())


def test_atomic_write_refuses_a_folder_and_a_disk_and_replaces_a_file(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(IsADirectoryError):
        atomic_write(folder, b"x")
    plain = tmp_path / "plain.csv"
    plain.write_bytes(b"old")
    atomic_write(plain, b"new")
    assert plain.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "plain.csv"]


@as_root
def test_atomic_write_never_opens_a_block_device(tmp_path):
    """240-254 are the majors for local use: nothing answers there, so even a wrong open would write nowhere."""
    disk = tmp_path / "disk"
    os.mknod(disk, stat.S_IFBLK | 0o600, os.makedev(240, 7))
    with pytest.raises(CannotRun, match="block device"):
        atomic_write(disk, b"x")
    assert stat.S_ISBLK(os.stat(disk).st_mode)


def test_migrate_never_writes_two_inputs_to_one_output(issued, tmp_path):
    """The finding: `migrate f1.xlsx f2.xlsx` of one template wrote t-001.xlsx twice, the first lost, exit 0."""
    from helpers import SMALL, definition, load_def
    from xlform.issue.registry import Registry
    from xlform.issue.renderer import render
    (tmp_path / "v2").mkdir()   # a second version to migrate to (a return already current is left alone)
    reg = Registry(issued["registry"])
    render([load_def(tmp_path / "v2", definition(SMALL, goal="新的年度目标"))], tmp_path / "v2", registry=reg)
    reg.close()
    second = fill_openpyxl(issued["good"], tmp_path / "second.xlsx", {"F7": 70})
    out = tmp_path / "m"
    r = run("migrate", issued["good"], second, "--registry", issued["registry"], "-o", out)
    assert r.exit_code == 1, r.output
    one_error_line(r, f"{second}: ", str(out / "t-001.xlsx"), str(issued["good"]))
    assert sorted(p.name for p in out.iterdir()) == ["t-001.migration.csv", "t-001.xlsx"]
    assert openpyxl.load_workbook(out / "t-001.xlsx")["自评表"]["F7"].value == 80   # the first input's


def test_render_never_writes_two_definitions_to_one_workbook(tmp_path):
    """Two definitions of one id were both rendered into <id>.xlsx as v1 and v2: v1's workbook was lost while
    the registry still named it. The second is reported and left out."""
    from helpers import definition, write_def
    one = write_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥1次", 90)], project="第一"), "one.yaml")
    two = write_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥1次", 90)], project="第二"), "two.yaml")
    r = run("render", one, two, "-o", tmp_path / "out", "--registry", tmp_path / "r.db")
    assert r.exit_code == 1
    one_error_line(r, f"{two}: id: id 't-001' is also used by {one}")
    assert r.stdout.splitlines() == [f"{tmp_path / 'out' / 't-001.xlsx'}  自评表  t-001 v1"]
    assert openpyxl.load_workbook(tmp_path / "out" / "t-001.xlsx")["自评表"]["C3"].value == "第一"
