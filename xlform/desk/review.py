"""The 复核 on the desk (issue 20): the office downloads the newest sample's review worksheets, uploads them
back filled (read and stored as `xlform review collect` does), and downloads the report; the dashboard shows
each reviewed project's 复核总分, 偏离度 and class. The routes are in app.py; what they do is here."""
from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from pathlib import Path

from ..issue.registry import Registry
from ..kinds.forms import form_kind
from ..outputs import atomic_write
from ..review.collect import collect
from ..review.report import summarise, write_workbook
from ..review.worksheets import KIND, render_worksheets, review_project
from ..storage.review import Reviews
from ..storage.store import Store


def worksheets_zip(store: Store, registry_location, password: str | None) -> bytes | None:
    """The newest sample's worksheets, rendered from the stored returns and issued into the registry, as a
    zip; None before any sample."""
    reviews = Reviews(store, create=False)
    found = reviews.latest_sample()
    if found is None:
        return None
    drawn = found[1]
    records = reviews.records_of(d["submission_id"] for d in drawn)
    registry = Registry(registry_location)
    buffer = io.BytesIO()
    try:
        projects = [review_project(records[d["submission_id"]], d["submission_id"], registry) for d in drawn]
        with tempfile.TemporaryDirectory() as tmp:
            issued = render_worksheets(projects, Path(tmp), registry, password)
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
                for i in issued:
                    z.write(i.file, i.file.name)
    finally:
        registry.close()
    return buffer.getvalue()


def accept(store: Store, registry: Registry, folder: Path, files: list[tuple[str, bytes]]) -> list[dict]:
    """Filled worksheets sent back: each kept under its content's hash in `folder`, read and stored.
    [{name, result: stored | duplicate, errors, warnings, problems}] in the order sent."""
    out = []
    for name, data in files:
        sha = hashlib.sha256(data).hexdigest()
        path = folder / f"{sha}.xlsx"
        if not path.exists():
            atomic_write(path, data)
        outcome = collect([path], Reviews(store, create=False), registry)
        records = outcome.stored
        problems = [{"cell": p.where, "severity": p.severity, "message": p.message} for r in records for p in r.problems]
        out.append({"name": name, "result": "stored" if records else "duplicate",
                    "project": records[0].project.get("name") if records and records[0].project else None,
                    "errors": sum(p["severity"] == "error" for p in problems),
                    "warnings": sum(p["severity"] == "warning" for p in problems), "problems": problems})
    return out


def report_xlsx(store: Store) -> bytes:
    reviews = Reviews(store, create=False)
    found = reviews.latest_sample()
    summary = summarise(reviews.current(), form_kind(KIND).profile, found[1] if found else [])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.xlsx"
        write_workbook(path, summary)
        return path.read_bytes()


def dashboard(store: Store) -> dict:
    """For the dashboard: the newest sample ({seed, size, population, drawn_at} or None) and, by the reviewed
    template id, its current review {review_total, deviation, class, errors}."""
    reviews = Reviews(store, create=False)
    found = reviews.latest_sample()
    return {"sample": found[0] if found else None, "reviewed": reviews.by_template()}
