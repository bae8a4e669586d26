"""The hidden sheet that makes a workbook self-describing: template id, version, hash and cell map."""
from __future__ import annotations

from . import __version__

META_SHEET = "_xlform"
META_VERSION = "1"


def meta_rows(sheets, generated: str) -> list[list[str]]:
    """Rows of (sheet, key, value, …); workbook-wide keys use the sheet name 'xlform'."""
    rows = [["xlform", "meta_version", META_VERSION],
            ["xlform", "xlform_version", __version__],
            ["xlform", "generated", generated]]
    for spec in sheets:
        from .layout import layout
        p, s = spec.project, spec.sheet
        rows += [[s, "template_id", p.id], [s, "version", str(spec.version)], [s, "form", p.form],
                 [s, "hash", p.hash], [s, "indicators", str(len(p.indicators))]]
        rows += [[s, f"indicator.{i}.id", ind.id] for i, ind in enumerate(p.indicators)]
        rows += [[s, "cell", key, f.cell, f.role, f.kind, f.name] for key, f in layout(p).fields.items()]
    return rows
