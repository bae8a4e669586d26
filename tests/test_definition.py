"""Loading definitions: the examples load, and every kind of bad YAML is reported with file, line, field."""
import pytest

from helpers import definition, write_def
from xlform.definition.definition import load, load_many
from xlform.errors import DefinitionError

GOOD = """\
form: project
year: 2019
id: t-001
project: 测试项目
department: 测试局
implementer: 测试局
funds:
  weight: 10
  fiscal: {initial: 105, annual: 105}
goal: 完成年度任务
indicators:
  产出指标:
    数量指标:
      - name: 培训次数
        target: ≥2次
        weight: 50
      - {name: 覆盖率, target: ≥80%, weight: 30}
  满意度指标:
    满意度指标:
      - {name: 满意度, target: 不断提高, weight: 10}
"""


def errors(tmp_path, text, name="def.yaml"):
    path = write_def(tmp_path, text, name)
    with pytest.raises(DefinitionError) as e:
        load(path)
    return e.value.problems


def test_good_definition_loads_with_parsed_targets(tmp_path):
    p = load(write_def(tmp_path, GOOD))
    assert (p.id, p.project, p.year, p.funds.weight) == ("t-001", "测试项目", 2019, 10)
    assert p.funds.total.annual == 105 and p.funds.rows["carryover"].annual == 0
    first, second, third = p.indicators
    assert (first.level1, first.level2, first.name) == ("产出指标", "数量指标", "培训次数")
    assert (first.target.op, first.target.value, first.target.unit) == (">=", 2, "次")
    assert second.target.percent and second.target.value == 0.8
    assert third.target.qualitative
    assert first.id == "产出指标/数量指标/培训次数"


def test_the_examples_load(examples):
    """The seven 2019 forms of one bureau, and a Sichuan form."""
    assert sorted(examples) == ["sc-2023-01"] + [f"xj-jrj-2019-0{i}" for i in range(1, 8)]
    assert examples["sc-2023-01"].form == "sichuan" and examples["sc-2023-01"].extra == {"code": "510000230001"}
    for p in examples.values():
        assert p.funds.weight + sum(i.weight for i in p.indicators) == 100
    assert len(examples["xj-jrj-2019-01"].indicators) == 13


def test_unknown_key_names_file_line_and_allowed_keys(tmp_path):
    [p] = errors(tmp_path, GOOD.replace("goal: 完成年度任务", "goal: 完成年度任务\ntitel: 错字"))
    assert p.where.endswith("def.yaml:11") and p.code == "unknown_key"
    assert "unknown key 'titel'" in p.message and "implementer" in p.message


def test_unknown_key_inside_an_indicator(tmp_path):
    [p] = errors(tmp_path, GOOD.replace("        weight: 50", "        weight: 50\n        wieght: 5"))
    assert p.where.endswith(":17") and p.field == "indicators.产出指标.数量指标.0.wieght"


def test_duplicate_key_is_an_error_not_last_one_wins(tmp_path):
    [p] = errors(tmp_path, GOOD.replace("        weight: 50", "        weight: 50\n        weight: 40"))
    assert p.where.endswith("def.yaml:17") and "duplicate key" in p.message and "weight" in p.message


def test_missing_required_fields_each_reported(tmp_path):
    text = GOOD.replace("department: 测试局\n", "").replace("year: 2019\n", "")
    probs = errors(tmp_path, text)
    assert {p.field for p in probs} == {"department", "year"}
    assert all("missing required field" in p.message or "must be a year" in p.message for p in probs)


def test_missing_target_and_weight_of_an_indicator(tmp_path):
    probs = errors(tmp_path, GOOD.replace("{name: 覆盖率, target: ≥80%, weight: 30}", "{name: 覆盖率}"),)
    fields = {p.field for p in probs}
    assert "indicators.产出指标.数量指标.1.target" in fields and "indicators.产出指标.数量指标.1.weight" in fields
    assert all(p.where.endswith(":17") for p in probs if "1." in p.field)


@pytest.mark.parametrize("weight", ["0", "-5"])
def test_non_positive_weight(tmp_path, weight):
    probs = errors(tmp_path, GOOD.replace("weight: 30}", f"weight: {weight}}}"))
    assert any(p.code == "weight" and "greater than 0" in p.message and p.where.endswith(":17") for p in probs)


def test_duplicate_indicator_name_within_one_level2(tmp_path):
    [p] = errors(tmp_path, GOOD.replace("{name: 覆盖率, target: ≥80%, weight: 30}",
                                        "{name: 培训次数, target: ≥80%, weight: 30}"))
    assert p.code == "duplicate_name" and "培训次数" in p.message and p.where.endswith(":17")


def test_same_name_in_two_level2s_is_fine(examples):
    names = [i.name for i in examples["xj-jrj-2019-03"].indicators]
    assert names.count("教育水平") == 2


def test_weights_must_add_up_to_100(tmp_path):
    [p] = errors(tmp_path, GOOD.replace("weight: 30}", "weight: 25}"))
    assert p.code == "weight_total" and "add up to 95" in p.message and "allow_total" in p.message


def test_allow_total_accepts_another_total(tmp_path):
    p = load(write_def(tmp_path, GOOD.replace("weight: 30}", "weight: 25}") + "allow_total: 95\n"))
    assert p.allow_total == 95


def test_funds_total_that_disagrees(tmp_path):
    text = GOOD.replace("  fiscal: {initial: 105, annual: 105}",
                        "  fiscal: {initial: 105, annual: 105}\n  other: {annual: 5}\n  total: {initial: 105, annual: 105}")
    [p] = errors(tmp_path, text)
    assert p.code == "funds_total" and "110" in p.message and p.field == "funds.total.annual"


def test_bad_values(tmp_path):
    text = (GOOD.replace("year: 2019", "year: 十九").replace("id: t-001", "id: 财政/局")
            .replace("form: project", "form: nosuch"))
    probs = {p.field: p for p in errors(tmp_path, text)}
    assert "must be a year" in probs["year"].message
    assert "not a usable id" in probs["id"].message
    assert "unknown form kind 'nosuch'" in probs["form"].message and "project" in probs["form"].message


def test_explicit_target_form(tmp_path):
    text = GOOD.replace("        target: ≥2次", "        target: {op: '>=', value: 2, unit: 次}")
    p = load(write_def(tmp_path, text))
    t = p.indicators[0].target
    assert (t.op, t.value, t.unit, t.text) == (">=", 2, "次", "≥2次")
    bad = GOOD.replace("        target: ≥2次", "        target: {op: '~', value: 2}")
    [e] = errors(tmp_path, bad)
    assert "op must be one of" in e.message and e.where.endswith(":15")


def test_kind_qualitative_and_rule_manual(tmp_path):
    text = GOOD.replace("        weight: 50", "        weight: 50\n        kind: qualitative\n        rule: manual")
    i = load(write_def(tmp_path, text)).indicators[0]
    assert i.target.qualitative and i.manual
    [e] = errors(tmp_path, GOOD.replace("        weight: 50", "        weight: 50\n        rule: guess"))
    assert "rule must be one of auto, manual" in e.message


def test_yaml_syntax_error_names_the_line(tmp_path):
    [p] = errors(tmp_path, GOOD.replace("      - {name: 覆盖率, target: ≥80%, weight: 30}",
                                        "      - {name: 覆盖率, target: ≥80%, weight: 30"))
    assert p.code == "yaml" and ":1" in p.where  # ruamel points at the line where the mapping broke off


def test_extends_inherits_and_errors_name_the_inherited_file(tmp_path):
    write_def(tmp_path, GOOD.replace("id: t-001\n", "").replace("weight: 30}", "weight: -30}"), "_base.yaml")
    child = write_def(tmp_path, "extends: _base.yaml\nid: t-002\n", "child.yaml")
    with pytest.raises(DefinitionError) as e:
        load(child)
    bad = [p for p in e.value.problems if p.code == "weight"]
    assert bad and bad[0].where.endswith("_base.yaml:16")  # id line removed


def test_extends_merges_mappings_and_replaces_lists(examples):
    a, b = examples["xj-jrj-2019-04"], examples["xj-jrj-2019-05"]
    assert [i.name for i in a.indicators][:-1] == [i.name for i in b.indicators][:-1]
    assert (a.indicators[-1].name, b.indicators[-1].name) == ("南疆四地州村民满意度", "新疆四地州村民满意度")
    assert a.funds.rows["fiscal"].annual == 46.92 and b.funds.rows["fiscal"].annual == 20.38
    assert a.goal == b.goal and a.source.endswith("fhj-zcgz-2019.yaml")


def test_extends_cycle_and_missing_file(tmp_path):
    write_def(tmp_path, "extends: b.yaml\n", "a.yaml")
    write_def(tmp_path, "extends: a.yaml\n", "b.yaml")
    [p] = errors(tmp_path, "extends: a.yaml\n", "c.yaml")
    assert "cycle" in p.message
    [p] = errors(tmp_path, "extends: nothere.yaml\n", "d.yaml")
    assert "no such file" in p.message and p.where.endswith("d.yaml:1")


def test_folder_batch_skips_shared_parts_and_reports_duplicate_ids(tmp_path):
    write_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥1次", 90)]), "one.yaml")
    write_def(tmp_path, definition([("产出指标", "数量指标", "a", "≥1次", 90)]), "two.yaml")
    write_def(tmp_path, "year: 2019\n", "_shared.yaml")
    projects, problems = load_many([tmp_path])
    assert [p.source for p in projects] == [str(tmp_path / "one.yaml")]   # the second would overwrite its workbook
    assert [(p.code, p.where) for p in problems] == [("duplicate_id", str(tmp_path / "two.yaml"))]


def test_hash_is_stable_and_content_sensitive(tmp_path):
    a = load(write_def(tmp_path, GOOD, "a.yaml"))
    b = load(write_def(tmp_path, "# a comment\n" + GOOD, "b.yaml"))
    c = load(write_def(tmp_path, GOOD.replace("≥2次", "≥3次"), "c.yaml"))
    assert a.hash == b.hash != c.hash


def test_the_readme_definition_loads(tmp_path):
    import re
    from pathlib import Path
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(form: project.*?)```", readme, re.S).group(1)
    p = load(write_def(tmp_path, block))
    assert p.id == "xj-jrj-2019-01" and [i.manual for i in p.indicators] == [False, True, False]
    assert p.indicators[1].target.text == "≥100家"


def test_gbk_encoded_definition_is_read(tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes(GOOD.encode("gbk"))
    assert load(path).project == "测试项目"
    bad = tmp_path / "binary.yaml"
    bad.write_bytes(b"\xff\xfe\x00\x81\xff" * 10)
    [p] = load_errors(bad)
    assert p.code == "unreadable" and "UTF-8" in p.message


def load_errors(path):
    with pytest.raises(DefinitionError) as e:
        load(path)
    return e.value.problems


# -- what the form kind and the scoring profile add ----------------------------------------------------------

def test_split_and_bare_targets_are_warnings_not_errors(tmp_path):
    """GOOD gives 产出 80 and 满意度 10, no 效益: the national split 10/50/30/10 is departed from."""
    text = GOOD.replace("target: ≥2次", "target: 2次")
    p = load(write_def(tmp_path, text))
    warnings = sorted((w.code, w.where.rsplit(":", 1)[1], w.field) for w in p.warnings)
    assert ("bare_target", "15", "indicators.产出指标.数量指标.0.target") in warnings
    split = [w.message for w in p.warnings if w.code == "weight_split"]
    assert split == ["一级指标 产出指标 carries 80 points; the national split gives it 50",
                     "一级指标 效益指标 carries 0 points; the national split gives it 30"]
    assert p.indicators[0].target.op == ">=" and all(w.severity == "warning" for w in p.warnings)


def test_check_prints_warnings_and_exits_0(tmp_path):
    from click.testing import CliRunner
    from xlform.cli import main
    r = CliRunner().invoke(main, ["check", str(write_def(tmp_path, GOOD.replace("target: ≥2次", "target: 2次")))])
    assert r.exit_code == 0
    assert "Warning: " in r.stderr and "'2次' has no operator and is read as ≥2次 (scoring.bare_target: >=)" in r.stderr


def test_scoring_overrides_change_the_rules_and_the_hash(tmp_path):
    plain = load(write_def(tmp_path, GOOD, "a.yaml"))
    exact = load(write_def(tmp_path, GOOD.replace("target: ≥2次", "target: 2次") + "scoring: {bare_target: '='}",
                           "b.yaml"))
    assert exact.indicators[0].target.op == "=" and exact.scoring == {"bare_target": "="}
    assert [w.message[:30] for w in exact.warnings if w.code == "bare_target"] == ["'2次' has no operator and is re"]
    assert "read as =2次" in exact.warnings[0].message
    assert plain.hash != exact.hash


@pytest.mark.parametrize("scoring, message", [
    ("{reverse: square}", "scoring.reverse must be one of linear, ratio"),
    ("{penalty: 1}", "unknown scoring key 'penalty'"),
    ("[ratio]", "must be a mapping of profile keys"),
])
def test_bad_scoring_keys_are_errors(tmp_path, scoring, message):
    [p] = errors(tmp_path, GOOD + f"scoring: {scoring}\n")
    assert p.code == "scoring" and message in p.message and p.where.endswith(":21")


def test_a_kind_brings_its_own_keys_and_fund_rows(tmp_path):
    text = GOOD.replace("form: project", "form: sichuan").replace("{initial: 105, annual: 105}",
                                                                   "{initial: 105, adjusted: 100}")
    problems = errors(tmp_path, text + "  carryover: {initial: 1, annual: 1}\n".replace("  carryover", "funds2"))
    assert [(p.code, p.field) for p in problems] == [("unknown_key", "funds2"), ("missing", "code")]
    p = load(write_def(tmp_path, text.replace("id: t-001", "id: t-001\ncode: '0123'"), "ok.yaml"))
    assert p.extra == {"code": "0123"} and p.funds.rows["fiscal"].annual == 100 and set(p.funds.rows) == {
        "fiscal", "special", "unit", "other"}
    [bad] = errors(tmp_path, text.replace("id: t-001", "id: t-001\ncode: x").replace(
        "fiscal: {initial: 105, adjusted: 100}", "carryover: {initial: 105, annual: 100}"), "bad.yaml")
    assert bad.code == "unknown_key" and "carryover" in bad.field and "special" in bad.message
