"""xlform: YAML project definitions -> locked, self-scoring 项目支出绩效自评表 workbooks, and back.

The public API; heavy modules load on first use so that the command starts fast.
"""

__version__ = "0.2.0"
__all__ = ["load", "render", "read", "collect", "migrate"]


def load(path):
    """Load and check one project definition (YAML) -> Project; raises DefinitionError."""
    from .definition.definition import load as _load
    return _load(path)


def render(projects, out_dir="output", **options):
    """Render Projects into locked workbooks -> list of Issued; see xlform.renderer.render."""
    from .issue.renderer import render as _render
    return _render(projects, out_dir, **options)


def read(path, registry=None):
    """Read one returned workbook -> list[Record] (one per project sheet)."""
    from .returns.reader import read as _read
    return _read(path, registry)


def collect(dirs, db="output/collect.db", registry=None, jobs=0):
    """Collect folders of returns into the SQLite database at `db` -> Outcome (counts, 未报送)."""
    from .collecting.collector import collect as _collect
    from .issue.registry import default_path
    from .storage.store import Store, db_path
    store = Store(db_path(str(db)))
    try:
        return _collect(dirs, store, registry or default_path(), jobs)
    finally:
        store.close()


def migrate(path, to=None, out_dir="output/migrated", registry=None):
    """Carry a filled return over to the latest (or `to`, a Project) version of its template -> Migration."""
    from pathlib import Path

    from .returns.migration import migrate as _migrate
    from .issue.registry import Registry
    reg = registry if registry is not None else Registry()
    try:
        return _migrate(Path(path), reg, Path(out_dir), to)
    finally:
        if registry is None:
            reg.close()
