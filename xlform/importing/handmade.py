"""Forms an office made by hand, found by their labels: the 自评表 and 申报表 in the national layout
(labels wherever they stand, merged or not, columns drifting; 2019 and 2020 label variants; several forms
on one sheet) and flat lists (one row per indicator, the project's columns repeated, headers by name).

Works on a grid {row: {column: value}} (1-based rows, 0-based columns) of one sheet; yields `Found`
projects with the cell every value came from. Knows nothing of files or YAML (xlform/importing/importer.py does)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..xlsx.reader import Error

LEVEL1 = ("产出指标", "效益指标", "满意度指标", "成本指标")
LEVEL2 = ("数量指标", "质量指标", "时效指标", "成本指标", "经济效益指标", "社会效益指标", "生态效益指标",
          "可持续影响指标", "满意度指标", "服务对象满意度指标", "经济成本指标", "社会成本指标", "生态环境成本指标")
_SPACE_CJK = re.compile(r"(?<=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef“”‘’])\s+|\s+(?=[\u3000-\u303f\u4e00-\u9fff"
                        r"\uff00-\uffef“”‘’])")
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年度")
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
_FUND_ROWS = (("total", ("资金总额", "预算资金总额")), ("fiscal", ("财政拨款", "当年财政", "本年财政", "财政资金")),
              ("carryover", ("上年结转",)), ("other", ("其他资金",)))
# indicator table headings -> the column they name (2019 and 2020 wordings, the 申报表's too)
_HEADINGS = {"一级指标": "level1", "二级指标": "level2", "三级指标": "name", "年度指标值": "target", "指标值": "target",
             "目标值": "target", "实际完成值": "actual", "完成值": "actual", "分值": "weight", "权重": "weight",
             "得分": "score", "备注": "reason"}
_FLAT = {"项目名称": "project", "主管部门": "department", "部门名称": "department", "实施单位": "implementer",
         "年初预算数": "initial", "年初预算": "initial", "全年预算数": "annual", "调整后预算数": "annual",
         "一级指标": "level1", "二级指标": "level2", "三级指标": "name", "年度指标值": "target", "指标值": "target",
         "分值": "weight", "权重": "weight", "年度绩效目标": "goal", "年度总体目标": "goal", "绩效目标": "goal",
         "年度": "year"}


def clean(value) -> str:
    """A cell as text: numbers without a trailing .0, whitespace that a wrapped or extracted cell put between
    Chinese characters removed ("产出 指标" -> 产出指标; "> 80%" keeps its space)."""
    if value is None or isinstance(value, Error):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return _SPACE_CJK.sub("", str(value)).strip()


def is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or \
        (isinstance(value, str) and bool(_NUMBER.match(clean(value))))


def number(value) -> float | None:
    return float(clean(value)) if is_number(value) else None


def year_of(value) -> int | None:
    """A year as a cell or a subtitle writes it: four ASCII digits ("2024"; "²" is a digit to str.isdigit and none
    to int(), and a number of 400 digits is inf to float(), of 5,000 too many for int())."""
    text = clean(value)
    return int(text) if re.fullmatch(r"[0-9]{4}", text) else None


def col_letter(col: int) -> str:
    s = ""
    col += 1
    while col:
        col, r = divmod(col - 1, 26)
        s = chr(65 + r) + s
    return s


def at(row: int, col: int) -> str:
    return f"{col_letter(col)}{row}"


@dataclass
class Found:
    """One project found in a sheet: definition values, the cell of each, and what was filled in."""
    project: str = ""
    typed: str = ""                                 # the 项目名称 as typed: projects are told apart by it
    department: str = ""
    implementer: str = ""
    year: int | None = None
    goal: str = ""
    goal_actual: str | None = None
    funds_weight: float | None = None
    funds: dict = field(default_factory=dict)      # row -> {initial, annual, executed, cell}
    funds_score: float | None = None
    indicators: list = field(default_factory=list)  # {level1, level2, name, target, weight, actual, score, reason, cell}
    total_score: float | None = None
    cells: dict = field(default_factory=dict)      # what -> cell (project, department, goal, …)
    first_row: int = 0
    last_row: int = 0
    kind: str = "自评表"                            # 自评表 | 申报表 | 清单
    has_weights: bool = True
    problems: list = field(default_factory=list)   # (code, cell, values)


class Grid:
    def __init__(self, cells: dict[int, dict[int, object]], formats: dict | None = None):
        self.rows, self.formats = cells, formats or {}
        self.text = {r: {c: t for c, v in row.items() if (t := clean(v))} for r, row in cells.items()}

    def find(self, label: str, rows=None) -> list[tuple[int, int]]:
        return [(r, c) for r in (rows if rows is not None else sorted(self.text)) for c, t in
                sorted(self.text.get(r, {}).items()) if t == label]

    def right_of(self, row: int, col: int) -> tuple[int, str] | None:
        for c, t in sorted(self.text.get(row, {}).items()):
            if c > col:
                return c, t
        return None


class TooManyProjects(Exception):
    """More projects on one sheet than one import takes: counted before any is read."""

    def __init__(self, count: int):
        self.count = count


MAX_PROJECTS = 5000   # a sheet of one department's forms holds tens; 16,000 forms took 11 s of CPU to import


def forms(cells: dict[int, dict[int, object]], formats: dict | None = None) -> list[Found]:
    """The hand-made forms (自评表 or 申报表) on one sheet, top to bottom; [] when there is none.
    `formats`: {(row, col): number format} where not General (a target 0.8 formatted 0% reads as 80%)."""
    grid = Grid(cells, formats)
    ordered = sorted(grid.text)   # the rows with text, once: each form takes its slice (linear in the forms)
    starts = [i for i, r in enumerate(ordered) if "项目名称" in grid.text[r].values()]
    if not starts:
        return []
    if len(starts) > MAX_PROJECTS:
        raise TooManyProjects(len(starts))
    found = []
    for n, first in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(ordered)
        before = ordered[max(starts[n - 1] + 1 if n else 0, first - 3):first]
        end -= _preamble(grid, ordered[first + 1:end])   # the next form's title and year are not this one's
        found.append(_form(grid, ordered[first:end], before))
    return found


def _preamble(g: Grid, rows: list[int]) -> int:
    """How many of the last rows (at most 4) are the title and year heading the next form."""
    n = 0
    for r in reversed(rows[-4:]):
        texts = list(g.text[r].values())
        if len(texts) != 1 or not (_YEAR.search(texts[0]) or texts[0].endswith(("申报表", "自评表"))):
            break
        n += 1
    return n


def _form(g: Grid, rows: list[int], before: list[int]) -> Found:
    """One form: its rows (the 项目名称 row first) and the few rows above it (its title, its year)."""
    start = rows[0]
    f = Found(first_row=start, last_row=rows[-1])
    for key, label in (("project", "项目名称"), ("department", "主管部门"), ("implementer", "实施单位")):
        hits = g.find(label, rows)
        value = g.right_of(*hits[0]) if hits else None
        if value and value[1] not in ("主管部门", "实施单位", "项目名称"):
            setattr(f, key, value[1])
            f.cells[key] = at(hits[0][0], value[0])
            if key == "project":
                f.typed = str(g.rows[hits[0][0]][value[0]])
        else:
            f.problems.append(("import_missing", at(*hits[0]) if hits else at(start, 0), {"what": label}))
    for r in reversed(before + [start]):
        m = next((_YEAR.search(t) for t in g.text[r].values() if _YEAR.search(t)), None)
        if m:
            f.year, f.cells["year"] = int(m.group(1)), at(r, min(g.text[r]))
            break
    _funds(g, f, rows)
    _goal(g, f, rows)
    _indicators(g, f, rows)
    return f


def _funds(g: Grid, f: Found, rows: list[int]):
    header = next(((r, {t: c for c, t in g.text[r].items()}) for r in rows if "年初预算数" in g.text[r].values()), None)
    columns = {}
    if header:
        names = header[1]
        columns = {"initial": names.get("年初预算数"), "annual": names.get("全年预算数", names.get("调整后预算数")),
                   "executed": names.get("全年执行数", names.get("预算执行数")),
                   "weight": names.get("分值", names.get("权重")), "score": names.get("得分")}
    for r in rows:
        for c, t in sorted(g.text[r].items()):
            key = next((k for k, words in _FUND_ROWS if any(w in t for w in words)), None)
            if key is None or key in f.funds or t.startswith(("项目资金", "资金情况")) or len(t) > 12:
                continue
            later = {cc: v for cc, v in g.rows[r].items() if cc > c}
            values = {}
            for part in ("initial", "annual", "executed"):
                cc = columns.get(part)
                values[part] = number(later.get(cc)) if cc is not None else None
            if not columns:  # a 申报表 made by hand: the first amount right of the label
                amounts = [number(v) for _, v in sorted(later.items()) if is_number(v)]
                values["initial"] = values["annual"] = amounts[0] if amounts else None
            f.funds[key] = {"initial": values["initial"] or 0.0,
                            "annual": values["annual"] if values["annual"] is not None else (values["initial"] or 0.0),
                            "executed": values["executed"], "cell": at(r, c)}
            if key == "total" and columns.get("weight") is not None:
                f.funds_weight = number(later.get(columns["weight"]))
                f.funds_score = number(later.get(columns["score"])) if columns.get("score") is not None else None
            break


def _goal(g: Grid, f: Found, rows: list[int]):
    hits = g.find("预期目标", rows)
    if hits:
        r, c = hits[0]
        actual_col = next((cc for cc, t in g.text[r].items() if t == "实际完成情况"), None)
        below = next((rr for rr in rows if rr > r), None)
        texts = sorted(g.text.get(below, {}).items()) if below else []
        texts = [(cc, t) for cc, t in texts if not t.startswith("年度总体目标")]
        expected = next(((cc, t) for cc, t in texts if actual_col is None or cc < actual_col), None)
        actual = next(((cc, t) for cc, t in texts if actual_col is not None and cc >= actual_col), None)
        if expected:   # the goal as typed (only names and labels lose the spaces extraction put in)
            f.goal, f.cells["goal"] = str(g.rows[below][expected[0]]).strip(), at(below, expected[0])
        if actual:
            f.goal_actual = actual[1]
        return
    for label in ("年度绩效目标", "年度总体目标", "绩效目标", "总体目标"):
        hits = g.find(label, rows)
        if hits and g.right_of(*hits[0]):
            c, t = g.right_of(*hits[0])
            f.goal, f.cells["goal"] = str(g.rows[hits[0][0]][c]).strip(), at(hits[0][0], c)
            return


def _indicators(g: Grid, f: Found, rows: list[int]):
    header = next((r for r in rows if "三级指标" in g.text[r].values() and
                   any(t in ("年度指标值", "指标值", "目标值") for t in g.text[r].values())), None)
    if header is None:
        f.problems.append(("import_missing", at(f.first_row, 0), {"what": "绩效指标表（三级指标、年度指标值）"}))
        return
    cols = {}
    for c, t in g.text[header].items():
        key = _HEADINGS.get(t) or ("reason" if "原因" in t else None)
        if key and key not in cols:
            cols[key] = c
    f.kind = "自评表" if "actual" in cols else "申报表"
    f.has_weights = "weight" in cols
    level1 = level2 = ""
    level1_col = -1
    for r in (r for r in rows if r > header):
        tokens = [(c, t, g.rows[r][c]) for c, t in sorted(g.text[r].items()) if t != "绩效指标"]
        if not tokens:
            continue
        first = tokens[0][1]
        if first in ("总分", "合计", "分值合计") or first.startswith("总分"):
            numbers = [number(v) for _, _, v in tokens if is_number(v)]
            f.total_score = numbers[-1] if len(numbers) >= 2 else None
            break
        if first == "预算执行率" and len(tokens) <= 2:   # a 申报表's funds row: its 分值
            continue
        i = 0
        if _level1(first) and not _a_level2(tokens, level1, level1_col):
            level1, level2, i, level1_col = _level1(first), "", 1, tokens[0][0]
        if i < len(tokens) and (tokens[i][1] in LEVEL2 or (tokens[i][1].endswith("指标") and len(tokens[i][1]) <= 10
                                                           and len(tokens) - i >= 3)):
            level2, i = tokens[i][1], i + 1
        if i >= len(tokens):
            continue
        name_col, name = tokens[i][0], tokens[i][1]
        rest = tokens[i + 1:]
        target = None
        if rest and not (f.has_weights and len(rest) == 1 and is_number(rest[0][2]) and
                         _column_is(rest[0][0], cols, "weight")):
            target, rest = rest[0], rest[1:]
        ind = {"level1": level1, "level2": level2, "name": name, "target": target[1] if target else None,
               "cell": at(r, name_col), "target_cell": at(r, target[0] if target else cols.get("target", name_col + 1)),
               "weight": None, "weight_cell": at(r, cols.get("weight", name_col + 2)), "actual": None, "score": None,
               "reason": None}
        if target is not None and isinstance(target[2], float) and "%" in g.formats.get((r, target[0]), ""):
            ind["target"] = f"{target[2] * 100:g}%"   # 0.8 shown as 80%
        _tail(ind, rest, cols, f.has_weights, r)
        f.indicators.append(ind)


def _level1(text: str) -> str:
    if text in LEVEL1:
        return text
    return text + "指标" if text + "指标" in LEVEL1 else ""


def _a_level2(tokens: list, level1: str, level1_col: int) -> bool:
    """成本指标 and 满意度指标 are names of both levels: right of the 一级指标 column, under a 一级指标 merged down
    (产出指标 … 成本指标), and not followed by a 二级指标, it is the 二级指标."""
    col, text, _ = tokens[0]
    return (text in LEVEL2 and bool(level1) and col > level1_col
            and not (len(tokens) > 1 and tokens[1][1] in LEVEL2))


def _column_is(col: int, cols: dict, key: str) -> bool:
    return cols.get(key) == col


def _tail(ind: dict, rest: list, cols: dict, has_weights: bool, row: int):
    """实际完成值 | 分值 | 得分 | 偏差原因 (自评表) or 分值 | 备注 (申报表), from what follows the 指标值, whatever
    columns it drifted into: the 分值 and 得分 are the last two plain numbers before trailing text."""
    while rest and not is_number(rest[-1][2]):
        if ind["reason"] is None and ("reason" in cols):
            ind["reason"] = rest[-1][1]
        rest = rest[:-1]
    if not rest or not has_weights:
        if rest and "actual" in cols:
            ind["actual"] = rest[0][2]
        return
    has_score = "score" in cols
    if has_score and len(rest) >= 2 and is_number(rest[-2][2]) and (
            len(rest) >= 3 or rest[-1][0] == cols["score"] or rest[-2][0] == cols.get("weight")):
        weight, ind["score"] = rest[-2], number(rest[-1][2])
        before = rest[:-2]
    else:
        weight, before = rest[-1], rest[:-1]
    ind["weight"], ind["weight_cell"] = number(weight[2]), at(row, weight[0])
    if before and "actual" in cols:
        ind["actual"] = before[0][2]


def flat_lists(cells: dict[int, dict[int, object]]) -> list[Found]:
    """Projects of a flat list: a header row holding 项目名称 and 三级指标, one row per indicator below it."""
    grid = Grid(cells)
    header = next((r for r in sorted(grid.text) if {"项目名称", "三级指标"} <= set(grid.text[r].values())), None)
    if header is None:
        return []
    cols = {}
    for c, t in sorted(grid.text[header].items()):
        key = _FLAT.get(t) or ("goal" if "绩效目标" in t or "总体目标" in t else None)
        if key and key not in cols:
            cols[key] = c
    year = next((int(m.group(1)) for r in sorted(grid.text) if r < header for t in grid.text[r].values()
                 for m in [_YEAR.search(t) or re.search(r"((?:19|20)\d{2})\s*年", t)] if m), None)
    projects: dict[tuple, Found] = {}
    last = {}
    for r in sorted(grid.text):
        if r <= header:
            continue
        raw, text = grid.rows[r], grid.text[r]

        def get(key, row_text=text):
            c = cols.get(key)
            return row_text.get(c, "") if c is not None else ""
        for key in ("project", "department", "implementer", "level1", "level2"):  # merged down, or repeated
            if get(key):
                last[key] = get(key)
                if key == "project":
                    last["typed"] = str(raw[cols["project"]])
        name = get("name")
        if not name or not last.get("project"):
            continue
        ident = (last["typed"], last.get("department", ""))   # as typed: 道路项目 and 道路 项目 are two
        f = projects.get(ident)
        if f is None:
            f = projects[ident] = Found(project=last["project"], typed=last["typed"],
                                        department=last.get("department", ""),
                                        implementer=last.get("implementer") or last.get("department", ""),
                                        year=year_of(get("year")) or year,
                                        first_row=r, kind="清单", has_weights="weight" in cols)
            f.cells = {"project": at(r, cols["project"])}
            initial = number(raw.get(cols.get("initial"))) if "initial" in cols else None
            annual = number(raw.get(cols.get("annual"))) if "annual" in cols else None
            f.funds["fiscal"] = {"initial": initial or 0.0, "annual": annual if annual is not None else (initial or 0.0),
                                 "executed": None, "cell": at(r, cols["initial"]) if "initial" in cols else None}
            if "goal" in cols and get("goal"):
                f.goal, f.cells["goal"] = get("goal"), at(r, cols["goal"])
            if "initial" not in cols and "annual" not in cols:
                f.problems.append(("import_missing", at(header, 0), {"what": "年初预算数、全年预算数"}))
        f.last_row = r
        weight_raw = raw.get(cols["weight"]) if "weight" in cols else None
        f.indicators.append({"level1": last.get("level1", ""), "level2": last.get("level2", ""), "name": name,
                             "target": get("target") or None, "weight": number(weight_raw),
                             "weight_raw": weight_raw,
                             "cell": at(r, cols["name"]), "target_cell": at(r, cols.get("target", cols["name"] + 1)),
                             "weight_cell": at(r, cols.get("weight", cols["name"] + 2)),
                             "actual": None, "score": None, "reason": None})
    return list(projects.values())
