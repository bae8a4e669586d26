"""The mid-year 绩效运行监控表 issued from a project's definition (issue 19): the same project, in form kind
`monitoring` (templates/monitoring), monitored at the end of month X.

A project's 监控表 is a template of its own, `<id>.monitoring`, so that its versions and its 自评表's never
displace each other in the registry, and a department's current 监控表 and 自评表 of one project both stand in
the collection (one current return per template). The record keeps the definition's id as `project_id`.
The form's fund rows and their labels are those of the definition's own kind (四川: 财政资金, 财政专户管理资金 …).
"""
from __future__ import annotations

import copy
import dataclasses

from ..definition.definition import Project
from ..errors import XlformError
from ..kinds.forms import FormKind, form_kind, kind_from_spec

KIND = "monitoring"
SUFFIX = ".monitoring"
MONTHS = range(1, 12)   # 1-11: a December return is the year's 自评表


def month_for(project: Project, month: int | None) -> int:
    """The month monitored: --month, else the definition's monitoring: {month: X}."""
    chosen = month if month is not None else (project.monitoring or {}).get("month")
    if chosen is None:
        raise XlformError(f"{project.source or project.id}: which month is monitored? give --month X (1-11) or "
                          "monitoring: {month: X} in the definition")
    if isinstance(chosen, bool) or not isinstance(chosen, int) or chosen not in MONTHS:
        raise XlformError(f"{project.source or project.id}: the month monitored must be 1 to 11 (got {chosen!r})")
    return chosen


def monitored(project: Project, month: int | None = None) -> tuple[Project, FormKind]:
    """The project's 监控表: the project as the monitoring template, and the monitoring kind with its fund rows."""
    base = form_kind(project.form)
    if not base.fund_rows or "indicators" in base.spec.get("optional", ()):
        raise XlformError(f"{project.source or project.id}: a {project.form} definition has no 监控表; monitor the "
                          "自评表's definition")
    m = month_for(project, month)
    extra = {**project.extra, "project_id": project.id, "month": m}
    return (dataclasses.replace(project, form=KIND, id=project.id + SUFFIX, extra=extra),
            monitoring_kind(base))


def monitoring_kind(base: FormKind) -> FormKind:
    """The monitoring kind taking its fund rows, budget key and their labels from the definition's kind."""
    kind = form_kind(KIND)
    if base.fund_rows == kind.fund_rows and base.budget_key == kind.budget_key and \
            all(base.spec["labels"].get(r) == kind.spec["labels"].get(r) for r in base.fund_rows):
        return kind
    spec = copy.deepcopy(kind.spec)
    spec["funds"]["rows"] = list(base.fund_rows)
    spec["funds"]["budget"] = base.budget_key
    spec["labels"].update({r: base.spec["labels"][r] for r in base.fund_rows})
    return kind_from_spec(KIND, spec, kind.modules)


def project_id(template_id: str) -> str:
    """The definition's id of a template id (a 监控表's, or the 自评表's own)."""
    return template_id.removesuffix(SUFFIX)
