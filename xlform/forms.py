"""Form kinds: folders under templates/ holding labels, widths, fonts, scoring preset and texts."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from jinja2 import Environment, StrictUndefined

from .errors import XlformError
from .scoring import PRESETS, Preset


def templates_dir() -> Path:
    """XLFORM_TEMPLATES, else the source tree's templates/, else the copy installed with the package."""
    if os.environ.get("XLFORM_TEMPLATES"):
        return Path(os.environ["XLFORM_TEMPLATES"])
    here = Path(__file__).resolve().parent
    source = here.parent / "templates"
    return source if (source / "project").is_dir() else here / "templates"


_jinja = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@dataclass(frozen=True)
class FormKind:
    name: str
    spec: dict

    @property
    def preset(self) -> Preset:
        base = PRESETS[self.spec.get("preset", "national")]
        return Preset(base.name, float(self.spec.get("overshoot", base.overshoot)))

    def label(self, key: str) -> str:
        return self.spec["labels"][key]

    def text(self, key: str, **values) -> str:
        return _template(self.spec["texts"][key]).render(**values)

    def prompt(self, kind: str, part: str, **values) -> str:
        entry = self.spec["prompts"][kind] if part != "error_title" else self.spec["prompts"]
        return _rendered(entry[part], tuple(sorted(values.items())))


@functools.lru_cache(maxsize=8192)
def _rendered(source: str, values: tuple) -> str:
    """A prompt text; forms repeat the same prompts (same target, unit, limit) many times."""
    return _template(source).render(**dict(values))


@functools.lru_cache(maxsize=None)
def _template(source: str):
    return _jinja.from_string(source)


@functools.lru_cache(maxsize=None)
def form_kind(name: str, root: str | None = None) -> FormKind:
    folder = Path(root) if root else templates_dir()
    path = folder / name / "form.yaml"
    if not path.is_file():
        known = sorted(p.name for p in folder.iterdir() if (p / "form.yaml").is_file()) if folder.is_dir() else []
        raise XlformError(f"unknown form kind {name!r}: no {path} (known: {', '.join(known) or 'none'})")
    with path.open(encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    if spec.get("preset", "national") not in PRESETS:
        raise XlformError(f"{path}: unknown scoring preset {spec.get('preset')!r}; known: {', '.join(PRESETS)}")
    return FormKind(name, spec)
