"""Each fact of a return is stored once (issue 22): its indicators and problems are rows of their tables only,
the record's JSON keeps the rest, and the record comes back exactly as it was read, on SQLite and PostgreSQL.
A database of xlform 0.2, which kept every record whole in its JSON, opens, reads and takes new returns."""
import json
import shutil
import sqlite3
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from helpers import fill_openpyxl, lay_of
from xlform.cli import main
from xlform.definition.definition import load
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.returns.reader import read_return
from xlform.storage.store import ROW_COLUMNS, Prepared, Store

ROOT = Path(__file__).resolve().parent.parent

# The collection database of xlform 0.2.0 (commit 1313b82) as its SQLite files hold it: every record whole in
# submissions.record, and extra_values without `number`.
DATABASE_0_2 = """
CREATE TABLE files (sha256 TEXT PRIMARY KEY, path TEXT NOT NULL, size INTEGER, modified TEXT,
    received_at TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE file_paths (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL REFERENCES files(sha256), seen_at TEXT NOT NULL);
CREATE TABLE submissions (id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL REFERENCES files(sha256), path TEXT NOT NULL,
    sheet TEXT, template_id TEXT, version INTEGER, department TEXT, project TEXT, modified TEXT,
    received_at TEXT NOT NULL, status TEXT NOT NULL, errors INTEGER NOT NULL, warnings INTEGER NOT NULL,
    total_score REAL, record TEXT NOT NULL, form TEXT, grade TEXT);
CREATE INDEX submissions_template ON submissions(template_id, status);
CREATE UNIQUE INDEX submissions_one_current ON submissions(template_id) WHERE status = 'current';
CREATE TABLE projects (submission_id INTEGER PRIMARY KEY REFERENCES submissions(id), template_id TEXT,
    version INTEGER, name TEXT, department TEXT, implementer TEXT, year INTEGER, goal_expected TEXT,
    goal_actual TEXT, funds_weight REAL, funds_rate REAL, funds_score REAL, total_score REAL);
CREATE TABLE funds (submission_id INTEGER NOT NULL REFERENCES submissions(id), row TEXT NOT NULL,
    initial REAL, annual REAL, executed REAL, PRIMARY KEY (submission_id, row));
CREATE TABLE indicators (submission_id INTEGER NOT NULL REFERENCES submissions(id), position INTEGER NOT NULL,
    indicator_id TEXT, level1 TEXT, level2 TEXT, name TEXT, target TEXT, actual REAL, weight REAL,
    score REAL, deviation_reason TEXT, actual_text TEXT, PRIMARY KEY (submission_id, position));
CREATE TABLE extra_values (submission_id INTEGER NOT NULL REFERENCES submissions(id), position INTEGER NOT NULL,
    key TEXT NOT NULL, value TEXT, PRIMARY KEY (submission_id, position, key));
CREATE TABLE problems (id INTEGER PRIMARY KEY, submission_id INTEGER NOT NULL REFERENCES submissions(id),
    cell TEXT, severity TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE uploads (id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, department TEXT NOT NULL,
    original_name TEXT NOT NULL, sha256 TEXT, size INTEGER NOT NULL, result TEXT NOT NULL,
    errors INTEGER NOT NULL, warnings INTEGER NOT NULL, problems TEXT NOT NULL);
CREATE TABLE department_links (department TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, issued_at TEXT NOT NULL);
CREATE TABLE desk_sessions (id_sha256 TEXT PRIMARY KEY, started_at TEXT NOT NULL, expires REAL NOT NULL);
CREATE VIEW current AS
    SELECT s.*, p.implementer, p.funds_rate, p.funds_score FROM submissions s
    LEFT JOIN projects p ON p.submission_id = s.id WHERE s.status = 'current';
"""


@pytest.fixture()
def returns(tmp_path, monkeypatch):
    """Two returns of a Sichuan kind given two indicator columns of its own, 佐证材料 (text) and 佐证数量 (a
    number), and one national return with a qualitative tier: what the registry at `registry` issued."""
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    form = templates / "sichuan" / "form.yaml"
    spec = yaml.safe_load(form.read_text(encoding="utf-8"))
    spec["columns"] += [{"key": "evidence", "width": 10, "input": "text", "limit": 200},
                        {"key": "count", "width": 6, "input": "number"}]
    spec["labels"].update(evidence="佐证材料", count="佐证数量")
    form.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("XLFORM_TEMPLATES", str(templates))
    sichuan, national = load(ROOT / "examples" / "sc-2023-01.yaml"), load(ROOT / "examples" / "zxyw-2019.yaml")
    reg = Registry(tmp_path / "r.db")
    issued = {i.sheets[0][1]: i.file for i in render([sichuan, national], tmp_path / "issued", registry=reg)}
    reg.close()
    inbox = tmp_path / "in"
    inbox.mkdir()
    lay = lay_of(sichuan)
    fill_openpyxl(issued[sichuan.id], inbox / "sc.xlsx", {
        lay.cell("indicators.0.evidence"): "验收报告", lay.cell("indicators.0.count"): 3.5,
        lay.cell("indicators.2.count"): 12, lay.cell("indicators.0.actual"): 22, lay.cell("conclusion"): "目标基本完成"})
    lay = lay_of(national)
    tier = next(i for i, ind in enumerate(national.indicators) if lay.fields[f"indicators.{i}.actual"].type == "tier")
    fill_openpyxl(issued[national.id], inbox / "national.xlsx", {lay.cell(f"indicators.{tier}.actual"): "达成年度指标",
                                                               lay.cell("goal.actual"): "完成"})
    (inbox / "notes.xlsx").write_bytes(b"not a workbook")   # rejected: a record with a problem and no project
    return {"inbox": inbox, "registry": tmp_path / "r.db"}


def as_read(returns) -> dict[str, str]:
    """{file name: its records' JSON as `xlform read` gives them}: what the store must give back."""
    reg = Registry(returns["registry"], create=False)
    try:
        return {f.name: [json.loads(r.to_json()) for r in read_return(f, reg)]
                for f in sorted(returns["inbox"].iterdir())}
    finally:
        reg.close()


def collect(returns, db, out: Path):
    return CliRunner().invoke(main, ["collect", str(returns["inbox"]), "--db", str(db), "--registry",
                                     str(returns["registry"]), "--summary", str(out / "summary.xlsx"),
                                     "--report", str(out / "reports"), "--jobs", "1"])


def test_a_record_comes_back_exactly_as_read_and_its_indicators_are_stored_once(returns, db_url, tmp_path):
    r = collect(returns, db_url, tmp_path)
    assert r.exit_code == 1 and "3 files: 3 read, 3 records" in r.stderr, r.output   # 1: the rejected file
    expected = as_read(returns)
    store = Store(db_url, create=False)
    try:
        current = store.current_records()
        ids = [sid for sid, status in store.db.all("SELECT id, status FROM submissions")]
        every = [r for part in store.records(ids) for r in part]
        stored = [json.loads(t) for t, in store.db.all("SELECT record FROM submissions")]
    finally:
        store.close()
    by_file = {Path(r["file"]).name: r for r in every}
    for name, [record] in expected.items():   # same fields, same order, same values and types
        assert json.dumps(by_file[name], ensure_ascii=False) == json.dumps(record, ensure_ascii=False), name
    assert current == sorted([expected["national.xlsx"][0], expected["sc.xlsx"][0]],   # by department
                             key=lambda r: r["project"]["department"])
    sichuan = by_file["sc.xlsx"]
    assert [i["extra"] for i in sichuan["indicators"][:3]] == [
        {"evidence": "验收报告", "count": 3.5}, {"evidence": None, "count": None}, {"evidence": None, "count": 12.0}]
    assert sichuan["indicators"][0]["actual"] == 22.0 and sichuan["extra"]["conclusion"] == "目标基本完成"
    assert "达成年度指标" in [i["actual"] for i in by_file["national.xlsx"]["indicators"]]
    assert by_file["notes.xlsx"]["problems"] and not by_file["notes.xlsx"]["indicators"]
    # stored once: no indicator nor problem in the JSON, all of them in their tables
    for head in stored:
        assert "indicators" not in head and "problems" not in head
        text = json.dumps(head, ensure_ascii=False)
        assert not any(i["id"] in text for r in every for i in r["indicators"])   # level1/level2/name
        assert not any(p["message"] in text for r in every for p in r["problems"])


def test_export_and_summary_give_the_stored_values(returns, tmp_path):
    assert collect(returns, tmp_path / "c.db", tmp_path).exit_code == 1
    exported = json.loads(CliRunner().invoke(main, ["export", "--db", str(tmp_path / "c.db"), "--format",
                                                    "json"]).stdout)
    expected = as_read(returns)
    assert exported == sorted([expected["national.xlsx"][0], expected["sc.xlsx"][0]],
                              key=lambda r: r["project"]["department"])
    ws = openpyxl.load_workbook(tmp_path / "summary.xlsx")["指标"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    head = rows[0]
    sichuan = [dict(zip(head, row)) for row in rows[1:] if row[2] == "sc-2023-01"]
    assert [(r["佐证材料"], r["佐证数量"]) for r in sichuan[:3]] == [("验收报告", 3.5), (None, None), (None, 12)]
    assert len(rows) - 1 == sum(len(r["indicators"]) for r in exported)


def write_0_2(path: Path, records, sha: str):
    """Store `records` of one file as xlform 0.2 did: the whole record as JSON, every extra value as text."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys=ON")
    now = "2024-05-01T00:00:00+00:00"
    db.execute("INSERT INTO files VALUES (?,?,?,?,?,?)", (sha, records[0].file, 1, now, now, "read"))

    def insert(table, row):
        return db.execute(f"INSERT INTO {table} ({','.join(row)}) VALUES ({','.join('?' * len(row))})",
                          tuple(row.values())).lastrowid
    for r in records:
        p = Prepared.of(r)
        sid = insert("submissions", {"sha256": sha, "path": r.file, "modified": now, "received_at": now,
                                     "status": "current", **p.submission, "record": r.to_json()})
        [project] = p.rows("projects")
        insert("projects", {"submission_id": sid, **dict(zip(ROW_COLUMNS["projects"], project))})
        for table in ("funds", "indicators", "problems"):
            for row in p.rows(table):
                insert(table, {"submission_id": sid, **dict(zip(ROW_COLUMNS[table], row))})
        for row in (dict(zip(ROW_COLUMNS["extra_values"], row)) for row in p.rows("extra_values")):
            text = row["value"] if row["number"] is None else f"{row['number']:g}"
            insert("extra_values", {"submission_id": sid, "position": row["position"], "key": row["key"], "value": text})
    db.commit()
    db.close()


def test_a_0_2_database_opens_reads_and_takes_new_returns(returns, tmp_path):
    old = tmp_path / "old.db"
    db = sqlite3.connect(old)
    db.executescript(DATABASE_0_2)
    db.close()
    reg = Registry(returns["registry"], create=False)
    sc = read_return(returns["inbox"] / "sc.xlsx", reg)
    reg.close()
    write_0_2(old, sc, "a" * 64)
    expected = as_read(returns)

    store = Store(old, create=False)   # read as it is: nothing written, its records whole
    try:
        assert store.current_records() == expected["sc.xlsx"]
    finally:
        store.close()
    assert "number" not in {r[1] for r in sqlite3.connect(old).execute("PRAGMA table_info(extra_values)")}

    (returns["inbox"] / "sc.xlsx").unlink()   # the old database has it; the national return is new
    r = collect(returns, old, tmp_path)
    assert r.exit_code == 1 and "2 files: 2 read" in r.stderr, r.output
    assert "number" in {r[1] for r in sqlite3.connect(old).execute("PRAGMA table_info(extra_values)")}
    exported = json.loads(CliRunner().invoke(main, ["export", "--db", str(old), "--format", "json"]).stdout)
    both = sorted([expected["national.xlsx"][0], expected["sc.xlsx"][0]], key=lambda r: r["project"]["department"])
    assert exported == both   # one stored whole, one in parts
    book = openpyxl.load_workbook(tmp_path / "summary.xlsx")
    assert [row[1] for row in book["汇总"].iter_rows(min_row=2, values_only=True)] == [r["project"]["name"] for r in both]
    # 指标, from the old record's JSON and from the new one's table rows alike
    assert [row[:13] for row in book["指标"].iter_rows(min_row=2, values_only=True)] == [
        (r["project"]["department"], r["project"]["name"], r["template"]["id"], r["template"]["version"], i["level1"],
         i["level2"], i["name"], i["id"], i["target"], i["actual"], i["weight"], i["score"], i["deviation_reason"])
        for r in both for i in r["indicators"]]
