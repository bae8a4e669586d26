"""Problem reports to send back: one HTML (Jinja2, readable straight from disk) and one CSV per 主管部门."""
from __future__ import annotations

import csv
import io
from datetime import datetime
from itertools import groupby
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..kinds.forms import templates_dir
from ..names import file_stems
from ..outputs import atomic_write
from ..storage.record import neutralise
from ..storage.store import Store
from . import monitoring

UNKNOWN = "未识别的文件"
SEVERITY = {"error": "错误", "warning": "提示"}


def write_reports(folder: Path, store: Store, missing: list[dict]) -> list[Path]:
    """Write every department's report, one department at a time (memory holds one department's problems);
    returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    env = Environment(loader=FileSystemLoader(str(templates_dir() / "report")),
                      autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("department.html.j2")
    rows = store.to_send_back()   # by department, path and sheet, as the problems come
    stems = file_stems({d or UNKNOWN for _, d, *_ in rows} | {m["department"] for m in missing})
    problems = _Ahead(p for part in store.problems_in_order() for p in part)
    # a 监控表's warnings in a line, by (file, sheet): the 监控表 returns only (few: one a project at mid-year)
    monitored = monitoring.report_lines(store.current_records(form=monitoring.FORM))
    written = []
    generated = datetime.now().strftime("%Y-%m-%d %H:%M")

    def write(department: str, files: list[dict]):
        mine = [m for m in missing if m["department"] == department]
        all_problems = [p for f in files for p in f["problems"]]
        html = template.render(department=department, files=files, missing=mine, generated=generated,
                               errors=sum(p["severity"] == "error" for p in all_problems),
                               warnings=sum(p["severity"] == "warning" for p in all_problems))
        page, table = folder / f"{stems[department]}.html", folder / f"{stems[department]}.csv"
        atomic_write(page, html.encode("utf-8"))
        atomic_write(table, _csv(files, mine).encode("utf-8-sig"))
        written.extend([page, table])

    done, unknown = set(), []
    for department, group in groupby(rows, key=lambda r: r[1] or UNKNOWN):
        found: dict[int, list[dict]] = {}
        while problems.next is not None and (problems.next[5] or UNKNOWN) == department:
            sid, cell, severity, code, message, *_ = problems.take()
            found.setdefault(sid, []).append({"cell": cell, "severity": severity, "code": code, "message": message})
        files = [{"name": Path(path).name, "path": path, "sheet": sheet, "project": project, "total_score": total,
                  "grade": grade, "problems": found.get(sid, []), "monitoring": monitored.get((path, sheet))}
                 for sid, _, project, path, sheet, total, grade in group]
        if department == UNKNOWN:   # None, "" and a department named so come apart: written again, whole
            unknown += files
            files = unknown
        done.add(department)
        write(department, files)
    for department in sorted({m["department"] for m in missing} - done):
        write(department, [])
    return list(dict.fromkeys(written))


class _Ahead:
    """An iterator whose next item can be looked at before it is taken."""

    def __init__(self, items):
        self._items = iter(items)
        self.next = next(self._items, None)

    def take(self):
        item, self.next = self.next, next(self._items, None)
        return item


def _csv(files: list[dict], missing: list[dict]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["文件", "工作表", "项目名称", "单元格", "级别", "代码", "问题及处理"])
    for f in files:
        where = [neutralise(f[k]) for k in ("path", "sheet", "project")]   # once a file: it has many problems
        w.writerows(where + [neutralise(p["cell"]), neutralise(SEVERITY.get(p["severity"], p["severity"])),
                             neutralise(p["code"]), neutralise(p["message"])] for p in f["problems"])
    for m in missing:
        w.writerow(["", "", m["project"], "", "未报送", "missing", f"模板 {m['template_id']} 第 {m['version']} 版尚未报送"])
    return out.getvalue()
