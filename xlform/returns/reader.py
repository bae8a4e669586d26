"""Returned workbooks -> checked records, every score recomputed by the rules, every problem at its cell."""
from __future__ import annotations

import logging
from pathlib import Path

from ..errors import XlformError
from ..issue.registry import Registry
from ..kinds.forms import form_kind
from ..messages import problem
from ..storage.record import Record
from ..xlsx.metadata import META_SHEET, parse_meta, sheet_rows
from ..xlsx.reader import EMPTY, BadWorkbook, Package
from . import quality
from .sheet import SheetReader
from .values import read_text, read_version

WORKBOOKS = {".xlsx", ".xlsm"}
OLD_FORMATS = {".xls", ".et", ".ods"}  # collected, to tell the department to save them as .xlsx


def read(path, registry: Registry | None = None) -> list[Record]:
    """Read one returned workbook: one record per project sheet (a failed file gives one record of errors)."""
    own = registry is None
    registry = registry or Registry(create=False)
    try:
        return read_file(Path(path), registry)
    finally:
        if own:
            registry.close()


def read_file(path: Path, registry: Registry) -> list[Record]:
    name = str(path)
    try:
        pkg = Package(path)
    except BadWorkbook as e:
        return [_failed(name, e.code, detail=e.detail)]
    except OSError as e:
        return [_failed(name, "not_found", detail=e.strerror or str(e))]
    try:
        return _WorkbookReader(pkg, name, registry).records()
    except BadWorkbook as e:
        return [_failed(name, e.code, detail=e.detail)]
    finally:
        pkg.close()


def read_return(path: Path, registry: Registry) -> list[Record]:
    """The records of one returned file; an unexpected failure costs this file only (one error record)."""
    try:
        records = read_file(path, registry)
    except Exception as e:  # a reader bug, or a file nobody foresaw: the batch goes on
        # the department is told only that reading failed: the error may name the server's own paths
        logging.getLogger("xlform").warning("reading %s failed: %s: %s", path, type(e).__name__, e)
        return [Record(str(path), problems=[problem("internal", path.name)])]
    if (path.suffix.lower() in OLD_FORMATS and len(records) == 1 and records[0].sheet is None
            and [p.code for p in records[0].problems] in (["ole"], ["not_zip"], ["not_xlsx"])):
        return [Record(str(path), problems=[problem("save_as_xlsx", path.name, ext=path.suffix)])]
    return records


def _failed(file: str, code: str, **values) -> Record:
    return Record(file, problems=[problem(code, Path(file).name, **values)])


def _meta_cell(entry: dict, key: str) -> str:
    row = entry.get("rows", {}).get(key)
    return f"{META_SHEET}!C{row}" if row else META_SHEET


class _WorkbookReader:
    def __init__(self, pkg: Package, file: str, registry: Registry):
        self.pkg, self.file, self.registry = pkg, file, registry
        self.by_name = {s.name: s for s in pkg.sheets}

    def records(self) -> list[Record]:
        meta_info = self.by_name.get(META_SHEET)
        meta = parse_meta(*sheet_rows(self.pkg.sheet(meta_info).cells), parsed=()) if meta_info else self.identify()
        if not meta:
            return [_failed(self.file, "not_xlform")]
        unclaimed = [s for s in self.pkg.sheets if s.name != META_SHEET and s.name not in meta]
        records = [self.read_sheet(name, entry, unclaimed) for name, entry in meta.items()]
        if meta_info and meta_info.state == "visible":  # LibreOffice saves it as "hidden": not reported
            for record in records:
                record.problems.append(problem("meta_visible", META_SHEET, sheet=META_SHEET))
        return records

    def identify(self) -> dict[str, dict]:
        """No metadata sheet: recognise project sheets by 项目名称 and 主管部门 in the registry."""
        found = {}
        # every kind starts with the header section: 项目名称 in C3 (a kind may print a code in front of
        # it, separated by a space) and 主管部门 in C4
        for info in self.pkg.sheets:
            cells = self.pkg.sheet(info, {"C3", "C4"}).cells
            name, dep = (read_text(cells.get(c, EMPTY).value) for c in ("C3", "C4"))
            reg = None
            for candidate in ([name, name.split(" ", 1)[-1]] if name and dep else []):
                reg = reg or self.registry.find_project(candidate, dep)
            if reg:
                found[info.name] = {"template_id": reg["id"], "version": reg["version"], "form": reg["form"],
                                    "hash": reg["hash"], "cells": None,
                                    "problems": [problem("meta_missing", META_SHEET, template_id=reg["id"],
                                                         version=reg["version"])]}
        return found

    def read_sheet(self, sheet_name: str, entry: dict, unclaimed: list) -> Record:
        problems = list(entry.get("problems", []))
        template_id = str(entry.get("template_id", ""))
        version = read_version(entry.get("version")) or 0   # (0: an unknown version)
        record = Record(self.file, sheet_name, problems=problems,
                        template={"id": template_id, "version": version, "form": entry.get("form"),
                                  "hash": entry.get("hash")})
        info = self.by_name.get(sheet_name)
        if info is None:
            if len(unclaimed) == 1:
                info = unclaimed.pop()
                problems.append(problem("sheet_renamed", f"{info.name}!A1", sheet=sheet_name, actual=info.name))
                record.sheet = info.name
            else:
                problems.append(problem("sheet_missing", sheet_name, sheet=sheet_name))
                return record
        reg, latest = self.registry.lookup_with_latest(template_id, version)
        if reg is None:
            code = "unknown_version" if latest else "unknown_template"
            problems.append(problem(code, _meta_cell(entry, "template_id"), template_id=template_id, version=version))
            return record
        if entry.get("hash") != reg["hash"]:
            problems.append(problem("hash_mismatch", _meta_cell(entry, "hash"), template_id=template_id,
                                    version=version))
        if latest > version:
            problems.append(problem("outdated_version", f"{info.name}!A1", template_id=template_id,
                                    version=version, current=latest))
        project = reg["project"]
        try:
            kind = reg["kind"] or form_kind(project.form)  # the kind as issued; a 0.1 registry kept none
        except XlformError:  # the issuer's registry names a kind this xlform lacks: not the department's to fix
            problems.append(problem("internal", info.name))
            return record
        reader = SheetReader(self.pkg.sheet(info), info.name, sheet_name, project, kind, version, entry,
                             record, reg.get("issued"))
        record = reader.read()
        if reader.lay.scored:   # a 自评表 (a 申报表 gives no scores and has no narratives to judge)
            quality.flag(record, reader.lay, info.name)  # 质量提示: warnings
        return record
