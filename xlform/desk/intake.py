"""One file uploaded to the desk: saved under a name the server chooses, checked by the same reader as
`collect`, stored like a collected file (store.add_file), and logged (store.add_upload) in one transaction.

Nothing an upload sends can change or lose a stored submission: a file too large, not a workbook, or holding
another department's form is logged and dropped before anything is stored; a file that cannot be read is
stored as `rejected`, which never becomes current; only a readable return of the department's own template
becomes its current submission (the earlier one stays in the history as superseded)."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..collector import OLD_FORMATS, WORKBOOKS, read_return
from ..db import SQLITE
from ..registry import Registry
from ..store import Prepared, Store

MB = 2 ** 20
STATE_PASSED, STATE_WARNINGS, STATE_ERRORS, STATE_MISSING = "已通过", "有警告", "有错误", "未报送"
STATE_UNREADABLE, STATE_REFUSED = "未能读取", "未接收"


def state_of(errors: int, warnings: int) -> str:
    return STATE_ERRORS if errors else STATE_WARNINGS if warnings else STATE_PASSED


def size_text(n: int) -> str:
    """20 MB, 512 KB: a size as a department reads it."""
    return f"{n / MB:.3g} MB" if n >= MB else f"{max(n // 1024, 1)} KB"


def display_name(name: str | None) -> str:
    """The browser's file name as text: its last part, no control characters, at most 200 characters."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "（无文件名）"


@dataclass
class Upload:
    """What became of one uploaded file, as the department is shown it."""
    name: str
    result: str                  # stored | duplicate | rejected | refused | too_large | not_workbook
    state: str                   # 已通过 有警告 有错误 未能读取 未接收
    sha256: str | None = None
    size: int = 0
    errors: int = 0
    warnings: int = 0
    note: str = ""               # one sentence above the problems
    problems: list[dict] = field(default_factory=list)   # {sheet, cell, severity, message}
    sheets: list[dict] = field(default_factory=list)     # {sheet, template_id, project, total_score, grade}


class Intake:
    """Uploads into `folder` (beside the database): `<sha256>.xlsx`, and `.incoming/` while being checked."""

    def __init__(self, folder: Path, limit: int = 20 * MB, read=read_return):
        self.folder, self.limit, self.read = Path(folder), int(limit), read   # read: desk/readers.py in serve
        self.incoming = self.folder / ".incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)
        # SQLite has one writer at a time: threads take turns here, waking at once, instead of in
        # SQLite's own busy wait, which sleeps in growing steps
        self._sqlite_writer = threading.Lock()

    def accept(self, store: Store, registry: Registry, department: str, own: set[str], name: str,
               stream) -> Upload:
        """Check and store one file read from `stream`; `own`: the template ids issued to `department`."""
        name = display_name(name)
        suffix = Path(name).suffix.lower()
        now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        if suffix not in WORKBOOKS | OLD_FORMATS:
            up = Upload(name, "not_workbook", STATE_REFUSED,
                        note="只接受 Excel 工作簿（.xlsx）。请上传下发的自评表，填写后保存为 .xlsx。")
            self._log(store, department, now, up)
            return up
        work = self.incoming / uuid.uuid4().hex
        work.mkdir()
        try:
            sha, size, complete = self._receive(stream, work / "upload")
            if not complete:
                up = Upload(name, "too_large", STATE_REFUSED, size=size,
                            note=f"文件超过 {size_text(self.limit)}，未接收。请只上传下发的自评表。")
                self._log(store, department, now, up)
                return up
            path = work / f"{sha}{suffix}"        # read under the name it is stored by: no path from outside
            (work / "upload").rename(path)
            records = self.read(path, registry)
            final = self.folder / path.name
            for r in records:
                r.file = str(final)
            up = _outcome(name, sha, size, records, own)
            if up.result == "refused":
                self._log(store, department, now, up)
                return up
            if not final.exists():
                os.replace(path, final)          # before the database names it; same content if already there
            prepared = [Prepared.of(r) for r in records]
            templates = {p.template_id for p in prepared if p.usable}

            def write() -> str | None:
                with store.transaction(templates):
                    status = store.add_file(str(final), sha, size, now, now, prepared)
                    if status is None:   # sent before: sent again, it is the department's return once more
                        store.reinstate(sha, now)
                    up.result = "duplicate" if status is None else "stored" if status == "read" else "rejected"
                    store.add_upload(now, department, name, sha, size, up.result, up.errors, up.warnings,
                                     up.problems)
                return status
            if store.location.engine == SQLITE:
                with self._sqlite_writer:
                    store.retrying(write)
            else:
                store.retrying(write)
            if up.result == "duplicate":
                up.note = "此文件与已报送过的文件内容完全相同，未重复保存，已重新作为本表的当前报送；检查结果如下。"
            return up
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _receive(self, stream, target: Path) -> tuple[str, int, bool]:
        """Copy at most `limit` bytes: (sha256, size, whether the whole file fitted)."""
        h, size = hashlib.sha256(), 0
        with open(target, "wb") as out:
            while True:
                chunk = stream.read(1 << 16)
                if not chunk:
                    return h.hexdigest(), size, True
                size += len(chunk)
                if size > self.limit:
                    return "", size, False
                h.update(chunk)
                out.write(chunk)

    def _log(self, store: Store, department: str, now: str, up: Upload):
        def write():
            with store.db.transaction():
                store.add_upload(now, department, up.name, up.sha256, up.size, up.result, up.errors, up.warnings,
                                 up.problems)
        if store.location.engine == SQLITE:
            with self._sqlite_writer:
                store.retrying(write)
        else:
            store.retrying(write)


def _outcome(name: str, sha: str, size: int, records, own: set[str]) -> Upload:
    """The department's view of what the reader found; `refused` when a sheet is another department's form."""
    stored_name = f"{sha}"
    foreign = [r for r in records if r.template.get("id") and r.project and r.template["id"] not in own]
    if foreign:
        problems = [{"sheet": r.sheet, "cell": r.sheet or name, "severity": "error",
                     "message": f"工作表“{r.sheet}”是模板 {r.template['id']}（{r.project.get('name')}）的自评表，"
                                "不是下发给本部门的表，未予接收。请上传本部门的自评表；如确属本部门，请联系绩效管理部门。"}
                    for r in foreign]
        return Upload(name, "refused", STATE_REFUSED, sha, size, errors=len(problems), problems=problems,
                      note="文件中有不属于本部门的自评表，整个文件未予接收，已报送的内容不受影响。")
    problems = []
    for r in records:
        for p in r.problems:
            cell = name if p.where.startswith(stored_name) else p.where   # a file-level problem: its own name
            problems.append({"sheet": r.sheet, "cell": cell, "severity": p.severity, "message": p.message})
    errors = sum(p["severity"] == "error" for p in problems)
    warnings = sum(p["severity"] == "warning" for p in problems)
    usable = [r for r in records if r.template.get("id") and r.project]
    sheets = [{"sheet": r.sheet, "template_id": r.template.get("id"), "project": r.project.get("name"),
               "total_score": r.total_score, "grade": r.grade} for r in usable]
    if not usable:
        return Upload(name, "rejected", STATE_UNREADABLE, sha, size, errors, warnings, problems=problems,
                      note="文件无法识别为下发的自评表，未作为报送保存。请按以下提示修改后重新上传。")
    note = {STATE_ERRORS: "已收到，但有错误：请按以下提示逐项修改后重新上传，新文件将替代本次报送。",
            STATE_WARNINGS: "已收到并通过检查，有以下提示请核实。",
            STATE_PASSED: "已收到，检查通过。"}[state_of(errors, warnings)]
    return Upload(name, "stored", state_of(errors, warnings), sha, size, errors, warnings, note, problems, sheets)
