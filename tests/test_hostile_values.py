"""Hostile values of the family float() lets through (huge, tiny, inf, nan), on every path a file takes after the
reader's cells: the hidden sheet's version, the rules' arithmetic, the 复核 and the imports. Each was a crash
(an internal error, an exception) or NaN/Infinity in a record before its fix."""
import json

import pytest

from helpers import GOOD, fill_openpyxl, small_form
from xlform.returns.reader import read


@pytest.fixture(scope="module")
def form(tmp_path_factory):
    return small_form(tmp_path_factory.mktemp("hostile_values"))


def meta(wb, key, value):
    for row in wb["_xlform"].iter_rows():
        if row[1].value == key:
            row[2].value = value


@pytest.mark.parametrize("version", ["1e300", 1e300, 2 ** 70, "-1e300"])
def test_a_version_no_registry_holds_is_an_unknown_version(form, tmp_path, version):
    """int(float("1e300")) is an int of 301 digits: SQLite refused it (OverflowError), read raised it."""
    _, path, reg = form
    [r] = read(fill_openpyxl(path, tmp_path / "v.xlsx", GOOD, edit=lambda wb: meta(wb, "version", version)), reg)
    assert [(p.code, p.where) for p in r.problems] == [("unknown_version", "_xlform!C4")]
    json.dumps(r.to_dict(), allow_nan=False)
