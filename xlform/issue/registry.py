"""The issuer's registry: every template version rendered, with its full definition, and every file issued.

A SQLite file (output/registry.db unless --registry or XLFORM_REGISTRY names another) or a PostgreSQL
database (postgresql://…), so that render, read, collect and migrate agree on what was issued and any
client can look inside. Every query of the registry is a method here (the engines differ in xlform/storage/db.py).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import NamedTuple

from .. import jsontext
from ..definition.definition import Project, from_canonical, template_hash
from ..caching import VersionCache
from ..errors import CannotRun, XlformError
from ..kinds.forms import FormKind, issued_kind
from ..storage import db as engines
from ..storage.db import SQLITE, VERSION_LOCK, Database, Location

DEFAULT = Path("output") / "registry.db"
LAYOUTS = 256   # layouts kept looked up (their JSON, maps kept before the layouts table): a province's versions
                # share a few hundred
STORED = 65536   # keys of layouts known to be in the layouts table (64 characters each)
OFFICE_FORMS = ("review",)   # kinds the office fills itself (the 复核): never a department's return to await

_SCHEMA = """
CREATE TABLE IF NOT EXISTS templates (
    id TEXT NOT NULL, version INTEGER NOT NULL, hash TEXT NOT NULL, form TEXT NOT NULL,
    year INTEGER, project TEXT, department TEXT, implementer TEXT,
    definition TEXT NOT NULL, issued_at TEXT NOT NULL,
    kind TEXT,                              -- the form kind's spec as issued (JSON), to read old returns
    issued TEXT,                            -- the locked cells as issued (JSON): see issued_map
    layout TEXT,                            -- the key of its layout in layouts: NULL where issued holds the
                                            -- layout too (kept so before the layouts table)
    PRIMARY KEY (id, version));
CREATE TABLE IF NOT EXISTS layouts (
    key TEXT PRIMARY KEY,                   -- the SHA-256 of the layout's JSON
    layout TEXT NOT NULL);                  -- every field's cell, role … (form.layout.kept): versions laid out
                                            -- alike (the same kind and shape of indicators) share one
CREATE TABLE IF NOT EXISTS issued_files (
    id TEXT NOT NULL, version INTEGER NOT NULL, file TEXT NOT NULL, sheet TEXT NOT NULL,
    department TEXT, issued_at TEXT NOT NULL,
    FOREIGN KEY (id, version) REFERENCES templates (id, version));
"""


class IssuedMap(NamedTuple):
    """What a reader needs of an issued version (issued_map): its layout as JSON and that JSON's key, shared
    by every version laid out alike, and its locked cells as JSON."""
    layout_key: str
    layout: str
    expected: str | bytes   # (bytes as SQLite gives it: UTF-8, parsed as it is)

    @property
    def layout_json(self) -> str | bytes:
        """The layout's JSON as a reader parses it (StoredMap's: read from the registry as UTF-8 bytes)."""
        return self.layout


class StoredMap:
    """An IssuedMap of a version whose layout the registry keeps in its layouts table: the layout's JSON is read
    from there when asked for, not held. A reader parses a layout once for every version laid out alike and asks
    for its JSON no more (returns/sheet.py): held, the JSON texts of a province's 222 layouts (~94 KB each as a
    str) took 21 MB in each of collect's workers, beside the layouts parsed."""
    __slots__ = ("layout_key", "expected", "_db", "_where")

    def __init__(self, layout_key: str, expected: str | bytes, db: Database, where: str):
        self.layout_key, self.expected, self._db, self._where = layout_key, expected, db, where

    @property
    def layout(self) -> str:
        return self._read("layout")

    @property
    def layout_json(self) -> str | bytes:
        """The layout's JSON as a reader parses it: SQLite's as UTF-8 bytes, never decoded into a str (48 KB of
        Chinese labels and names a layout: decoding took a third of the time of parsing it)."""
        return self._read(self._db.utf8("layout"))

    def _read(self, column: str) -> str | bytes:
        row = self._db.one(f"SELECT {column} FROM layouts WHERE key=?", self.layout_key)
        if row is None:
            raise _lost(self._where, self.layout_key)
        return row[0]


def _lost(where: str, key: str) -> CannotRun:
    return CannotRun(f"the registry {where} lost the layout {key} of an issued version: restore it from a backup")


def issued_map(project: Project, kind: FormKind, version: int) -> IssuedMap | None:
    """What a reader needs of an issued version, as compact JSON: its layout (every field's cell, role, kind,
    defined name, limit and label; the named rows and columns) and its locked cells ({A1: [value, formula]}),
    so that returns already out are read against what was issued, never against later placement code.
    None where the writer cannot lay the form out: the write that follows says why."""
    from ..form.layout import kept, layout   # (here: a read loads neither the placement code nor the writer)
    from ..xlsx.writer import SheetSpec, expected_cells
    try:
        lay = layout(project, kind)
        cells = expected_cells(SheetSpec(project, kind, version, kind.spec.get("sheet") or "sheet"))
    except XlformError:
        return None
    text = json.dumps(kept(lay), ensure_ascii=False, separators=(",", ":"))
    return IssuedMap(hashlib.sha256(text.encode()).hexdigest(), text,
                     json.dumps({ref: list(v) for ref, v in cells.items()}, ensure_ascii=False, separators=(",", ":")))


def _split(old: str) -> IssuedMap:
    """A map kept whole (before the layouts table), as IssuedMap gives it. Its text is '{"layout":L,"expected":E}'
    as json.dumps wrote it (E's keys are cell references, and a quote inside a text is escaped): cut, not parsed
    and written again, at the last ',"expected":' (L may hold one: a kind's own column keyed "expected"; a map
    otherwise shaped is parsed)."""
    head, sep = '{"layout":', ',"expected":'
    at = old.rfind(sep)
    if old.startswith(head) and old.endswith("}") and at > 0:
        layout, expected = old[len(head):at], old[at + len(sep):-1]
    else:
        data = json.loads(old)
        layout, expected = (json.dumps(data[k], ensure_ascii=False, separators=(",", ":"))
                            for k in ("layout", "expected"))
    return IssuedMap(hashlib.sha256(layout.encode()).hexdigest(), layout, expected)


def locate(value=None) -> Location:
    """The registry named (a path, sqlite:///PATH or postgresql://…), else XLFORM_REGISTRY, else
    output/registry.db; ValueError for a URL of another kind."""
    return engines.locate(value or os.environ.get("XLFORM_REGISTRY") or None, DEFAULT)


def default_path() -> Location:
    return locate()


def exists(location: Location) -> bool:
    """Whether a registry is there (a file; on a server, its tables)."""
    return engines.exists(location, "templates", "--registry")


class Registry:
    def __init__(self, path=None, create: bool = True):
        """Open (or create) the registry; with create=False it is opened read-only (a read-only location
        will do), and a missing one reads as an empty registry."""
        self.location = locate(path)
        self.path = self.location.shown   # the path, or the URL without its password
        if create:
            self.db = Database(self.location, option="--registry")
            try:
                # kind: missing in xlform 0.1; issued: missing in 0.1 and 0.2; layout: missing before the layouts table
                self.db.ensure(_SCHEMA, {"templates": {"kind": "TEXT", "issued": "TEXT", "layout": "TEXT"}})
            except BaseException:
                self.db.close()
                raise
        elif exists(self.location):
            self.db = Database(self.location, readonly=True, option="--registry")
            self.db.execute("SELECT 1 FROM templates, issued_files LIMIT 1")  # not a registry: fail here
        else:
            self.db = Database(engines.Location(SQLITE, Path(":memory:")))
            self.db.ensure(_SCHEMA)
        # a read-only registry of xlform 0.1 keeps no kinds
        have = self.db.columns("templates")
        self._kind = "kind" if "kind" in have else "NULL"
        self._issued = "issued" if "issued" in have else "NULL"   # nor does one of 0.2 keep issued maps
        self._layout = "layout" if "layout" in have else "NULL"   # one before the layouts table kept each in its map
        self._cache = VersionCache()   # (id, version) -> entry: a province collects a template per return
        # key -> the layout's JSON, one str for every version that shares it (maps kept before the layouts table)
        self._layouts: dict[str, str] = {}
        self._stored: set[str] = set()   # keys found in the layouts table (StoredMap reads the JSON when asked)

    def close(self):
        self.db.close()

    def version_for(self, project: Project, kind: FormKind, now: str) -> int:
        """The version to issue: the last one if the definition and the form kind are unchanged, else the
        next number (an edited form.yaml issues a new version too), its issued map kept with it."""
        version, new = self.issue(project, kind, now)
        if new:
            self.keep([(project.id, version, issued_map(project, kind, version))])
        return version

    def issue(self, project: Project, kind: FormKind, now: str) -> tuple[int, bool]:
        """(the version to issue, whether it is new); a new version's issued map is left to `keep` (render
        works it out in its worker processes, beside the workbook)."""
        digest = template_hash(project, kind)
        with self.db.transaction():
            self.db.lock(VERSION_LOCK, project.id)   # PostgreSQL: two renders of one id issue one number each
            last = self.db.one("SELECT version, hash FROM templates WHERE id=? ORDER BY version DESC LIMIT 1",
                               project.id)
            if last and last[1] == digest:
                return last[0], False
            version = (last[0] + 1) if last else 1
            self.db.execute(
                "INSERT INTO templates (id, version, hash, form, year, project, department, implementer, "
                "definition, issued_at, kind) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (project.id, version, digest, project.form, project.year, project.project,
                 project.department, project.implementer,
                 json.dumps(project.canonical(), ensure_ascii=False, sort_keys=True), now,
                 json.dumps(kind.spec, ensure_ascii=False)))
            return version, True

    def keep(self, maps: list[tuple[str, int, IssuedMap | None]]):
        """The issued maps (template id, version, issued_map) of versions `issue` gave as new; a version
        that already has one keeps it (a map never changes once kept). A layout is kept once, whatever the
        number of versions laid out alike."""
        maps = [(tid, v, m) for tid, v, m in maps if m is not None]
        layouts = {m.layout_key: m.layout for _, _, m in maps}
        with self.db.transaction():
            self.db.executemany("INSERT INTO layouts (key, layout) VALUES (?,?) ON CONFLICT (key) DO NOTHING",
                                sorted(layouts.items()))
            self.db.executemany("UPDATE templates SET issued=?, layout=? WHERE id=? AND version=? AND issued IS NULL",
                                [(m.expected, m.layout_key, tid, v) for tid, v, m in maps])
        self._cache.clear()

    def record_files(self, issued: list[tuple[Project, int, str, str]], now: str):
        """Record issued (project, version, file, sheet) rows in one transaction."""
        with self.db.transaction():
            self.db.executemany("INSERT INTO issued_files VALUES (?,?,?,?,?,?)",
                                [(p.id, v, f, s, p.department, now) for p, v, f, s in issued])

    def latest_version(self, template_id: str) -> int:
        """The newest version issued of a template id (0 if none)."""
        return self.db.one("SELECT MAX(version) FROM templates WHERE id=?", template_id)[0] or 0

    def lookup(self, template_id: str, version: int | None = None) -> dict | None:
        """The registered template (latest version unless one is named): its definition as a Project, its kind
        and issued map. A named version never changes once issued, so it is cached."""
        if version is not None:
            return self.lookup_with_latest(template_id, version)[0]
        return self._lookup(template_id, None)[0]

    def lookup_with_latest(self, template_id: str, version: int) -> tuple[dict | None, int]:
        """(lookup(template_id, version), latest_version(template_id)): what a reader asks of every return. The
        latest is asked every time (a render may issue a version while a collection runs); for a version not
        cached yet, in the lookup's own query (at a province's scale, every return's)."""
        key = (template_id, int(version))
        found = self._cache.get(key)
        if found is not None:
            return found, self.latest_version(template_id)
        found, latest = self._lookup(template_id, version)
        if found is not None:   # (one not issued yet is asked for again next time)
            self._cache.put(key, found)
        return found, latest

    def _lookup(self, template_id: str, version: int | None) -> tuple[dict | None, int]:
        """(the entry, the newest version of the id: 0 if none)."""
        sql = (f"SELECT id, version, hash, form, {self.db.utf8('definition')}, issued_at, {self._kind}, "
               f"{self.db.utf8(self._issued)}, {self._layout}, "
               f"(SELECT MAX(version) FROM templates WHERE id=?) FROM templates WHERE id=?")
        args: tuple = (template_id, template_id)
        if version is not None:
            sql, args = sql + " AND version=?", args + (int(version),)
        row = self.db.one(sql + " ORDER BY version DESC LIMIT 1", *args)
        if not row:   # (no such version: the newest, if any, asked on its own)
            return None, self.latest_version(template_id) if version is not None else 0
        return {"id": row[0], "version": row[1], "hash": row[2], "form": row[3],
                "project": from_canonical(jsontext.loads(row[4])), "issued_at": row[5],
                "kind": issued_kind(row[3], row[6]) if row[6] else None,
                # an IssuedMap, parsed by the reader once per version (its layout once per layout); None in a
                # registry of 0.1 or 0.2
                "issued": self._issued_map(row[7], row[8])}, row[9]

    def _issued_map(self, expected: bytes | str | None, key: str | None) -> IssuedMap | StoredMap | None:
        if expected is None:
            return None
        if key is not None:   # (a lost layout is told here, at the lookup, as when the JSON was read here)
            if key not in self._stored:
                if self.db.one("SELECT 1 FROM layouts WHERE key=?", key) is None:
                    raise _lost(self.path, key)
                if len(self._stored) >= STORED:
                    self._stored.clear()
                self._stored.add(key)
            return StoredMap(key, expected, self.db, self.path)
        # kept before the layouts table
        found = _split(expected.decode() if isinstance(expected, bytes) else expected)
        key, expected = found.layout_key, found.expected
        layout = self._layouts.get(key) or found.layout
        if key not in self._layouts:
            if len(self._layouts) >= LAYOUTS:
                self._layouts.clear()
            self._layouts[key] = layout
        return IssuedMap(key, layout, expected)

    def find_project(self, project: str, department: str) -> dict | None:
        """The latest template issued for a 项目名称 and 主管部门 (to recognise a form that lost its metadata)."""
        row = self.db.one("SELECT id FROM templates WHERE project=? AND department=? AND form NOT IN (?) "
                          "ORDER BY issued_at DESC, version DESC LIMIT 1", project, department, *OFFICE_FORMS)
        return self.lookup(row[0]) if row else None

    def templates(self) -> list[tuple]:
        """(id, version, hash, project, department) of every version issued, by id and version."""
        return sorted(self.db.all("SELECT id, version, hash, project, department FROM templates"),
                      key=lambda r: (r[0], r[1]))

    def latest_issued(self) -> list[tuple]:
        """(id, version, project, department) of the latest version of every template departments return (not
        the office's own review worksheets), by department and id."""
        rows = self.db.all("SELECT t.id, t.version, t.project, t.department FROM templates t "
                           "WHERE t.version = (SELECT MAX(version) FROM templates WHERE id = t.id) "
                           "AND t.form NOT IN (?)", *OFFICE_FORMS)
        return sorted(rows, key=lambda r: (r[3] is not None, r[3] or "", r[0]))

    def layouts_by_name(self) -> dict[str, str]:
        """The layout key of each template's latest version, by the names its returns come back under as issued
        (`<id>.xlsx`, and the name its workbook was issued as), casefolded: how collect puts returns laid out
        alike together. Empty for a registry that keeps no layouts."""
        if self._layout == "NULL":
            return {}
        found: dict[str, str] = {}
        for tid, layout, file in self.db.all(
                f"SELECT t.id, t.{self._layout}, f.file FROM templates t LEFT JOIN issued_files f "
                "ON f.id = t.id AND f.version = t.version ORDER BY t.version"):   # (the latest last: it wins)
            if layout:
                found[f"{tid}.xlsx".casefold()] = layout
                if file:
                    found[Path(file).name.casefold()] = layout
        return found

    def issued_file(self, template_id: str, version: int) -> tuple[str, str] | None:
        """(file, sheet) where a template version was last issued, or None."""
        row = self.db.one("SELECT file, sheet FROM issued_files WHERE id=? AND version=? "
                          "ORDER BY issued_at DESC LIMIT 1", template_id, int(version))
        return (row[0], row[1]) if row else None
