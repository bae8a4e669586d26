"""Where every field of a project's form goes: a pure cell map shared by the writer and the reader.

A form kind lists its sections and its grid of columns (templates/<kind>/form.yaml); each section
(kinds/sections.py, or the kind's own module) is placed below the previous one on that grid, once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ..definition.definition import Project
from ..kinds.forms import FormKind, form_kind
from ..kinds.sections import Field, ref
from ..scoring.scoring import Profile
from .evaluate import rules

__all__ = ["Field", "KeptLayout", "Layout", "from_kept", "kept", "kept_layout", "layout", "ref"]


@dataclass
class Layout:
    project: Project
    kind: FormKind
    profile: Profile
    fields: dict[str, Field] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)       # named rows (0-based)
    col: dict[str, int] = field(default_factory=dict)        # indicator table columns by key
    funds_col: dict[str, int] = field(default_factory=dict)  # funds grid columns by key
    sections: list = field(default_factory=list)  # the kind's section objects, top to bottom
    declared: list = field(default_factory=list)  # a declaration's rows: (level1, level2, known Indicator or None)
    # derived once every section is placed (a collection asks for them several times per return)
    _inputs: dict = field(default_factory=dict, repr=False)
    _section_inputs: dict = field(default_factory=dict, repr=False)
    _cell_map: dict = field(default_factory=dict, repr=False)
    _rules: list = field(default_factory=list, repr=False)
    # what a reader works out of the layout for every return of its version, kept with it (returns/quality.py)
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def ncols(self) -> int:
        return len(self.kind.columns)

    @property
    def last_col(self) -> int:
        return self.ncols - 1

    @property
    def last_row(self) -> int:
        return self.rows["end"] - 1

    def row_of(self, index: int) -> int:
        return self.rows["first_indicator"] + index

    def cell(self, key: str) -> str:
        return self.fields[key].cell

    def inputs(self) -> dict[str, Field]:
        """The input fields (worked out once, when the layout is complete: see `layout`)."""
        return self._inputs

    def inputs_of(self, section: str) -> list[str]:
        """The keys of the input fields a section placed, in order (worked out once, as `inputs`)."""
        return self._section_inputs.get(section, [])

    def cell_map(self) -> dict[str, str]:
        """field -> cell, as the hidden sheet holds it."""
        return self._cell_map

    def rules(self) -> list:
        """The scoring rule of every indicator under this form's profile."""
        return self._rules

    @property
    def scored(self) -> bool:
        """Do its sections give scores (a 自评表), or only declare (a 申报表)?"""
        return any(s.scored for s in self.sections)

    def groups(self, level: str) -> list[tuple[int, int, str]]:
        """Runs of consecutive indicators sharing a 一级 (level1) or 一级+二级 (level2): (first, last, text)."""
        out = []
        for i, ind in enumerate(self.project.indicators):
            key = (ind.level1,) if level == "level1" else (ind.level1, ind.level2)
            text = getattr(ind, level)
            row = self.row_of(i)
            if out and out[-1][3] == key:
                out[-1] = (out[-1][0], row, text, key)
            else:
                out.append((row, row, text, key))
        return [(a, b, t) for a, b, t, _ in out]


def layout(project: Project, kind: FormKind | None = None) -> Layout:
    """The cell map of a project's form (in its own form kind unless another, e.g. as issued, is given)."""
    kind = kind or form_kind(project.form)
    lay = Layout(project, kind, kind.profile.merged(project.scoring), sections=kind.new_sections())
    lay.col = {c.key: i for i, c in enumerate(kind.columns)}
    row = 0
    for section in lay.sections:
        row = section.place(lay, row)
    lay.rows["end"] = row
    return _derive(lay)


def kept(lay: Layout) -> dict:
    """What the registry keeps of an issued version's layout: every field and the rows and columns the reader
    uses, so that a return is read against what was issued, whatever the placement code says later."""
    return {"fields": {k: [f.cell, f.role, f.type, f.name, f.limit, f.label, f.section, f.last]
                       for k, f in lay.fields.items()},
            "rows": lay.rows, "col": lay.col, "funds_col": lay.funds_col}


_FIELDS: dict[Field, Field] = {}   # every Field as kept, once: see _field


def _field(kept: tuple) -> Field:
    """One Field object for every version that keeps it alike: a collection of one template per return meets
    most of a kind's fields (the fixed cells, the formulas) in every version, and a Field, unlike a plain tuple,
    is a container the cyclic GC walks for as long as the version is cached."""
    found = _FIELDS.get(kept)   # (a Field equals and hashes as the plain tuple of its items: it is its own key)
    if found is None:
        if len(_FIELDS) > 20_000:
            _FIELDS.clear()
        found = tuple.__new__(Field, kept)   # (Field._make, without its Python call)
        _FIELDS[found] = found
    return found


class KeptLayout(NamedTuple):
    """A layout as kept (see `kept`), parsed once for every version laid out alike; from_kept lends its dicts
    to each such version's Layout (a layout is never changed once laid out)."""
    fields: dict
    rows: dict
    col: dict
    funds_col: dict
    inputs: dict
    section_inputs: dict
    cell_map: dict


def kept_layout(data: dict) -> KeptLayout | None:
    """What `kept` gave the registry, parsed; None for a layout kept before fields named their section (its
    versions are placed again by from_kept, to tell the sections)."""
    fields, known, width = {}, _FIELDS.get, len(Field._fields)
    for k, v in data["fields"].items():   # (a loop, not a call a field: a layout keeps hundreds)
        if len(v) != width:
            return None
        v = tuple(v)
        fields[k] = known(v) or _field(v)
    return KeptLayout(fields, *({k: int(v) for k, v in data[part].items()} for part in ("rows", "col", "funds_col")),
                      *_maps(fields))


def from_kept(project: Project, kind: FormKind, data: dict | KeptLayout) -> Layout:
    """The Layout as issued, from what `kept` gave the registry, or that parsed once (kept_layout): no
    placement code runs; its sections read and check the fields as kept."""
    lay = Layout(project, kind, kind.profile.merged(project.scoring), sections=kind.new_sections())
    core = data if isinstance(data, KeptLayout) else kept_layout(data)
    if core is None:  # kept before fields named their section: today's placement says which section a field is of
        placed = layout(project, kind).fields
        lay.fields = {k: Field(c, role, type_of, name, limit, label, placed[k].section if k in placed else "")
                      for k, (c, role, type_of, name, limit, label, *_) in data["fields"].items()}
        lay.rows, lay.col, lay.funds_col = ({k: int(v) for k, v in data[part].items()}
                                            for part in ("rows", "col", "funds_col"))
        return _derive(lay)
    lay.fields, lay.rows, lay.col, lay.funds_col = core.fields, core.rows, core.col, core.funds_col
    lay._inputs, lay._section_inputs, lay._cell_map = core.inputs, core.section_inputs, core.cell_map
    lay._rules = rules(project, lay.profile)
    return lay


def _derive(lay: Layout) -> Layout:
    lay._inputs, lay._section_inputs, lay._cell_map = _maps(lay.fields)
    lay._rules = rules(lay.project, lay.profile)
    return lay


def _maps(fields: dict) -> tuple[dict, dict, dict]:
    """What a layout's fields give at once: its inputs, each section's input keys in order, its cell map."""
    inputs: dict[str, Field] = {}
    section_inputs: dict[str, list[str]] = {}
    for k, f in fields.items():
        if f.role == "input":
            inputs[k] = f
            section_inputs.setdefault(f.section, []).append(k)
    return inputs, section_inputs, {k: f.cell for k, f in fields.items()}
