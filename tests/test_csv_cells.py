"""Every CSV xlform writes (the reports sent back, `export`, a migration's list) reads back cell for cell in a
spreadsheet: a cell holding a carriage return or a line feed is quoted (csv.writer quotes only the characters of
its line end: with LF alone, a bare CR in a reason or message split its line in Excel), and text that would run
as a formula is neutralised, the 未报送 lines' project names too."""
import csv
import io

from test_report_speed import written
from xlform.returns.migration import Line, Migration
from xlform.storage.record import IndicatorRecord, Record, to_csv


def rows(text: str) -> list[list[str]]:
    """The rows as a spreadsheet reads the bytes (newline="": a CR is no line end inside quotes)."""
    return list(csv.reader(io.StringIO(text, newline="")))


def test_a_message_holding_a_carriage_return_stays_in_its_cell(tmp_path):
    message = "偏差原因：第一行\r第二行\r\n第三行\n第四行"
    reports = written(tmp_path, [("r/a.xlsx", "财政局", "项目甲", "自评表",
                                  [("自评表!I13", "warning", "quality_same_reason", message),
                                   ("自评表!I14", "error", "reason_missing", "须填写")])])
    table = reports["财政局.csv"]
    assert rows(table)[1:] == [["r/a.xlsx", "自评表", "项目甲", "自评表!I13", "提示", "quality_same_reason", message],
                               ["r/a.xlsx", "自评表", "项目甲", "自评表!I14", "错误", "reason_missing", "须填写"]]
    assert table.count("\n") - message.count("\n") == 3   # a header and two lines, each ending in LF


def test_the_project_of_a_missing_return_is_neutralised(tmp_path):
    missing = [{"template_id": "t-9", "version": 1, "project": "=HYPERLINK(\"http://x\")", "department": "财政局"}]
    reports = written(tmp_path, [], missing)
    assert rows(reports["财政局.csv"])[1] == ["", "", "'=HYPERLINK(\"http://x\")", "", "未报送", "missing",
                                              "模板 t-9 第 1 版尚未报送"]


def test_an_export_keeps_a_reason_holding_a_carriage_return_in_its_cell():
    record = Record(file="a.xlsx", sheet="自评表", template={"id": "t", "version": 1, "form": "project"},
                    project={"name": "项目甲", "department": "财政局"},
                    indicators=[IndicatorRecord(id="i1", level1="产出指标", level2="数量指标", name="培训次数",
                                                target="≥4次", actual=3, weight=10, score=7.5,
                                                deviation_reason="受天气影响\r延期一次")])
    [head, line] = rows(to_csv([record]))
    assert line[head.index("deviation_reason")] == "受天气影响\r延期一次"
    assert line[head.index("name")] == "培训次数"


def test_a_migrations_list_keeps_a_value_holding_a_carriage_return_in_its_cell():
    m = Migration("old.xlsx", lines=[Line("已转入", "偏差原因", "I13", "I14", "第一行\r第二行", ""),
                                     Line("未转入", "实际完成值", "F13", "", "=1+1", "指标已删除")])
    assert rows(m.csv()) == [["类别", "内容", "原单元格", "新单元格", "值", "说明"],
                             ["已转入", "偏差原因", "I13", "I14", "第一行\r第二行", ""],
                             ["未转入", "实际完成值", "F13", "", "'=1+1", "指标已删除"]]
