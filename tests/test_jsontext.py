"""xlform/jsontext.py: JSON parsed by orjson reads as the standard library reads it, whatever the text holds."""
import json

import pytest

from xlform import jsontext

TEXTS = [
    '{"A1": ["项目支出绩效自评表", null], "F7": [95.5, "SUM(F8:F9)"], "n": 3, "t": true}',
    '{"a": NaN, "b": Infinity, "c": -Infinity}',   # json.dumps writes these; orjson refuses them
    '["\\ud800", "x\\udfffy"]',                     # lone surrogates
    "[1e400]",
    '{"k": 1, "k": 2}',                             # a key twice: the last one
    "[" * 900 + "]" * 900,
    b'{"bytes": "\xe9\xa1\xb9\xe7\x9b\xae"}',
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_text_reads_as_json_reads_it(text):
    mine, theirs = jsontext.loads(text), json.loads(text)
    assert json.dumps(mine) == json.dumps(theirs)   # (NaN != NaN: compared as written again)
    assert type(mine) is type(theirs)


@pytest.mark.parametrize("text", ["{", "[1,]", "", "{'a': 1}", "nul", '"\x00"', "[" * 100_000])
def test_what_is_no_json_is_a_value_error_or_too_deep(text):
    with pytest.raises((ValueError, RecursionError)):
        jsontext.loads(text)


def test_an_integer_past_64_bits_reads_as_a_float():
    """(The one difference, documented: xlform writes no such integer.)"""
    assert jsontext.loads("[123456789012345678901234567890, 7]") == [1.2345678901234568e+29, 7]


@pytest.mark.parametrize("mapping", [
    {"indicators.0.actual": "F9", "funds.fiscal.executed": "E5", "grade": "H30"},
    {"项目名称": "值", "quote\"back\\slash/": "tab\tline\nreturn\rbell\b\f", "ctl": "\x00\x1f\x7f"},
    {"a\u2028b\u2029": "\U0001f600 \ufeff"},
    {"lone": "\ud800", "x\udfffy": ""},   # (orjson refuses these: json writes them)
    {},
])
def test_texts_are_written_as_json_writes_them(mapping):
    assert jsontext.texts(mapping) == json.dumps(mapping, ensure_ascii=False, separators=(",", ":"))
