"""Collect: a folder of returns (LibreOffice-filled, duplicates, versions, tampered, hostile) into the
database, the summary workbook, the missing-returns list and the per-department reports."""
import dataclasses
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner

from helpers import cells_for, fill_openpyxl, inputs_from
from test_reader import bad_files
from xlform.cli import main
from xlform.definition.definition import load_many
from xlform.issue.registry import Registry
from xlform.issue.renderer import render


def with_comment(src, dst, comment: bytes):
    """The same workbook with another zip comment: another file content, the same form."""
    shutil.copy(src, dst)
    with zipfile.ZipFile(dst, "a") as z:
        z.comment = comment
    return dst


@pytest.fixture(scope="module")
def corpus(lo, tmp_path_factory, published):
    """Issued examples and a folder of returns as they arrive."""
    root = tmp_path_factory.mktemp("corpus")
    projects, _ = load_many([os.path.join(os.path.dirname(__file__), "..", "examples")])
    projects = {p.id: p for p in projects if p.form == "project"}   # the seven 2019 forms of one bureau
    reg = Registry(root / "registry.db")
    issued = {i.sheets[0][1]: i.file for i in render(list(projects.values()), root / "issued", registry=reg)}
    inbox = root / "inbox"
    (inbox / "mail" / "2020-01-15").mkdir(parents=True)
    # five departments' returns, filled in LibreOffice; xj-jrj-2019-06 and -07 never come back ...
    for tid in ["xj-jrj-2019-01", "xj-jrj-2019-02", "xj-jrj-2019-03", "xj-jrj-2019-04", "xj-jrj-2019-05"]:
        p = projects[tid]
        lo.fill(issued[tid], inbox / f"{tid}.xlsx", cells_for(p, inputs_from(p, published[tid])))
    # ... a mail attachment saved twice under other names (a duplicate) ...
    shutil.copy(inbox / "xj-jrj-2019-02.xlsx", inbox / "mail" / "2020-01-15" / "附件1(1).xlsx")
    shutil.copy(inbox / "xj-jrj-2019-02.xlsx", inbox / "mail" / "副本.XLSX")
    # ... a first version of -03 sent earlier, the corrected one above is newer ...
    p = projects["xj-jrj-2019-03"]
    early = inputs_from(p, published["xj-jrj-2019-03"])
    early["indicators.0.actual"] = 2
    lo.fill(issued[p.id], inbox / "mail" / "2020-01-15" / "初稿.xlsx", cells_for(p, early))
    past = time.time() - 86400
    os.utime(inbox / "mail" / "2020-01-15" / "初稿.xlsx", (past, past))
    # ... a tampered return of -05 (a weight changed after removing protection), newer than the good one ...
    tampered = inbox / "mail" / "tampered.xlsx"
    lo.fill(inbox / "xj-jrj-2019-05.xlsx", tampered, {"G13": 10}, force=True, unprotect="")
    # ... a workbook whose template this office never issued, and the hostile and broken files.
    foreign = root / "foreign"
    foreign.mkdir()
    other = Registry(foreign / "other.db")
    [x] = render([dataclasses.replace(projects["xj-jrj-2019-06"], id="zz-other-01")], foreign, registry=other)
    shutil.copy(x.file, inbox / "其他单位.xlsx")
    with zipfile.ZipFile(x.file) as z:
        assert "xl/workbook.xml" in z.namelist()
    for name, path in bad_files(root).items():
        shutil.copy(path, inbox / "mail" / name)
    (inbox / "~$xj-jrj-2019-01.xlsx").write_bytes(b"lock")  # an Excel lock file is not a return
    return {"root": root, "inbox": inbox, "registry": root / "registry.db", "issued": issued,
            "projects": projects}


def run_collect(corpus, *extra):
    root = corpus["root"]
    args = ["collect", str(corpus["inbox"]), "--db", str(root / "c.db"), "--summary", str(root / "summary.xlsx"),
            "--report", str(root / "reports"), "--registry", str(corpus["registry"]), "--jobs", "2", *extra]
    return CliRunner().invoke(main, args)


@pytest.fixture(scope="module")
def collected(corpus):
    first = run_collect(corpus)
    second = run_collect(corpus)
    db = sqlite3.connect(corpus["root"] / "c.db")
    return first, second, db


def test_exit_code_and_closing_line(collected):
    first, second, _ = collected
    assert first.exit_code == 1, first.output  # errors in current returns and rejected files
    assert "17 files: 15 read" in first.output and "2 skipped duplicates" in first.output
    assert "8 rejected" in first.output and "2 not yet returned" in first.output
    assert "17 files: 0 read, 0 records" in second.output and "17 skipped duplicates" in second.output


def test_database_holds_every_file_once(collected, corpus):
    _, _, db = collected
    assert db.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 15
    assert db.execute("SELECT COUNT(*) FROM file_paths").fetchone()[0] == 17
    status = dict(db.execute("SELECT status, COUNT(*) FROM submissions GROUP BY status").fetchall())
    assert status == {"current": 5, "superseded": 2, "rejected": 8}
    current = dict(db.execute("SELECT template_id, path FROM submissions WHERE status='current'").fetchall())
    assert sorted(current) == [f"xj-jrj-2019-0{i}" for i in range(1, 6)]
    assert current["xj-jrj-2019-03"].endswith("inbox/xj-jrj-2019-03.xlsx")   # the newer file
    assert current["xj-jrj-2019-05"].endswith("tampered.xlsx")               # newer, so current, with its error
    history = db.execute("SELECT template_id, path FROM submissions WHERE status='superseded' ORDER BY 1").fetchall()
    assert [(t, os.path.basename(p)) for t, p in history] == [("xj-jrj-2019-03", "初稿.xlsx"),
                                                              ("xj-jrj-2019-05", "xj-jrj-2019-05.xlsx")]


def test_rejected_files_have_a_row_and_one_problem_each(collected):
    _, _, db = collected
    rows = db.execute("SELECT s.path, p.code FROM submissions s JOIN problems p ON p.submission_id = s.id "
                      "WHERE s.status = 'rejected' ORDER BY s.path").fetchall()
    by_name = {os.path.basename(path): code for path, code in rows}
    assert by_name == {"bomb.xlsx": "too_large", "empty.xlsx": "not_zip",
                       "notxlsx.zip.xlsx": "not_xlsx", "old.xls": "save_as_xlsx", "text.xlsx": "not_zip",
                       "truncated.xlsx": "truncated", "xxe.xlsx": "hostile", "其他单位.xlsx": "unknown_template"}


def test_tables_join_for_any_sqlite_client(collected):
    _, _, db = collected
    rows = db.execute("""
        SELECT p.name, f.executed, i.name, i.score FROM submissions s
        JOIN projects p ON p.submission_id = s.id
        JOIN funds f ON f.submission_id = s.id AND f.row = 'total'
        JOIN indicators i ON i.submission_id = s.id
        WHERE s.status = 'current' AND s.template_id = 'xj-jrj-2019-02' ORDER BY i.position""").fetchall()
    assert len(rows) == 7 and rows[0][:2] == ("防范和处置非法集资专项业务经费", pytest.approx(53.84))
    assert [r[3] for r in rows] == [10, 10, 10, 10, 10, 30, 10]   # the qualitative 30 typed within 达成
    errors = db.execute("SELECT cell, code FROM problems p JOIN current c ON c.id = p.submission_id "
                        "WHERE c.template_id='xj-jrj-2019-05' AND p.severity='error' ORDER BY cell").fetchall()
    assert ("自评表!G13", "locked_changed") in errors and ("自评表", "protection_removed") in errors


def test_summary_workbook(collected, corpus):
    wb = openpyxl.load_workbook(corpus["root"] / "summary.xlsx")
    assert wb.sheetnames == ["汇总", "图表", "指标", "问题", "质量", "未报送"]
    ws = wb["汇总"]
    header = [c.value for c in ws[1]]
    assert header[:9] == ["主管部门", "项目名称", "模板编号", "版本", "全年预算数（万元）", "全年执行数（万元）", "执行率",
                          "资金得分", "总分"]
    rows = {r[2]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {f"xj-jrj-2019-0{i}" for i in range(1, 6)}
    two = rows["xj-jrj-2019-02"]
    assert two[4] == pytest.approx(66.19) and two[5] == pytest.approx(53.84) and two[8] == 98.13
    assert isinstance(two[6], float) and ws.cell(3, 7).number_format == "0.00%"
    assert two[9] == "优" and rows["xj-jrj-2019-03"][9] == "优"
    # -03 passes with quality flags (every indicator full, nothing said; 满意度 at 100%): warnings
    assert rows["xj-jrj-2019-05"][12] == "有错误，需退回修改" and rows["xj-jrj-2019-03"][12] == "通过（有提示）"
    quality = {(r[4], r[5]) for r in wb["质量"].iter_rows(min_row=2, values_only=True) if r[1] == rows["xj-jrj-2019-03"][1]}
    assert quality == {("自评表!H28", "全部满分且无说明"), ("自评表!F26", "满意度恰为100%"), ("自评表!F27", "满意度恰为100%")}
    assert two[15] == "project"
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    assert wb["指标"].max_row == 1 + 13 + 7 + 15 + 16 + 16
    missing = [r for r in wb["未报送"].iter_rows(min_row=2, values_only=True)]
    assert [(r[0], r[2]) for r in missing] == [("自治区地方金融监督管理局", "xj-jrj-2019-06"),
                                               ("自治区金融发展与服务中心", "xj-jrj-2019-07")]
    codes = {r[6] for r in wb["问题"].iter_rows(min_row=2, values_only=True)}
    assert {"reason_overshoot", "locked_changed", "hostile", "too_large"} <= codes


def test_reports_per_department(collected, corpus):
    reports = corpus["root"] / "reports"
    assert sorted(p.name for p in reports.iterdir()) == sorted(
        f"{d}.{ext}" for d in ("自治区地方金融监督管理局", "自治区金融发展与服务中心", "未识别的文件") for ext in ("html", "csv"))
    html = (reports / "自治区地方金融监督管理局.html").read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in html and "未报送（1 项）" in html and "xj-jrj-2019-06" in html
    assert "锁定单元格被修改" in html and "自评表!G13" in html and "超过年度指标值 ≥6次" in html
    assert "初稿.xlsx" not in html  # superseded returns are history, not to be sent back
    other = (reports / "自治区金融发展与服务中心.html").read_text(encoding="utf-8")
    assert "未报送（1 项）" in other and "xj-jrj-2019-07" in other
    unknown = (reports / "未识别的文件.csv").read_text(encoding="utf-8-sig")
    assert "xxe.xlsx" in unknown and "不允许的内容" in unknown and unknown.startswith("文件,工作表,项目名称,单元格")


def test_export_current_records(collected, corpus, tmp_path):
    db = str(corpus["root"] / "c.db")
    r = CliRunner().invoke(main, ["export", "--db", f"sqlite:///{db}", "--format", "json"])
    assert r.exit_code == 0
    records = json.loads(r.stdout)
    assert sorted(x["template"]["id"] for x in records) == [f"xj-jrj-2019-0{i}" for i in range(1, 6)]
    out = tmp_path / "export.csv"
    assert CliRunner().invoke(main, ["export", "--db", db, "-o", str(out)]).exit_code == 0
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 + 13 + 7 + 15 + 16 + 16
    assert CliRunner().invoke(main, ["export", "--db", str(tmp_path / "none.db")]).exit_code == 2
    assert CliRunner().invoke(main, ["export", "--db", "postgresql://x/y"]).exit_code == 2


def test_export_neutralises_formula_injection(tmp_path, corpus):
    p = corpus["projects"]["xj-jrj-2019-06"]
    inbox = tmp_path / "in"
    inbox.mkdir()

    def hostile(wb):
        for ref, text in (("F11", "=cmd|' /C calc'!A0"), ("I13", "+1+1"), ("I14", "@SUM(1)"), ("I15", "-2"),
                          ("F16", "<script>alert(1)</script>")):
            wb["自评表"][ref].value = text
            wb["自评表"][ref].data_type = "s"
    fill_openpyxl(corpus["issued"][p.id], inbox / "h.xlsx", cells_for(p, inputs_from(p, {
        "executed": {"fiscal": 41.65}, "actual": [31, 41.65, 1, 1, 1, 1, 1, 1, 1, 1, 1]})), edit=hostile)
    db = tmp_path / "h.db"
    r = CliRunner().invoke(main, ["collect", str(inbox), "--db", str(db), "--summary", str(tmp_path / "s.xlsx"),
                                  "--report", str(tmp_path / "rep"), "--registry", str(corpus["registry"])])
    assert r.exit_code in (0, 1), r.output
    text = CliRunner().invoke(main, ["export", "--db", str(db)]).stdout
    for bad in ("=cmd", "+1+1", "@SUM", "-2"):
        assert f",'{bad}" in text and f",{bad}" not in text
    html = (tmp_path / "rep" / "自治区地方金融监督管理局.html").read_text(encoding="utf-8")
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, never run


def test_amounts_at_excels_largest_leave_the_summary_whole(corpus, tmp_path):
    """Three amounts of 1.7e308 summed to inf: xlsxwriter refused to write it, and collect stopped with an
    internal error, its summary and reports unwritten. Each is refused at its cell (number_too_large)."""
    p = corpus["projects"]["xj-jrj-2019-06"]
    inbox = tmp_path / "in"
    inbox.mkdir()
    cells = cells_for(p, inputs_from(p, {"executed": {"fiscal": 41.65}, "actual": [31, 41.65] + [1] * 9}))
    funds = [ref for ref, v in cells.items() if v == 41.65][:1]
    fill_openpyxl(corpus["issued"][p.id], inbox / "big.xlsx", dict(cells, **{ref: 1.7e308 for ref in funds}))
    r = CliRunner().invoke(main, ["collect", str(inbox), "--db", str(tmp_path / "b.db"), "--summary",
                                  str(tmp_path / "s.xlsx"), "--report", str(tmp_path / "rep"), "--registry",
                                  str(corpus["registry"])])
    assert r.exit_code == 1, r.output
    assert openpyxl.load_workbook(tmp_path / "s.xlsx", read_only=True)
    html = (tmp_path / "rep" / "自治区地方金融监督管理局.html").read_text(encoding="utf-8")
    assert "1.7e+308”过大" in html


def _many_returns(corpus, tmp_path, count):
    inbox = tmp_path / "many"
    inbox.mkdir()
    for n in range(count):
        with_comment(corpus["inbox"] / "xj-jrj-2019-01.xlsx", inbox / f"r{n:04d}.xlsx", f"copy {n}".encode())
    db = tmp_path / "k.db"
    cmd = [sys.executable, "-m", "xlform.cli", "collect", str(inbox), "--db", str(db), "--summary",
           str(tmp_path / "s.xlsx"), "--report", str(tmp_path / "rep"), "--registry", str(corpus["registry"]),
           "--jobs", "2", "--quiet"]
    return db, cmd


def _stored(db) -> int:
    try:
        return sqlite3.connect(db, timeout=1).execute("SELECT COUNT(*) FROM files").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _start_and_wait_for(cmd, db, stored: int):
    """Start a collection and return once it has committed `stored` files (it must still be running)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (db.exists() and _stored(db) >= stored):
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be stopped"
    return proc


def test_killed_collection_is_completed_by_a_second_run(corpus, tmp_path):
    """SIGKILL in the middle of a run, then run again: every file exactly once, one current per template."""
    db, cmd = _many_returns(corpus, tmp_path, 1000)
    proc = _start_and_wait_for(cmd, db, 50)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)  # the workers die with their parent (PR_SET_PDEATHSIG)
    partial = _stored(db)
    assert 50 <= partial < 1000
    assert _stored(db) == partial, "workers went on after the collecting process was killed"
    second = subprocess.run(cmd, capture_output=True, text=True)
    assert "1000 files" in second.stderr and f"{1000 - partial} read" in second.stderr, second.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 1000
    assert con.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 1000
    assert con.execute("SELECT COUNT(*) FROM indicators").fetchone()[0] == 1000 * 13
    assert con.execute("SELECT COUNT(*) FROM submissions WHERE status='current'").fetchone()[0] == 1
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_interrupted_collection_keeps_what_it_committed(corpus, tmp_path):
    db, cmd = _many_returns(corpus, tmp_path, 1000)
    proc = _start_and_wait_for(cmd, db, 50)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "Aborted" in err and "Traceback" not in err
    partial = _stored(db)
    assert 50 <= partial < 1000
    subprocess.run(cmd, check=False, capture_output=True)
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 1000
    assert con.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 1000


def test_progress_bar_on_a_terminal_and_quiet_otherwise(corpus, tmp_path):
    """A progress bar when stderr is a terminal (a pseudo-terminal here), none with --quiet or in a pipe."""
    import pty
    inbox = tmp_path / "in"
    inbox.mkdir()
    for n in range(30):
        with_comment(corpus["inbox"] / "xj-jrj-2019-02.xlsx", inbox / f"r{n}.xlsx", f"{n}".encode())

    def run(*extra, tty=True):
        db = tmp_path / f"p{len(list(tmp_path.glob('*.db')))}.db"
        cmd = [sys.executable, "-m", "xlform.cli", "collect", str(inbox), "--db", str(db), "--summary",
               str(tmp_path / "s.xlsx"), "--report", str(tmp_path / "rep"), "--registry", str(corpus["registry"]),
               *extra]
        if not tty:
            return subprocess.run(cmd, capture_output=True, text=True).stderr
        leader, follower = pty.openpty()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=follower)
        os.close(follower)
        out = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        proc.wait()
        os.close(leader)
        return out.decode("utf-8", "replace")
    shown = run()
    assert "collecting" in shown and "100%" in shown
    assert "30 files: 30 read" in shown
    assert "collecting" not in run("--quiet") and "collecting" not in run(tty=False)


def test_outputs_inside_the_collected_folder_are_not_collected(corpus, tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(corpus["inbox"] / "xj-jrj-2019-02.xlsx", inbox / "a.xlsx")
    args = ["collect", str(inbox), "--db", str(inbox / "c.db"), "--summary", str(inbox / "s.xlsx"), "--report",
            str(inbox / "rep"), "--registry", str(corpus["registry"]), "--jobs", "1"]
    for _ in range(2):
        r = CliRunner().invoke(main, args)
    assert "1 files: 0 read" in r.output and "0 rejected" in r.output, r.output
    assert sqlite3.connect(inbox / "c.db").execute("SELECT COUNT(*) FROM files").fetchone()[0] == 1


def test_python_api_collect_and_migrate(corpus, tmp_path):
    import xlform
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(corpus["inbox"] / "xj-jrj-2019-02.xlsx", inbox / "a.xlsx")
    outcome = xlform.collect([inbox], db=tmp_path / "c.db", registry=corpus["registry"], jobs=1)
    assert (outcome.files, outcome.read, outcome.records) == (1, 1, 1)
    assert {m["template_id"] for m in outcome.missing} == {f"xj-jrj-2019-0{i}" for i in (1, 3, 4, 5, 6, 7)}
    m = xlform.migrate(inbox / "a.xlsx", out_dir=tmp_path / "m", registry=Registry(corpus["registry"]))
    assert m.sheets == [("自评表", "xj-jrj-2019-02", 1, 1)]   # already the latest version: nothing written
    assert m.output is None and not (tmp_path / "m").exists()


def test_api_names_are_functions_even_after_every_module_is_imported():
    import importlib
    import pkgutil

    import xlform
    for m in pkgutil.iter_modules(xlform.__path__):
        importlib.import_module(f"xlform.{m.name}")
    assert all(callable(getattr(xlform, name)) for name in xlform.__all__)
