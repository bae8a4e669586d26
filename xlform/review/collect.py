"""Review worksheets read back: the same reader, checks and problems by cell as a 自评表 return (the
worksheet's own sections check what the reviewer typed), each record stored in the 复核 tables."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..collecting.collector import content_key, find_files
from ..errors import reason
from ..issue.registry import Registry
from ..messages import problem
from ..outputs import now
from ..returns.reader import read_return
from ..storage.record import Record
from ..storage.review import Reviews
from .worksheets import KIND


@dataclass
class Outcome:
    stored: list[Record] = field(default_factory=list)     # new records, whatever their problems
    duplicates: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(len(r.errors) for r in self.stored)

    def line(self) -> str:
        warnings = sum(len(r.warnings) for r in self.stored)
        return (f"{len(self.stored)} review worksheets read, {self.errors} errors, {warnings} warnings, "
                f"{self.duplicates} skipped duplicates")


def collect(dirs, reviews: Reviews, registry: Registry, exclude=()) -> Outcome:
    """Read every workbook under the folders; a workbook that is not a review worksheet is stored rejected,
    with one problem saying so."""
    files, _ = find_files(dirs, set(map(Path, exclude)))
    known, stamp, out = reviews.known(), now(), Outcome()
    for path in files:
        try:
            st = path.stat()
            sha = content_key(path, st.st_size)
        except OSError as e:
            out.unreadable.append((str(path), reason(e)))
            continue
        if sha in known:
            out.duplicates += 1
            continue
        modified = datetime.fromtimestamp(st.st_mtime, timezone.utc).isoformat(timespec="microseconds")
        for record in read_return(path, registry):
            if record.template.get("form") not in (KIND, None):
                record.problems.append(problem("not_review", record.sheet or path.name))
            if reviews.add(sha, str(path), modified, stamp, record) is None:
                out.duplicates += 1
            else:
                out.stored.append(record)
        known.add(sha)
    return out
