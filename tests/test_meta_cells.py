"""The hidden sheet's cell map is compared as text when it is the very text the writer wrote (what every return of
a version holds: no JSON parsed), and parsed otherwise: the same map written another way reads the same; a map
changed, damaged or written as null is reported at its cell."""
import json

import pytest

from helpers import GOOD, fill_openpyxl, small_form
from xlform.returns.reader import read_file
from xlform.xlsx import metadata


def cells_row(wb):
    ws = wb["_xlform"]
    return next(row for row in ws.iter_rows() if row[1].value == "cells")


@pytest.fixture
def form(tmp_path):
    _, issued, reg = small_form(tmp_path)
    yield issued, reg
    reg.close()


def codes(path, reg) -> set[str]:
    [record] = read_file(path, reg)
    return {p.code for p in record.problems}


def test_a_return_as_issued_has_its_cell_map_compared_as_text(form, tmp_path, monkeypatch):
    issued, reg = form
    path = fill_openpyxl(issued, tmp_path / "r.xlsx", GOOD)
    monkeypatch.setattr(metadata, "_json", lambda text: pytest.fail("the writer's own text was parsed"))
    assert "cell_map_changed" not in codes(path, reg)


@pytest.mark.parametrize("rewrite, changed", [
    (lambda cells: json.dumps(cells, ensure_ascii=True, indent=1), False),             # the same map, spelled out
    (lambda cells: json.dumps(dict(reversed(list(cells.items())))), False),           # in another order
    (lambda cells: json.dumps({**cells, "goal.actual": "A1"}), True),                  # a field moved
    (lambda cells: json.dumps({k: v for k, v in list(cells.items())[1:]}), True),      # one left out
    (lambda cells: "null", True),                                                       # (was skipped as no map)
    (lambda cells: "[1, 2]", True),
    (lambda cells: '{"goal.actual": ', True),                                          # damaged
])
def test_a_cell_map_written_otherwise_is_parsed_and_compared(form, tmp_path, rewrite, changed):
    issued, reg = form

    def edit(wb):
        row = cells_row(wb)
        row[2].value = rewrite(json.loads(row[2].value))
    path = fill_openpyxl(issued, tmp_path / "r.xlsx", GOOD, edit=edit)
    assert ("cell_map_changed" in codes(path, reg)) == changed
