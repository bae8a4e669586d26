"""Form kinds: a folder under templates/ whose form.yaml says everything a kind owns — the definition keys
it accepts, its grid of columns and sections, its fund rows, its labels, fonts, texts and prompts, and its
scoring profile. The shared parts that place, draw and read the sections are
xlform/form/layout.py, xlform/xlsx/writer.py and xlform/returns/sheet.py."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ..errors import XlformError
from ..scoring.scoring import Profile, profile

# The version of the code that turns a form.yaml into cells: bump it when a section's placement changes,
# so that every template rendered afterwards is a new version.
LAYOUT_VERSION = 2

# Indicator table columns the sections know; a kind may add input columns of its own (`input: text|number`).
INDICATOR_COLUMNS = ("section", "level1", "level2", "name", "target", "nature", "target_value", "unit",
                     "actual", "weight", "score", "reason")
FUNDS_COLUMNS = ("initial", "annual", "executed", "weight", "rate", "score", "reason")


def templates_dir() -> Path:
    """XLFORM_TEMPLATES, else the source tree's templates/, else the copy installed with the package."""
    if os.environ.get("XLFORM_TEMPLATES"):
        return Path(os.environ["XLFORM_TEMPLATES"])
    return _shipped_templates()


@functools.lru_cache(maxsize=1)
def _shipped_templates() -> Path:
    package = Path(__file__).resolve().parent.parent   # xlform/
    source = package.parent / "templates"
    return source if (source / "project").is_dir() else package / "templates"


# A kind's texts are templates from a file (or a registry) anyone may have edited: they run in Jinja's sandbox,
# where walking attributes ({{ ''.__class__.__mro__ }}) is refused instead of reaching Python.
_jinja = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
# A kind is named, never located: a folder name of the templates folder (no separator, no dot first).
_KIND_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Column:
    key: str
    width: float
    input: str | None = None   # an extra input column: text | number
    limit: int = 0             # text length for a text input


@dataclass(frozen=True)
class FormKind:
    name: str
    spec: dict

    # -- what the kind owns ---------------------------------------------------------------------
    @functools.cached_property
    def profile(self) -> Profile:
        return profile(self.spec.get("profile", "national"), self.spec.get("scoring"))

    @functools.cached_property
    def columns(self) -> tuple[Column, ...]:
        return tuple(Column(c["key"], float(c["width"]), c.get("input"), int(c.get("limit", 0)))
                     for c in self.spec["columns"])

    @property
    def sections(self) -> tuple[str, ...]:
        return tuple(self.spec.get("sections", ("header", "funds", "goal", "indicators", "total")))

    @property
    def fund_rows(self) -> tuple[str, ...]:
        return tuple(self.spec["funds"]["rows"])

    @property
    def budget_key(self) -> str:
        """The definition's key for the budget the 执行率 divides by (全年预算数: annual)."""
        return self.spec["funds"].get("budget", "annual")

    @property
    def funds_columns(self) -> tuple[str, ...]:
        return tuple(self.spec["funds"]["columns"])

    @property
    def definition_keys(self) -> dict:
        """Top-level definition keys the kind adds: {key: {required: bool}}."""
        return self.spec.get("definition") or {}

    @property
    def extra_inputs(self) -> tuple[Column, ...]:
        """Input columns of the indicator table beyond the shared ones."""
        return tuple(c for c in self.columns if c.input)

    def limit(self, key: str) -> int:
        return int(self.spec["limits"][key])

    @functools.cached_property
    def fingerprint(self) -> str:
        """Identifies what the kind draws: its spec and the layout code; part of every template's hash."""
        text = json.dumps({"spec": self.spec, "layout": LAYOUT_VERSION}, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    # -- texts ----------------------------------------------------------------------------------
    def label(self, key: str) -> str:
        """A label as a sentence uses it (messages, prompts): without the line breaks of the printed form."""
        return self.spec["labels"][key].replace("\n", "")

    def heading(self, key: str) -> str:
        """A label as printed: a narrow column breaks it where form.yaml says (between words)."""
        return self.spec["labels"][key]

    def column_label(self, key: str) -> str:
        """An indicator table heading: labels.<key>_column where a fund row shares the key (unit)."""
        labels = self.spec["labels"]
        return labels.get(f"{key}_column") or labels["actual_value" if key == "actual" else key]

    def text(self, key: str, **values) -> str:
        with self._rendering(f"texts.{key}"):
            return _template(self.spec["texts"][key]).render(**values)

    def prompt(self, kind: str, part: str, **values) -> str:
        entry = self.spec["prompts"][kind] if part != "error_title" else self.spec["prompts"]
        with self._rendering(f"prompts.{kind}.{part}"):
            return _rendered(entry[part], tuple(sorted(values.items())))

    @contextmanager
    def _rendering(self, where: str):
        try:
            yield
        except TemplateError as e:  # a SecurityError of the sandbox, a syntax error, an unknown name
            message = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise XlformError(f"form kind {self.name!r}: {where} is not a usable text: {message}") from None


@functools.lru_cache(maxsize=8192)
def _rendered(source: str, values: tuple) -> str:
    """A kind's text; forms repeat the same prompts (same target, unit, limit) many times."""
    return _template(source).render(**dict(values))


@functools.lru_cache(maxsize=None)
def _template(source: str):
    return _jinja.from_string(source)


def form_kind(name: str, root: str | None = None) -> FormKind:
    """The kind of that name: a folder of the templates folder. A name is never a path (a definition or a
    workbook names the kind; neither may point anywhere else)."""
    folder = Path(root) if root else templates_dir()
    if not isinstance(name, str) or not _KIND_NAME.fullmatch(name):
        raise XlformError(f"unknown form kind {name!r}: a kind is the name of a folder in {folder} "
                          f"(known: {', '.join(kind_names(folder)) or 'none'})")
    path = folder / name / "form.yaml"
    try:
        stamp = path.stat().st_mtime_ns  # an edited form.yaml is read again, even in a long-running process
    except OSError:
        stamp = 0
    return _form_kind(name, str(folder), stamp)


@functools.lru_cache(maxsize=64)
def _form_kind(name: str, folder: str, stamp: int) -> FormKind:
    path = Path(folder) / name / "form.yaml"
    if not path.is_file():
        raise XlformError(f"unknown form kind {name!r}: no {path} (known: {', '.join(kind_names(folder)) or 'none'})")
    try:
        with path.open(encoding="utf-8") as f:
            spec = yaml.safe_load(f)
        return kind_from_spec(name, spec)
    except (yaml.YAMLError, ValueError, KeyError, TypeError) as e:
        raise XlformError(f"{path}: not a usable form kind: {e}") from None


def kind_names(folder) -> list[str]:
    """The kinds of a templates folder: its folders holding a form.yaml."""
    folder = Path(folder)
    return sorted(p.name for p in folder.iterdir() if _KIND_NAME.fullmatch(p.name) and (p / "form.yaml").is_file()) \
        if folder.is_dir() else []


def kind_from_spec(name: str, spec: dict) -> FormKind:
    """A kind from its spec (as read from form.yaml, or as the registry kept it for an issued version)."""
    kind = FormKind(name, spec)
    kind.profile  # noqa: B018 - raises ValueError on a bad profile
    for c in kind.columns:
        if c.key not in INDICATOR_COLUMNS and c.input not in ("text", "number"):
            raise ValueError(f"column {c.key!r}: not a known column; an extra column needs input: text|number")
        if c.input and not c.key.isidentifier():
            raise ValueError(f"column {c.key!r}: an input column's key must be letters, digits and _")
    for c in kind.funds_columns:
        if c not in FUNDS_COLUMNS:
            raise ValueError(f"funds column {c!r}: known are {', '.join(FUNDS_COLUMNS)}")
    return kind
