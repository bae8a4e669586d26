"""Tampering that changes no cell: the metadata sheet made visible."""
import pytest

from helpers import definition, fill_openpyxl, load_def
from xlform.reader import read
from xlform.registry import Registry
from xlform.renderer import render

GOOD = {"F7": 80, "F11": "完成", "F13": 4, "F14": 0.85, "F15": 1, "F16": 0.95}


@pytest.fixture()
def form(tmp_path):
    p = load_def(tmp_path, definition([
        ("产出指标", "数量指标", "培训次数", "≥4次", 30),
        ("产出指标", "质量指标", "覆盖率", "≥80%", 30),
        ("效益指标", "社会效益指标", "群众意识", "不断提高", 20),
        ("满意度指标", "满意度指标", "满意度", "95%", 10)]))
    reg = Registry(tmp_path / "r.db")
    [issued] = render([p], tmp_path / "issued", registry=reg)
    return issued.file, reg


@pytest.mark.parametrize("state, reported", [("visible", True), ("hidden", False), ("veryHidden", False)])
def test_a_visible_metadata_sheet_is_a_warning(form, tmp_path, state, reported):
    path, reg = form

    def show(wb):
        wb["_xlform"].sheet_state = state
    [r] = read(fill_openpyxl(path, tmp_path / "f.xlsx", GOOD, edit=show), reg)
    found = [(p.code, p.severity, p.where, p.message) for p in r.problems]
    expected = [("meta_visible", "warning", "_xlform",
                 "隐藏的模板信息表“_xlform”已被设为可见。请勿修改该表，将其重新隐藏，或在下发的原模板中填写。")]
    assert found == (expected if reported else [])
    assert r.total_score == 98
