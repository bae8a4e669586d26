"""Registries and collection databases written by xlform 0.1 open in 0.2: the columns 0.2 adds are added in
place, what they hold is read, and new work goes on in the same files."""
import json
import sqlite3

from click.testing import CliRunner

from helpers import GOOD, fill_openpyxl, small_form
from xlform.cli import main
from xlform.issue.registry import Registry
from xlform.storage.store import Store

# The schemas of xlform 0.1 (commit 6ae5418), as its files hold them.
REGISTRY_0_1 = """
CREATE TABLE IF NOT EXISTS templates (
    id TEXT NOT NULL, version INTEGER NOT NULL, hash TEXT NOT NULL, form TEXT NOT NULL,
    year INTEGER, project TEXT, department TEXT, implementer TEXT,
    definition TEXT NOT NULL, issued_at TEXT NOT NULL,
    PRIMARY KEY (id, version));
CREATE TABLE IF NOT EXISTS issued_files (
    id TEXT NOT NULL, version INTEGER NOT NULL, file TEXT NOT NULL, sheet TEXT NOT NULL,
    department TEXT, issued_at TEXT NOT NULL,
    FOREIGN KEY (id, version) REFERENCES templates (id, version));
"""
DATABASE_0_1 = """
CREATE TABLE IF NOT EXISTS files (          -- one row per distinct file content
    sha256 TEXT PRIMARY KEY, path TEXT NOT NULL, size INTEGER, modified TEXT, received_at TEXT NOT NULL,
    status TEXT NOT NULL                    -- read | rejected
);
CREATE TABLE IF NOT EXISTS file_paths (     -- every path a content was found under (duplicates too)
    path TEXT PRIMARY KEY, sha256 TEXT NOT NULL REFERENCES files(sha256), seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (    -- one row per project sheet read (or per rejected file)
    id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL REFERENCES files(sha256), path TEXT NOT NULL,
    sheet TEXT, template_id TEXT, version INTEGER, department TEXT, project TEXT,
    modified TEXT, received_at TEXT NOT NULL,
    status TEXT NOT NULL,                   -- current | superseded | rejected
    errors INTEGER NOT NULL, warnings INTEGER NOT NULL, total_score REAL,
    record TEXT NOT NULL                    -- the full record as JSON
);
CREATE INDEX IF NOT EXISTS submissions_template ON submissions(template_id, status);
CREATE TABLE IF NOT EXISTS projects (
    submission_id INTEGER PRIMARY KEY REFERENCES submissions(id), template_id TEXT, version INTEGER,
    name TEXT, department TEXT, implementer TEXT, year INTEGER, goal_expected TEXT, goal_actual TEXT,
    funds_weight REAL, funds_rate REAL, funds_score REAL, total_score REAL
);
CREATE TABLE IF NOT EXISTS funds (
    submission_id INTEGER NOT NULL REFERENCES submissions(id), row TEXT NOT NULL,
    initial REAL, annual REAL, executed REAL, PRIMARY KEY (submission_id, row)
);
CREATE TABLE IF NOT EXISTS indicators (
    submission_id INTEGER NOT NULL REFERENCES submissions(id), position INTEGER NOT NULL,
    indicator_id TEXT, level1 TEXT, level2 TEXT, name TEXT, target TEXT, actual REAL, weight REAL,
    score REAL, deviation_reason TEXT, PRIMARY KEY (submission_id, position)
);
CREATE TABLE IF NOT EXISTS problems (
    id INTEGER PRIMARY KEY, submission_id INTEGER NOT NULL REFERENCES submissions(id),
    cell TEXT, severity TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL
);
CREATE VIEW IF NOT EXISTS current AS
    SELECT s.*, p.implementer, p.funds_rate, p.funds_score FROM submissions s
    LEFT JOIN projects p ON p.submission_id = s.id WHERE s.status = 'current';
"""


def columns(path, table):
    return {r[1] for r in sqlite3.connect(path).execute(f"PRAGMA table_info({table})")}


def test_a_0_1_registry_is_read_and_then_upgraded(tmp_path):
    (tmp_path / "new").mkdir()
    project, _, reg = small_form(tmp_path / "new")
    reg.close()
    old = tmp_path / "old.db"
    db = sqlite3.connect(old)
    db.executescript(REGISTRY_0_1)
    # a template as 0.1 registered it: its definition, no form kind kept
    db.execute("INSERT INTO templates VALUES (?,?,?,?,?,?,?,?,?,?)",
               (project.id, 1, "0.1-hash", "project", project.year, project.project, project.department,
                project.implementer, json.dumps(project.canonical(), ensure_ascii=False), "2025-01-01T00:00:00+00:00"))
    db.commit()
    db.close()
    read_only = Registry(old, create=False)          # read as it is, nothing written
    entry = read_only.lookup(project.id, 1)
    assert entry["project"] == project and entry["kind"] is None
    read_only.close()
    assert "kind" not in columns(old, "templates")
    reg = Registry(old)                              # opened to write: the column is added in place
    assert "kind" in columns(old, "templates")
    assert reg.lookup(project.id, 1)["project"] == project
    reg.close()


def test_a_0_1_database_takes_new_returns(tmp_path):
    project, form, reg = small_form(tmp_path)
    reg.close()
    db_path = tmp_path / "collect.db"
    db = sqlite3.connect(db_path)
    db.executescript(DATABASE_0_1)
    db.close()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fill_openpyxl(form, inbox / "good.xlsx", GOOD)
    r = CliRunner().invoke(main, ["collect", str(inbox), "--db", str(db_path), "--registry", str(tmp_path / "r.db"),
                                  "--summary", str(tmp_path / "s.xlsx"), "--report", str(tmp_path / "reports"),
                                  "--quiet", "--jobs", "1"])
    assert r.exit_code == 0, r.output
    assert {"form", "grade"} <= columns(db_path, "submissions") and "actual_text" in columns(db_path, "indicators")
    store = Store(db_path, create=False)
    [record] = store.current_records()
    store.close()
    assert record["grade"] == "优" and record["template"]["form"] == "project"
    [(tier,)] = sqlite3.connect(db_path).execute(
        "SELECT actual_text FROM indicators WHERE name='群众意识'").fetchall()
    assert tier == "达成年度指标"
