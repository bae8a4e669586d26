"""An issued template is read against what was issued (issues 18 and 22): the registry keeps each version's
layout and locked cells at render time, so a later change of placement code (or of a writer's text) gives no
false problem on returns already out, and a read neither places the form nor runs the writer. Registries
of xlform 0.2 and 0.1 kept no such map: their returns read exactly as before."""
import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import openpyxl
import pytest
from xlsxwriter.utility import xl_cell_to_rowcol
from helpers import GOOD, SMALL, definition, fill_openpyxl, load_def, write_def

from xlform.definition.definition import load
from xlform.form.layout import layout
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.kinds import sections
from xlform.kinds.forms import form_kind
from xlform.returns import sheet as sheet_reader
from xlform.returns.reader import read_file
from xlform.xlsx import writer

ROOT = Path(__file__).resolve().parent.parent
SICHUAN = ROOT / "examples" / "sc-2023-01.yaml"
MOVED = {"cell_map_changed", "locked_changed", "formula_changed", "structure_changed", "extra_content"}


@pytest.fixture(autouse=True)
def fresh_process():
    """Every read here starts as in a new process: no layout or blank sheet cached from another test."""
    sheet_reader.forget_versions()
    yield
    sheet_reader.forget_versions()


def kept_maps(con) -> dict:
    """{(id, version): {"layout": …, "expected": …}} as the registry's tables hold them (a sqlite3 or psycopg
    connection): each version's locked cells, and its layout by the key it names."""
    rows = con.execute("SELECT t.id, t.version, t.issued, l.layout FROM templates t "
                       "JOIN layouts l ON l.key = t.layout ORDER BY t.id, t.version").fetchall()
    return {(tid, v): {"layout": json.loads(lay), "expected": json.loads(cells)} for tid, v, cells, lay in rows}


def keep_whole(con, mark: str = "?"):
    """Rewrite the registry (a sqlite3 or psycopg connection; `mark` its placeholder) as it was kept before the
    layouts table: each version's map whole in templates.issued, no layout column, no layouts table."""
    for (tid, v), whole in kept_maps(con).items():
        con.execute(f"UPDATE templates SET issued={mark} WHERE id={mark} AND version={mark}",
                    (json.dumps(whole, ensure_ascii=False, separators=(",", ":")), tid, v))
    con.execute("ALTER TABLE templates DROP COLUMN layout")
    con.execute("DROP TABLE layouts")


def answers(project) -> dict:
    """A department's answers typed into every input cell of the form as issued (today's layout)."""
    lay = layout(project, form_kind(project.form))
    cells = {}
    for key, f in lay.inputs().items():
        if f.type == "text":
            cells[f.cell] = "按计划完成。"
        elif f.type == "amount":
            cells[f.cell] = project.funds.rows[key.split(".")[1]].annual * 0.9
        elif f.type in ("percent", "qualitative"):
            cells[f.cell] = 0.9
        elif f.type == "tier":
            cells[f.cell] = "达成年度指标"
        elif f.type == "score":
            cells[f.cell] = project.indicators[int(key.split(".")[1])].weight
        else:
            cells[f.cell] = 4
    return cells


def read(path, registry_path) -> list[dict]:
    """The records of a return, read with the registry opened afresh (no version cached)."""
    sheet_reader.forget_versions()
    reg = Registry(registry_path, create=False)
    try:
        return [r.to_dict() for r in read_file(Path(path), reg)]
    finally:
        reg.close()


def codes(records) -> set[str]:
    return {p["code"] for r in records for p in r["problems"]}


@pytest.fixture()
def issued(tmp_path):
    """A Sichuan form and a national one issued by this code and returned filled (openpyxl, as a department's
    tool saves them): {name: (project, issued workbook, return)} and the registry's path."""
    reg_path = tmp_path / "registry.db"
    reg = Registry(reg_path)
    sichuan = load(SICHUAN)
    national = load_def(tmp_path, definition(SMALL, id="im-national-01"))
    out = {}
    for name, p in (("sichuan", sichuan), ("national", national)):
        [done] = render([p], tmp_path / "issued", registry=reg)
        out[name] = (p, done.file, fill_openpyxl(done.file, tmp_path / f"{name}.xlsx", answers(p)))
    reg.close()
    return out, reg_path


def move_placement(monkeypatch):
    """A later release places the form otherwise: the signatures one column right, 实际完成情况 one column
    right, and the writer labels the 总分 row in other words."""
    def moved(place):
        def place_moved(self, lay, row):
            end = place(self, lay, row)
            for key, f in list(lay.fields.items()):
                if f.role == "input" and (key in lay.kind.spec.get("signatures", ()) or key == "goal.actual"):
                    row_, col = xl_cell_to_rowcol(f.cell)
                    lay.fields[key] = f._replace(cell=sections.ref(row_, col + 1))
            return end
        return place_moved

    monkeypatch.setattr(sections.Signatures, "place", moved(sections.Signatures.place))
    monkeypatch.setattr(sections.Goal, "place", moved(sections.Goal.place))
    draw_total = sections.Total.draw

    def relabelled(self, pen):
        draw_total(self, pen)
        pen.ws.write_string(pen.lay.rows["total"], 0, "合计得分", pen.fmt["label"])
    monkeypatch.setattr(sections.Total, "draw", relabelled)


def test_a_change_of_placement_code_gives_no_false_problem_on_returns_out(issued, monkeypatch, tmp_path):
    forms, reg_path = issued
    before = {name: read(path, reg_path) for name, (_, _, path) in forms.items()}
    for name, records in before.items():
        assert [r["template"]["id"] for r in records] == [forms[name][0].id]
        assert not codes(records) & MOVED, (name, codes(records))
    assert before["sichuan"][0]["extra"]["leader"] == "按计划完成。"
    # the same registry without the kept maps (as 0.2 wrote it) stands for the code this test moves
    old = tmp_path / "0.2.db"
    shutil.copy(reg_path, old)
    with sqlite3.connect(old) as db:
        db.execute("UPDATE templates SET issued = NULL")
    sichuan = forms["sichuan"][0]
    issued_at = layout(sichuan, form_kind("sichuan")).cell("leader")
    move_placement(monkeypatch)
    assert layout(sichuan, form_kind("sichuan")).cell("leader") != issued_at
    for name, (_, _, path) in forms.items():
        assert read(path, reg_path) == before[name], name      # read against what was issued
    # without the kept map the moved code reads the same returns wrong: what this part of issue 18 fixed
    for name, (_, _, path) in forms.items():
        assert {"cell_map_changed", "locked_changed"} <= codes(read(path, old)), name


def test_a_read_neither_places_the_form_nor_runs_the_writer(issued, monkeypatch):
    forms, reg_path = issued
    before = {name: read(path, reg_path) for name, (_, _, path) in forms.items()}

    def never(*_):
        raise AssertionError("a read ran the placement code or the writer")
    for section in sections.SECTIONS.values():
        monkeypatch.setattr(section, "place", never)
    monkeypatch.setattr(writer.SheetWriter, "write", never)
    for name, (_, _, path) in forms.items():
        assert read(path, reg_path) == before[name], name


def test_the_registry_keeps_every_field_and_locked_cell_of_the_version(issued):
    forms, reg_path = issued
    db = sqlite3.connect(reg_path)
    maps = kept_maps(db)
    db.close()
    for name, (p, blank, _) in forms.items():
        kept = maps[(p.id, 1)]
        kind = form_kind(p.form)
        lay = layout(p, kind)
        assert kept["layout"]["rows"] == lay.rows and kept["layout"]["col"] == lay.col
        assert {k: v[0] for k, v in kept["layout"]["fields"].items()} == lay.cell_map()
        assert [k for k, v in kept["layout"]["fields"].items() if v[1] == "input"] == list(lay.inputs())
        # the locked cells as the issued workbook holds them
        ws = openpyxl.load_workbook(blank)[kind.spec["sheet"]]
        for ref, (value, formula) in kept["expected"].items():
            got = ws[ref].value
            assert ("=" + formula if formula else value) == (got if not isinstance(got, int) else float(got)), ref


def returns_of_today(tmp_path) -> tuple[list[Path], Path]:
    """A set of returns of templates issued by this code: clean, tampered, a two-sheet workbook."""
    reg_path = tmp_path / "registry.db"
    reg = Registry(reg_path)
    sichuan = load(SICHUAN)
    small = load_def(tmp_path, definition(SMALL, id="im-small-01"), "small.yaml")
    a = load_def(tmp_path, definition(SMALL, id="im-dept-01", project="甲项目", department="甲局"), "a.yaml")
    b = load_def(tmp_path, definition(SMALL[:3] + [SMALL[3][:3] + ("≥90%", 10)], id="im-dept-02",
                                      project="乙项目", department="甲局"), "b.yaml")
    files = []
    [sc] = render([sichuan], tmp_path / "issued", registry=reg)
    files.append(fill_openpyxl(sc.file, tmp_path / "sc.xlsx", answers(sichuan)))
    files.append(fill_openpyxl(sc.file, tmp_path / "sc-blank-sign.xlsx",
                               {**answers(sichuan), layout(sichuan, form_kind("sichuan")).cell("leader"): None}))
    [sm] = render([small], tmp_path / "issued", registry=reg)
    files.append(fill_openpyxl(sm.file, tmp_path / "good.xlsx", GOOD))

    def tamper(wb):
        ws = wb["自评表"]
        ws["C3"] = "另一个项目"        # a locked cell
        ws["H13"] = 30                 # a formula replaced by a number
        ws["M40"] = "表外"             # outside the form
    files.append(fill_openpyxl(sm.file, tmp_path / "tampered.xlsx", GOOD, edit=tamper))
    [dept] = render([a, b], tmp_path / "by-dept", per="department", registry=reg)
    files.append(fill_openpyxl(dept.file, tmp_path / "dept.xlsx", {}, sheet=dept.sheets[0][0]))
    reg.close()
    return files, reg_path


def test_returns_of_a_0_2_registry_read_as_before(tmp_path):
    files, reg_path = returns_of_today(tmp_path)
    now = [read(f, reg_path) for f in files]
    # a set that tells: clean, a blank signature, tampered locked cells, a formula, content outside the form
    assert {"locked_changed", "formula_changed", "extra_content", "blank_text"} <= codes(sum(now, []))
    old = tmp_path / "0.2.db"                   # the same registry as xlform 0.2 wrote it: no kept maps
    shutil.copy(reg_path, old)
    with sqlite3.connect(old) as db:
        db.execute("ALTER TABLE templates DROP COLUMN issued")
    assert [read(f, old) for f in files] == now       # read-only: read as it is, nothing written
    assert "issued" not in {r[1] for r in sqlite3.connect(old).execute("PRAGMA table_info(templates)")}
    Registry(old).close()                             # opened to write: the column is added, left empty
    with sqlite3.connect(old) as db:
        assert db.execute("SELECT COUNT(*), COUNT(issued) FROM templates").fetchone() == (4, 0)
    assert [read(f, old) for f in files] == now


def pg_return(pg_url, tmp_path, template_id: str) -> tuple[Path, list[dict]]:
    """The small form issued in the PostgreSQL registry, returned filled: (the return, its records)."""
    p = load_def(tmp_path, definition(SMALL, id=template_id))
    reg = Registry(pg_url)
    [done] = render([p], tmp_path / "issued", registry=reg)
    reg.close()
    filled = fill_openpyxl(done.file, tmp_path / "good.xlsx", GOOD)
    return filled, read(filled, pg_url)


def test_the_postgresql_registry_keeps_and_upgrades_the_map(pg_url, tmp_path):
    import psycopg
    filled, now = pg_return(pg_url, tmp_path, "im-pg-01")
    assert now[0]["grade"] == "优" and not codes(now) & MOVED
    with psycopg.connect(pg_url) as con:
        [kept] = kept_maps(con).values()
        assert kept["layout"]["fields"]["indicators.0.actual"][0] == "F13"
        con.execute("ALTER TABLE templates DROP COLUMN issued")      # a registry of 0.2
    assert read(filled, pg_url) == now
    Registry(pg_url).close()
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT COUNT(issued) FROM templates").fetchone() == (0,)
    assert read(filled, pg_url) == now


def test_a_migration_cites_the_cells_as_issued(issued, monkeypatch, tmp_path):
    """migrate carries a return to a new version: its report names the old cells where the return holds them,
    though the placement code moved since."""
    from xlform.returns.migration import migrate
    forms, reg_path = issued
    p, _, filled = forms["national"]
    goal_at = layout(p, form_kind(p.form)).cell("goal.actual")
    changed = load_def(tmp_path, definition(SMALL[:3] + [SMALL[3][:3] + ("≥90%", 10)], id=p.id), "v2.yaml")
    move_placement(monkeypatch)
    reg = Registry(reg_path)
    try:
        m = migrate(filled, reg, tmp_path / "migrated", to=changed)
    finally:
        reg.close()
    assert m.error is None and m.sheets == [("自评表", p.id, 1, 2)]
    [goal] = [line for line in m.lines if line.field == "实际完成情况"]
    assert goal.old_cell == f"自评表!{goal_at}" and goal.value == "按计划完成。"


def test_a_parallel_render_keeps_the_map_of_every_new_version_and_changes_no_kept_one(tmp_path):
    """render --jobs 2 works the maps out in its worker processes (the parent alone took 5 ms a version):
    every new version gets the map the writer's own layout gives; an unchanged version keeps its map."""
    reg_path = tmp_path / "registry.db"
    projects = [load_def(tmp_path, definition(SMALL, id=f"im-par-{n:02d}", project=f"项目{n}"), f"p{n}.yaml")
                for n in range(6)]
    reg = Registry(reg_path)
    render(projects, tmp_path / "issued", registry=reg, jobs=2)
    render(projects, tmp_path / "again", registry=reg, jobs=2)   # unchanged: the same versions, no new map
    reg.close()
    db = sqlite3.connect(reg_path)
    maps = kept_maps(db)
    db.close()
    assert list(maps) == [(f"im-par-{n:02d}", 1) for n in range(6)]
    for kept, p in zip(maps.values(), projects):
        assert {k: v[0] for k, v in kept["layout"]["fields"].items()} == layout(p, form_kind(p.form)).cell_map()


def test_versions_laid_out_alike_keep_one_layout_and_read_as_their_own(tmp_path):
    """A province issues thousands of forms of a few hundred shapes: each layout is kept once (the registry
    took 70 KB a version), and every return is still read against its own version's locked cells."""
    reg_path = tmp_path / "registry.db"
    alike = [load_def(tmp_path, definition(SMALL, id=f"im-alike-{n}", project=f"同样式项目{n}"), f"a{n}.yaml")
             for n in range(3)]
    longer = load_def(tmp_path, definition(SMALL + [("产出指标", "时效指标", "及时率", "≥90%", 10)],
                                           id="im-longer", project="多一项指标"), "longer.yaml")
    reg = Registry(reg_path)
    done = render(alike + [longer], tmp_path / "issued", registry=reg)
    reg.close()
    db = sqlite3.connect(reg_path)
    keys = dict(db.execute("SELECT id, layout FROM templates").fetchall())
    stored = dict(db.execute("SELECT key, layout FROM layouts").fetchall())
    maps = kept_maps(db)
    db.close()
    assert len({keys[p.id] for p in alike}) == 1 and keys[longer.id] != keys[alike[0].id]
    assert set(stored) == set(keys.values())
    for key, text in stored.items():
        assert hashlib.sha256(text.encode()).hexdigest() == key
    assert maps[(alike[0].id, 1)]["expected"]["C3"][0] == "同样式项目0"   # each version its own locked cells
    assert maps[(alike[1].id, 1)]["expected"]["C3"][0] == "同样式项目1"
    # a return of one version carrying another's project name is tampered: the shared layout lends no cells
    files = {d.sheets[0][1]: d.file for d in done}
    good = fill_openpyxl(files[alike[1].id], tmp_path / "good.xlsx", GOOD)
    assert not codes(read(good, reg_path)) & MOVED
    wrong = fill_openpyxl(files[alike[1].id], tmp_path / "wrong.xlsx", GOOD, edit=lambda wb: wb["自评表"].cell(
        3, 3, "同样式项目0"))
    [changed] = [p for r in read(wrong, reg_path) for p in r["problems"] if p["code"] == "locked_changed"]
    assert changed["cell"] == "自评表!C3"


def test_returns_of_a_registry_before_the_layouts_table_read_as_before(tmp_path):
    """A registry before the layouts table kept each version's layout inside its map (no layouts table, no layout column): read
    as it is, and opened to render, it gains the table and keeps its old maps as they were."""
    files, reg_path = returns_of_today(tmp_path)
    now = [read(f, reg_path) for f in files]
    old = tmp_path / "whole-maps.db"
    shutil.copy(reg_path, old)
    with sqlite3.connect(old) as db:
        keep_whole(db)
    sheet_reader.forget_versions()
    assert [read(f, old) for f in files] == now       # read-only: read as it is, nothing written
    assert "layout" not in {r[1] for r in sqlite3.connect(old).execute("PRAGMA table_info(templates)")}
    reg = Registry(old)                               # opened to write: the column and the table are added
    p = load_def(tmp_path, definition(SMALL, id="im-after-03"), "after.yaml")
    render([p], tmp_path / "after", registry=reg)
    reg.close()
    with sqlite3.connect(old) as db:
        assert db.execute("SELECT COUNT(*), COUNT(layout) FROM templates").fetchone() == (5, 1)
        assert db.execute("SELECT COUNT(*) FROM layouts").fetchone() == (1,)
    assert [read(f, old) for f in files] == now
