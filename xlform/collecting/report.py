"""Problem reports to send back: one HTML (Jinja2, readable straight from disk) and one CSV per 主管部门."""
from __future__ import annotations

import csv
import io
from datetime import datetime
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
    """Write every department's report; returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    env = Environment(loader=FileSystemLoader(str(templates_dir() / "report")),
                      autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("department.html.j2")
    rows = store.to_send_back()
    problems: dict[int, list[dict]] = {}
    for sid, cell, severity, code, message, *_ in store.problems_to_send_back():
        problems.setdefault(sid, []).append({"cell": cell, "severity": severity, "code": code, "message": message})
    departments: dict[str, list[dict]] = {}
    monitored = monitoring.report_lines(store.current_records())   # a 监控表's warnings, by (file, sheet)
    for sid, department, project, path, sheet, total, grade in rows:
        departments.setdefault(department or UNKNOWN, []).append(
            {"name": Path(path).name, "path": path, "sheet": sheet, "project": project, "total_score": total, "grade": grade,
             "problems": problems.get(sid, []), "monitoring": monitored.get((path, sheet))})
    for m in missing:
        departments.setdefault(m["department"], [])
    written = []
    generated = datetime.now().strftime("%Y-%m-%d %H:%M")
    stems = file_stems(departments)
    for department, files in sorted(departments.items()):
        mine = [m for m in missing if m["department"] == department]
        all_problems = [p for f in files for p in f["problems"]]
        html = template.render(department=department, files=files, missing=mine, generated=generated,
                               errors=sum(p["severity"] == "error" for p in all_problems),
                               warnings=sum(p["severity"] == "warning" for p in all_problems))
        page, table = folder / f"{stems[department]}.html", folder / f"{stems[department]}.csv"
        atomic_write(page, html.encode("utf-8"))
        atomic_write(table, _csv(files, mine).encode("utf-8-sig"))
        written += [page, table]
    return written


def _csv(files: list[dict], missing: list[dict]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["文件", "工作表", "项目名称", "单元格", "级别", "代码", "问题及处理"])
    for f in files:
        for p in f["problems"]:
            w.writerow([neutralise(v) for v in (f["path"], f["sheet"], f["project"], p["cell"],
                                                SEVERITY.get(p["severity"], p["severity"]), p["code"], p["message"])])
    for m in missing:
        w.writerow(["", "", m["project"], "", "未报送", "missing", f"模板 {m['template_id']} 第 {m['version']} 版尚未报送"])
    return out.getvalue()
