"""The 年度指标值 grammar and the scoring rules on the Python side (the Excel side: test_libreoffice.py)."""
import pytest

from xlform.scoring import scoring
from xlform.scoring.scoring import PROFILES, Profile, profile, rule_for, xl_round
from xlform.scoring.target import parse


@pytest.mark.parametrize("text, op, value, unit, percent", [
    ("≥2次", ">=", 2, "次", False),
    (">=2次", ">=", 2, "次", False),
    ("＞３家", ">", 3, "家", False),
    ("≤ 5 个月", "<=", 5, "个月", False),
    ("<10%", "<", 0.1, "", True),
    ("＝12次", "=", 12, "次", False),
    ("12次", ">=", 12, "次", False),     # no operator: ≥ by the national rules
    ("≥80%", ">=", 0.8, "", True),
    ("> 80%", ">", 0.8, "", True),
    ("≥3000人次", ">=", 3000, "人次", False),
    ("4.53万元", ">=", 4.53, "万元", False),
    ("１００％", ">=", 1.0, "", True),
    ("57.3%", ">=", 0.573, "", True),
    ("0", ">=", 0, "", False),
])
def test_numeric_targets(text, op, value, unit, percent):
    t = parse(text)
    assert (t.op, t.value, t.unit, t.percent, t.text) == (op, value, unit, percent, text)
    assert t.bare == (text[0] not in "≥>≤<＝＞=")


def test_bare_target_follows_the_profile():
    assert parse("12次", bare="=").op == "=" and parse("≥12次", bare="=").op == ">="


@pytest.mark.parametrize("text", ["文件批复当日下达", "不断提高", "12个月（2019年1月至12月）", "2020年实现100%脱贫",
                                  "2019年1月至12月", "根据案件情况处理", "≥2次以上每季度", "≥", "abc5"])
def test_qualitative_targets(text):
    assert parse(text).qualitative


@pytest.mark.parametrize("x, expected", [
    (0.75 * (1 - 0.3), 0.53),     # 0.5249999999999999 in binary; Excel and LibreOffice give 0.53
    (2.675, 2.68), (1.005, 1.01), (0.125, 0.13), (-1.005, -1.01), (9.0909, 9.09), (4.9, 4.9), (0, 0)])
def test_xl_round_is_excels_round(x, expected):
    assert xl_round(x) == expected


SHARE = PROFILES["share"]


def R(text, manual=False, prof=PROFILES["national"]):
    return rule_for(parse(text, prof.bare_target), manual, prof)


@pytest.mark.parametrize("target, actual, weight, score", [
    ("≥7次", 7, 5, 5), ("≥7次", 9, 5, 5), ("≥7次", 5, 5, 3.57), ("≥7次", 0, 5, 0), (">7次", 7, 5, 5),
    ("≥0次", 0, 5, 5), ("≥0次", 3, 5, 5),
    # ≤, national: 分值 × (1 − (actual − target) / target), 0 from twice the target on
    ("≤5天", 5, 10, 10), ("≤5天", 8, 10, 4), ("≤5天", 9.99, 10, 0.02), ("≤5天", 10, 10, 0), ("≤5天", 12, 10, 0),
    ("<5天", 4, 10, 10), ("≤0起", 0, 10, 10), ("≤0起", 1, 10, 0),
    # no operator is ≥: the satisfaction of 100% against 95% gets the full 分值
    ("12次", 12, 5, 5), ("12次", 9, 5, 3.75), ("12次", 15, 5, 5), ("95%", 1.0, 10, 10),
    ("=12次", 15, 5, 3.75), ("=12次", 30, 5, 0),
    ("0", 0, 10, 10), ("0", 2, 10, 10),
    ("≥10亿元", 7.71, 10, 7.71), ("≥3000人次", 2726, 10, 9.09),
])
def test_national_rule_scores(target, actual, weight, score):
    assert R(target).score(actual, weight) == score


@pytest.mark.parametrize("target, actual, weight, score", [
    ("≤5天", 8, 10, 6.25), ("≤5天", 12, 10, 4.17), ("12次", 9, 5, 3.75), ("12次", 15, 5, 3.75), ("12次", 30, 5, 0),
    ("95%", 1.0, 10, 9.47), ("0", 2, 10, 0), ("不断提高", 0.98, 5, 4.9), ("不断提高", 1, 5, 5), ("不断提高", 0, 5, 0),
])
def test_share_profile_scores(target, actual, weight, score):
    assert R(target, prof=SHARE).score(actual, weight) == score


def test_qualitative_tiers_bound_the_typed_score():
    r = R("不断提高")
    assert r.manual and r.kind == "tiers"
    assert r.score_range("达成年度指标", 10) == (8, 10, True)
    assert r.score_range("部分达成年度指标并具有一定效果", 10) == (6, 8, False)
    assert r.score_range("未达成年度指标且效果较差", 5) == (0, 3, False)
    assert r.valid_score("达成年度指标", 8, 10) and r.valid_score("达成年度指标", 10, 10)
    assert not r.valid_score("达成年度指标", 7.99, 10)
    assert not r.valid_score("部分达成年度指标并具有一定效果", 8, 10)
    assert r.valid_score("未达成年度指标且效果较差", 0, 10) and not r.valid_score("未达成年度指标且效果较差", 6, 10)
    assert r.needs_reason("部分达成年度指标并具有一定效果", 7, 10) and not r.needs_reason("达成年度指标", 10, 10)
    assert r.needs_reason("达成年度指标", 9, 10)    # below the 分值 still asks why


def test_deviation_penalty_takes_points_off_both_ways():
    prof = profile("national", {"deviation_penalty": 1})
    r = R("≥100家", prof=prof)
    assert r.score(129.99, 5) == 5 and r.score(130, 5) == 4 and r.score(71, 5) == 3.55 and r.score(70, 5) == 2.5
    assert R("≥2次", prof=prof).score(0.5, 0.75) == 0     # never below 0
    assert "MAX(0," in r.formula("F13", "G13")


def test_rate_caps_and_grades():
    prof = profile("national", {"rate_caps": {0.8: 89, 0.7: 79, 0.6: 69, 0.5: 59}})
    assert scoring.total_score([9, 90], 0.45, prof) == 59
    assert scoring.total_score([9, 90], 0.55, prof) == 69
    assert scoring.total_score([9, 90], 0.7999, prof) == 89
    assert scoring.total_score([9, 90], 0.8, prof) == 99
    assert scoring.total_score([9, 50], 0.55, prof) == 59       # under the cap already
    f = scoring.total_formula("H6,H13:H20", "H6", prof)
    assert f.index("H6<0.5") < f.index("H6<0.6") < f.index("H6<0.8")   # the lowest threshold decides first
    national = PROFILES["national"]
    assert [scoring.grade(t, True, national) for t in (100, 90, 89.99, 80, 79.99, 60, 59.99, 0)] == \
        ["优", "优", "良", "良", "中", "中", "差", "差"]
    assert scoring.grade(0, False, national) is None


@pytest.mark.parametrize("overrides, message", [
    ({"reverse": "square"}, "reverse must be one of linear, ratio"),
    ({"bare": ">="}, "unknown scoring key 'bare'"),
    ({"deviation_penalty": -1}, "must be a number ≥ 0"),
])
def test_profile_keys_are_checked(overrides, message):
    with pytest.raises(ValueError, match=message):
        profile("national", overrides)


def test_blank_actual_scores_blank():
    for t in ("≥7次", "≤5天", "12次"):
        assert R(t).score(None, 5) is None
    assert R("不断提高", prof=SHARE).score(None, 5) is None


def test_formula_text_comes_from_the_rule():
    assert R("≥7次").formula("F13", "G13") == 'IF(ISNUMBER(F13),IF(F13>=7,G13,ROUND(G13*F13/7,2)),"")'
    assert R("≤0起").formula("F13", "G13") == 'IF(ISNUMBER(F13),IF(F13<=0,G13,0),"")'
    assert R("≤5天").formula("F13", "G13") == \
        'IF(ISNUMBER(F13),IF(F13<=5,G13,IF(F13>=10,0,ROUND(G13*(1-(F13-5)/5),2))),"")'
    assert R("不断提高", prof=SHARE).formula("F13", "G13") == 'IF(ISNUMBER(F13),ROUND(G13*F13,2),"")'
    assert "0.573" in R("57.3%").formula("F13", "G13")
    with pytest.raises(TypeError):
        R("≥7次", manual=True).formula("F13", "G13")


def test_deviation_reason_required_below_weight_or_overshoot():
    r = R("≥100家")
    assert r.needs_reason(150, 15, 15)             # overshoot by 50%
    assert r.needs_reason(130, 15, 15)             # exactly 30% over
    assert not r.needs_reason(129, 15, 15)
    assert r.needs_reason(90, 13.5, 15)            # missed
    assert not R("=12次").needs_reason(30, 0, 0.0)  # score 0 of weight 0 is not below
    assert R("≥100家").overshoot_formula("F13") == "AND(ISNUMBER(F13),F13>=130)"
    strict = rule_for(parse("≥100家"), profile=Profile(overshoot=0.5))
    assert not strict.needs_reason(140, 15, 15)


def test_funds_and_total():
    rate = scoring.funds_rate([17.65, 36.19, None], 66.19)
    assert round(rate, 4) == 0.8134 and scoring.funds_score(rate, 10) == 8.13
    assert scoring.funds_rate([None, None, None], 10) is None and scoring.funds_score(None, 10) is None
    assert scoring.funds_score(scoring.funds_rate([12, None, None], 10), 10) == 10  # capped at 100%
    assert scoring.total_score([8.13, 10, None, 3.57], 0.8134, PROFILES["national"]) == 21.7
