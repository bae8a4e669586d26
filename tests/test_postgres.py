"""The collection database and the registry on PostgreSQL as on SQLite: the same behaviour on both engines
(the `db_url` tests run on each), writers at the same time on a real server (two collects, four renders)
that lose and double nothing, and one line naming the URL, never its password, when a server cannot be used."""
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from helpers import cells_for, definition, fill_openpyxl, load_def, make_inputs, write_def
from postgres import PASSWORD, PASSWORD_USER
from test_collect import with_comment
from test_failures import one_error_line
from xlform.cli import main
from xlform.definition.definition import load
from xlform.kinds.forms import form_kind
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.storage.store import Store

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
INDICATORS = [("产出指标", "数量指标", "培训次数", "≥4次", 30), ("产出指标", "质量指标", "覆盖率", "≥80%", 30),
              ("效益指标", "社会效益指标", "群众意识", "不断提高", 20), ("满意度指标", "满意度指标", "满意度", "95%", 10)]
# the inputs that give each 评价等级: 全年执行数 (of 100), 培训次数, 覆盖率, 满意度; 群众意识 typed 20 of 20
FILLS = {"优": (80, 4, 0.85, 0.95),    # 8 + 30 + 30 + 20 + 10 = 98
         "良": (80, 2, 0.85, 0.95),    # 8 + 15 + 30 + 20 + 10 = 83
         "中": (80, 1, 0.4, 0.95),     # 8 + 7.5 + 15 + 20 + 10 = 60.5
         "差": (10, 0, 0.2, 0.95)}     # 1 + 0 + 7.5 + 20 + 10 = 38.5
# (template id, 主管部门, 评价等级 of its return); pg-c-01 is issued and never returned
PLAN = [("pg-a-01", "甲局", "优"), ("pg-a-02", "甲局", "良"), ("pg-b-01", "乙局", "中"), ("pg-b-02", "乙局", "差"),
        ("pg-b-03", "乙局", "优"), ("pg-c-01", "丙局", None)]


def query(url: str, sql: str) -> list[tuple]:
    """Look inside with the engine's own client, as a user of the database would."""
    if url.startswith("postgresql://"):
        import psycopg
        with psycopg.connect(url) as con:
            return con.execute(sql).fetchall()
    con = sqlite3.connect(url)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def fill(project, issued: Path, dst: Path, grade: str) -> Path:
    executed, count, share, satisfied = FILLS[grade]
    inputs = make_inputs({"fiscal": executed}, "按计划完成", [count, share, "达成年度指标", satisfied],
                         ["培训场地调整，次数减少。"] * 4, [None, None, 20, None])
    return fill_openpyxl(issued, dst, cells_for(project, inputs))


def issue(folder: Path, registry) -> dict:
    """The PLAN's projects rendered into `registry` (a Registry): {id: (project, issued workbook)}."""
    out = {}
    for tid, department, _ in PLAN:
        p = load_def(folder, definition(INDICATORS, id=tid, department=department, implementer=department,
                                        project=f"{department}项目{tid[-2:]}"), name=f"{tid}.yaml")
        [form] = render([p], folder / "issued", registry=registry)
        out[tid] = (p, form.file)
    return out


@pytest.fixture(scope="module")
def returns(tmp_path_factory):
    """A SQLite registry, and an inbox: five returns, one saved twice, one not a workbook; an older first
    draft of pg-a-01 waits in `late`."""
    root = tmp_path_factory.mktemp("returns")
    reg = Registry(root / "registry.db")
    forms = issue(root, reg)
    reg.close()
    inbox, late = root / "inbox", root / "late"
    inbox.mkdir()
    late.mkdir()
    for tid, _, grade in PLAN:
        if grade:
            fill(*forms[tid], inbox / f"{tid}.xlsx", grade)
    shutil.copy(inbox / "pg-a-02.xlsx", inbox / "附件(1).xlsx")           # the same content: a duplicate
    (inbox / "text.xlsx").write_text("not a workbook", encoding="utf-8")  # rejected
    fill(*forms["pg-a-01"], late / "初稿.xlsx", "中")
    past = time.time() - 86400
    os.utime(late / "初稿.xlsx", (past, past))
    return {"root": root, "registry": root / "registry.db", "inbox": inbox, "late": late, "forms": forms}


def collect(db, registry, *dirs, out: Path, jobs=2):
    return CliRunner().invoke(main, ["collect", *map(str, dirs), "--db", str(db), "--registry", str(registry),
                                     "--summary", str(out / "summary.xlsx"), "--report", str(out / "reports"),
                                     "--jobs", str(jobs)])


# -- the same behaviour on both engines ---------------------------------------------------------------
def test_collect_history_summary_and_export(db_url, returns, tmp_path):
    first = collect(db_url, returns["registry"], returns["inbox"], out=tmp_path)
    assert first.exit_code == 1, first.output   # the rejected file
    assert "7 files: 6 read, 6 records" in first.stderr and "1 skipped duplicates, 1 rejected" in first.stderr
    assert "1 not yet returned" in first.stderr
    # the older draft arrives later: it goes into history, the newer return stays current
    second = collect(db_url, returns["registry"], returns["inbox"], returns["late"], out=tmp_path)
    assert "8 files: 1 read, 1 records" in second.stderr and "7 skipped duplicates" in second.stderr, second.output
    assert query(db_url, "SELECT COUNT(*) FROM files") == [(7,)]
    assert query(db_url, "SELECT COUNT(*) FROM file_paths") == [(8,)]
    assert dict(query(db_url, "SELECT status, COUNT(*) FROM submissions GROUP BY status")) == {
        "current": 5, "superseded": 1, "rejected": 1}
    [(path,)] = query(db_url, "SELECT path FROM current WHERE template_id = 'pg-a-01'")
    assert path == str(returns["inbox"] / "pg-a-01.xlsx")
    assert dict(query(db_url, "SELECT template_id, grade FROM current")) == {
        tid: grade for tid, _, grade in PLAN if grade}
    assert sorted(query(db_url, "SELECT row, executed FROM funds f JOIN current c ON c.id = f.submission_id "
                                "WHERE c.template_id = 'pg-b-02'")) == [("carryover", None), ("fiscal", 10.0),
                                                                         ("other", None), ("total", 10.0)]
    # the same order on both engines, whatever the server's collation: 乙 (U+4E59) before 甲 (U+7532)
    r = CliRunner().invoke(main, ["export", "--db", db_url, "--format", "json"])
    assert r.exit_code == 0, r.output
    assert [x["template"]["id"] for x in json.loads(r.stdout)] == ["pg-b-01", "pg-b-02", "pg-b-03", "pg-a-01",
                                                                   "pg-a-02"]
    wb = openpyxl.load_workbook(tmp_path / "summary.xlsx")
    assert [row[2] for row in wb["汇总"].iter_rows(min_row=2, values_only=True)] == [
        "pg-b-01", "pg-b-02", "pg-b-03", "pg-a-01", "pg-a-02"]
    assert [row[2] for row in wb["未报送"].iter_rows(min_row=2, values_only=True)] == ["pg-c-01"]
    assert {row[6] for row in wb["问题"].iter_rows(min_row=2, values_only=True)} >= {"not_zip"}
    assert (tmp_path / "reports" / "乙局.html").is_file() and (tmp_path / "reports" / "丙局.csv").is_file()


def test_registry_issues_versions_and_reads_back(db_url, tmp_path):
    p = load_def(tmp_path, definition(INDICATORS, id="pg-r-01"))
    changed = load_def(tmp_path, definition(INDICATORS[:3] + [INDICATORS[3][:3] + ("≥90%", 10)], id="pg-r-01"),
                       name="v2.yaml")
    reg = Registry(db_url)
    kind = form_kind("project")
    assert [reg.version_for(x, kind, "2020-01-01T00:00:00+00:00") for x in (p, p, changed, changed)] == [1, 1, 2, 2]
    reg.record_files([(changed, 2, "out/pg-r-01.xlsx", "自评表")], "2020-01-01T00:00:00+00:00")
    reg.close()
    ro = Registry(db_url, create=False)
    try:
        assert ro.latest_version("pg-r-01") == 2 and ro.lookup("pg-r-01", 1)["hash"] != ro.lookup("pg-r-01")["hash"]
        assert ro.lookup("pg-r-01", 1)["project"].canonical() == p.canonical()
        assert ro.latest_issued() == [("pg-r-01", 2, "测试项目", "测试局")]
        assert ro.find_project("测试项目", "测试局")["version"] == 2
        assert ro.lookup("pg-r-01")["kind"].name == "project"
        with pytest.raises(Exception):   # read-only: nothing is written through it
            ro.version_for(load_def(tmp_path, definition(INDICATORS, id="pg-r-02"), name="x.yaml"), kind, "now")
    finally:
        ro.close()


def test_a_database_of_xlform_0_1_gains_the_new_columns(db_url, returns, tmp_path):
    """submissions.grade and templates.kind are added on opening, on either engine, and the view follows."""
    Store(db_url).close()
    Registry(db_url).close()
    drop = ["ALTER TABLE submissions DROP COLUMN grade", "ALTER TABLE templates DROP COLUMN kind"]
    if db_url.startswith("postgresql://"):
        import psycopg
        with psycopg.connect(db_url, autocommit=True) as con:
            for sql in drop:
                con.execute(sql + " CASCADE")   # PostgreSQL drops the view that shows the column too
    else:
        con = sqlite3.connect(db_url)
        for sql in ["DROP VIEW current"] + drop:
            con.execute(sql)
        con.close()
    with pytest.raises(Exception):
        query(db_url, "SELECT grade FROM submissions")
    r = collect(db_url, returns["registry"], returns["inbox"], out=tmp_path, jobs=1)
    assert "6 read" in r.stderr, r.output
    assert dict(query(db_url, "SELECT template_id, grade FROM current"))["pg-b-02"] == "差"
    Registry(db_url).close()
    assert query(db_url, "SELECT COUNT(kind) FROM templates") == [(0,)]


# -- PostgreSQL: the registry for every command; several writers at once -------------------------------
def test_every_command_uses_a_registry_on_the_server(pg_url, tmp_path):
    """render, read, collect, diff and migrate with --registry postgresql://…, collect into the same database."""
    path = write_def(tmp_path, definition(INDICATORS, id="pg-s-01"), name="s.yaml")
    r = CliRunner().invoke(main, ["render", str(path), "-o", str(tmp_path / "v1"), "--registry", pg_url])
    assert r.exit_code == 0 and "pg-s-01 v1" in r.output, r.output
    (tmp_path / "in").mkdir()
    filled = fill(load(path), tmp_path / "v1" / "pg-s-01.xlsx", tmp_path / "in" / "pg-s-01.xlsx", "优")
    r = CliRunner().invoke(main, ["read", str(filled), "--registry", pg_url])
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["total_score"] == 98, r.output
    r = collect(pg_url, pg_url, tmp_path / "in", out=tmp_path, jobs=1)
    assert r.exit_code == 0 and "1 read" in r.stderr and "0 not yet returned" in r.stderr, r.output
    write_def(tmp_path, definition(INDICATORS[:3] + [INDICATORS[3][:3] + ("≥90%", 10)], id="pg-s-01"), name="s.yaml")
    r = CliRunner().invoke(main, ["render", str(path), "-o", str(tmp_path / "v2"), "--registry", pg_url])
    assert "pg-s-01 v2" in r.output, r.output
    r = CliRunner().invoke(main, ["diff", "pg-s-01", "1", "2", "--registry", pg_url])
    assert r.exit_code == 1 and "95%" in r.output and "≥90%" in r.output, r.output
    r = CliRunner().invoke(main, ["migrate", str(filled), "-o", str(tmp_path / "m"), "--registry", pg_url])
    assert r.exit_code == 0 and "pg-s-01 v1 -> v2" in r.output, r.output
    assert query(pg_url, "SELECT id, version FROM templates ORDER BY version") == [("pg-s-01", 1), ("pg-s-01", 2)]


def _counts(stderr: str) -> tuple[int, int, int]:
    found, read, duplicates = re.search(r"(\d+) files: (\d+) read, .* (\d+) skipped duplicates", stderr).groups()
    return int(found), int(read), int(duplicates)


def test_two_collects_at_once_store_every_file_once(pg_url, returns, tmp_path):
    """Two collects (two workers each, a transaction per file) on overlapping folders of returns of one
    template, started together: every content stored once, every path recorded, one current, the newest.
    (Without the template's lock, two writers each make their file current: the unique index refuses.)"""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    ids = ["pg-a-01"]   # every transaction of all four writers contends for the same current submission
    base = time.time() - 3600
    for n in range(180):   # folder a holds contents 0-119, b 60-179: 60 in both, under other paths
        for folder in [f for f, inside in ((a, n < 120), (b, n >= 60)) if inside]:
            copy = with_comment(returns["inbox"] / f"{ids[n % len(ids)]}.xlsx", folder / f"{n:03d}.xlsx", f"{n}".encode())
            os.utime(copy, (base + n, base + n))
    start = time.time() + 1.5
    code = ("import sys, time; import xlform.collecting.collector as c; c.BATCH_FILES = 1; from xlform.cli import main; "
            "time.sleep(max(0, float(sys.argv.pop(1)) - time.time())); main()")
    runs = [subprocess.Popen([sys.executable, "-c", code, str(start), "collect", str(folder), "--db", pg_url,
                              "--registry", str(returns["registry"]), "--jobs", "2", "--quiet",
                              "--summary", str(tmp_path / f"{folder.name}.xlsx"), "--report", str(tmp_path / folder.name
                                                                                                   / "reports")],
                             stderr=subprocess.PIPE, text=True, env=ENV) for folder in (a, b)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
    took = time.time() - start
    assert [code for code, _ in results] == [0, 0], results
    (found_a, read_a, dup_a), (found_b, read_b, dup_b) = (_counts(err) for _, err in results)
    assert (found_a, found_b) == (120, 120) and read_a + dup_a == read_b + dup_b == 120
    assert read_a + read_b == 180 and read_a > 0 and read_b > 0   # both wrote, and nothing twice
    assert query(pg_url, "SELECT COUNT(*), COUNT(DISTINCT sha256) FROM files") == [(180, 180)]
    assert query(pg_url, "SELECT COUNT(*) FROM file_paths") == [(240,)]
    assert query(pg_url, "SELECT COUNT(*) FROM submissions") == [(180,)]
    assert query(pg_url, "SELECT COUNT(*) FROM indicators") == [(180 * 4,)]
    current = query(pg_url, "SELECT template_id, path FROM submissions WHERE status = 'current' ORDER BY 1")
    newest = {ids[k]: f"{max(range(k, 180, len(ids)))}.xlsx" for k in range(len(ids))}
    assert [(t, Path(p).name) for t, p in current] == sorted(newest.items())
    assert query(pg_url, "SELECT COUNT(*) FROM submissions WHERE status = 'superseded'") == [(180 - len(ids),)]
    print(f"two collects of 120 files each (180 contents) into PostgreSQL: {took:.1f} s")


def test_four_renders_at_once_issue_each_version_once(pg_url, tmp_path):
    """Four processes issue five changed definitions each of one template id at the same moment: twenty
    versions, numbered 1-20 without a gap or a number given twice."""
    paths = [write_def(tmp_path, definition(INDICATORS[:3] + [INDICATORS[3][:3] + (f"≥{70 + k}%", 10)],
                                            id="pg-v-01"), name=f"v{k}.yaml") for k in range(20)]
    code = ("import sys, time; from xlform.definition.definition import load; from xlform.kinds.forms import form_kind; "
            "from xlform.issue.registry import Registry; reg = Registry(sys.argv[1]); kind = form_kind('project'); "
            "projects = [load(p) for p in sys.argv[3:]]; time.sleep(max(0, float(sys.argv[2]) - time.time())); "
            "print(*[reg.version_for(p, kind, 'now') for p in projects])")
    Registry(pg_url).close()
    start = time.time() + 2
    procs = [subprocess.Popen([sys.executable, "-c", code, pg_url, str(start), *map(str, paths[i::4])],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV) for i in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outputs
    issued = sorted(int(v) for out, _ in outputs for v in out.split())
    assert issued == list(range(1, 21))
    rows = query(pg_url, "SELECT version, hash, definition FROM templates WHERE id = 'pg-v-01'")
    assert len(rows) == 20 and len({h for _, h, _ in rows}) == 20
    # each process was given the version that holds its own definition
    by_version = {v: json.loads(d) for v, _, d in rows}
    for i, (out, _) in enumerate(outputs):
        for path, version in zip(paths[i::4], map(int, out.split())):
            assert by_version[version] == load(path).canonical()


# -- a server that cannot be used: one line, the URL without its password, exit 2 ----------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_server_is_one_line_without_the_password(returns, tmp_path):
    url = f"postgresql://xlform:topsecret@127.0.0.1:{_closed_port()}/collect"
    shown = url.replace(":topsecret", "")
    r = collect(url, returns["registry"], returns["inbox"], out=tmp_path)
    assert r.exit_code == 2
    line = one_error_line(r, f"cannot connect to the database {shown}: Connection refused; check that the server is "
                             "running and the URL given with --db")
    assert "topsecret" not in r.output
    r = CliRunner().invoke(main, ["read", str(returns["inbox"] / "pg-a-01.xlsx"), "--registry", url])
    assert r.exit_code == 2 and "topsecret" not in r.output
    one_error_line(r, f"cannot connect to the database {shown}", "the URL given with --registry")
    assert line.startswith("Error: ")


def test_wrong_password_missing_database_and_empty_database(postgres, pg_url, returns, tmp_path):
    wrong = postgres.url(pg_url.rsplit("/", 1)[1], PASSWORD_USER, "not-" + PASSWORD)
    r = CliRunner().invoke(main, ["render", str(returns["root"] / "pg-a-01.yaml"), "-o", str(tmp_path),
                                  "--registry", wrong])
    assert r.exit_code == 2 and "not-" + PASSWORD not in r.output
    one_error_line(r, f'password authentication failed for user "{PASSWORD_USER}"', "--registry")
    r = CliRunner().invoke(main, ["export", "--db", postgres.url("no_such_database")])
    assert r.exit_code == 2
    one_error_line(r, 'database "no_such_database" does not exist', "--db")
    r = CliRunner().invoke(main, ["export", "--db", pg_url])   # a server, but nothing collected yet
    assert r.exit_code == 2
    one_error_line(r, f"no collection database at {pg_url}; run `xlform collect` first")
    r = CliRunner().invoke(main, ["export", "--db", "mysql://u@h/db"])
    assert r.exit_code == 2 and "not a database this tool can use: mysql://u@h/db" in r.output
    right = postgres.url(pg_url.rsplit("/", 1)[1], PASSWORD_USER, PASSWORD)   # the password itself works
    assert collect(right, returns["registry"], returns["inbox"], out=tmp_path, jobs=1).exit_code == 1
