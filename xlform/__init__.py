"""xlform: YAML project definitions -> locked, self-scoring 项目支出绩效自评表 workbooks, and back.

The public API; heavy modules load on first use so that the command starts fast.
"""

__version__ = "0.1.0"
__all__ = ["load", "render", "read"]


def load(path):
    """Load and check one project definition (YAML) -> Project; raises DefinitionError."""
    from .definition import load as _load
    return _load(path)


def render(projects, out_dir="output", **options):
    """Render Projects into locked workbooks; see xlform.render.render."""
    from .render import render as _render
    return _render(projects, out_dir, **options)


def read(path, registry=None):
    """Read one returned workbook -> list[Record] (one per project sheet)."""
    from .reader import read as _read
    return _read(path, registry)
