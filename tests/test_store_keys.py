"""Whatever collect does (a file rejected, read again once the registry knows it, a duplicate, a newer return
superseding another, several workers), every row's keys name an existing row, and a store's write transaction
refuses a row that names none (SQLite checks foreign keys in it too: issue 22 measured switching that off for
5% of storing, and kept the check)."""
import shutil
import sqlite3

import pytest

from helpers import GOOD, fill_openpyxl
from test_commands import collect, issued  # noqa: F401  (the small form issued, another registry)
from xlform.storage.store import Store

# (table, column, parent table, parent column): every foreign key of the collection database
KEYS = [("file_paths", "sha256", "files", "sha256"), ("submissions", "sha256", "files", "sha256"),
        ("projects", "submission_id", "submissions", "id"), ("funds", "submission_id", "submissions", "id"),
        ("indicators", "submission_id", "submissions", "id"), ("extra_values", "submission_id", "submissions", "id"),
        ("problems", "submission_id", "submissions", "id")]


def orphans(store: Store) -> dict[str, int]:
    return {f"{t}.{c}": n for t, c, pt, pc in KEYS
            for [n] in [store.db.one(f"SELECT COUNT(*) FROM {t} WHERE {c} NOT IN (SELECT {pc} FROM {pt})")] if n}


def test_the_keys_hold_through_rejection_rereading_duplicates_and_supersession(issued, tmp_path, db_url):  # noqa: F811
    out = tmp_path / "out"
    shutil.copy(issued["good"], issued["inbox"] / "copy.xlsx")   # the same content twice: a duplicate
    first = collect(issued["inbox"], db_url, issued["other"], out)   # rejected: the registry does not know it
    assert "1 rejected" in first.output and "1 skipped duplicates" in first.output, first.output
    newer = fill_openpyxl(issued["form"], tmp_path / "newer.xlsx", {**GOOD, "F7": 70})
    shutil.move(newer, issued["inbox"] / "newer.xlsx")   # the same template, modified later: supersedes
    right = collect(issued["inbox"], db_url, issued["registry"], out, "--jobs", "2")   # read again, two workers
    assert right.exit_code in (0, 1) and "Traceback" not in right.output, right.output
    store = Store(db_url, create=False)
    try:
        statuses = sorted(r[0] for r in store.db.all("SELECT status FROM submissions"))
        assert statuses == ["current", "superseded"], statuses
        assert store.db.one("SELECT COUNT(*) FROM indicators")[0] > 0
        assert orphans(store) == {}
        # the rejection's rows went with it (SQLite would give a deleted id to the next submission)
        assert store.db.one("SELECT COUNT(*) FROM problems WHERE code IN ('unknown_template', 'unknown_version')") \
            == (0,)
        assert store.db.one("SELECT COUNT(*) FROM problems")[0] == \
            store.db.one("SELECT COALESCE(SUM(errors + warnings), 0) FROM submissions")[0]
        if store.location.engine == "sqlite":
            assert store.db.all("PRAGMA foreign_key_check") == []
    finally:
        store.close()


def test_a_store_checks_its_keys_in_its_record_transactions_and_after_them(tmp_path):
    """In a transaction of records, after one, and after one that failed, a row naming no file is refused."""
    store = Store(tmp_path / "c.db")
    try:
        with pytest.raises(sqlite3.IntegrityError):
            with store.transaction():
                store.add_path("a.xlsx", "0" * 64, "2026-01-01")
        with pytest.raises(RuntimeError):
            with store.transaction():
                raise RuntimeError("a failed batch")
        assert store.db.one("PRAGMA foreign_keys")[0] == 1
        with pytest.raises(sqlite3.IntegrityError):
            store.add_path("b.xlsx", "1" * 64, "2026-01-01")
        assert store.db.one("SELECT COUNT(*) FROM file_paths") == (0,)
    finally:
        store.close()
