"""One file uploaded to the desk: saved under a name the server chooses, checked by the same reader as
`collect`, stored like a collected file (store.add_file), and logged (store.add_upload) in one transaction.

Nothing an upload sends can change or lose a stored submission: a file too large, not a workbook, or holding
another department's form is logged and dropped before anything is stored; a file that cannot be read is
stored as `rejected`, which never becomes current; only a readable return of the department's own template
becomes its current submission (the earlier one stays in the history as superseded)."""
from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..returns.quality import flag_copies
from ..returns.reader import OLD_FORMATS, WORKBOOKS, read_return
from ..issue.registry import Registry
from ..storage.db import SQLITE
from ..storage.store import Prepared, Store

MB = 2 ** 20
STATE_PASSED, STATE_WARNINGS, STATE_ERRORS, STATE_MISSING = "已通过", "有警告", "有错误", "未报送"
STATE_UNREADABLE, STATE_REFUSED = "未能读取", "未接收"
STORED_NAME = re.compile(r"[0-9a-f]{64}\.[a-z]+")      # how an upload is kept: <sha256>.<suffix>
# what the department reads above the problems of each file, by result (stored ones by their state)
NOTES = {"not_workbook": "只接受 Excel 工作簿（.xlsx）。请上传下发的自评表，填写后保存为 .xlsx。",
         "too_large": "文件超过 {limit}，未接收。请只上传下发的自评表。",
         "blank": "这是未填写的空白表，未接收，已报送的内容不受影响。请填写后再上传。",
         "refused": "文件中有不属于本部门的自评表，未接收，已报送的内容不受影响。",
         "rejected": "文件无法识别为下发的自评表，未作为报送保存。请按以下提示修改后重新上传。",
         "failed": "服务器暂时无法保存此文件，未接收，已报送的内容不受影响。请稍后重新上传。",
         STATE_ERRORS: "已收到，但有错误，不评定等级。请按以下提示逐项修改后重新上传，新文件将替代本次报送。",
         STATE_WARNINGS: "已收到并通过检查，有以下提示请核实。",
         STATE_PASSED: "已收到，检查通过。"}


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
    problems: list[dict] = field(default_factory=list)   # {sheet, cell, severity, message}
    sheets: list[dict] = field(default_factory=list)     # {sheet, template_id, project, total_score, grade}
    id: int | None = None        # its row in the upload log


def note_of(result: str, errors: int, warnings: int, limit: str) -> str:
    """The sentence above an uploaded file's problems (`limit`: the largest file taken, as text); a file
    stored before reads as the first time it was: the same content is one submission."""
    if result in ("stored", "duplicate"):
        return NOTES[state_of(errors, warnings)]
    return NOTES.get(result, NOTES["failed"]).format(limit=limit)


class Intake:
    """Uploads into `folder` (beside the database): `<sha256>.xlsx`, and `.incoming/` while being checked.

    A file is in `folder` exactly when its row is committed: it is written and read under `.incoming/<uuid>/`,
    its rows committed, and only then published by a rename. A kill between the commit and the rename leaves
    the file under `.incoming/`, where `sweep` (at start-up) finds its committed row and publishes it; whatever
    else is left there, and any file in `folder` without a row, was never answered and is deleted."""

    def __init__(self, folder: Path, limit: int = 20 * MB, read=None):
        self.folder, self.limit, self.read = Path(folder), int(limit), read   # read: desk/readers.py in serve
        self.incoming = self.folder / ".incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)
        # SQLite has one writer at a time: threads take turns here, waking at once, instead of in
        # SQLite's own busy wait, which sleeps in growing steps
        self._sqlite_writer = threading.Lock()

    def sweep(self, store: Store) -> tuple[int, int]:
        """At start-up, before any upload: publish the committed files a kill left in `.incoming/`, delete the
        rest of it and every stored-looking file without a committed row. Returns (published, deleted)."""
        known = store.known()
        published = deleted = 0
        for work in list(self.incoming.iterdir()):
            for f in work.iterdir() if work.is_dir() else ():
                if STORED_NAME.fullmatch(f.name) and f.name.split(".")[0] in known \
                        and not (self.folder / f.name).exists():
                    os.replace(f, self.folder / f.name)
                    published += 1
            if work.is_dir():
                shutil.rmtree(work, ignore_errors=True)
            else:
                work.unlink(missing_ok=True)
            deleted += 1
        for f in self.folder.iterdir():
            if STORED_NAME.fullmatch(f.name) and f.is_file() and f.name.split(".")[0] not in known:
                f.unlink()
                deleted += 1
        return published, deleted

    def accept(self, store: Store, registry: Registry, department: str, own: set[str], name: str,
               stream) -> Upload:
        """Check and store one file read from `stream`; `own`: the template ids issued to `department`."""
        name = display_name(name)
        suffix = Path(name).suffix.lower()
        now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        if suffix not in WORKBOOKS | OLD_FORMATS:
            up = Upload(name, "not_workbook", STATE_REFUSED)
            self._log(store, department, now, up)
            return up
        work = self.incoming / uuid.uuid4().hex
        work.mkdir()
        unpublished = False     # committed, not yet renamed into the folder: left for `sweep` if that fails
        try:
            sha, size, complete = self._receive(stream, work / "upload")
            if not complete:
                up = Upload(name, "too_large", STATE_REFUSED, size=size)
                self._log(store, department, now, up)
                return up
            path = work / f"{sha}{suffix}"        # read under the name it is stored by: no path from outside
            (work / "upload").rename(path)
            records = (self.read or read_return)(path, registry)   # read_return looked up now: tests replace it
            final = self.folder / path.name
            for r in records:
                r.file = str(final)
            up = _outcome(name, sha, size, records, own)
            if up.result in ("refused", "blank"):
                self._log(store, department, now, up)
                return up
            prepared = [Prepared.of(r) for r in records]
            templates = {p.template_id for p in prepared if p.usable}

            def write() -> str | None:
                with store.transaction(templates):
                    status = store.add_file(str(final), sha, size, now, now, prepared)
                    if status is None:   # sent before: one submission; it is the department's return once more
                        store.reinstate(sha, now)
                    up.result = "duplicate" if status is None else "stored" if status == "read" else "rejected"
                    up.id = store.add_upload(now, department, name, sha, size, up.result, up.errors, up.warnings,
                                             up.problems)
                return status
            if store.location.engine == SQLITE:
                with self._sqlite_writer:
                    store.retrying(write)
            else:
                store.retrying(write)
            unpublished = True
            if not final.exists():
                os.replace(path, final)          # published once committed; same content if already there
            unpublished = False
            if up.result in ("stored", "duplicate"):   # 质量提示 across departments, this return among them
                self.flag_copies(store, registry)
            return up
        finally:
            if not unpublished:
                shutil.rmtree(work, ignore_errors=True)

    def flag_copies(self, store: Store, registry: Registry):
        """The same text in different departments' current returns (质量提示), worked out again: a return
        stored, or an earlier one made current again by the office."""
        with self._sqlite_writer if store.location.engine == SQLITE else nullcontext():
            _flag_copies(store, registry)

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
                up.id = store.add_upload(now, department, up.name, up.sha256, up.size, up.result, up.errors,
                                         up.warnings, up.problems)
        if store.location.engine == SQLITE:
            with self._sqlite_writer:
                store.retrying(write)
        else:
            store.retrying(write)


def _flag_copies(store: Store, registry: Registry):
    """The same text in different departments' returns (质量提示), worked out again with this return stored."""
    try:
        flag_copies(store, registry)
    except Exception as e:  # the return is stored: the next upload or `collect` works the flags out again
        logging.getLogger("xlform").warning("quality flags across returns failed: %s: %s", type(e).__name__, e)


def is_blank(r) -> bool:
    """Nothing typed into the form: no 执行数, no 实际完成情况, no 实际完成值, 得分 or 偏差原因, none of the
    kind's own inputs (the blank form sent back by mistake)."""
    typed = [v.get("executed") for v in r.funds.get("rows", {}).values()] + [r.goal.get("actual")]
    typed += [x for i in r.indicators for x in (i.actual, i.score, i.deviation_reason, *i.extra.values())]
    typed += list(r.extra.values())
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in typed)


def _outcome(name: str, sha: str, size: int, records, own: set[str]) -> Upload:
    """The department's view of what the reader found; `refused` when a sheet is another department's form."""
    stored_name = f"{sha}"
    foreign = [r for r in records if r.template.get("id") and r.project and r.template["id"] not in own]
    if foreign:
        problems = [{"sheet": r.sheet, "cell": r.sheet or name, "severity": "error",
                     "message": f"工作表“{r.sheet}”是模板 {r.template['id']}（{r.project.get('name')}）的自评表，"
                                "不是下发给本部门的表，未予接收。请上传本部门的自评表；如确属本部门，请联系绩效管理部门。"}
                    for r in foreign]
        return Upload(name, "refused", STATE_REFUSED, sha, size, errors=len(problems), problems=problems)
    problems = []
    for r in records:
        for p in r.problems:
            cell = name if p.where.startswith(stored_name) else p.where   # a file-level problem: its own name
            problems.append({"sheet": r.sheet, "cell": cell, "severity": p.severity, "message": p.message})
    errors = sum(p["severity"] == "error" for p in problems)
    warnings = sum(p["severity"] == "warning" for p in problems)
    usable = [r for r in records if r.template.get("id") and r.project]
    if usable and all(is_blank(r) for r in usable):
        return Upload(name, "blank", STATE_REFUSED, sha, size)
    sheets = [{"sheet": r.sheet, "template_id": r.template.get("id"), "project": r.project.get("name"),
               "total_score": r.total_score, "grade": r.grade} for r in usable]
    if not usable:
        return Upload(name, "rejected", STATE_UNREADABLE, sha, size, errors, warnings, problems=problems)
    return Upload(name, "stored", state_of(errors, warnings), sha, size, errors, warnings, problems, sheets)
