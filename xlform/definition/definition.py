"""Project definitions: validated, frozen data built from YAML, every error with its file and line."""
from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DefinitionError, Problem, XlformError
from ..kinds.forms import FormKind, form_kind
from ..scoring import target as targets
from ..yamlsource import Located, key_path as _field, load as load_yaml, quoted as _shown

_TOP_KEYS = {"form", "year", "id", "project", "department", "implementer", "funds", "goal",
             "indicators", "allow_total", "scoring", "monitoring"}
_INDICATOR_KEYS = {"id", "name", "target", "weight", "rule", "kind", "was"}
_TARGET_KEYS = {"op", "value", "unit", "percent"}
ID_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_RULES = ("auto", "manual")
EXCEL_TEXT = 32_767  # the most a cell holds, in UTF-16 units (Excel counts a character beyond U+FFFF as two)
# definition texts a kind may limit under `limits:` as it limits what a department types there (申报表)
_LIMITED = {"goal": "goal", "name": "name", "target": "target"}


@dataclass(frozen=True)
class FundRow:
    initial: float = 0.0   # 年初预算数
    annual: float = 0.0    # 全年预算数


@dataclass(frozen=True)
class Funds:
    weight: float
    rows: dict[str, FundRow]   # fiscal, carryover, other

    @property
    def total(self) -> FundRow:
        return FundRow(sum(r.initial for r in self.rows.values()), sum(r.annual for r in self.rows.values()))


@dataclass(frozen=True)
class Indicator:
    id: str
    level1: str    # 一级指标
    level2: str    # 二级指标
    name: str      # 三级指标
    target: targets.Target   # 年度指标值
    weight: float  # 分值
    rule: str = "auto"       # auto | manual
    was: str | None = None   # former name (a rename keeps its values)

    @property
    def manual(self) -> bool:
        return self.rule == "manual"


@dataclass(frozen=True)
class Project:
    form: str
    year: int
    id: str
    project: str       # 项目名称
    department: str    # 主管部门
    implementer: str   # 实施单位
    funds: Funds
    goal: str          # 年度总体目标 — 预期目标
    indicators: tuple[Indicator, ...]
    allow_total: float | None = None
    source: str = field(default="", compare=False)
    extra: dict = field(default_factory=dict)     # the kind's own keys (e.g. code: 项目编码)
    scoring: dict = field(default_factory=dict)   # profile keys this definition overrides
    warnings: tuple = field(default=(), compare=False)  # Problems that `check` shows but do not stop
    # how its 监控表 is issued ({month: X}); not part of the 自评表's content (xlform/issue/monitoring.py)
    monitoring: dict = field(default_factory=dict, compare=False)

    def __hash__(self):
        return hash(self.hash)

    def canonical(self) -> dict:
        """The content that defines the form; its hash identifies a template version."""
        return {
            "form": self.form, "year": self.year, "id": self.id, "project": self.project,
            "department": self.department, "implementer": self.implementer, "goal": self.goal,
            "funds": {"weight": self.funds.weight,
                      **{k: {"initial": r.initial, "annual": r.annual} for k, r in self.funds.rows.items()}},
            "indicators": [{"id": i.id, "level1": i.level1, "level2": i.level2, "name": i.name,
                            "target": i.target.canonical(), "weight": i.weight, "rule": i.rule,
                            **({"was": i.was} if i.was else {})}
                           for i in self.indicators],
            "allow_total": self.allow_total,
            **({"extra": self.extra} if self.extra else {}),
            **({"scoring": self.scoring} if self.scoring else {}),
        }

    @functools.cached_property
    def hash(self) -> str:
        text = json.dumps(self.canonical(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def template_hash(project: Project, kind: FormKind) -> str:
    """What identifies an issued template: its definition and its form kind (spec and layout code)."""
    return hashlib.sha256(f"{project.hash}:{kind.fingerprint}".encode()).hexdigest()


def from_canonical(c: dict, source: str = "") -> Project:
    """The Project a registry entry describes (the inverse of Project.canonical)."""
    funds = Funds(c["funds"]["weight"], {k: FundRow(**v) for k, v in c["funds"].items() if k != "weight"})
    indicators = []
    for i in c["indicators"]:
        # the registry's own, checked when issued: the Indicator's fields set at once, where its frozen __init__
        # sets each through object.__setattr__ (half of a new version's Project; equal all the same, and an
        # Indicator has no __post_init__ to miss)
        ind = object.__new__(Indicator)
        ind.__dict__.update(id=i["id"], level1=i["level1"], level2=i["level2"], name=i["name"],
                            target=_target(i["target"]), weight=i["weight"], rule=i.get("rule", "auto"),
                            was=i.get("was"))
        indicators.append(ind)
    return Project(c["form"], c["year"], c["id"], c["project"], c["department"], c["implementer"], funds,
                   c["goal"], tuple(indicators), c.get("allow_total"), source, c.get("extra", {}),
                   c.get("scoring", {}))


def _target(t: dict) -> targets.Target:
    """A registry entry's target, one object for all that are made of the same (see _TARGETS)."""
    qualitative = t.get("kind") == "qualitative"
    made = (t["text"],) if qualitative else (t["text"], t["op"], t["value"], t.get("unit", ""), t.get("percent", False))
    key = (made, type(made[-1]), qualitative or type(made[2]))   # (1 == 1.0 == True: not one target)
    found = _TARGETS.get(key)
    if found is None:
        if len(_TARGETS) >= 4096:
            _TARGETS.clear()
        found = _TARGETS[key] = targets.Target(*made)
    return found


# Targets made from registry entries, by what they are made of: a province's collection meets "≥95%" and "100%"
# in thousands of versions (a Target is frozen: one object serves them all)
_TARGETS: dict[tuple, targets.Target] = {}


def load(path: str | Path) -> Project:
    """Load and check one definition; raises DefinitionError listing every problem found."""
    src = load_yaml(Path(path))
    return _Builder(src, str(path)).build()


def _load_one(path: Path) -> Project | list[Problem]:
    try:
        return load(path)
    except DefinitionError as e:
        return e.problems


def load_many(paths, jobs: int = 1) -> tuple[list[Project], list[Problem]]:
    """Every definition in the given files and folders (folders: *.yaml not starting with '_'), loaded by
    `jobs` processes."""
    files = expand(paths)
    if jobs > 1 and len(files) > 1:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(min(jobs, len(files))) as pool:
            loaded = pool.map(_load_one, files, chunksize=max(1, len(files) // (jobs * 4)))
    else:
        loaded = [_load_one(f) for f in files]
    problems = [p for x in loaded if not isinstance(x, Project) for p in x]
    seen: dict[str, str] = {}
    projects = []
    for pr in (x for x in loaded if isinstance(x, Project)):
        if pr.id in seen:  # left out: both would be issued into one workbook (<id>.xlsx), the first lost
            problems.append(Problem(pr.source, "id", f"id {pr.id!r} is also used by {seen[pr.id]}; "
                                    "every definition needs its own id", "duplicate_id"))
            continue
        seen[pr.id] = pr.source
        projects.append(pr)
    return projects, problems


def expand(paths) -> list[Path]:
    """Files as given; folders give their *.yaml/*.yml files, '_'-prefixed ones being shared parts."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.iterdir()
                          if f.suffix in (".yaml", ".yml") and not f.name.startswith("_"))
        else:
            out.append(p)
    return out


class _Builder:
    """Turns located YAML data into a Project, collecting problems instead of stopping at the first."""

    def __init__(self, src: Located, name: str):
        self.src, self.name, self.problems, self.warnings = src, name, [], []
        self.kind: FormKind = form_kind("project")
        self.profile = self.kind.profile

    def error(self, path, message, code="invalid"):
        self.problems.append(Problem(self.src.where(path), _field(path), message, code))

    def warn(self, path, message, code):
        self.warnings.append(Problem(self.src.where(path), _field(path), message, code, "warning"))

    def check_keys(self, data: dict, allowed: set, path: tuple):
        for k in data:
            if k not in allowed:
                self.error(path + (k,), f"unknown key {_shown(k)}; allowed here: {', '.join(sorted(allowed))}",
                           "unknown_key")

    def text(self, data, key, path=(), required=True):
        v = data.get(key)
        if v is None or (isinstance(v, str) and not v.strip()):
            if required:
                self.error(path + (key,), f"missing required field {key!r}", "missing")
            return ""
        if isinstance(v, (dict, list)):
            self.error(path + (key,), "must be text", "type")
            return ""
        return self.fits(path + (key,), str(v).strip(), key)

    def fits(self, path, text: str, what: str = "") -> str:
        """Text that reaches a cell: at most what the kind allows there (its `limits:`), and at most what an
        Excel cell holds, else a check error here rather than a workbook cut short or refused."""
        limit, whose = EXCEL_TEXT, "an Excel cell holds"
        own = self.kind.spec.get("limits", {}).get(_LIMITED.get(what, ""))
        if own and int(own) < limit:
            limit, whose = int(own), f"the {self.kind.name} form allows here"
        n = _units(text)
        if n > limit:
            self.error(path, f"{n:,} characters long, more than the {limit:,} {whose}; shorten it", "too_long")
        return text

    def number(self, data, key, path, default=None, positive=False):
        v = data.get(key, default)
        if v is None:
            self.error(path + (key,), f"missing required field {key!r}", "missing")
            return 0.0
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:   # (v != v: nan)
            self.error(path + (key,), f"must be a number, not {_shown(v)}", "type")
            return 0.0
        if not targets.in_range(v):   # (inf, and an int of 400 digits, which math.isfinite could not take)
            self.error(path + (key,), f"{_shown(v)} is out of range: {RANGE}", "range")
            return 0.0
        if positive and v <= 0:
            self.error(path + (key,), f"must be greater than 0 (got {v})", "weight")
        elif v < 0:
            self.error(path + (key,), f"must not be negative (got {v})", "negative")
        return float(v)

    def build(self) -> Project:
        d = self.src.data
        form = self.text(d, "form", required=False) or "project"
        try:
            self.kind = form_kind(form)
        except XlformError as e:
            self.error(("form",), str(e), "form")
        self.check_keys(d, _TOP_KEYS | set(self.kind.definition_keys), ())
        scoring = d.get("scoring") or {}
        try:
            if not isinstance(scoring, dict):
                raise ValueError("must be a mapping of profile keys, e.g. {reverse: ratio}")
            self.profile = self.kind.profile.merged(scoring)
        except (ValueError, TypeError) as e:
            self.error(("scoring",), str(e), "scoring")
            scoring = {}
        extra = {key: self.kind_key(d, key, opts or {}) for key, opts in self.kind.definition_keys.items()}
        extra = {k: v for k, v in extra.items() if v not in ("", None)}
        year = d.get("year")
        if not isinstance(year, int) or isinstance(year, bool) or not 1990 <= year <= 2100:
            self.error(("year",), f"must be a year such as 2019 (got {_shown(year)})",
                       "missing" if year is None else "type")
            year = 0
        pid = self.text(d, "id")
        if pid and not ID_RULE.match(pid):
            self.error(("id",), f"{_shown(pid)} is not a usable id: use letters, digits, '.', '_' and '-' "
                       "(it names files), e.g. xj-jrj-2019-01", "id")
        funds = self.funds(d.get("funds"))
        optional = set(self.kind.spec.get("optional", ()))   # a declaration: goal and indicators may come later
        indicators = [] if "indicators" in optional and not d.get("indicators") else \
            self.indicators(d.get("indicators"))
        allow_total = None
        if "allow_total" in d:
            allow_total = self.number(d, "allow_total", (), positive=True)
        total = funds.weight + sum(i.weight for i in indicators)
        expected = allow_total if allow_total is not None else 100
        # only when every weight could be read: a total over a half-read tree would mislead
        if "indicators" in optional:  # the department declares the rest: only more than the total is wrong
            if not self.problems and total > expected + 1e-9:
                self.error(("indicators",), f"分值 add up to {total:g} (funds {funds.weight:g} + indicators "
                           f"{total - funds.weight:g}), more than {expected:g}", "weight_total")
        elif not self.problems and indicators and not math.isclose(total, expected, abs_tol=1e-9):
            self.error(("indicators",), f"分值 add up to {total:g} (funds {funds.weight:g} + indicators "
                       f"{total - funds.weight:g}), not {expected:g}; fix the weights or set "
                       "allow_total: N to accept another total", "weight_total")
        if not self.problems and allow_total is None and "indicators" not in optional:
            self.check_split(funds, indicators)
        project = Project(form, year, pid, self.text(d, "project"), self.text(d, "department"),
                          self.text(d, "implementer"), funds, self.text(d, "goal", required="goal" not in optional),
                          tuple(indicators),
                          allow_total, self.name, extra, dict(scoring), tuple(self.warnings),
                          self.monitoring(d.get("monitoring")))
        self.composed(d, pid, year)
        if self.problems:
            raise DefinitionError(self.problems)
        return project

    def composed(self, d: dict, pid: str, year):
        """The kind's texts that join definition texts in one cell (四川: 项目编码 and 项目名称 in one line)."""
        texts = self.kind.spec.get("texts", {})
        if self.problems or "project_line" not in texts:
            return
        values = {k: str(v) for k, v in d.items() if isinstance(v, (str, int, float))}
        values.update(id=pid, year=year, version=1)
        try:
            line = self.kind.text("project_line", **values)
        except Exception:  # noqa: BLE001 - a key the kind needs is missing: reported as missing already
            return
        self.fits(("project",), line)

    def monitoring(self, m) -> dict:
        """monitoring: {month: X}: the month its 监控表 is issued for (1-11), unless render says --month."""
        if m is None:
            return {}
        if not isinstance(m, dict):
            self.error(("monitoring",), "must be a mapping such as {month: 7}", "type")
            return {}
        self.check_keys(m, {"month"}, ("monitoring",))
        month = m.get("month")
        if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 11:
            self.error(("monitoring", "month"), f"must be a month from 1 to 11 (got {_shown(month)})", "type")
            return {}
        return {"month": month}

    def kind_key(self, d: dict, key: str, opts: dict):
        """A top-level key the kind adds: text (code: 项目编码), or `type: rows` (a declaration's blank_rows:
        a count for every 二级指标, or {二级指标: count, default: count}; 0 leaves a 二级指标 out)."""
        if opts.get("type") != "rows":
            return self.text(d, key, required=bool(opts.get("required")))
        v = d.get(key)
        if v is None:
            return None
        counts = v if isinstance(v, dict) else {"default": v}
        for k, n in counts.items():
            if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 50:
                self.error((key,) + ((k,) if isinstance(v, dict) else ()),
                           f"must be a whole number of rows from 0 to 50 (got {_shown(n)})", "type")
                return None
        return v if isinstance(v, int) else {str(k): n for k, n in v.items()}

    def check_split(self, funds: Funds, indicators: list[Indicator]):
        """Warn where the 分值 depart from the profile's split (national: 预算执行率 10, 产出 50, 效益 30,
        满意度 10); offices may depart from it, so it is not an error."""
        split = self.profile.weights
        if not split:
            return
        got = {"funds": funds.weight}
        for ind in indicators:
            got[ind.level1] = got.get(ind.level1, 0.0) + ind.weight
        for key, want in split.items():
            have = got.get(key, 0.0)
            if not math.isclose(have, want, abs_tol=1e-9):
                what = "funds.weight (预算执行率)" if key == "funds" else f"一级指标 {key}"
                self.warn(("funds", "weight") if key == "funds" else ("indicators",),
                          f"{what} carries {have:g} points; the {self.profile.name} split gives it {want:g}",
                          "weight_split")

    def funds(self, f) -> Funds:
        path = ("funds",)
        if not isinstance(f, dict):
            rows = ", ".join(self.kind.fund_rows)
            self.error(path, f"missing required field 'funds' (a mapping with weight, {rows})"
                       if f is None else "must be a mapping", "missing" if f is None else "type")
            return Funds(10.0, {k: FundRow() for k in self.kind.fund_rows})
        self.check_keys(f, {"weight", "total", *self.kind.fund_rows}, path)
        weight = self.number(f, "weight", path, default=10, positive=True)
        rows = {k: self.fund_row(f.get(k), path + (k,)) for k in self.kind.fund_rows}
        funds = Funds(weight, rows)
        if f.get("total") is not None:
            given = self.fund_row(f["total"], path + ("total",))
            for part in ("initial", "annual"):  # "annual" is the kind's budget key
                if not math.isclose(getattr(given, part), getattr(funds.total, part), abs_tol=1e-6):
                    self.error(path + ("total", part), f"年度资金总额 {getattr(given, part):g} is not the sum "
                               f"of the rows ({getattr(funds.total, part):g}); drop total or fix the "
                               "rows", "funds_total")
        return funds

    def fund_row(self, r, path) -> FundRow:
        if r is None:
            return FundRow()
        if not isinstance(r, dict):
            self.error(path, f"must be a mapping such as {{initial: 105, {self.kind.budget_key}: 105}}", "type")
            return FundRow()
        budget = self.kind.budget_key
        self.check_keys(r, {"initial", budget}, path)
        return FundRow(self.number(r, "initial", path, default=0), self.number(r, budget, path, default=0))

    def indicators(self, tree) -> list[Indicator]:
        path = ("indicators",)
        if not isinstance(tree, dict) or not tree:
            self.error(path, "missing required field 'indicators' (一级指标 -> 二级指标 -> list of 三级指标)"
                       if not tree else "must be a mapping of 一级指标", "missing" if not tree else "type")
            return []
        out, ids = [], {}
        for level1, level2s in tree.items():
            p1 = path + (level1,)
            self.fits(p1, str(level1))
            if not isinstance(level2s, dict) or not level2s:
                self.error(p1, f"一级指标 {_shown(level1)} must map 二级指标 names to lists of 三级指标", "type")
                continue
            for level2, items in level2s.items():
                p2 = p1 + (level2,)
                self.fits(p2, str(level2))
                if not isinstance(items, list) or not items:
                    self.error(p2, f"二级指标 {_shown(level2)} must be a list of 三级指标 "
                               "(- {name: …, target: …, weight: …})", "type")
                    continue
                names = set()
                for i, item in enumerate(items):
                    ind = self.indicator(item, level1, level2, p2 + (i,))
                    if ind is None:
                        continue
                    if ind.name in names:
                        self.error(p2 + (i, "name"), f"三级指标 {_shown(ind.name)} appears twice in {str(level1)[:40]}/"
                                   f"{str(level2)[:40]}; rename one or merge them", "duplicate_name")
                    elif ind.id in ids:
                        self.error(p2 + (i, "id"), f"indicator id {_shown(ind.id)} is used twice", "duplicate_id")
                    names.add(ind.name)
                    ids[ind.id] = True
                    out.append(ind)
        return out

    def indicator(self, item, level1, level2, path) -> Indicator | None:
        if not isinstance(item, dict):
            self.error(path, "a 三级指标 must be a mapping with name, target and weight", "type")
            return None
        self.check_keys(item, _INDICATOR_KEYS, path)
        name = self.text(item, "name", path)
        weight = self.number(item, "weight", path, positive=True)
        rule = item.get("rule", "auto")
        if rule not in _RULES:
            self.error(path + ("rule",), f"rule must be one of {', '.join(_RULES)} (got {_shown(rule)})", "rule")
            rule = "auto"
        kind = item.get("kind")
        if kind not in (None, "qualitative"):
            self.error(path + ("kind",), f"kind may only be 'qualitative' (got {_shown(kind)})", "kind")
        target = self.target(item.get("target"), path + ("target",))
        if kind == "qualitative" and target is not None:
            target = targets.Target(target.text)
        ind_id = item.get("id", f"{level1}/{level2}/{name}")
        if not isinstance(ind_id, (str, int)) or not str(ind_id).strip():
            self.error(path + ("id",), "id must be non-empty text", "type")
        was = item.get("was")
        if target is None:
            return None
        return Indicator(str(ind_id).strip(), str(level1), str(level2), name, target, weight, rule,
                         str(was) if was is not None else None)

    def target(self, t, path) -> targets.Target | None:
        if t is None or (isinstance(t, str) and not t.strip()):
            self.error(path, "missing required field 'target' (年度指标值, e.g. ≥2次, 100%, 不断提高)", "missing")
            return None
        if isinstance(t, bool):
            self.error(path, f"must be text or a number, not {_shown(t)}", "type")
            return None
        if isinstance(t, (int, float)):
            return self.parsed(repr(t) if isinstance(t, float) else str(t), path)
        if isinstance(t, dict):
            self.check_keys(t, _TARGET_KEYS, path)
            op = str(t.get("op", "="))
            if targets.normalize(op).strip() not in ("=", "==", ">=", ">", "<=", "<", "≥", "≤"):
                self.error(path + ("op",), f"op must be one of >= > <= < = (got {_shown(op)})", "target")
                return None
            value = self.number(t, "value", path)
            unit = self.fits(path + ("unit",), str(t.get("unit", "") or ""))
            percent = bool(t.get("percent", False)) or unit == "%"
            return targets.explicit(op, value, "" if unit == "%" else unit, percent)
        if isinstance(t, list):
            self.error(path, "must be text, a number or {op, value, unit}", "type")
            return None
        return self.parsed(str(t), path)

    def parsed(self, text: str, path) -> targets.Target:
        self.fits(path, text, "target")
        t = targets.parse(text, self.profile.bare_target)
        if t.value is not None and not targets.in_range(t.value):   # (400 digits: inf, which no formula holds)
            self.error(path, f"{_shown(text)}: the number is too large for a 年度指标值 (or too small): {RANGE}", "target")
            return targets.Target(text)
        if t.bare:
            sign = {">=": "≥", "<=": "≤", "=": "="}[t.op]
            self.warn(path, f"{_shown(text)} has no operator and is read as {sign}{text[:60]} (scoring.bare_target: "
                      f"{t.op}); write the operator (≥ ≤ =) to say so", "bare_target")
        return t


RANGE = "a number of a form is 0 or between 1e-15 and 1e15 in size (Excel keeps 15 digits)"


def _units(text: str) -> int:
    """Length as Excel counts it: UTF-16 code units."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)

