"""The review worksheet in LibreOffice (issue 20): filled, recalculated and saved by LibreOffice, then read back.
At every 扣分原因 and on both sides of every class boundary, LibreOffice's 复核得分, 复核总分, 偏离度 and class
equal the values written down here, and the reader's (the Python rules) equal LibreOffice's; the saved file
reads back without a changed formula or a stale value."""
from __future__ import annotations

import pytest

from helpers import cells_for, definition, fill_openpyxl, load_def, make_inputs
from xlform.form.layout import layout
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.kinds.forms import form_kind
from xlform.returns.reader import read
from xlform.review.worksheets import render_worksheets, review_project

PART, REACHED, MISSED = "部分达成年度指标并具有一定效果", "达成年度指标", "未达成年度指标且效果较差"
INDICATORS = [("产出指标", "数量指标", "完成数量", "≥100件", 10),
              ("产出指标", "数量指标", "培训次数", "≥4次", 20),
              ("产出指标", "质量指标", "合格率", "≥95%", 20),
              ("产出指标", "成本指标", "单位成本", "≤50万元", 10),
              ("效益指标", "社会效益指标", "群众意识", "有效提升", 20),
              ("满意度指标", "服务对象满意度指标", "满意度", "≥90%", 10)]
FULL = [100, 4, 0.96, 45, REACHED, 0.95]          # every target met: 自评总分 100 (funds 10 of 10)
WHY = "核查佐证材料后调整"

# (name, the reviewer's inputs, 复核得分 of each indicator, 复核总分, 偏离度, class, problems)
CASES = [
    ("accepted", {}, [10, 20, 20, 10, 20, 10], 100, 0, "一致", []),
    ("just below 1%", {"0.actual": 90.1}, [9.01, 20, 20, 10, 20, 10], 99.01, 0.0099, "一致", []),
    ("at 1%", {"0.actual": 90}, [9, 20, 20, 10, 20, 10], 99, 0.01, "一般偏差", []),
    ("just below 10%, 其他", {"1.actual": 2.002, "1.reason": "其他", "1.note": WHY},
     [10, 10.01, 20, 10, 20, 10], 90.01, 0.0999, "一般偏差", []),
    ("at 10%, 无佐证 whatever the value", {"0.actual": 50, "0.reason": "无佐证", "0.note": WHY},
     [0, 20, 20, 10, 20, 10], 90, 0.1, "较大偏差", []),
    ("just below 20%, 指标与项目无关", {"0.reason": "指标与项目无关", "0.note": WHY, "1.actual": 2.002},
     [0, 10.01, 20, 10, 20, 10], 80.01, 0.1999, "较大偏差", []),
    ("at 20%, 三级与二级不符 and 满意度无调查依据",
     {"0.reason": "三级与二级不符", "0.note": WHY, "5.reason": "满意度无调查依据", "5.note": WHY},
     [0, 20, 20, 10, 20, 0], 80, 0.2, "严重偏差", []),
    ("≤ over its target, 指标不可衡量", {"3.actual": 60, "4.reason": "指标不可衡量", "4.note": WHY},
     [10, 20, 20, 8, 0, 10], 78, 0.22, "严重偏差", []),
    ("a lower tier and its score", {"4.actual": PART, "4.typed": 14, "4.reason": "其他", "4.note": WHY},
     [10, 20, 20, 10, 14, 10], 94, 0.06, "一般偏差", []),
    ("a score within the department's tier", {"4.typed": 18}, [10, 20, 20, 10, 18, 10], 98, 0.02, "一般偏差", []),
    ("a percent", {"2.actual": 0.855}, [10, 20, 18, 10, 20, 10], 98, 0.02, "一般偏差", []),
    ("其他 without another value", {"5.reason": "其他", "5.note": WHY}, [10, 20, 20, 10, 20, 10], 100, 0, "一致", []),
    ("a reason without 说明", {"5.reason": "无佐证"}, [10, 20, 20, 10, 20, 0], 90, 0.1, "较大偏差",
     ["review_note_missing"]),
    ("a tier without its score", {"4.actual": MISSED}, [10, 20, 20, 10, 20, 10], 100, 0, "一致",
     ["review_typed_missing"]),
    ("a score outside the tier", {"4.typed": 15}, [10, 20, 20, 10, 15, 10], 95, 0.05, "一般偏差",
     ["review_typed_tier"]),
]


def issue_return(folder, actual, reasons=()):
    """A 自评表 issued, filled and read: the stored record's dict form."""
    p = load_def(folder, definition(INDICATORS, id="lo-001", project="复核测试项目", department="测试局"))
    reg = Registry(folder / "registry.db")
    [issued] = render([p], folder / "issued", registry=reg)
    filled = fill_openpyxl(issued.file, folder / "return.xlsx",
                           cells_for(p, make_inputs({"fiscal": 100}, "全部完成。", actual,
                                                    list(reasons) + [None] * (6 - len(reasons)), [None] * 4 + [20])))
    [record] = read(filled, reg)
    assert not record.errors, record.errors
    return record.to_dict(), reg


@pytest.fixture(scope="module")
def worksheet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("review_lo")
    record, reg = issue_return(folder, FULL)
    assert record["total_score"] == 100
    project = review_project(record, 1, reg)
    [issued] = render_worksheets([project], folder / "review", reg)
    yield issued.file, layout(project, form_kind("review")), reg, folder
    reg.close()


def cells(lay, inputs: dict) -> dict:
    out = {lay.cell("reviewer"): "李审"}
    for key, v in inputs.items():
        out[lay.cell(f"review.{key}")] = v
    return out


def through_libreoffice(lo, lay, src, dst, inputs):
    """LibreOffice types the inputs, recalculates and saves; the formula cells' values as it computed them."""
    n = len(lay.project.indicators)
    keys = [f"review.{i}.score" for i in range(n)] + [f"review.{i}.deviation" for i in range(n)] + \
        ["review_total", "review_deviation", "review_class"]
    got = lo.fill(src, dst, cells(lay, inputs), read=[lay.cell(k) for k in keys])
    return {k: got[lay.cell(k)] for k in keys}


@pytest.mark.parametrize("name,inputs,scores,total,deviation,cls,problems", CASES, ids=[c[0] for c in CASES])
def test_libreoffice_and_python_agree(lo, worksheet, tmp_path, name, inputs, scores, total, deviation, cls,
                                      problems):
    src, lay, reg, _ = worksheet
    dst = tmp_path / "filled.xlsx"
    office = through_libreoffice(lo, lay, src, dst, inputs)
    # LibreOffice gives the values written down …
    assert [office[f"review.{i}.score"] for i in range(6)] == pytest.approx(scores, abs=1e-9)
    assert office["review_total"] == pytest.approx(total, abs=1e-9)
    assert office["review_deviation"] == pytest.approx(deviation, abs=1e-12)
    assert office["review_class"] == cls
    # … and so does the reader, from the file LibreOffice saved, with no formula changed and no stale value
    [record] = read(dst, reg)
    assert sorted(p.code for p in record.problems) == sorted(problems), [str(p) for p in record.problems]
    assert [i.score for i in record.indicators] == [office[f"review.{i}.score"] for i in range(6)]
    assert [i.extra["deviation"] for i in record.indicators] == \
        [office[f"review.{i}.deviation"] for i in range(6)]
    assert (record.total_score, record.extra["deviation"], record.extra["class"]) == \
        (office["review_total"], office["review_deviation"], office["review_class"])
    assert record.extra["self_total"] == 100 and record.extra["reviewer"] == "李审"


def test_a_review_above_the_self_evaluation_deviates_below_zero(lo, tmp_path):
    """培训次数 returned at 3 of ≥4次 (15 of 20): 自评总分 95; the reviewer finds 4: 复核总分 100, 偏离度
    (95 − 100) / 95 = −0.0526…, rounded −0.0526: 一般偏差 by its absolute value."""
    record, reg = issue_return(tmp_path, [100, 3, 0.96, 45, REACHED, 0.95], [None, "两期培训因故合并"])
    try:
        assert record["total_score"] == 95
        project = review_project(record, 1, reg)
        [issued] = render_worksheets([project], tmp_path / "review", reg)
        lay = layout(project, form_kind("review"))
        office = through_libreoffice(lo, lay, issued.file, tmp_path / "filled.xlsx",
                                     {"1.actual": 4, "1.reason": "其他", "1.note": "补充签到表两份"})
        assert (office["review_total"], office["review_deviation"], office["review_class"]) == (100, -0.0526, "一般偏差")
        assert office["review.1.deviation"] == pytest.approx(-0.3333, abs=1e-12)
        [back] = read(tmp_path / "filled.xlsx", reg)
        assert not back.problems, [str(p) for p in back.problems]
        assert (back.total_score, back.extra["deviation"], back.extra["class"]) == (100, -0.0526, "一般偏差")
    finally:
        reg.close()


def test_worksheets_print_on_a4_at_9_points(lo, worksheet, tmp_path):
    """`xlform print` prints the worksheet, blank and as LibreOffice saved it filled, on A4 portrait (the
    blank on one page; the filled one's 说明 grows its row), its text at 9 pt or more (the footer aside)."""
    import pdfplumber
    from xlform.printing.printer import print_pdfs
    src, lay, _, _ = worksheet
    filled = tmp_path / "filled.xlsx"
    through_libreoffice(lo, lay, src, filled, {"0.reason": "满意度无调查依据", "0.note": "未见问卷调查记录，无法核实满意度"
                                               "数据来源，按规定扣分。", "4.actual": PART, "4.typed": 14})
    for done in print_pdfs([src, filled], tmp_path / "pdf"):
        with pdfplumber.open(done.pdf) as doc:
            assert len(doc.pages) == (1 if done.source == src else 2)
            for page in doc.pages:
                assert (round(page.width), round(page.height)) == (595, 842)   # A4 portrait, in points
                body = [c for c in page.chars if c["text"].strip() and c["top"] < page.height - 50]
                assert min(c["size"] for c in body) >= 9, min(c["size"] for c in body)
            text = "".join("".join((page.extract_text() or "").split()) for page in doc.pages)
            assert all(w in text for w in ("复核得分", "扣分原", "复核总分", "复核测试项目", "项目支出绩效自评抽查复核表"))


def test_a_long_worksheet_prints_on_pages_that_each_repeat_the_tables_header(tmp_path):
    """37 indicators: A4 pages at 9 pt or more (as many as it takes: each row keeps three lines for a 说明
    written by hand, issue 21), each after the first starting with the table's header and the 一级/二级 labels
    of the group it continues, the last with 复核总分."""
    import pdfplumber
    from xlform.printing.printer import print_pdfs
    indicators = [("产出指标", f"数量指标{k % 5}", f"指标{k:02d}", "≥4次", 2) for k in range(36)] + \
        [("满意度指标", "服务对象满意度指标", "满意度", "≥90%", 18)]
    p = load_def(tmp_path, definition(indicators, id="long-1"))
    reg = Registry(tmp_path / "r.db")
    try:
        [issued] = render([p], tmp_path / "issued", registry=reg)
        back = fill_openpyxl(issued.file, tmp_path / "return.xlsx",
                             cells_for(p, make_inputs({"fiscal": 100}, "完成", [4] * 36 + [0.95], [None] * 36 + ["问卷"])))
        [record] = read(back, reg)
        [sheet] = render_worksheets([review_project(record.to_dict(), 1, reg)], tmp_path / "review", reg)
    finally:
        reg.close()
    [done] = print_pdfs([sheet.file], tmp_path / "pdf")
    with pdfplumber.open(done.pdf) as doc:
        assert len(doc.pages) >= 2
        for page in doc.pages:
            body = [c for c in page.chars if c["text"].strip() and c["top"] < page.height - 50]
            assert min(c["size"] for c in body) >= 9
        texts = ["".join((page.extract_text() or "").split()) for page in doc.pages]
        for text in texts[1:]:
            assert "复核完成" in text and "扣分原" in text
        assert all("产出" in text for text in texts[1:-1]) and "复核总分" in texts[-1]
