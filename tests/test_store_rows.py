"""What the store writes for a batch of returns (issue 22: storing made cheaper, nothing stored differently):
every table's rows as the records read give them, column by column, in the order found, on SQLite and
PostgreSQL, whether many rows go in one INSERT or one at a time; the records come back as read; storing the
batch again adds nothing."""
import json
from pathlib import Path

import pytest

from test_store_once import returns  # noqa: F401  (the fixture: a Sichuan kind with columns of its own, …)
from xlform.collecting.collector import read_one, store_batch
from xlform.issue.registry import Registry
from xlform.storage import db as engines
from xlform.storage.store import INDICATOR_KEYS, Store

NOW = "2026-01-02T03:04:05+00:00"


def _numeric(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _split(v) -> tuple:
    """(number, text) of a value stored in a numeric column and a text one: a number, or a text shown so."""
    if _numeric(v):
        return v, None
    return None, (f"{v:g}" if isinstance(v, float) else str(v))


def expected_tables(read, ids) -> dict[str, list[tuple]]:
    """Every table's rows for the files `read` (as read_one gives them) whose records got the submission
    `ids` in their order, each column taken from the record as read (the store's own row building unused)."""
    reg = Registry(read["registry"], create=False)
    try:
        from xlform.returns.reader import read_return
        records = [(path, sha, size, modified, read_return(Path(path), reg)) for path, sha, size, modified, _ in read["files"]]
    finally:
        reg.close()
    t = {name: [] for name in ("files", "file_paths", "submissions", "projects", "funds", "indicators",
                               "extra_values", "problems")}
    ids = iter(ids)
    for path, sha, size, modified, recs in records:
        usable = [bool(r.template.get("id") and r.project) for r in recs]
        t["files"].append((sha, path, size, modified, NOW, "read" if any(usable) else "rejected"))
        t["file_paths"].append((path, sha, NOW))
        for r, ok in zip(recs, usable):
            sid = next(ids)
            tid = r.template.get("id") or None
            head = r.to_dict()
            del head["indicators"], head["problems"]
            head[INDICATOR_KEYS] = list(dict.fromkeys(k for i in r.indicators for k in i.extra))
            errors = sum(p.severity == "error" for p in r.problems)
            t["submissions"].append((sid, sha, path, r.sheet, tid, r.template.get("version"), r.project.get("department"),
                                     r.project.get("name"), modified, NOW, "current" if ok else "rejected",
                                     errors, sum(p.severity == "warning" for p in r.problems), r.total_score,
                                     json.dumps(head, ensure_ascii=False), r.template.get("form"), r.grade))
            if ok:
                p = r.project
                t["projects"].append((sid, tid, r.template.get("version"), p["name"], p["department"], p["implementer"],
                                      p["year"], r.goal.get("expected"), r.goal.get("actual"), r.funds.get("weight"),
                                      r.funds.get("rate"), r.funds.get("score"), r.total_score))
                t["funds"] += [(sid, k, v["initial"], v["annual"], v["executed"]) for k, v in r.funds["rows"].items()]
                t["indicators"] += [(sid, n, i.id, i.level1, i.level2, i.name, i.target, *_split(i.actual), i.weight,
                                     i.score, i.deviation_reason) for n, i in enumerate(r.indicators)]
            own = {k: v for k, v in r.project.items() if k not in ("name", "department", "implementer", "year")}
            t["extra_values"] += [(sid, -1, k, *reversed(_split(v))) for k, v in {**own, **r.extra}.items()]
            t["extra_values"] += [(sid, n, k, *reversed(_split(v))) for n, i in enumerate(r.indicators)
                                  for k, v in i.extra.items()]
            t["problems"] += [(sid, p.where, p.severity, p.code, p.message) for p in r.problems]
    return t


SELECTS = {   # every column, in an order both engines give alike
    "files": "SELECT sha256, path, size, modified, received_at, status FROM files ORDER BY path",
    "file_paths": "SELECT path, sha256, seen_at FROM file_paths ORDER BY path",
    "submissions": "SELECT id, sha256, path, sheet, template_id, version, department, project, modified, received_at, "
                   "status, errors, warnings, total_score, record, form, grade FROM submissions ORDER BY id",
    "projects": "SELECT submission_id, template_id, version, name, department, implementer, year, goal_expected, "
                "goal_actual, funds_weight, funds_rate, funds_score, total_score FROM projects ORDER BY submission_id",
    "funds": "SELECT submission_id, row, initial, annual, executed FROM funds ORDER BY submission_id, row",
    "indicators": "SELECT submission_id, position, indicator_id, level1, level2, name, target, actual, actual_text, "
                  "weight, score, deviation_reason FROM indicators ORDER BY submission_id, position",
    "extra_values": "SELECT submission_id, position, key, value, number FROM extra_values "
                    "ORDER BY submission_id, position, key",
    "problems": "SELECT submission_id, cell, severity, code, message FROM problems ORDER BY id",   # as found
}


@pytest.fixture()
def read(returns):  # noqa: F811
    """The fixture's files as the collecting workers read them, by path."""
    reg = Registry(returns["registry"], create=False)
    try:
        files = [read_one(str(f), reg, frozenset()) for f in sorted(returns["inbox"].iterdir())]
    finally:
        reg.close()
    assert sum(len(rows) for *_, rows in files) == 3 and all(sha for _, sha, *_ in files)
    return {"files": files, "registry": returns["registry"]}


def tables_of(store: Store) -> dict[str, list[tuple]]:
    return {t: [tuple(r) for r in store.db.all(sql)] for t, sql in SELECTS.items()}


def sort_like(t: dict) -> dict:
    """The expected rows in the SELECTs' orders (problems stay in the order found)."""
    keys = {"files": lambda r: r[1], "file_paths": lambda r: r[0], "submissions": lambda r: r[0],
            "projects": lambda r: r[0], "funds": lambda r: (r[0], r[1]), "indicators": lambda r: (r[0], r[1]),
            "extra_values": lambda r: (r[0], r[1], r[2])}
    return {name: sorted(rows, key=keys[name]) if name in keys else rows for name, rows in t.items()}


@pytest.mark.parametrize("per_insert", [64, 16, 3, 1])
def test_every_table_holds_the_records_rows_in_the_order_found(read, db_url, monkeypatch, per_insert):
    # 3 rows an INSERT: the fixture's 20-odd indicators and problems go in whole statements and a rest
    monkeypatch.setattr(engines, "ROWS_PER_INSERT", per_insert)
    store = Store(db_url)
    try:
        counts = {k: [] if k == "unreadable" else 0 for k in
                  ("read", "records", "errors", "warnings", "duplicates", "rejected", "unreadable")}
        store_batch(store, read["files"], NOW, counts)
        ids = [r[0] for r in store.db.all("SELECT id FROM submissions ORDER BY id")]
        stored = tables_of(store)
        # the records as stored come back as read
        rebuilt = {Path(r["file"]).name: r for part in store.records(ids) for r in part}
    finally:
        store.close()
    order = {f[0]: n for n, f in enumerate(sorted(read["files"], key=lambda f: (f[1], f[0])))}   # stored by sha
    expected = expected_tables({**read, "files": sorted(read["files"], key=lambda f: order[f[0]])}, ids)
    assert len(stored["indicators"]) > 10 and len(stored["problems"]) > 3 and stored["extra_values"]
    for table, rows in sort_like(expected).items():
        assert stored[table] == rows, table
    reg = Registry(read["registry"], create=False)
    try:
        from xlform.returns.reader import read_return
        for path, *_ in read["files"]:
            [record] = read_return(Path(path), reg)
            assert json.dumps(rebuilt[Path(path).name], ensure_ascii=False) == record.to_json()
    finally:
        reg.close()
    assert counts["read"] == 3 and counts["records"] == 3 and counts["rejected"] == 1


def test_the_same_batch_stored_again_adds_nothing(read, db_url, monkeypatch):
    monkeypatch.setattr(engines, "ROWS_PER_INSERT", 4)
    store = Store(db_url)
    try:
        counts = {k: [] if k == "unreadable" else 0 for k in
                  ("read", "records", "errors", "warnings", "duplicates", "rejected", "unreadable")}
        store_batch(store, read["files"], NOW, counts)
        first = tables_of(store)
        store_batch(store, read["files"], "2027-01-01T00:00:00+00:00", counts)
        again = tables_of(store)
    finally:
        store.close()
    assert counts["read"] == 3 and counts["duplicates"] == 3
    assert {t: rows for t, rows in again.items() if t != "file_paths"} == \
        {t: rows for t, rows in first.items() if t != "file_paths"}
    assert [r[:2] for r in again["file_paths"]] == [r[:2] for r in first["file_paths"]]   # seen again, later


def test_rows_stored_in_a_transaction_of_the_callers_own_as_in_a_batch(read, db_url, monkeypatch):
    """The desk stores a file inside a transaction of its own (no batch): its rows go in at once."""
    monkeypatch.setattr(engines, "ROWS_PER_INSERT", 3)
    store = Store(db_url)
    try:
        files = sorted(read["files"], key=lambda f: (f[1], f[0]))
        for path, sha, size, modified, rows in files:
            with store.db.transaction():
                store.add_file(path, sha, size, modified, NOW, rows)
        ids = [r[0] for r in store.db.all("SELECT id FROM submissions ORDER BY id")]
        stored = tables_of(store)
    finally:
        store.close()
    for table, rows in sort_like(expected_tables({**read, "files": files}, ids)).items():
        assert stored[table] == rows, table


@pytest.mark.parametrize("count", [0, 1, 63, 64, 65, 200])
def test_insert_values_keeps_the_rows_order_and_types(db_url, monkeypatch, count):
    """Many rows an INSERT: the serial ids follow the order given, and each numeric column takes None, an int
    and a float side by side in one statement (PostgreSQL types a VALUES list by its target columns)."""
    store = Store(db_url)
    try:
        with store.db.transaction():
            store.db.execute("INSERT INTO files VALUES (?,?,?,?,?,?)", ("s", "p", 1, NOW, NOW, "read"))
            sid = store.db.insert("submissions", {"sha256": "s", "path": "p", "received_at": NOW, "status": "rejected",
                                                  "errors": 0, "warnings": 0, "record": "{}"}, returning="id")
            problems = [(sid, f"A{n}", "error" if n % 3 else "warning", "c", f"第{n}个") for n in range(count)]
            store.db.insert_rows("problems", ("submission_id", "cell", "severity", "code", "message"), problems)
            funds = [(sid, f"r{n:03}", (None, 3, 2.5)[n % 3], n, n / 7) for n in range(count)]
            store.db.insert_values("funds", ("submission_id", "row", "initial", "annual", "executed"),
                                   [v for row in funds for v in row])
        got = store.db.all("SELECT submission_id, cell, severity, code, message, id FROM problems ORDER BY id")
        assert [tuple(r[:5]) for r in got] == problems
        assert [tuple(r) for r in store.db.all("SELECT * FROM funds ORDER BY row")] == funds
        if store.location.engine == engines.SQLITE:   # REAL columns hold floats, as a row at a time stored them
            assert {t for r in store.db.all("SELECT typeof(initial), typeof(annual) FROM funds") for t in r} <= \
                {"null", "real"}
        with pytest.raises(ValueError):
            store.db.insert_values("funds", ("submission_id", "row"), [sid])
    finally:
        store.close()


@pytest.mark.parametrize("funds", [{}, {"weight": 10.0}, {"weight": 10.0, "rows": {"total": {"initial": 1.0}}, "rate": 1}])
def test_a_records_head_is_its_dict_less_its_indicators_and_problems(funds):
    """The record JSON the store writes (to_dict(parts=False), without building the parts to drop them):
    the same keys in the same order and the same values as the whole dict less its indicators and problems,
    a funds without rows included (it gets an empty one either way)."""
    from xlform.errors import Problem
    from xlform.storage.record import IndicatorRecord, Record
    r = Record("f.xlsx", "表", {"id": "t"}, {"name": "项目", "department": "部门", "implementer": None, "year": 2024,
                                            "code": "X1"}, funds, {"expected": "目标"},
               [IndicatorRecord("a", "产出", "数量", "n", "≥1", 1.0, 10.0, 10.0, None, {"evidence": "报告"})], 90.5,
               [Problem("表!A1", "", "错", "c", "error")], "优", {"conclusion": "好"})
    whole = r.to_dict()
    del whole["indicators"], whole["problems"]
    assert json.dumps(r.to_dict(parts=False), ensure_ascii=False) == json.dumps(whole, ensure_ascii=False)
    assert r.to_dict(parts=False)["funds"] is not r.funds   # a copy, as to_dict gives
