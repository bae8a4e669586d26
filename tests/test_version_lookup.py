"""A return's version and its template's latest version, asked of the registry together (issue 22): at a province's
scale every return's version is met for the first time, and its lookup's one query gives the latest too; a
version met before still asks the latest every time, since a render may issue one while a collection runs."""
from helpers import definition, fill_openpyxl, load_def

from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.returns import sheet as sheet_reader
from xlform.returns.reader import read

FILLED = {"F7": 100, "F11": "完成", "F13": 1, "I13": "按计划完成一次"}


def _issue(tmp_path, reg, target, folder):
    d = definition([("产出指标", "数量指标", "a", target, 90)])
    [issued] = render([load_def(tmp_path, d)], tmp_path / folder, registry=reg)
    return issued


def _statements(reg) -> list[str]:
    """The SQL statements the registry's connection runs from now on (SQLite's own trace)."""
    seen: list[str] = []
    reg.db.con.set_trace_callback(seen.append)
    return seen


def test_a_version_met_for_the_first_time_is_one_query_of_the_templates(tmp_path):
    reg = Registry(tmp_path / "r.db")
    v1 = _issue(tmp_path, reg, "≥1次", "v1")
    _issue(tmp_path, reg, "≥2次", "v2")
    reg.close()
    returned = fill_openpyxl(v1.file, tmp_path / "f.xlsx", FILLED)
    sheet_reader.forget_versions()
    reader = Registry(tmp_path / "r.db", create=False)
    try:
        seen = _statements(reader)
        [r] = read(returned, reader)
        assert [p.code for p in r.problems] == ["outdated_version"]   # the latest, from that one query
        assert len([s for s in seen if "FROM templates" in s]) == 1, seen
    finally:
        reader.close()


def test_a_version_met_before_sees_a_version_issued_meanwhile(tmp_path):
    reg = Registry(tmp_path / "r.db")
    v1 = _issue(tmp_path, reg, "≥1次", "v1")
    returned = fill_openpyxl(v1.file, tmp_path / "f.xlsx", FILLED)
    reader = Registry(tmp_path / "r.db", create=False)   # a collection's, open while the office renders
    try:
        [first] = read(returned, reader)
        assert first.problems == []
        _issue(tmp_path, reg, "≥2次", "v2")                # issued meanwhile by another connection
        [again] = read(returned, reader)                   # version 1 now kept by the reader's caches
        assert [(p.code, p.severity) for p in again.problems] == [("outdated_version", "warning")]
        assert "第 1 版，当前为第 2 版" in again.problems[0].message
    finally:
        reader.close()
        reg.close()


def test_an_unknown_version_and_an_unknown_template_are_still_told_apart(tmp_path):
    reg = Registry(tmp_path / "r.db")
    _issue(tmp_path, reg, "≥1次", "v1")
    reg.close()
    reader = Registry(tmp_path / "r.db", create=False)
    try:
        assert reader.lookup_with_latest("t-001", 1)[1] == 1
        assert reader.lookup_with_latest("t-001", 1)[1] == 1   # (cached: the latest asked again)
        assert reader.lookup_with_latest("t-001", 7) == (None, 1)
        assert reader.lookup_with_latest("nothing", 1) == (None, 0)
        assert reader.lookup("t-001")["version"] == 1 and reader.lookup("nothing") is None
    finally:
        reader.close()


def test_a_layout_kept_before_fields_named_their_section_is_read_once_and_reads_alike(tmp_path):
    """A registry of before the fields' sections: its layout is placed again for each version, its JSON read from
    the layouts table once for it (it was read and parsed twice), and the return reads as with today's layout."""
    import json
    import sqlite3
    reg = Registry(tmp_path / "r.db")
    v1 = _issue(tmp_path, reg, "≥1次", "v1")
    returned = fill_openpyxl(v1.file, tmp_path / "f.xlsx", FILLED)
    sheet_reader.forget_versions()
    [today] = read(returned, reg)
    reg.close()
    con = sqlite3.connect(tmp_path / "r.db")
    for key, text in con.execute("SELECT key, layout FROM layouts").fetchall():
        data = json.loads(text)
        data["fields"] = {k: v[:6] for k, v in data["fields"].items()}   # cell … label: no section, no span
        con.execute("UPDATE layouts SET layout=? WHERE key=?", (json.dumps(data, ensure_ascii=False), key))
    con.commit()
    con.close()
    sheet_reader.forget_versions()
    reader = Registry(tmp_path / "r.db", create=False)
    try:
        seen = _statements(reader)
        [old] = read(returned, reader)
        assert len([s for s in seen if "FROM layouts" in s and "SELECT 1" not in s]) == 1, seen
        assert old.to_dict() == today.to_dict()
    finally:
        reader.close()
