"""The reports as report.py makes them at a province's scale: each department's problems read by its files, each
distinct problem made once (bounded: past its bound it starts again and makes the same lines), the counts of a
report that gathers the unidentified files those of all its files."""
from __future__ import annotations

import re

from xlform.collecting import report

from test_report_speed import sections, written


def _returns(departments: int, files: int) -> list[tuple]:
    """Files of departments sharing messages (cells and severities apart) and having their own."""
    returns = []
    for d in range(departments):
        for f in range(files):
            problems = [(f"自评表!I{10 + k % 7}", ("error", "warning")[(d + k) % 2], "reason_missing",
                         f"得分低于分值，须填写偏差原因分析及改进措施（{k % 5}）& <说明>") for k in range(12)]
            problems += [(f"自评表!H{k}", "warning", "own", f"部门{d} 文件{f} 第{k}个问题") for k in range(3)]
            returns.append((f"收件/{d}/{f}.xlsx", f"部门{d:02}", f"项目{d}-{f}", "自评表", problems))
    return returns


def _stamp(text: str) -> str:
    return re.sub(r"汇总时间：[0-9: -]+", "", text)


def test_the_same_reports_whatever_a_report_keeps_made(tmp_path, monkeypatch):
    returns = _returns(6, 5)
    kept = written(tmp_path / "kept", returns)
    monkeypatch.setattr(report._Problems, "KEPT", 3)   # far fewer than the distinct problems: made again and again
    again = written(tmp_path / "again", returns)
    assert sorted(kept) == sorted(again) == sorted(f"部门{d:02}.{ext}" for d in range(6) for ext in ("html", "csv"))
    assert {name: _stamp(text) for name, text in kept.items()} == {name: _stamp(text) for name, text in again.items()}
    label = {"error": "错误", "warning": "提示"}
    for d in range(6):
        mine = [r for r in returns if r[1] == f"部门{d:02}"]
        assert sections(again[f"部门{d:02}.html"]) == {
            f"{path.rsplit('/', 1)[1]}（{project}）": [(c, s, label[s], m) for c, s, _, m in problems]
            for path, _, project, _, problems in mine}
        errors = sum(s == "error" for *_, problems in mine for _, s, _, _ in problems)
        assert f"共 5 个文件，{errors} 个错误，{5 * 15 - errors} 个提示。" in again[f"部门{d:02}.html"]


def test_the_unidentified_files_report_counts_all_its_files(tmp_path):
    """No department, an empty one and one named 未识别的文件 are written as one report: its counts are those of
    every file in it, not of the last group read."""
    reports = written(tmp_path, [
        ("z.xlsx", None, None, None, [("z.xlsx", "error", "not_zip", "不是 Excel 文件")]),
        ("y.xlsx", "", "无部门", "自评表", [("自评表!A1", "error", "x", "空部门的问题"),
                                          ("自评表!A2", "warning", "x", "空部门的提示")]),
        ("x.xlsx", "未识别的文件", "同名", "自评表", [("自评表!B1", "warning", "y", "同名部门的问题")]),
        ("w.xlsx", "财政局", "甲", "自评表", [("自评表!C1", "error", "z", "财政局的问题")])])
    assert "共 3 个文件，2 个错误，2 个提示。" in reports["未识别的文件.html"]
    assert "共 1 个文件，1 个错误，0 个提示。" in reports["财政局.html"]
