"""The `xlform` command: check and render, exit codes, messages on stderr, nothing rendered twice."""
import subprocess
import sys
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from helpers import definition, write_def
from xlform.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(*args, env=None):
    return CliRunner().invoke(main, list(map(str, args)), env=env)


def test_render_examples_writes_eight_locked_workbooks(tmp_path):
    out = tmp_path / "out"
    r = run("render", EXAMPLES, "-o", out, "--registry", tmp_path / "reg.db")
    assert r.exit_code == 0, r.output
    files = sorted(out.glob("*.xlsx"))
    assert [f.stem for f in files] == ["sc-2023-01"] + [f"xj-jrj-2019-0{i}" for i in range(1, 8)]
    assert "xj-jrj-2019-07 v1" in r.output
    for f in files:
        assert openpyxl.load_workbook(f)["自评表"].protection.sheet


def test_registry_defaults_to_output_whatever_o_says(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XLFORM_REGISTRY", raising=False)
    r = run("render", EXAMPLES / "jxjl-2019.yaml", "-o", tmp_path / "elsewhere")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "output" / "registry.db").is_file() and (tmp_path / "elsewhere" / "xj-jrj-2019-06.xlsx").is_file()


def test_password_from_environment(tmp_path):
    r = run("render", EXAMPLES / "jxjl-2019.yaml", "-o", tmp_path, "--registry", tmp_path / "r.db",
            env={"XLFORM_PASSWORD": "abc"})
    assert r.exit_code == 0
    assert openpyxl.load_workbook(tmp_path / "xj-jrj-2019-06.xlsx")["自评表"].protection.password


def test_check_reports_errors_with_file_and_line_and_exit_1(tmp_path):
    good = write_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥1次", 90)]), "good.yaml")
    bad = write_def(tmp_path, "year: 2019\nid: x\nbogus: 1\n", "bad.yaml")
    r = run("check", good, bad)
    assert r.exit_code == 1
    assert f"ok {good}" in r.output
    assert f"Error: {bad}:3: bogus: unknown key 'bogus'" in r.output
    assert f"Error: {bad}:1: project: missing required field 'project'" in r.output


def test_render_renders_the_good_and_fails_on_the_bad(tmp_path):
    write_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥1次", 90)]), "good.yaml")
    write_def(tmp_path, "year: 2019\n", "bad.yaml")
    r = run("render", tmp_path, "-o", tmp_path / "out", "--registry", tmp_path / "r.db")
    assert r.exit_code == 1 and (tmp_path / "out" / "t-001.xlsx").is_file()
    assert "bad.yaml" in r.output


def test_usage_errors_exit_2(tmp_path):
    assert run("render", tmp_path / "nothere.yaml").exit_code == 2
    assert run("render", EXAMPLES, "--per", "nobody").exit_code == 2
    assert run("check").exit_code == 2


def test_installed_command_and_help():
    r = subprocess.run([sys.executable, "-m", "xlform.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "render" in r.stdout and "check" in r.stdout


def test_render_in_parallel_writes_the_same_workbooks(tmp_path):
    from xlform.xlsx.reader import Package
    for jobs in ("1", "2"):
        r = run("render", EXAMPLES, "-o", tmp_path / jobs, "--registry", tmp_path / f"r{jobs}.db", "--jobs", jobs)
        assert r.exit_code == 0, r.output
    for f in sorted((tmp_path / "1").glob("*.xlsx")):
        with Package(f) as a, Package(tmp_path / "2" / f.name) as b:
            assert a.sheet(a.sheets[0]).cells == b.sheet(b.sheets[0]).cells


def test_render_starts_no_more_processes_than_it_has_work(tmp_path, monkeypatch):
    """--jobs 1000 for a few definitions forked a thousand processes, each loading or writing nothing."""
    import multiprocessing.pool
    started, real = [], multiprocessing.pool.Pool.__init__

    def counted(self, processes=None, *args, **kwargs):
        started.append(processes)
        real(self, processes, *args, **kwargs)
    monkeypatch.setattr(multiprocessing.pool.Pool, "__init__", counted)
    defs = tmp_path / "defs"
    defs.mkdir()
    for name in ("fzjz-2019.yaml", "jrjg-2019.yaml"):
        (defs / name).write_bytes((EXAMPLES / name).read_bytes())
    r = run("render", defs, "-o", tmp_path / "out", "--registry", tmp_path / "r.db", "--jobs", "1000")
    assert r.exit_code == 0, r.output
    assert started == [2, 2]   # loading two definitions, then writing two workbooks
    assert len(list((tmp_path / "out").glob("*.xlsx"))) == 2


def test_every_command_and_option_is_in_the_readme():
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    for name, command in main.commands.items():
        assert f"xlform {name} " in readme, name
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert opt in readme, f"{name} {opt}"
