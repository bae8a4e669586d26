"""The reports sent back to the 主管部门, read as written: hostile texts escaped in the page and neutralised in
the CSV, the same problems repeated across many files and departments (each distinct one is made once and
reused) each in its own file and order, a department without problems, 未报送 lines, unidentified files."""
import csv
import html
import io
import re

from xlform.collecting.report import write_reports
from xlform.errors import Problem
from xlform.storage.record import Record
from xlform.storage.store import Prepared, Store

ROW = re.compile(r'<tr><td class="nowrap">(.*?)</td><td class="nowrap (\w+)">(.*?)</td><td>(.*?)</td></tr>\n')


def collection(db, returns):
    """A collection database of returns, each (path, department, project, sheet, [(cell, severity, code,
    message)]), stored as collect stores what it read; a return with no project is a rejected file."""
    store = Store(db)
    with store.transaction():
        for n, (path, department, project, sheet, problems) in enumerate(returns):
            record = Record(file=path, sheet=sheet, problems=[Problem(c, "", m, code, s) for c, s, code, m in problems])
            if project is not None:
                record.template = {"id": f"t-{n}", "version": 1, "form": "project"}
                record.project = {"name": project, "department": department, "implementer": "", "year": 2024}
            store.add_file(path, f"{n:064x}", 1, "2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00",
                           [Prepared.of(record)])
    return store


def written(tmp_path, returns, missing=()):
    """{file name: text} of the reports written for these returns."""
    store = collection(tmp_path / "c.db", returns)
    try:
        files = write_reports(tmp_path / "reports", store, list(missing))
    finally:
        store.close()
    # decoded as they are: a text-mode read would turn a CR into a line end
    return {p.name: p.read_bytes().decode("utf-8-sig" if p.suffix == ".csv" else "utf-8") for p in files}


def sections(page: str) -> dict[str, list[tuple]]:
    """{a file's heading: its problem lines (cell, class, 级别, message), unescaped} of a report page."""
    out = {}
    for part in page.split("<h2>")[1:]:
        heading, rest = part.split("</h2>", 1)
        out[html.unescape(heading)] = [tuple(html.unescape(x) for x in row) for row in ROW.findall(rest)]
    return out


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_hostile_texts_are_escaped_in_the_page_and_neutralised_in_the_csv(tmp_path):
    problems = [("\t自评表!A1<", "error", "=code", '<script>alert("x")</script> & ’说明’'),
                ("自评表!B2", "warning", "reason", "+1+1 <b>粗</b>"),
                ("自评表!B3", "error", "reason", "@SUM(1) 'q'"),
                ("自评表!B4", "warning", "reason", "-2 & &amp;")]
    reports = written(tmp_path, [("=收件/@<img src=x onerror=alert(1)>&'\".xlsx", "财政局", '-项目<i>"&', "+自评<表>",
                                  problems)])
    page, table = reports["财政局.html"], reports["财政局.csv"]
    # every text of the data escaped exactly as autoescape does (& < > " '), nowhere raw
    assert "<script>" not in page and "<img" not in page and "<b>" not in page and "<i>" not in page
    assert ("<h2>@&lt;img src=x onerror=alert(1)&gt;&amp;&#39;&#34;.xlsx（-项目&lt;i&gt;&#34;&amp;）</h2>" in page)
    assert ("<p class=\"muted\">文件：=收件/@&lt;img src=x onerror=alert(1)&gt;&amp;&#39;&#34;.xlsx；"
            "工作表：+自评&lt;表&gt;</p>") in page
    assert ('<tr><td class="nowrap">\t自评表!A1&lt;</td><td class="nowrap error">错误</td>'
            '<td>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; ’说明’</td></tr>\n') in page
    assert '<td>+1+1 &lt;b&gt;粗&lt;/b&gt;</td>' in page and "<td>@SUM(1) &#39;q&#39;</td>" in page
    assert "<td>-2 &amp; &amp;amp;</td>" in page   # an entity in the data is text: escaped again
    assert "共 1 个文件，2 个错误，2 个提示。" in page
    # every cell a spreadsheet would run is prefixed with a quote, the others are as they were
    path, sheet, project = "'=收件/@<img src=x onerror=alert(1)>&'\".xlsx", "'+自评<表>", '\'-项目<i>"&'
    assert csv_rows(table) == [
        ["文件", "工作表", "项目名称", "单元格", "级别", "代码", "问题及处理"],
        [path, sheet, project, "'\t自评表!A1<", "错误", "'=code", '<script>alert("x")</script> & ’说明’'],
        [path, sheet, project, "自评表!B2", "提示", "reason", "'+1+1 <b>粗</b>"],
        [path, sheet, project, "自评表!B3", "错误", "reason", "'@SUM(1) 'q'"],
        [path, sheet, project, "自评表!B4", "提示", "reason", "'-2 & &amp;"]]


def test_a_carriage_return_at_a_cells_start_is_neutralised(tmp_path):
    reports = written(tmp_path, [("r.xlsx", "财政局", "\r项目", "自评表", [("自评表!C3", "error", "reason", "\r=1+1")])])
    table = reports["财政局.csv"]
    assert csv_rows(table)[1] == ["r.xlsx", "自评表", "'\r项目", "自评表!C3", "错误", "reason", "'\r=1+1"]
    assert "<td>\r=1+1</td>" in reports["财政局.html"]


def test_repeated_and_distinct_problems_across_many_files_and_departments(tmp_path):
    """Twenty departments of six files share a few problems (one hostile, one cell with two severities) in
    each file's own order, and each file has its own too: more distinct problems than a report keeps made,
    so some are made again after being dropped. Every file lists exactly its own, in the order found."""
    shared = [("自评表!I15", "error", "reason_missing", "得分 0.8 低于分值 1，须填写偏差原因分析及改进措施。"),
              ("自评表!I15", "warning", "reason_missing", "得分 0.8 低于分值 1，须填写偏差原因分析及改进措施。"),
              ("自评表!I16", "warning", "reason_overshoot", "=超过年度指标值 <30%> & “说明”"),
              ("自评表!G13", "error", "locked_changed", "锁定单元格被修改")]
    returns, expected = [], {}
    for d in range(20):
        for f in range(6):
            own = [(f"自评表!H{k}", ("error", "warning")[k % 2], "own", f"部门{d} 文件{f} 第{k}个问题 <{k}>")
                   for k in range(100)]
            mine = shared[(d + f) % 4:] + own + shared[:(d + f) % 4]   # each file its own order
            path, project = f"收件/部门{d}/项目{f}.xlsx", f"项目{d}-{f}"
            returns.append((path, f"部门{d:02}", project, "自评表", mine))
            expected.setdefault(f"部门{d:02}", {})[path] = (project, mine)
    reports = written(tmp_path, returns)
    assert sorted(reports) == sorted(f"部门{d:02}.{ext}" for d in range(20) for ext in ("html", "csv"))
    label = {"error": "错误", "warning": "提示"}
    for department, files in expected.items():
        page = sections(reports[f"{department}.html"])
        assert page == {f"{path.rsplit('/', 1)[1]}（{project}）": [(c, s, label[s], m) for c, s, _, m in problems]
                        for path, (project, problems) in files.items()}
        errors = sum(s == "error" for _, problems in files.values() for _, s, _, _ in problems)
        assert f"共 6 个文件，{errors} 个错误，{6 * 104 - errors} 个提示。" in reports[f"{department}.html"]
        rows = csv_rows(reports[f"{department}.csv"])[1:]
        assert rows == [[path, "自评表", project, c, label[s], code, "'" + m if m.startswith("=") else m]
                        for path, (project, problems) in sorted(files.items()) for c, s, code, m in problems]


def test_a_department_without_problems_and_files_without_problems(tmp_path):
    reports = written(tmp_path, [("b.xlsx", "财政局", "乙", "自评表", []), ("a.xlsx", "财政局", "甲", None, []),
                                 ("c.xlsx", "教育厅", "丙", "自评表", [("自评表!A1", "error", "x", "有误")])])
    page = reports["财政局.html"]
    assert "共 2 个文件，0 个错误，0 个提示。" in page
    assert page.count("<p>未发现问题。</p>") == 2 and "<table>" not in page and "<tr>" not in page
    assert page.index("<h2>a.xlsx（甲）</h2>") < page.index("<h2>b.xlsx（乙）</h2>")   # by path
    assert '<p class="muted">文件：a.xlsx</p>' in page   # no sheet: none named
    assert reports["财政局.csv"] == "文件,工作表,项目名称,单元格,级别,代码,问题及处理\n"
    assert "共 1 个文件，1 个错误，0 个提示。" in reports["教育厅.html"] and "有误" not in page


def test_missing_returns_are_listed_with_the_department_and_alone(tmp_path):
    missing = [{"template_id": "xj-01", "version": 2, "project": "项目<甲>&“一”", "department": "财政局"},
               {"template_id": "xj-02", "version": 1, "project": "项目乙", "department": "财政局"},
               {"template_id": "xj-03", "version": 1, "project": "项目丙", "department": "民政厅"}]
    reports = written(tmp_path, [("a.xlsx", "财政局", "甲", "自评表", [("自评表!A1", "warning", "x", "请核实")])],
                      missing)
    assert sorted(reports) == ["民政厅.csv", "民政厅.html", "财政局.csv", "财政局.html"]
    page = reports["财政局.html"]
    assert "<h2>未报送（2 项）</h2>" in page
    assert ('<tr><td>项目&lt;甲&gt;&amp;“一”</td><td class="nowrap">xj-01</td><td class="nowrap">第 2 版</td></tr>'
            in page)
    assert "共 1 个文件，0 个错误，1 个提示。" in page and "<td>请核实</td>" in page
    assert csv_rows(reports["财政局.csv"])[1:] == [
        ["a.xlsx", "自评表", "甲", "自评表!A1", "提示", "x", "请核实"],
        ["", "", "项目<甲>&“一”", "", "未报送", "missing", "模板 xj-01 第 2 版尚未报送"],
        ["", "", "项目乙", "", "未报送", "missing", "模板 xj-02 第 1 版尚未报送"]]
    alone = reports["民政厅.html"]   # a department that sent nothing at all still gets its report
    assert "<h2>未报送（1 项）</h2>" in alone and "项目丙" in alone and "共 0 个文件，0 个错误，0 个提示。" in alone
    assert csv_rows(reports["民政厅.csv"])[1:] == [["", "", "项目丙", "", "未报送", "missing", "模板 xj-03 第 1 版尚未报送"]]


def test_unidentified_files_of_every_kind_come_in_one_report(tmp_path):
    """No department (a rejected file), an empty one and a department named 未识别的文件 sort apart but are
    one report, with each file's own problems."""
    reports = written(tmp_path, [
        ("z.xlsx", None, None, None, [("z.xlsx", "error", "not_zip", "不是 Excel 文件")]),
        ("y.xlsx", "", "无部门", "自评表", [("自评表!A1", "error", "x", "空部门的问题")]),
        ("x.xlsx", "未识别的文件", "同名", "自评表", [("自评表!B1", "warning", "y", "同名部门的问题")]),
        ("w.xlsx", "财政局", "甲", "自评表", [("自评表!C1", "error", "z", "财政局的问题")])])
    assert sorted(reports) == ["未识别的文件.csv", "未识别的文件.html", "财政局.csv", "财政局.html"]
    page = sections(reports["未识别的文件.html"])
    assert page == {"z.xlsx": [("z.xlsx", "error", "错误", "不是 Excel 文件")],
                    "y.xlsx（无部门）": [("自评表!A1", "error", "错误", "空部门的问题")],
                    "x.xlsx（同名）": [("自评表!B1", "warning", "提示", "同名部门的问题")]}
    assert [r[0] for r in csv_rows(reports["未识别的文件.csv"])[1:]] == ["z.xlsx", "y.xlsx", "x.xlsx"]
    assert "财政局的问题" not in reports["未识别的文件.html"] and "财政局的问题" in reports["财政局.html"]


def test_a_hostile_department_name_is_escaped_in_its_page(tmp_path):
    reports = written(tmp_path, [("a.xlsx", "<b>局</b>&\"'", "甲", "自评表", [("自评表!A1", "error", "x", "有误")])])
    [page] = [text for name, text in reports.items() if name.endswith(".html")]
    assert "<title>&lt;b&gt;局&lt;/b&gt;&amp;&#34;&#39; — 项目支出绩效自评表问题清单</title>" in page
    assert "<h1>&lt;b&gt;局&lt;/b&gt;&amp;&#34;&#39;：项目支出绩效自评表问题清单</h1>" in page and "<b>" not in page
