"""The golden corpus (tests/data/corpus, made by tests/make_corpus.py): files saved by LibreOffice (both
.xlsx filters), Gnumeric and openpyxl, and the shapes Excel and WPS write, each read to its hand-written record;
and LibreOffice, opening the same files, shows the same values."""
import json
from pathlib import Path

import pytest

from xlform.xlsx.reader import Error, Package

CORPUS = Path(__file__).parent / "data" / "corpus"
FILES = sorted(p.stem for p in CORPUS.glob("*.xlsx"))


def as_json(value):
    return {"error": value.text} if isinstance(value, Error) else value


def test_the_corpus_has_every_writer():
    assert {"libreoffice-excel2007", "libreoffice-ooxml", "gnumeric", "openpyxl"} <= set(FILES)
    assert len([f for f in FILES if f.startswith("hand-")]) >= 8


@pytest.mark.parametrize("name", FILES)
def test_read_as_recorded(name):
    expected = json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))
    with Package(CORPUS / f"{name}.xlsx") as pkg:
        got = [{"name": info.name, "state": info.state, "protected": sheet.protected,
                "cells": {ref: {"value": as_json(c.value), "formula": c.formula} for ref, c in sheet.cells.items()}}
               for info, sheet in ((i, pkg.sheet(i)) for i in pkg.sheets)]
    assert got == expected["sheets"]


@pytest.mark.parametrize("name", FILES)
def test_libreoffice_shows_the_recorded_values(lo, tmp_path, name):
    """The records are checked against the real client: LibreOffice opens the file, recalculates, reads."""
    expected = json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))
    for sheet in expected["sheets"]:
        cells = {ref: c["value"] for ref, c in sheet["cells"].items() if c["value"] is not None}
        shown = lo.fill(CORPUS / f"{name}.xlsx", tmp_path / "lo.xlsx", {}, read=list(cells), sheet=sheet["name"])
        for ref, value in cells.items():
            if isinstance(value, dict):
                assert isinstance(shown[ref], dict) and "error" in shown[ref], (ref, shown[ref])
            else:
                assert shown[ref] == value, (sheet["name"], ref)  # True == 1.0: LibreOffice's booleans are numbers
