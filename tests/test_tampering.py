"""Tampering that changes no cell: the metadata sheet made visible, hidden rows and columns, number formats
that show something else than the value."""
import pytest

from helpers import GOOD, fill_openpyxl, small_form
from xlform.form.layout import layout
from xlform.returns.reader import read

@pytest.fixture()
def form(tmp_path):
    p, path, reg = small_form(tmp_path)
    return path, reg, p


@pytest.mark.parametrize("state, reported", [("visible", True), ("hidden", False), ("veryHidden", False)])
def test_a_visible_metadata_sheet_is_a_warning(form, tmp_path, state, reported):
    path, reg, _ = form

    def show(wb):
        wb["_xlform"].sheet_state = state
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", GOOD, edit=show), reg)
    found = [(p.code, p.severity, p.where, p.message) for p in r.problems]
    expected = [("meta_visible", "warning", "_xlform",
                 "隐藏的模板信息表“_xlform”已被设为可见。请勿修改该表，将其重新隐藏，或在下发的原模板中填写。")]
    assert found == (expected if reported else [])
    assert r.total_score == 98


def read_edited(form, tmp_path, edit):
    path, reg, p = form
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", GOOD, edit=lambda wb: edit(wb["自评表"], layout(p))), reg)
    assert r.total_score == 98
    return [(x.code, x.where) for x in r.problems]


def test_a_hidden_indicator_row_and_column(form, tmp_path):
    def hide(ws, lay):
        ws.row_dimensions[14].hidden = True
        ws.column_dimensions["G"].hidden = True
        ws.column_dimensions["M"].hidden = True  # outside the form: nothing hidden from it
    assert read_edited(form, tmp_path, hide) == [("hidden_row", "自评表!A14"), ("hidden_column", "自评表!G1")]


@pytest.mark.parametrize("code", ['"100.00"', '0.00;;"100.00"', '0.00;0.00;', '[Red]"98";0.00'])
def test_a_number_format_that_does_not_show_the_score(form, tmp_path, code):
    def fake(ws, lay):
        ws[lay.cell("total_score")].number_format = code
        ws[lay.cell("indicators.0.score")].number_format = "0.00"   # formats that show the value pass
        ws[lay.cell("funds.rate")].number_format = "0.0%"
        ws[lay.cell("indicators.1.actual")].number_format = "[$-804]#,##0.00_);(#,##0.00)"
    cell = layout(form[2]).cell("total_score")
    assert read_edited(form, tmp_path, fake) == [("number_format", f"自评表!{cell}")]


def test_a_hiding_format_counts_on_inputs_and_formulas_not_on_labels_or_the_grade(form, tmp_path):
    """Inputs and formulas must show their value; a label (locked text) or 评价等级 (a text, labelled by its
    format) may wear any format."""
    def fake(ws, lay):
        ws[lay.cell("indicators.1.actual")].number_format = ";;;"
        ws[lay.cell("indicators.0.score")].number_format = '"10"'
        ws["A1"].number_format = ";;;"   # the title
        ws[lay.cell("grade")].number_format = '"评价等级：优"'
    lay = layout(form[2])
    assert sorted(read_edited(form, tmp_path, fake)) == sorted(
        [("number_format", f"自评表!{lay.cell('indicators.1.actual')}"),
         ("number_format", f"自评表!{lay.cell('indicators.0.score')}")])
