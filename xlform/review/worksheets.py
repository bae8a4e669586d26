"""Review worksheets: a review project built from a stored 自评表 return — the reviewed project with what the
department returned as fixed values (templates/review/sections.py draws them) — rendered and issued like any
form, into the same registry, so that `xlform review collect` reads them back with the same reader."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..definition.definition import Project
from ..errors import XlformError
from ..issue.registry import Registry
from ..issue.renderer import Issued, render
from ..kinds.forms import form_kind
from ..scoring.review import overrides

KIND = "review"


def review_id(template_id: str) -> str:
    """The review worksheet's template id: the reviewed template's, marked."""
    return f"{template_id}.review"


def review_project(record: dict, submission_id: int, registry: Registry) -> Project:
    """The review project of a stored return (its record as the collection keeps it)."""
    template = record.get("template") or {}
    tid, version = template.get("id"), template.get("version")
    reg = registry.lookup(tid, version) if tid and version is not None else None
    if reg is None:
        raise XlformError(f"template {tid} version {version} is not in the registry {registry.path}: name the "
                          "registry the returns were collected with (--registry)")
    project = reg["project"]
    reviewed = (reg["kind"] or form_kind(project.form)).profile.merged(project.scoring)
    indicators = record.get("indicators") or []
    if len(indicators) != len(project.indicators):
        raise XlformError(f"the stored return of {tid} (submission {submission_id}) has {len(indicators)} "
                          f"indicators, its template {len(project.indicators)}: collect it again")
    funds = record.get("funds") or {}
    back = {"of": {"template_id": tid, "version": version, "form": template.get("form"),
                   "submission_id": submission_id},
            "funds": {"weight": funds.get("weight"), "rate": funds.get("rate"), "score": funds.get("score"),
                      "rows": {row: {part: values.get(part) for part in ("initial", "annual", "executed")}
                               for row, values in (funds.get("rows") or {}).items()}},
            "indicators": [{"actual": i.get("actual"), "score": i.get("score")} for i in indicators],
            "total": record.get("total_score")}
    return dataclasses.replace(project, form=KIND, id=review_id(project.id), extra={"review": back},
                               scoring=overrides(reviewed, form_kind(KIND).profile), source="")


def render_worksheets(projects: list[Project], out_dir: Path, registry: Registry,
                      password: str | None = None) -> list[Issued]:
    """One locked worksheet per review project, issued into the registry."""
    return render(projects, out_dir, per="project", password=password, registry=registry)
