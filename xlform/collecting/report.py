"""Problem reports to send back: one HTML (Jinja2, readable straight from disk) and one CSV per 主管部门."""
from __future__ import annotations

import io
from collections import Counter
from datetime import datetime
from itertools import chain, groupby
from operator import itemgetter
from pathlib import Path
from types import SimpleNamespace

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from ..kinds.forms import templates_dir
from ..names import file_stems
from ..outputs import atomic_file, csv_writer
from ..storage.record import neutralise
from ..storage.store import Store
from . import monitoring

UNKNOWN = "未识别的文件"
SEVERITY = {"error": "错误", "warning": "提示"}
_SEVERITY, _HTML, _CELLS = itemgetter(0), itemgetter(1), itemgetter(2)   # of a problem as _Problems makes it


def write_reports(folder: Path, store: Store, missing: list[dict]) -> list[Path]:
    """Write every department's report, one department at a time (memory holds one department's problems);
    returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    env = Environment(loader=FileSystemLoader(str(templates_dir() / "report")),
                      autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("department.html.j2")
    rows = store.to_send_back()   # (id, department) by department, path and sheet, as the problems come
    stems = file_stems({d or UNKNOWN for _, d in rows} | {m["department"] for m in missing})
    # a 监控表's warnings in a line, by (file, sheet): the 监控表 returns only (few: one a project at mid-year)
    monitored = monitoring.report_lines(store.current_records(form=monitoring.FORM))
    written = []
    generated = datetime.now().strftime("%Y-%m-%d %H:%M")
    line = _Line()
    problem = _Problems(template.module.problem_row, line)   # the page's own macro for a problem's line

    def write(department: str, files: list[dict], severities: Counter):
        mine = [m for m in missing if m["department"] == department]
        for f in files:   # each line is the template's own Markup: joined as they are, never escaped twice
            f["rows"] = Markup("".join(map(_HTML, f["problems"])))
        page, table = folder / f"{stems[department]}.html", folder / f"{stems[department]}.csv"
        # each written as it is made (a department of 100 files: a page and a table of ~1.7 MB, held twice, as
        # text and as its bytes, when made whole)
        with atomic_file(page) as f, io.TextIOWrapper(f, encoding="utf-8", newline="") as out:
            out.writelines(template.generate(department=department, files=files, missing=mine, generated=generated,
                                             errors=severities["error"], warnings=severities["warning"]))
        with atomic_file(table) as f, io.TextIOWrapper(f, encoding="utf-8-sig", newline="") as out:
            out.writelines(_csv(files, mine, line))
        written.extend([page, table])

    # a department's files (None and "" and a department named UNKNOWN come together), then their problems,
    # each file's in the order found
    done, unknown, unknown_severities = set(), [], Counter()
    for department, group in groupby(rows, key=lambda r: r[1] or UNKNOWN):
        ids = [sid for sid, _ in group]   # (their details read for this department only)
        found: dict[int, list] = {}   # each file's problems, as made (the rows read are let go as they come)
        for row in store.each_problem(ids, utf8=True):
            found.setdefault(row[0], []).append(problem[row[1:]])
        files = [{"name": Path(path).name, "path": path, "sheet": sheet, "project": project, "total_score": total,
                  "grade": grade, "problems": found.get(sid, []), "monitoring": monitored.get((path, sheet))}
                 for sid, project, path, sheet, total, grade in store.sent_back(ids)]
        severities = Counter(map(_SEVERITY, chain.from_iterable([f["problems"] for f in files])))
        if department == UNKNOWN:   # None, "" and a department named so come apart: written again, whole
            unknown += files
            files = unknown
            unknown_severities += severities
            severities = unknown_severities
        done.add(department)
        write(department, files, severities)
    for department in sorted({m["department"] for m in missing} - done):
        write(department, [], Counter())
    return list(dict.fromkeys(written))


class _Problems(dict):
    """A problem's (severity, line in the page's table, cells in the CSV after the file's own) by its (cell,
    severity, code, message), made once for each distinct one: a province repeats the same few thousand, so
    this saves escaping, rendering and quoting them again in every file. Bounded: memory stays flat whatever
    the number of distinct problems (it starts again past KEPT)."""
    KEPT = 16_384

    def __init__(self, row, line: _Line):
        super().__init__()
        self.row, self.line = row, line

    def __missing__(self, problem: tuple) -> tuple[str, Markup, str]:
        # (its texts as their UTF-8 bytes where the database gives them so: decoded once here)
        cell, severity, code, message = [v.decode("utf-8", "replace") if v.__class__ is bytes else v for v in problem]
        label = SEVERITY.get(severity, severity)
        made = (severity, self.row(cell, severity, message),
                self.line([neutralise(cell), neutralise(label), neutralise(code), neutralise(message)]))
        if len(self) >= self.KEPT:
            self.clear()
        self[problem] = made
        return made


class _Line:
    """Cells as one CSV line without its end, quoted as csv.writer quotes them: a file's cells and each
    problem's are made once, and a problem's line in the CSV is the two joined."""

    def __init__(self):
        self._made: list[str] = []   # the writer's "file": a line is appended, then taken
        self._writer = csv_writer(SimpleNamespace(write=self._made.append))   # it decides what is quoted

    def __call__(self, cells: list) -> str:
        self._writer.writerow(cells)
        return self._made.pop()[:-1]


def _csv(files: list[dict], missing: list[dict], line: _Line):
    """The CSV's text, a file's lines at a time."""
    yield line(["文件", "工作表", "项目名称", "单元格", "级别", "代码", "问题及处理"]) + "\n"
    for f in files:
        if f["problems"]:   # each problem's line is the file's cells and its own
            where = line([neutralise(f[k]) for k in ("path", "sheet", "project")]) + ","
            yield where + ("\n" + where).join(map(_CELLS, f["problems"])) + "\n"
    for m in missing:
        yield line(["", "", neutralise(m["project"]), "", "未报送", "missing",
                    f"模板 {m['template_id']} 第 {m['version']} 版尚未报送"]) + "\n"
