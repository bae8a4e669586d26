"""`xlform import`: workbooks an office already has -> YAML definitions, one per project found.

Sources: a filled 绩效目标申报表 issued by xlform and an xlform 自评表 of any kind (exact, through the hidden
sheet's cell map: no registry needed); a 自评表 or 申报表 made by hand, and flat lists (xlform/importing/handmade.py).
Every workbook is opened by the guarded parser (xlform/xlsx/reader.py: its size and zip limits); a file that cannot
be read, or holds no form, is one line; nothing is overwritten without `force`."""
from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from ..definition.definition import ID_RULE, load
from ..definition.emit import definition_yaml
from ..errors import DefinitionError, Problem, XlformError, failing
from ..kinds.forms import FormKind, form_kind
from ..messages import problem
from ..outputs import atomic_write, inside
from ..returns.declaration import is_declared_kind, read_declared
from ..returns.values import NotANumber, read_number, read_text, read_version
from ..scoring.scoring import quotient
from ..scoring.target import parse
from ..storage.record import IndicatorRecord, Record
from ..xlsx.metadata import META_SHEET, parse_meta, sheet_rows
from ..xlsx.reader import EMPTY, BadWorkbook, Package, Sheet
from . import handmade

_REF = re.compile(r"^([A-Z]+)(\d+)$")
_TYPED_TARGET = re.compile(r"\d+(?:\.\d+)?%?[^\d\s()=+*/^&,;:!<>-]{0,4}")


@dataclass
class Imported:
    """One project found: the definition to write, where it came from, what was wrong, its filled values."""
    file: str
    where: str                      # sheet and cells, for the comment and the report
    source: str                     # what it was: 自评表 (xlform), 申报表 (xlform), 自评表/申报表 made by hand, 清单
    data: dict
    comments: list[str] = field(default_factory=list)
    kind_keys: tuple = ()
    budget: str = "annual"
    problems: list[Problem] = field(default_factory=list)
    record: Record | None = None
    typed: str = ""                 # a hand-made form's 项目名称 as typed, and its cell: projects told apart
    project_cell: str = ""

    @property
    def id(self) -> str:
        return self.data["id"]


@dataclass
class Outcome:
    found: list[Imported] = field(default_factory=list)
    written: list[tuple[Imported, Path]] = field(default_factory=list)
    refused: list[Path] = field(default_factory=list)       # exists, no force
    failed: list[Problem] = field(default_factory=list)     # files that gave nothing: one line each
    check: list[Problem] = field(default_factory=list)      # what `check` says of the written definitions

    @property
    def errors(self) -> int:
        return (sum(p.severity == "error" for i in self.found for p in i.problems) + len(self.failed) +
                len(self.refused) + sum(p.severity == "error" for p in self.check))


def import_files(paths, out_dir, force: bool = False, values: bool = False, year: int | None = None) -> Outcome:
    """Read every workbook, write one definition per project found into out_dir (and with `values` the
    filled values of a hand-made 自评表 beside it as <id>.record.json)."""
    out = Outcome()
    for path in map(Path, paths):
        found, failure = read_workbook(path, year)
        out.found += found
        if failure:
            out.failed.append(failure)
    out_dir = Path(out_dir)
    taken: dict[str, Imported] = {}
    ambiguous = _collisions(out.found)
    for item in out.found:
        if id(item) in ambiguous:
            continue
        if item.id in taken:
            item.problems.append(Problem(item.where, "", f"项目“{item.data['project']}”已从 "
                                         f"{taken[item.id].file} {taken[item.id].where} 导入，本处未再导入。",
                                         "import_duplicate"))
            continue
        taken[item.id] = item
        target = inside(out_dir, item.id, ".yaml")   # the id was checked; the folder may hold a symlink out
        if target.exists() and not force:
            out.refused.append(target)
            continue
        text = definition_yaml(item.data, item.comments, item.kind_keys, item.budget)
        with failing("write", target, "choose another folder with -o"):
            atomic_write(target, text.encode("utf-8"))
            if values and item.record is not None:
                atomic_write(inside(out_dir, item.id, ".record.json"),
                             json.dumps([item.record.to_dict()], ensure_ascii=False, indent=2).encode("utf-8"))
        out.written.append((item, target))
        try:
            load(target)
        except DefinitionError as e:
            out.check += e.problems
    return out


def _collisions(found: list[Imported]) -> set[int]:
    """Hand-made projects whose names differ only in spacing, full/half width or case (道路项目 and 道路 项目):
    one project typed twice, or two? Neither is imported, and one error names both cells."""
    first: dict[tuple, Imported] = {}
    out = set()
    for item in found:
        if not item.project_cell:
            continue
        key = (item.data["year"], _folded(item.data["department"]), _folded(item.typed))
        seen = first.setdefault(key, item)
        if seen is not item and seen.typed != item.typed:
            other = seen.project_cell if seen.file == item.file else f"{seen.file} {seen.project_cell}"
            item.problems.append(problem("import_name_collision", item.project_cell, name=_shown(item.typed),
                                         other=other, other_name=_shown(seen.typed)))
            out |= {id(item), id(seen)}
    return out


def _folded(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def _shown(value, limit: int = 80) -> str:
    """A value from a workbook inside a one-line message: shortened, what is not printable (line breaks,
    control characters, odd spaces) as its escape."""
    text = str(value)
    text = text[:limit] + ("…" if len(text) > limit else "")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def read_workbook(path: Path, year: int | None = None) -> tuple[list[Imported], Problem | None]:
    """The projects in one workbook, or the one problem that stopped it (never an exception)."""
    name = str(path)
    try:
        pkg = Package(path)
    except BadWorkbook as e:
        return [], problem(e.code, name, detail=e.detail)
    except OSError as e:
        return [], problem("not_found", name, detail=e.strerror or str(e))
    try:
        found = _read(pkg, name, year)
        return found, None if found else problem("import_not_a_form", name)
    except _BadMeta as e:
        return [], e.problem
    except handmade.TooManyProjects as e:
        return [], problem("import_too_many", name, count=e.count, limit=handmade.MAX_PROJECTS)
    except BadWorkbook as e:
        return [], problem(e.code, name, detail=e.detail)
    except Exception as e:  # a file nobody foresaw: this file only
        return [], problem("internal", name, detail=f"{type(e).__name__}: {e}".splitlines()[0])
    finally:
        pkg.close()


def _read(pkg: Package, file: str, year: int | None) -> list[Imported]:
    by_name = {s.name: s for s in pkg.sheets}
    if META_SHEET in by_name:
        meta_sheet = pkg.sheet(by_name[META_SHEET])
        rows, numbers = sheet_rows(meta_sheet.cells)
        found = []
        for sheet_name, entry in parse_meta(rows, numbers).items():
            if sheet_name not in by_name or not isinstance(entry.get("cells"), dict):
                continue
            kind = _checked(entry, file, sheet_name)
            sheet = pkg.sheet(by_name[sheet_name])
            found.append(_from_declaration(sheet, entry, kind, file) if is_declared_kind(kind) else
                         _from_issued(sheet, entry, kind, file))
        return found
    found = []
    for info in pkg.sheets:
        if info.state != "visible":
            continue
        sheet = pkg.sheet(info)
        cells, formats = _grid(sheet)
        projects = handmade.flat_lists(cells) or handmade.forms(cells, formats)
        if len(found) + len(projects) > handmade.MAX_PROJECTS:
            raise handmade.TooManyProjects(len(found) + len(projects))
        found += [_from_found(f, file, info.name, year) for f in projects]
    return found


# -- workbooks issued by xlform -------------------------------------------------------------------------
class _BadMeta(Exception):
    """A value of the hidden sheet that is not what xlform writes there: the workbook gives nothing."""

    def __init__(self, found: Problem):
        self.problem = found


def _checked(entry: dict, file: str, sheet_name: str) -> FormKind:
    """The hidden sheet's values are data to check before use, never a path or code: the id by the rule of a
    definition's id (it names the file written), the version a positive integer, the form the name of a kind
    that exists. The kind, or _BadMeta naming the cell."""
    def bad(key, why):
        row = entry["rows"].get(key)
        raise _BadMeta(problem("import_meta", f"{file}: {META_SHEET}!C{row}" if row else f"{file}: {META_SHEET}",
                               key=key, value=_shown(entry.get(key, ""), 40), why=why))
    template_id = entry.get("template_id")
    if not isinstance(template_id, str) or not ID_RULE.fullmatch(template_id):
        bad("template_id", "模板编号只能由字母、数字和 . _ - 组成（不超过 80 个字符），且以字母或数字开头")
    version = read_version(entry.get("version"))
    if version is None:
        bad("version", "版本号须为正整数")
    entry["version"] = version
    ids = entry.get("indicator_ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) and len(i) <= 1000 for i in ids):
        bad("indicator_ids", "指标编号须为文字列表")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in entry["cells"].items()):
        bad("cells", "单元格对照表已损坏")
    try:
        kind = form_kind(str(entry.get("form") or "project"))
    except XlformError:
        bad("form", "不是已有的表样名称")
    if not all(kind.section_types[name].imports for name in kind.sections):
        raise _BadMeta(problem("import_not_a_source", f"{file}: {sheet_name}", sheet=sheet_name,
                               title=kind.spec["texts"]["title"]))
    if not _whole(entry["cells"], kind):
        bad("cells", "单元格对照表已损坏")
    return kind


_CELL = re.compile(r"[A-Z]{1,3}[1-9][0-9]{0,6}")
# what the import looks up in every row of an indicator table (the rest it reads where the map has it)
_ROW_PARTS = {"indicators": ("name", "weight"), "declared": ("name", "target", "weight", "level1", "level2")}


def _whole(cells: dict, kind: FormKind) -> bool:
    """Has the cell map each key the import looks up, each a cell reference, and rows numbered from 0 without a
    gap? (declared.x.name was int("x"), declared.99999999.name a row looked up and not there; a reference is put
    into every problem's line.)"""
    if not all(_CELL.fullmatch(ref) for ref in cells.values()):
        return False
    for table, parts in _ROW_PARTS.items():
        rows = {key.split(".")[1] for key in cells if key.startswith(table + ".") and key != "declared.total"}
        if rows != {str(n) for n in range(len(rows))} or \
                any(f"{table}.{n}.{part}" not in cells for n in rows for part in parts):
            return False
    return not is_declared_kind(kind) or \
        all(key in cells for key in ["goal.expected"] + [f"funds.{row}.initial" for row in kind.fund_rows])


def _rc(ref: str) -> tuple[int, int]:
    m = _REF.match(ref)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col - 1


def _reverse(source: str, text: str) -> dict | None:
    """The values a Jinja text such as "（{{ year }} 年度）" was rendered from, or None if it does not fit."""
    parts = re.split(r"{{\s*(\w+)\s*}}", source)
    pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
    m = re.fullmatch(pattern, text.strip(), re.S)
    return m.groupdict() if m else None


def _year(sheet: Sheet, kind: FormKind) -> int | None:
    for ref in ("A2", "A1", "A3"):
        got = _reverse(kind.spec["texts"]["subtitle"], str(sheet.cells.get(ref, EMPTY).value or ""))
        year = handmade.year_of(got.get("year")) if got else None
        if year:
            return year
    return None


def _number(v) -> float:
    try:
        return read_number(v)[0] or 0.0
    except NotANumber:
        return 0.0


def _from_issued(sheet: Sheet, entry: dict, kind: FormKind, file: str) -> Imported:
    """An xlform 自评表 (any kind): its definition, exactly, from the cells its cell map names."""
    cells = entry["cells"]

    def text(key):
        return read_text(sheet.cells.get(cells[key], EMPTY).value) or "" if key in cells else ""

    def num(key):
        return _number(sheet.cells.get(cells[key], EMPTY).value) if key in cells else 0.0

    data = {"form": kind.name, "year": _year(sheet, kind), "id": str(entry.get("template_id", "")),
            "project": text("project.name"), "department": text("project.department"),
            "implementer": text("project.implementer"), "goal": text("goal.expected")}
    if "project_line" in kind.spec["texts"]:  # e.g. "{{ code }} {{ project }}": the kind's keys are in it
        data.update(_reverse(kind.spec["texts"]["project_line"], data["project"]) or {})
    data["funds"] = {"weight": num("funds.weight"),
                     "rows": {row: {"initial": num(f"funds.{row}.initial"), kind.budget_key: num(f"funds.{row}.annual")}
                              for row in kind.fund_rows}}
    ids = entry.get("indicator_ids") or []
    count = sum(1 for k in cells if k.startswith("indicators.") and k.endswith(".weight"))
    indicators, level1, level2 = [], "", ""
    for i in range(count):
        key = f"indicators.{i}"
        level1, level2 = text(f"{key}.level1") or level1, text(f"{key}.level2") or level2  # merged: first row
        name = text(f"{key}.name")
        if f"{key}.target" in cells:
            target = text(f"{key}.target")
        elif text(f"{key}.nature") == kind.label("qualitative_nature"):
            target = text(f"{key}.target_value")
        else:
            target = text(f"{key}.nature") + text(f"{key}.target_value") + text(f"{key}.unit")
        ind = {"level1": level1, "level2": level2, "name": name, "target": target, "weight": num(f"{key}.weight"),
               "cell": f"{sheet.name}!{cells[f'{key}.name']}"}
        if i < len(ids) and ids[i] != f"{level1}/{level2}/{name}":
            ind = {"id": ids[i], **ind}
        score = sheet.cells.get(cells.get(f"{key}.score", ""), EMPTY)
        if score.formula is None and not parse(target).qualitative:
            ind["rule"] = "manual"   # a typed 得分 beside a numeric target
        indicators.append(ind)
    data["indicators"] = indicators
    total = data["funds"]["weight"] + sum(i["weight"] for i in indicators)
    if not math.isclose(total, 100, abs_tol=1e-9):
        data["allow_total"] = total
    version = entry.get("version", "")
    return Imported(file, sheet.name, "自评表", data,
                    [f"Imported by xlform import from {Path(file).name}, sheet {sheet.name}: template "
                     f"{data['id']} v{version} ({kind.name}), read through its cell map"],
                    tuple(kind.definition_keys), kind.budget_key)


def _from_declaration(sheet: Sheet, entry: dict, kind: FormKind, file: str) -> Imported:
    """A filled 绩效目标申报表 issued by xlform: this year's 自评表 definition (form: project, same id)."""
    record = Record(file, sheet.name, {"id": entry.get("template_id"), "version": entry.get("version")})
    rows = read_declared(lambda ref: sheet.cells.get(ref, EMPTY), entry["cells"], kind, kind.profile,
                         lambda ref: f"{sheet.name}!{ref}", record, _year(sheet, kind))
    cells = entry["cells"]
    p = record.project
    funds = record.funds
    data = {"form": "project", "year": p["year"], "id": str(entry.get("template_id", "")), "project": p["name"] or "",
            "department": p["department"] or "", "implementer": p["implementer"] or "",
            "goal": record.goal["expected"] or "",
            "funds": {"weight": funds["weight"] if funds["weight"] is not None else 10,
                      "rows": {row: {"initial": v["initial"], "annual": v["initial"],
                                     "cell": f"{sheet.name}!{cells[f'funds.{row}.initial']}"}
                               for row, v in funds["rows"].items() if row != "total"}},
            "indicators": [{"level1": i.level1, "level2": i.level2, "name": i.name, "target": i.target or "",
                            "weight": i.weight, "cell": f"{sheet.name}!{cells[f'declared.{n}.name']}"}
                           for n, i in zip(rows, record.indicators)]}
    comments = [f"Imported by xlform import from {Path(file).name}, sheet {sheet.name}: the 绩效目标申报表 "
                f"{data['id']} v{entry.get('version', '')} as the department filled it (项目属性 {p.get('attribute')})",
                "全年预算数 (annual) is the 年初预算数 declared: change it to the adjusted budget at the year's end"]
    return Imported(file, sheet.name, "申报表", data, comments, problems=record.problems)


# -- workbooks made by hand ------------------------------------------------------------------------------
def _grid(sheet: Sheet) -> tuple[dict, dict]:
    cells: dict[int, dict[int, object]] = {}
    for ref, cell in sheet.cells.items():
        value = cell.value
        if cell.formula is not None and _TYPED_TARGET.fullmatch(cell.formula):
            value = "=" + cell.formula   # =100% typed as a 指标值: what was meant is the text
        if value is None or value == "":
            continue
        r, c = _rc(ref)
        cells.setdefault(r, {})[c] = value
    formats = {_rc(ref): code for ref, code in sheet.cell_formats.items()}
    return cells, formats


def spread(count: int, points: float) -> list[float]:
    """`points` over `count` indicators: two decimals each, the remainder on the last (50 over 3: 16.67,
    16.67, 16.66)."""
    if count == 0 or not math.isfinite(points):   # (a 分值 of 400 digits is inf: check names it in the definition)
        return [0.0] * count
    share = (Decimal(repr(points)) / count).quantize(Decimal("0.01"), ROUND_HALF_UP)
    last = Decimal(repr(points)) - share * (count - 1)
    return [float(share)] * (count - 1) + [float(last)]


def _from_found(f: handmade.Found, file: str, sheet: str, year: int | None) -> Imported:
    kind = form_kind("project")
    profile = kind.profile
    problems = []

    def add(code, cell, **values):
        problems.append(problem(code, f"{_shown(sheet)}!{cell}", **values))
    for code, cell, values in f.problems:
        add(code, cell, **values)
    year = year or f.year
    if year is None:
        year = date.today().year
        add("import_year", f.cells.get("project", "A1"), year=year)
    digest = hashlib.sha1(f"{f.department}/{f.project}".encode()).hexdigest()[:8]
    comments = [f"Imported by xlform import from {Path(file).name}, sheet {sheet}, rows {f.first_row}-{f.last_row} "
                f"({'a flat list' if f.kind == '清单' else f'a {f.kind} made by hand'})"]
    indicators = []
    for ind in f.indicators:
        target = ind["target"]
        if not target:
            add("import_missing", ind["target_cell"], what=f"“{_shown(ind['name'])}”的年度指标值")
        elif parse(target, profile.bare_target).qualitative:
            add("import_qualitative", ind["target_cell"], value=_shown(target))
        if f.has_weights and ind["weight"] is None:
            add("import_missing", ind["weight_cell"], what=f"“{_shown(ind['name'])}”的分值")
        indicators.append({"level1": ind["level1"], "level2": ind["level2"], "name": ind["name"],
                           "target": target or "", "weight": ind["weight"] if ind["weight"] is not None else 0,
                           "cell": f"{sheet}!{ind['cell']}"})
    if not f.has_weights or (indicators and all(i["weight"] == 0 for i in indicators)):
        _spread(indicators, profile.weights, f.funds_weight or 10)
        split = "、".join(f"{k.removesuffix('指标') if k != 'funds' else '预算执行率'} {v:g}"
                         for k, v in profile.weights.items())
        add("import_weights_spread", f.cells.get("project", "A1"), profile=profile.name, split=split)
        comments.append(f"分值: none in the source; the {profile.name} split ({split}) spread evenly within "
                        "each 一级指标")
    goal = f.goal
    if not goal:
        goal = f.project
        add("import_goal_missing", f.cells.get("project", "A1"), goal=_shown(goal))
    if f.kind == "申报表":
        comments.append("全年预算数 (annual) is the 年初预算数 declared: change it to the adjusted budget at the "
                        "year's end")
    data = {"form": "project", "year": year, "id": f"imp-{year}-{digest}", "project": f.project,
            "department": f.department, "implementer": f.implementer or f.department, "goal": goal,
            "funds": {"weight": f.funds_weight or 10,
                      "rows": {row: {"initial": v["initial"], "annual": v["annual"],
                                     "cell": f"{sheet}!{v['cell']}" if v.get("cell") else None}
                               for row, v in f.funds.items() if row != "total"}},
            "indicators": indicators}
    total = data["funds"]["weight"] + sum(i["weight"] for i in indicators)
    if indicators and not math.isclose(total, 100, abs_tol=1e-6):
        data["allow_total"] = round(total, 6)
    record = _values(f, data, file, sheet) if f.kind == "自评表" else None
    return Imported(file, sheet, f.kind, data, comments, problems=problems, record=record, typed=f.typed or f.project,
                    project_cell=f"{_shown(sheet)}!{f.cells.get('project', 'A1')}")


def _spread(indicators: list[dict], split: dict, funds_weight: float):
    by_level1: dict[str, list[dict]] = {}
    for ind in indicators:
        by_level1.setdefault(ind["level1"], []).append(ind)
    if all(level1 in split for level1 in by_level1):
        for level1, items in by_level1.items():
            for ind, w in zip(items, spread(len(items), split[level1])):
                ind["weight"] = w
    else:  # 一级指标 outside the split: the indicators' points evenly over all of them
        for ind, w in zip(indicators, spread(len(indicators), 100 - funds_weight)):
            ind["weight"] = w


def _lenient(v):
    try:
        number, _ = read_number(v)
        return number
    except NotANumber:
        return read_text(v)


def _values(f: handmade.Found, data: dict, file: str, sheet: str) -> Record:
    """What the office filled into a hand-made 自评表, as a record (`--values`)."""
    rows = {row: {"initial": v["initial"], "annual": v["annual"], "executed": v.get("executed")}
            for row, v in f.funds.items()}
    total = rows.get("total") or {}
    annual, executed = total.get("annual"), total.get("executed")
    return Record(file, sheet, {"id": data["id"], "version": None, "form": "project", "hash": None},
                  {"name": f.project, "department": f.department, "implementer": f.implementer, "year": data["year"]},
                  {"weight": data["funds"]["weight"], "rows": rows,
                   "rate": None if executed is None else quotient(executed, annual), "score": f.funds_score},
                  {"expected": data["goal"], "actual": f.goal_actual},
                  [IndicatorRecord(f"{i['level1']}/{i['level2']}/{i['name']}", i["level1"], i["level2"], i["name"],
                                   d["target"], _lenient(i["actual"]), d["weight"], i["score"], i["reason"])
                   for i, d in zip(f.indicators, data["indicators"])],
                  f.total_score)


def describe(item: Imported) -> str:
    d = item.data
    return (f"{Path(item.file).name} {_shown(item.where)}: {_shown(d['project'] or '?')} "
            f"({_shown(d['department'] or '?')}), "
            f"{len(d['indicators'])} indicators, {item.source}")


__all__ = ["import_files", "read_workbook", "Imported", "Outcome", "spread", "describe", "XlformError"]
