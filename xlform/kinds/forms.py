"""Form kinds: a folder under templates/ whose form.yaml says everything a kind owns — the definition keys
it accepts, its grid of columns and sections, its fund rows, its labels, fonts, texts and prompts, and its
scoring profile — and, only where its structure differs from the shared sections (kinds/sections.py), a
module beside it, sections.py, whose `SECTIONS = {name: class}` adds or overrides sections."""
from __future__ import annotations

import functools
import hashlib
import importlib.resources
import importlib.util
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import jsontext
from ..errors import XlformError
from ..scoring.scoring import Profile, profile
from ..yamlsource import MAX_EXTENDS, Located, merge, quoted, read_file
from . import sections as shared
from . import schema
from .schema import FUNDS_COLUMNS, check

# The version of the code that turns a form.yaml into cells (the shared sections and the modules of the
# built-in kinds): bump it when a section's placement changes, so that every template rendered afterwards is
# a new version. A module of a kind outside the package counts by its own text (see FormKind.fingerprint).
LAYOUT_VERSION = 4   # 3: the paper of issue 21 (Sichuan percent targets split, blank fund rows, page plans); 4: plain
# LibreOffice's paper (no input fill, merged inputs' rows not custom height, no page breaks set)
MODULE = "sections.py"   # a kind's own sections, beside its form.yaml

def templates_dir() -> Path:
    """The built-in kinds: the source tree's templates/, else the copy installed with the package."""
    return _shipped_templates()


@functools.lru_cache(maxsize=1)
def _shipped_templates() -> Path:
    package = Path(__file__).resolve().parent.parent   # xlform/
    source = package.parent / "templates"
    return source if (source / "project").is_dir() else package / "templates"


def kind_folders() -> list[Path]:
    """Where kinds are looked for, first match winning: the XLFORM_TEMPLATES folders (os.pathsep between
    them), then the built-in kinds. Installed packages' kinds (entry points) come after all of these."""
    extra = [Path(f) for f in os.environ.get("XLFORM_TEMPLATES", "").split(os.pathsep) if f.strip()]
    return [*extra, templates_dir()]


@functools.lru_cache(maxsize=1)
def installed_kinds() -> dict:
    """Kinds of installed packages: entry points of the group xlform.kinds, named by the kind, whose value
    is a package holding form.yaml (`pkg.kinds`) or a folder in one (`pkg:hubei`)."""
    import importlib.metadata   # (14 ms of every command's start, for the few that meet a kind not in a folder)
    found = {}
    for ep in importlib.metadata.entry_points(group="xlform.kinds"):
        if _KIND_NAME.fullmatch(ep.name) and ep.name not in found:
            found[ep.name] = ep
    return found


def _installed_folder(name: str) -> Path | None:
    ep = installed_kinds().get(name)
    if ep is None:
        return None
    try:
        folder = importlib.resources.files(ep.module)
        if ep.attr:
            if not _KIND_NAME.fullmatch(ep.attr):
                raise ValueError(f"{ep.attr!r} is not the name of a folder in the package")
            folder = folder / ep.attr
    except (ImportError, ValueError, TypeError) as e:
        raise XlformError(f"form kind {name!r} (installed, entry point {ep.value!r}): cannot find its folder: "
                          f"{e}") from None
    if not isinstance(folder, Path):  # a zipped or namespace package: no single folder to read
        raise XlformError(f"form kind {name!r} (installed, entry point {ep.value!r}): not a folder on disk")
    return folder


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
    modules: tuple = ()   # the sections.py of the kind and of the kinds it extends, base first

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
        """The names of its sections, top to bottom."""
        return tuple(self.spec.get("sections", shared.DEFAULT))

    @functools.cached_property
    def section_types(self) -> dict:
        """Every section the kind may use, by name: the shared ones, then its modules' (overriding)."""
        return section_types(self.modules)

    def new_sections(self) -> list:
        """Its sections, one fresh object each (a layout places them once)."""
        return [self.section_types[name](self) for name in self.sections]

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
        drawn = {"spec": self.spec, "layout": LAYOUT_VERSION}
        outside = [m for m in self.modules if not m.is_relative_to(templates_dir())]
        if outside:  # a module outside the package: its text is its version
            drawn["modules"] = [hashlib.sha256(m.read_bytes()).hexdigest() for m in outside]
        text = json.dumps(drawn, ensure_ascii=False, sort_keys=True)
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

    def prompt(self, name: str, part: str, **values) -> str:
        """A part (title, message, error) of the prompts for one type of input (prompts.<name> of form.yaml)."""
        entry = self.spec["prompts"][name] if part != "error_title" else self.spec["prompts"]
        with self._rendering(f"prompts.{name}.{part}"):
            return _rendered(entry[part], tuple(sorted(values.items())))

    @contextmanager
    def _rendering(self, where: str):
        from jinja2 import TemplateError
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
    return _sandbox().from_string(source)


@functools.lru_cache(maxsize=1)
def _sandbox():
    """A kind's texts are templates from a file (or a registry) anyone may have edited: they run in Jinja's
    sandbox, where walking attributes ({{ ''.__class__.__mro__ }}) is refused instead of reaching Python. Made
    when a text is first rendered: reading returns renders none, and Jinja is 20 ms of a command's start."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def form_kind(name: str, root: str | None = None) -> FormKind:
    """The kind of that name: a folder holding form.yaml, in the XLFORM_TEMPLATES folders, the built-in
    kinds or an installed package (or only in `root`). A name is never a path: a definition or a workbook
    names the kind, and neither may point anywhere else."""
    folders = (Path(root),) if root else tuple(kind_folders())
    _check_name(name, folders)
    key = (name, folders)
    hit = _kinds.get(key)
    if hit and all(_stamp(f) == s for f, s in hit[0]):  # an edited form.yaml is read again
        return hit[1]
    files: list[Path] = []
    located = _resolve(name, folders, files, root is None)
    modules = tuple(f.parent / MODULE for f in reversed(files) if (f.parent / MODULE).is_file())
    problems = check(located, section_types(modules))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise XlformError(f"{problems[0]}{more}")
    kind = kind_from_spec(name, located.data, modules)
    if len(_kinds) > 64:
        _kinds.clear()
    _kinds[key] = (tuple((f, _stamp(f)) for f in files + list(modules)), kind)
    return kind


def section_types(modules) -> dict:
    """The shared sections, then those of each module (a later one overriding an earlier one)."""
    found = dict(shared.SECTIONS)
    for path in modules:
        found.update(_module_sections(path, _stamp(path)))
    return found


@functools.lru_cache(maxsize=64)
def _module_sections(path: Path, stamp: int) -> dict:
    """A kind's sections.py, run once per edit. It is code of the office's own installation (a templates
    folder or an installed package), found by the kind's name: never a path read from a workbook."""
    where = f"form kind {path.parent.name!r}: {path}"
    try:
        spec = importlib.util.spec_from_file_location(f"xlform_kind_{path.parent.name}_{stamp}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - the module is the kind author's code: say what broke, where
        raise XlformError(f"{where}: cannot load it: {type(e).__name__}: {e}") from None
    found = getattr(module, "SECTIONS", None)
    if not isinstance(found, dict) or not all(isinstance(k, str) and isinstance(v, type) and
                                              issubclass(v, shared.Section) for k, v in found.items()):
        raise XlformError(f"{where}: needs SECTIONS = {{name: a subclass of xlform.kinds.sections.Section}}")
    return found


_kinds: dict = {}   # (name, folders) -> (((form.yaml, mtime), …) of its extends chain, FormKind)


def _stamp(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _check_name(name, folders, where: str = "") -> None:
    if not isinstance(name, str) or not _KIND_NAME.fullmatch(name):
        raise XlformError(f"{where}unknown form kind {quoted(name)}: a kind is a plain name (letters, digits, - _) "
                          f"of a folder of kinds (known: {', '.join(kind_names(folders)) or 'none'})")


def _find(name: str, folders, installed: bool) -> Path | None:
    for folder in folders:
        if (folder / name / "form.yaml").is_file():
            return folder / name / "form.yaml"
    folder = _installed_folder(name) if installed else None
    return folder / "form.yaml" if folder is not None and (folder / "form.yaml").is_file() else None


def _resolve(name: str, folders, files: list, installed: bool, where: str = "") -> Located:
    """A kind's form.yaml with the kinds it extends merged in (by name; mappings merged at every depth,
    the extending kind's keys winning, a key set to null removed)."""
    path = _find(name, folders, installed)
    if path is None:
        raise XlformError(f"{where}unknown form kind {name!r}: no folder {name}/ holding form.yaml in "
                          f"{', '.join(map(str, folders))} (known: {', '.join(kind_names(folders)) or 'none'})")
    if path in files:
        raise XlformError(f"{where}form kind {name!r} extends itself in a cycle: "
                          + " -> ".join(map(str, [*files, path])))
    if len(files) >= MAX_EXTENDS:
        raise XlformError(f"{where}extends goes more than {MAX_EXTENDS} kinds deep")
    files.append(path)
    own = read_file(path, "a form kind")
    parent = own.data.pop("extends", None)
    if parent is None:
        return own
    at = f"{own.where(('extends',))}: extends: "
    _check_name(parent, folders, at)
    base = _resolve(parent, folders, files, installed, at)
    merged = merge(base, own)
    _drop_nulls(merged, own.data, ())
    return merged


def _drop_nulls(merged: Located, own, path: tuple) -> None:
    """`key: null` in an extending kind removes the key it would inherit."""
    for k, v in own.items():
        if v is None:
            parent = merged.data
            for p in path:
                parent = parent[p]
            parent.pop(k, None)
            for p in [p for p in merged.positions if p[:len(path) + 1] == path + (k,)]:
                del merged.positions[p]
        elif isinstance(v, dict):
            _drop_nulls(merged, v, path + (k,))


def kind_names(folders=None) -> list[str]:
    """Every kind found: the folders holding a form.yaml, and the installed kinds."""
    folders = [Path(folders)] if isinstance(folders, (str, Path)) else (folders or kind_folders())
    names = {p.name for folder in folders if Path(folder).is_dir() for p in Path(folder).iterdir()
             if _KIND_NAME.fullmatch(p.name) and (p / "form.yaml").is_file()}
    return sorted(names | set(installed_kinds()))


def issued_kind(name: str, spec_text: str) -> FormKind:
    """The kind a registry kept for an issued version (its form.yaml as JSON text), with the sections its name
    has now: one object per text, so that a province's thousands of versions of one kind share their
    profile, columns and fingerprint (each worked out once)."""
    modules = _modules_now(name)
    key = (name, spec_text, tuple((m, _stamp(m)) for m in modules))
    found = _issued_kinds.get(key)
    if found is None:
        if len(_issued_kinds) > 64:
            _issued_kinds.clear()
        found = _issued_kinds[key] = kind_from_spec(name, jsontext.loads(spec_text), modules)
    return found


_issued_kinds: dict = {}


def _modules_now(name: str) -> tuple:
    """The sections.py files the kind of that name has now (none where it is gone or broken: its shared
    sections still read what they can)."""
    try:
        return form_kind(name).modules
    except XlformError:
        return ()


def kind_from_spec(name: str, spec: dict, modules: tuple | None = None) -> FormKind:
    """A kind from its spec (as read from form.yaml, or as the registry kept it for an issued version: then
    its sections come from the modules the kind of that name has now)."""
    kind = FormKind(name, spec, _modules_now(name) if modules is None else modules)
    kind.profile  # noqa: B018 - raises ValueError on a bad profile
    known = schema.known_columns(kind.section_types)
    for c in kind.columns:
        if c.key not in known and c.input not in ("text", "number"):
            raise ValueError(f"column {c.key!r}: not a known column; an extra column needs input: text|number")
        if c.input and not c.key.isidentifier():
            raise ValueError(f"column {c.key!r}: an input column's key must be letters, digits and _")
    for c in kind.funds_columns:
        if c not in FUNDS_COLUMNS:
            raise ValueError(f"funds column {c!r}: known are {', '.join(FUNDS_COLUMNS)}")
    return kind


def documented_keys() -> list[str]:
    """Every key path a form.yaml of the built-in kinds may write (docs/kinds.md lists them): the shared
    keys and those of every section the built-in kinds know."""
    types = {}
    for name in kind_names(templates_dir()):
        types.update(form_kind(name, str(templates_dir())).section_types)
    return schema.documented_keys(schema.schema(types))
