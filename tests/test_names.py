"""File names of reports and per-department workbooks: readable, and never two departments in one file."""
import hashlib

from click.testing import CliRunner

from helpers import definition, fill_openpyxl, write_def
from xlform.cli import main
from xlform.names import file_stems

DEPARTMENTS = ["财政局.一处", "财政局.二处", "财政局/预算处", "财政局_预算处"]


def tag(name):
    return hashlib.sha256(name.encode()).hexdigest()[:6]


def test_names_that_collide_get_a_short_hash_of_the_real_name():
    stems = file_stems(DEPARTMENTS + ["ABC", "abc", "教育局:基建", "CON"])
    assert stems["财政局.一处"] == "财政局.一处" and stems["财政局.二处"] == "财政局.二处"
    assert stems["财政局_预算处"] == "财政局_预算处"  # legal as it is: kept
    assert stems["财政局/预算处"] == f"财政局_预算处_{tag('财政局/预算处')}"
    assert stems["ABC"] == "ABC" and stems["abc"] == f"abc_{tag('abc')}"  # one file system may ignore case
    assert stems["教育局:基建"] == "教育局_基建" and stems["CON"] == "_CON"  # no collision: no hash
    assert len({s.casefold() for s in stems.values()}) == len(stems)


def test_every_department_gets_its_own_report_and_workbook(tmp_path):
    defs = tmp_path / "defs"
    defs.mkdir()
    for i, dep in enumerate(DEPARTMENTS):
        write_def(defs, definition([("产出指标", "数量指标", "a", "≥4次", 90)], id=f"d-{i}", project=f"项目{i}",
                                   department=dep), f"d{i}.yaml")
    reg = tmp_path / "reg.db"
    r = CliRunner().invoke(main, ["render", str(defs), "-o", str(tmp_path / "issued"), "--registry", str(reg)])
    assert r.exit_code == 0, r.output
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(len(DEPARTMENTS)):
        fill_openpyxl(tmp_path / "issued" / f"d-{i}.xlsx", inbox / f"d-{i}.xlsx", {"F7": 100, "F11": "完成", "F13": 4})
    reports = tmp_path / "reports"
    c = CliRunner().invoke(main, ["collect", str(inbox), "--db", str(tmp_path / "c.db"), "--registry", str(reg),
                                  "--summary", str(tmp_path / "s.xlsx"), "--report", str(reports), "--jobs", "1"])
    assert c.exit_code == 0 and "4 department reports" in c.stderr, c.output
    pages = sorted(p.name for p in reports.glob("*.html"))
    assert pages == sorted(["财政局.一处.html", "财政局.二处.html", "财政局_预算处.html",
                            f"财政局_预算处_{tag('财政局/预算处')}.html"])
    assert len(list(reports.glob("*.csv"))) == 4
    for page, dep in [("财政局.一处.html", "财政局.一处"), (f"财政局_预算处_{tag('财政局/预算处')}.html", "财政局/预算处")]:
        assert dep in (reports / page).read_text(encoding="utf-8")
    w = CliRunner().invoke(main, ["render", str(defs), "-o", str(tmp_path / "per"), "--per", "department",
                                  "--registry", str(reg)])
    assert w.exit_code == 0, w.output
    assert sorted(p.name for p in (tmp_path / "per").glob("*.xlsx")) == sorted(p.replace(".html", ".xlsx")
                                                                                for p in pages)
