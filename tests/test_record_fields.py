"""A kind's own fields travel by name: a column added to a kind reaches the store, the export (CSV, JSON)
and the summary workbook under its name, on SQLite and PostgreSQL; a value the summary cannot hold is one
error naming its cell (issue 18)."""
import csv
import io
import json
import shutil
from dataclasses import fields
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from helpers import fill_openpyxl, lay_of
from xlform.cli import main
from xlform.definition.definition import load
from xlform.errors import XlformError
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.storage.record import Record, record_from_dict
from xlform.storage.store import Prepared, Store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def collected(tmp_path, monkeypatch, db_url):
    """A Sichuan return (项目编码 and 评价结论 are the kind's own) whose kind got one more input column,
    佐证材料, collected with a summary."""
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    form = templates / "sichuan" / "form.yaml"
    spec = yaml.safe_load(form.read_text(encoding="utf-8"))
    spec["columns"].append({"key": "evidence", "width": 10, "input": "text", "limit": 200})
    spec["labels"]["evidence"] = "佐证材料"
    form.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("XLFORM_TEMPLATES", str(templates))
    p = load(ROOT / "examples" / "sc-2023-01.yaml")
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path / "issued", registry=reg)
    reg.close()
    lay = lay_of(p)
    inbox = tmp_path / "in"
    inbox.mkdir()
    fill_openpyxl(issued.file, inbox / "sc.xlsx", {lay.cell("indicators.0.evidence"): "验收报告",
                                                  lay.cell("indicators.2.evidence"): "挂牌名单",
                                                  lay.cell("conclusion"): "目标基本完成"})
    summary = tmp_path / "summary.xlsx"
    r = CliRunner().invoke(main, ["collect", str(inbox), "--db", db_url, "--summary", str(summary),
                                  "--report", str(tmp_path / "rep"), "--registry", str(tmp_path / "r.db")])
    assert r.exit_code in (0, 1), r.output   # openpyxl drops cached values: warnings, perhaps errors
    return db_url, summary


def test_a_kinds_own_fields_reach_store_export_and_summary_by_name(collected):
    db_url, summary = collected
    store = Store(db_url, create=False)
    try:
        stored = store.db.all("SELECT e.position, e.key, e.value FROM extra_values e JOIN submissions s "
                              "ON s.id = e.submission_id WHERE s.status = 'current'")
        [(form, template)] = store.db.all("SELECT form, template_id FROM submissions WHERE status='current'")
    finally:
        store.close()
    assert (form, template) == ("sichuan", "sc-2023-01")
    own = {(n, k): v for n, k, v in stored}
    assert own[(-1, "code")] == "510000230001" and own[(-1, "conclusion")] == "目标基本完成"
    assert (own[(0, "evidence")], own[(2, "evidence")]) == ("验收报告", "挂牌名单")
    assert (0, "name") not in own and (-1, "name") not in own   # the shared fields have their own columns

    rows = list(csv.DictReader(io.StringIO(CliRunner().invoke(main, ["export", "--db", db_url]).stdout)))
    assert [(r["project"], r["code"], r["conclusion"], r["indicator.evidence"]) for r in rows][:3] == [
        ("乡村振兴专项资金", "510000230001", "目标基本完成", "验收报告"),
        ("乡村振兴专项资金", "510000230001", "目标基本完成", ""),
        ("乡村振兴专项资金", "510000230001", "目标基本完成", "挂牌名单")]
    [record] = json.loads(CliRunner().invoke(main, ["export", "--db", db_url, "--format", "json"]).stdout)
    assert record["project"]["code"] == "510000230001" and record["extra"]["conclusion"] == "目标基本完成"
    assert [i["extra"]["evidence"] for i in record["indicators"]][:3] == ["验收报告", None, "挂牌名单"]

    wb = openpyxl.load_workbook(summary)
    projects = [[c.value for c in row] for row in wb["汇总"].iter_rows()]
    by_label = dict(zip(projects[0], projects[1]))
    assert (by_label["项目名称"], by_label["项目编码"], by_label["评价结论"]) == (
        "乡村振兴专项资金", "510000230001", "目标基本完成")
    indicators = [[c.value for c in row] for row in wb["指标"].iter_rows()]
    column = indicators[0].index("佐证材料")
    assert [row[column] for row in indicators[1:4]] == ["验收报告", None, "挂牌名单"]


def test_a_stored_record_comes_back_field_by_field(collected):
    """Every field of Record is stored under its name and read back: a new field is declared once, in Record."""
    store = Store(collected[0], create=False)
    try:
        [stored] = store.current_records()
    finally:
        store.close()
    assert list(stored) == [f.name for f in fields(Record)]
    record = record_from_dict(stored)
    assert record.extra["conclusion"] == "目标基本完成" and record.problems
    assert json.loads(record.to_json()) == stored


def test_a_value_the_summary_cannot_hold_is_an_error_naming_its_cell(collected, tmp_path):
    """Excel holds 32,767 characters in a cell; xlsxwriter would cut a longer text short and only return -2 (the
    summary's tables are streamed now: the check is xlform's own, with the same cell named)."""
    from xlform.collecting.summary import write_summary
    db_url, _ = collected
    store = Store(db_url)
    try:
        [stored] = store.current_records()
        record = record_from_dict(stored)
        record.extra["conclusion"] = "长" * 40_000
        with store.transaction([record.template["id"]]):
            store.add_file("long.xlsx", "f" * 64, 1, "2099-01-01T00:00:00+00:00", "2099-01-01T00:00:00+00:00",
                           [Prepared.of(record)])
        out = tmp_path / "long-summary.xlsx"
        with pytest.raises(XlformError) as e:
            write_summary(out, store, [])
    finally:
        store.close()
    labels = [c.value for c in next(openpyxl.load_workbook(collected[1])["汇总"].iter_rows())]
    cell = f"{chr(ord('A') + labels.index('评价结论'))}2"
    assert str(e.value).startswith(f"{out}: cannot write 汇总!{cell}: a cell holds at most 32,767 characters")
    assert not out.exists()
