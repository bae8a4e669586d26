"""The 项目支出绩效目标执行监控表's own sections (form kind `monitoring`, issue 19): the funds grid of 1-X月执行数,
执行率 and 全年预计执行数, the goal's 1-X月 完成情况, the indicator table with its tick columns (偏差原因分析,
完成目标可能性) and the 说明 at the foot. The header is the shared one (xlform/kinds/sections.py).

No 得分: the form's values are its warnings against 序时进度, each computed by xlform/scoring/monitoring.py as an
Excel formula (cached by the writer) and as the Python value the record keeps. The month X is the monitored
project's `month` (xlform/issue/monitoring.py puts it there from --month or the definition's monitoring:).
"""
from __future__ import annotations

from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

from xlform.kinds.schema import Flag
from xlform.kinds.sections import Goal, Section, group_label, own_inputs
from xlform.scoring import monitoring as rules
from xlform.scoring.scoring import funds_executed_formula
from xlform.storage.record import IndicatorRecord

TICK = "√"
CAUSES = ("cause_funding", "cause_system", "cause_staff", "cause_hardware", "cause_other")
LIKELIHOOD = ("sure", "likely", "unlikely")
AT_RISK = ("likely", "unlikely")   # 有可能, 完全不可能: a forecast and a cause are asked for

MESSAGES = {
    "monitor_blank_executed": ("error", "{row}的1-{month}月执行数未填写（全年预算数 {annual} 万元）。没有执行请填 0。"),
    "monitor_blank_forecast_funds": ("error", "{row}的全年预计执行数未填写（全年预算数 {annual} 万元），请填写。"),
    "monitor_blank_progress": ("error", "“{name}”的1-{month}月执行情况未填写，请填写。"),
    "monitor_not_a_tick": ("error", "“{value}”不是有效的勾选，请从下拉列表选择“√”或留空。"),
    "monitor_cause_missing": ("error", "“{name}”预警为{colour}（执行进度为序时进度的 {ratio}），须在偏差原因分析中至少"
                              "勾选一项原因。"),
    "monitor_explanation_missing": ("error", "“{name}”已勾选偏差原因，须填写原因说明。"),
    "monitor_likelihood": ("error", "“{name}”须在完成目标可能性中勾选且只勾选一项（现勾选 {count} 项）。"),
    "monitor_forecast_missing": ("error", "“{name}”勾选了“{likelihood}”，须填写全年预计完成情况。"),
    "monitor_cause_for_risk": ("error", "“{name}”勾选了“{likelihood}”，须在偏差原因分析中至少勾选一项原因。"),
    "monitor_over_budget": ("warning", "{row}的{what} {value} 万元超过全年预算数 {annual} 万元，请核实。"),
}


def month_of(project) -> int:
    return int(project.extra["month"])


def words(kind, key: str, month: int, printed: bool = True) -> str:
    """A label of the kind with the month monitored in it (1-{month}月执行数 → 1-7月执行数)."""
    text = kind.heading(key) if printed else kind.label(key)
    return text.replace("{month}", str(month))


class Monitored(Section):
    """A part of the 监控表: no score; its problems are its own."""
    scored = False
    messages = MESSAGES
    keys = {"landscape": Flag()}
    columns = ("progress", "forecast", *CAUSES, "explanation", *LIKELIHOOD, "remark", "warning")
    imports = False   # its definition is the 自评表's: `xlform import` takes that one

    def values(self, record, lay):
        return {}


def colours(pen, cell: str) -> None:
    """The warning cell: filled by its colour's word (the word prints in black and white as well)."""
    for word, (fill, font) in rules.LOOKS.items():
        look = pen.format(f"monitor_{fill}", bg_color=fill, font_color=font, bold=True)
        pen.check(pen.ws.conditional_format(cell, {"type": "cell", "criteria": "==", "value": f'"{word}"',
                                                   "format": look}), *_rc(cell))


def cached(reader, cell: str, computed) -> None:
    """A warning the workbook cached that is not the rules' (not recalculated, or a client computing otherwise):
    the rules' value stands, and the department is told."""
    got = reader.sheet.cells.get(cell)
    if got is None or got.formula is None or got.value is None:
        return   # no cached value (openpyxl saves none); a replaced formula is reported as such
    if (got.value or None) != computed and reader.at(cell) not in {p.where for p in reader.problems
                                                                   if p.code == "formula_changed"}:
        reader.add("stale_value", cell, cached=reader.show(got.value or None), computed=reader.show(computed))


def _rc(cell: str):
    return xl_cell_to_rowcol(cell)


def absolute(cell: str) -> str:
    """$H$14: a conditional format over a range refers to the cells themselves, not relatively."""
    return xl_rowcol_to_cell(*xl_cell_to_rowcol(cell), True, True)


class MonitorFunds(Monitored):
    """项目资金（万元）: 年初预算数 | 全年预算数 | 1-X月执行数 | 1-X月执行率 | 全年预计执行数 | 预警, on the 年度资金总额
    row (sums of the rows below) and the definition's fund rows. The two inputs are typed per fund row."""
    name = "monitor_funds"
    PARTS = ("initial", "annual", "executed", "rate", "forecast", "warning")

    def place(self, lay, row):
        col, kind = lay.col, self.kind
        # each part spans columns of the indicator table: (first, last)
        self.spans = {"label": (1, col["name"]), "initial": (col["target"], col["target"]),
                      "annual": (col["progress"], col["progress"]), "executed": (col["forecast"], col["forecast"]),
                      "rate": (col["cause_funding"], col["cause_hardware"]),
                      "forecast": (col["cause_other"], col["remark"]), "warning": (col["warning"], col["warning"])}
        lay.funds_col = {part: self.spans[part][0] for part in self.PARTS}
        lay.rows["funds_header"] = row
        month = month_of(lay.project)
        for n, key in enumerate(("total",) + kind.fund_rows):
            r = row + 1 + n
            lay.rows[f"funds.{key}"] = r
            label = kind.label(key).removeprefix("其中：")
            for part in self.PARTS:
                first, last = self.spans[part]
                typed = key != "total" and part in ("executed", "forecast")
                role = "input" if typed else "fixed" if part in ("initial", "annual") else "formula"
                type_of = {"rate": "percent", "warning": "text"}.get(part, "amount")
                what = words(kind, "executed" if part == "executed" else "forecast_funds", month, False)
                self.put(lay, f"funds.{key}.{part}", r, first, role, type_of,
                         f"XF_FUND_{key.upper()}_{part.upper()}" if typed else "",
                         label=f"{label}·{what}" if typed else label, last=last)
        return row + 2 + len(kind.fund_rows)

    def draw(self, pen):
        k, f, lay, p = self.kind, pen.fmt, pen.lay, pen.p
        month, header = month_of(p), lay.rows["funds_header"]
        pen.landscape = bool(k.spec.get("landscape"))
        pen.text(header, 0, k.heading("funds"), f["label"], lay.rows[f"funds.{k.fund_rows[-1]}"], 0)
        heads = {"label": "", "initial": k.heading("initial"), "annual": k.heading("annual"),
                 "executed": words(k, "executed", month), "rate": words(k, "rate", month),
                 "forecast": k.heading("forecast_funds"), "warning": k.heading("warning")}
        for part, (first, last) in self.spans.items():
            pen.text(header, first, heads[part], f["label"], header, last)
        rows = ("total",) + k.fund_rows
        executed = {key: pen.inputs.get(f"funds.{key}.executed") for key in k.fund_rows}
        forecast = {key: pen.inputs.get(f"funds.{key}.forecast") for key in k.fund_rows}
        for key in rows:
            r = lay.rows[f"funds.{key}"]
            first, last = self.spans["label"]
            pen.text(r, first, k.heading(key), f["label"], r, last)
            budget = p.funds.total if key == "total" else p.funds.rows[key]
            for part in ("initial", "annual"):
                self.merged_number(pen, f"funds.{key}.{part}", getattr(budget, part) or None, f["amount"])
            cells = {part: lay.cell(f"funds.{key}.{part}") for part in self.PARTS}
            if key == "total":
                span = {part: f"{lay.cell(f'funds.{rows[1]}.{part}')}:{lay.cell(f'funds.{rows[-1]}.{part}')}"
                        for part in ("executed", "forecast")}
                for part, typed in (("executed", executed), ("forecast", forecast)):
                    known = [v for v in typed.values() if v is not None]
                    self.merged_formula(pen, cells[part], funds_executed_formula(span[part]),
                                        sum(known) if known else None, f["amount"], f"funds.{key}.{part}")
                total_exec = sum(v for v in executed.values() if v is not None) \
                    if any(v is not None for v in executed.values()) else None
                rate = rules.funds_rate(total_exec, budget.annual)
            else:
                for part, prompt, typed in (("executed", "monitor_executed", executed),
                                            ("forecast", "monitor_forecast_funds", forecast)):
                    cell = cells[part]
                    self.merged_number(pen, f"funds.{key}.{part}", typed[key], f["in_amount"])
                    pen.validate(cell, prompt, {"validate": "decimal", "criteria": ">=", "value": 0},
                                 row=k.label(key), annual=f"{budget.annual:g}", month=month)
                    if budget.annual > 0:   # a row with a budget: its inputs are asked for
                        pen.warn(cell, f"=ISBLANK({cell})")
                    pen.name(f"funds.{key}.{part}")
                rate = rules.funds_rate(executed[key], budget.annual)
            self.merged_formula(pen, cells["rate"], rules.funds_rate_formula(cells["executed"], cells["annual"]),
                                rate, f["rate"], f"funds.{key}.rate")
            self.merged_formula(pen, cells["warning"], rules.funds_warning_formula(cells["rate"], month),
                                rules.funds_warning(rate, month), f["label"], f"funds.{key}.warning")
            colours(pen, cells["warning"])

    def merged_number(self, pen, key, value, fmt):
        fld = pen.lay.fields[key]
        r, c = _rc(fld.cell)
        if fld.last > c:
            pen.merge(r, c, r, fld.last, fmt)
        pen.input_number(fld.cell, value, fmt)

    def merged_formula(self, pen, cell, formula, value, fmt, key):
        fld = pen.lay.fields[key]
        r, c = _rc(cell)
        if fld.last > c:
            pen.merge(r, c, r, fld.last, fmt)
        pen.formula(cell, formula, value, fmt)

    def read(self, reader, inputs):
        reader.read_fields(self.name, inputs)

    def check(self, reader, inputs, result):
        lay, p, month = reader.lay, reader.project, month_of(reader.project)
        for key in self.kind.fund_rows:
            annual = p.funds.rows[key].annual
            label = self.kind.label(key).removeprefix("其中：")
            for part, code in (("executed", "monitor_blank_executed"), ("forecast", "monitor_blank_forecast_funds")):
                field = f"funds.{key}.{part}"
                v, cell = inputs.get(field), lay.cell(field)
                if v is None and field not in reader.invalid and annual > 0:
                    reader.add(code, cell, row=label, annual=f"{annual:g}", month=month)
                elif v is not None and v < 0:
                    reader.add("negative", cell, what=lay.fields[field].label, value=f"{v:g}")
                elif v is not None and v > annual + 1e-9:
                    reader.add("monitor_over_budget", cell, row=label, value=f"{v:g}", annual=f"{annual:g}",
                               what=words(self.kind, "executed" if part == "executed" else "forecast_funds",
                                          month, False))

        self.fill(reader, inputs, result)   # the warnings as the rules give them, against the cached ones
        for key, row in reader.record.funds["rows"].items():
            cached(reader, lay.cell(f"funds.{key}.warning"), row["warning"])

    def values(self, record, lay):
        rows = record.funds.get("rows", {})
        return {f"funds.{key}.{part}": rows.get(key, {}).get(part) for key in self.kind.fund_rows
                for part in ("executed", "forecast")}

    def fill(self, reader, inputs, result):
        p, k, record, month = reader.project, self.kind, reader.record, month_of(reader.project)
        rows = {}
        for key in k.fund_rows:
            budget = p.funds.rows[key]
            executed = inputs.get(f"funds.{key}.executed")
            rate = rules.funds_rate(executed, budget.annual)
            rows[key] = {"initial": budget.initial, "annual": budget.annual, "executed": executed,
                         "forecast": inputs.get(f"funds.{key}.forecast"), "rate": rate,
                         "warning": rules.funds_warning(rate, month)}
        total = {}
        for part in ("executed", "forecast"):
            known = [rows[key][part] for key in k.fund_rows if rows[key][part] is not None]
            total[part] = sum(known) if known else None
        rate = rules.funds_rate(total["executed"], p.funds.total.annual)
        rows["total"] = {"initial": p.funds.total.initial, "annual": p.funds.total.annual, **total, "rate": rate,
                         "warning": rules.funds_warning(rate, month)}
        record.funds = {"weight": None, "rows": rows, "rate": rate, "score": None}
        for key, row in rows.items():   # by name, for export and the summary
            for part in ("forecast", "rate", "warning"):
                record.extra[f"funds.{key}.{part}"] = row[part]


class MonitorGoal(Goal, Monitored):
    """年度总体目标: 全年预期目标 (the definition's) | 1-X月目标实际完成情况 (typed). Placed and drawn with the
    month's words; checked, filled and carried as the shared goal."""
    name = "monitor_goal"

    def place(self, lay, row):
        lay.rows.update(goal_header=row, goal=row + 1)
        self.middle = lay.col["forecast"]
        self.put(lay, "goal.expected", row + 1, 1, "fixed", last=self.middle)
        self.put(lay, "goal.actual", row + 1, self.middle + 1, "input", "text", "XF_GOAL_ACTUAL",
                 self.kind.limit("goal_actual"), words(self.kind, "actual", month_of(lay.project), False),
                 last=lay.last_col)
        return row + 2

    def draw(self, pen):
        k, f, rows, middle, last = self.kind, pen.fmt, pen.lay.rows, self.middle, pen.last
        month = month_of(pen.p)
        pen.text(rows["goal_header"], 0, k.heading("goal"), f["label"], rows["goal"], 0)
        pen.text(rows["goal_header"], 1, k.heading("expected"), f["label"], rows["goal_header"], middle)
        pen.text(rows["goal_header"], middle + 1, words(k, "actual", month), f["label"], rows["goal_header"], last)
        pen.text(rows["goal"], 1, pen.p.goal, f["text"], rows["goal"], middle)
        pen.text_input("goal.actual")


class MonitorIndicators(Monitored):
    """绩效指标: 一级 | 二级 | 三级指标 | 年度指标值 | 1-X月执行情况 | 全年预计完成情况 | 偏差原因分析 (five tick
    columns and 原因说明) | 完成目标可能性 (three tick columns, exactly one) | 备注 | 预警, under a two-row header."""
    name = "monitor_indicators"

    def place(self, lay, row):
        col, kind = lay.col, self.kind
        lay.rows.update(indicator_header=row, indicator_subheader=row + 1, first_indicator=row + 2,
                        end_indicators=row + 1 + len(lay.project.indicators))
        for i, ind in enumerate(lay.project.indicators):
            r, key, n = row + 2 + i, f"indicators.{i}", f"XF_I{i + 1:03d}"
            for part in ("level1", "level2", "name", "target"):
                self.put(lay, f"{key}.{part}", r, col[part], "fixed")
            typed = value_type(ind)
            limits = {"progress": kind.limit("progress"), "forecast": kind.limit("forecast")}
            for part in ("progress", "forecast"):
                self.put(lay, f"{key}.{part}", r, col[part], "input", typed, f"{n}_{part.upper()}",
                         limits[part] if typed == "text" else 0, ind.name)
            for part in (*CAUSES, *LIKELIHOOD):
                self.put(lay, f"{key}.{part}", r, col[part], "input", "tick", f"{n}_{part.upper()}",
                         label=ind.name)
            self.put(lay, f"{key}.explanation", r, col["explanation"], "input", "text", f"{n}_EXPLANATION",
                     kind.limit("explanation"), kind.label("explanation"))
            self.put(lay, f"{key}.remark", r, col["remark"], "input", "text", f"{n}_REMARK", kind.limit("remark"),
                     kind.label("remark"))
            self.put(lay, f"{key}.warning", r, col["warning"], "formula", "text")
        return row + 2 + len(lay.project.indicators)

    def draw(self, pen):
        k, f, lay, p, col = self.kind, pen.fmt, pen.lay, pen.p, pen.lay.col
        month = month_of(p)
        header, sub = lay.rows["indicator_header"], lay.rows["indicator_subheader"]
        pen.repeat_row = (header, sub)   # both rows of the header atop every page (LibreOffice breaks itself)
        pen.text(header, 0, k.heading("indicators"), f["label"], lay.rows["end_indicators"], 0)
        for key in ("level1", "level2", "name", "target", "progress", "forecast", "remark", "warning"):
            pen.text(header, col[key], words(k, key, month), f["label"], sub, col[key])
        pen.text(header, col[CAUSES[0]], k.heading("causes"), f["label"], header, col["explanation"])
        pen.text(header, col[LIKELIHOOD[0]], k.heading("likelihood"), f["label"], header, col[LIKELIHOOD[-1]])
        for key in (*CAUSES, "explanation", *LIKELIHOOD):
            pen.text(sub, col[key], k.heading(key), f["label"])
        pen.heights[sub] = pen.line_height(3, k.spec["fonts"]["size"])
        for level in ("level1", "level2"):
            for first, last, text in lay.groups(level):
                pen.text(first, col[level], text, group_label(pen), last, col[level])
        for i, ind in enumerate(p.indicators):
            self.draw_row(pen, i, ind, month)

    def draw_row(self, pen, i, ind, month):
        k, f, lay, col = self.kind, pen.fmt, pen.lay, pen.lay.col
        key, row = f"indicators.{i}", lay.row_of(i)
        cell = {part: lay.cell(f"{key}.{part}") for part in
                ("progress", "forecast", *CAUSES, "explanation", *LIKELIHOOD, "remark", "warning")}
        pen.auto_rows.add(row)
        pen.text(row, col["name"], ind.name, f["text"])
        pen.text(row, col["target"], ind.target.text, f["label"])
        typed = lay.fields[f"{key}.progress"].type
        values = dict(target=pen.clip(ind.target.text, 60), unit=ind.target.unit, month=month)
        for part in ("progress", "forecast"):
            value = pen.inputs.get(f"{key}.{part}")
            if typed == "text":
                pen.text(row, col[part], value or "", f["in_text"])
                limit = lay.fields[f"{key}.{part}"].limit
                pen.validate(cell[part], "monitor_text", {"validate": "length", "criteria": "<=", "value": limit},
                             label=words(k, part, month, False), limit=limit, **values)
            else:
                pen.input_number(cell[part], value, f["in_percent"] if typed == "percent" else f["in_number"])
                prompt = f"monitor_{part}" + ("_percent" if typed == "percent" else "")
                pen.validate(cell[part], prompt, {"validate": "decimal", "criteria": ">=", "value": 0}, **values)
            pen.name(f"{key}.{part}")
        tick = pen.format("monitor_tick", align="center", valign="vcenter", border=1, locked=False)
        for part in (*CAUSES, *LIKELIHOOD):
            pen.text(row, col[part], pen.inputs.get(f"{key}.{part}") or "", tick)
            hint = "存在此项偏差原因的，" if part in CAUSES else "预计能完成的程度，三项选一，"
            pen.validate(cell[part], "monitor_tick", {"validate": "list", "source": [TICK]},
                         label=k.label(part), hint=hint)
            pen.name(f"{key}.{part}")
        for part in ("explanation", "remark"):
            pen.text(row, col[part], pen.inputs.get(f"{key}.{part}") or "", f["in_text"])
            limit = lay.fields[f"{key}.{part}"].limit
            pen.validate(cell[part], "text", {"validate": "length", "criteria": "<=", "value": limit},
                         label=k.label(part), limit=limit)
            pen.name(f"{key}.{part}")
        # the cached colour, and the highlights of what the rules ask for while it is missing
        x = pen.inputs.get(f"{key}.progress")
        formula = rules.indicator_warning_formula(cell["progress"], ind.target, month) if typed != "text" else None
        colour = rules.indicator_warning(x, ind.target, month) if formula else None
        pen.formula(cell["warning"], formula or '""', colour, f["label"])
        colours(pen, cell["warning"])
        a = {part: absolute(c) for part, c in cell.items()}
        causes = f"{a[CAUSES[0]]}:{a[CAUSES[-1]]}"
        likely = f"{a[LIKELIHOOD[0]]}:{a[LIKELIHOOD[-1]]}"
        at_risk = f'OR({a["likely"]}="{TICK}",{a["unlikely"]}="{TICK}")'
        pen.warn(cell["progress"], f"=ISBLANK({a['progress']})")
        pen.warn(f"{cell[CAUSES[0]]}:{cell[CAUSES[-1]]}",
                 f'=AND(COUNTIF({causes},"{TICK}")=0,OR({a["warning"]}="{rules.RED}",'
                 f'{a["warning"]}="{rules.YELLOW}",{at_risk}))')
        pen.warn(cell["explanation"], f'=AND(ISBLANK({a["explanation"]}),COUNTIF({causes},"{TICK}")>0)')
        pen.warn(f"{cell[LIKELIHOOD[0]]}:{cell[LIKELIHOOD[-1]]}", f'=COUNTIF({likely},"{TICK}")<>1')
        pen.warn(cell["forecast"], f'=AND(ISBLANK({a["forecast"]}),{at_risk})')

    def read(self, reader, inputs):
        reader.read_fields(self.name, inputs, types=("text", "number", "percent"))
        for key in own_inputs(reader.lay, self.name):
            fld = reader.lay.fields[key]
            if fld.type != "tick":
                continue
            text = reader.value(fld.cell)
            text = text.strip() if isinstance(text, str) else text
            if text in (None, ""):
                inputs[key] = None
            elif text in (TICK, "✓", "✔"):
                inputs[key] = TICK
            else:
                reader.add("monitor_not_a_tick", fld.cell, value=reader.show(text))
                reader.invalid.add(key)
                inputs[key] = None

    def check(self, reader, inputs, result):
        lay, month = reader.lay, month_of(reader.project)
        for i, ind in enumerate(reader.project.indicators):
            key = f"indicators.{i}"
            cell = {part: lay.cell(f"{key}.{part}") for part in
                    ("progress", "forecast", CAUSES[0], "explanation", LIKELIHOOD[0])}
            x = inputs.get(f"{key}.progress")
            if x is None and f"{key}.progress" not in reader.invalid:
                reader.add("monitor_blank_progress", cell["progress"], name=ind.name, month=month)
            elif isinstance(x, float) and x < 0:
                reader.add("negative", cell["progress"], what=words(self.kind, "progress", month, False),
                           value=f"{x:g}")
            causes = [part for part in CAUSES if inputs.get(f"{key}.{part}")]
            chosen = [part for part in LIKELIHOOD if inputs.get(f"{key}.{part}")]
            colour = self.colour(ind, x, month)
            cached(reader, lay.cell(f"{key}.warning"), colour)
            if colour in (rules.RED, rules.YELLOW) and not causes:
                ratio = rules.indicator_ratio(x, ind.target, month)
                shown = "超过年度指标值" if ratio is None else f"{ratio:.2%}"
                reader.add("monitor_cause_missing", cell[CAUSES[0]], name=ind.name, colour=colour, ratio=shown)
            if causes and not inputs.get(f"{key}.explanation"):
                reader.add("monitor_explanation_missing", cell["explanation"], name=ind.name)
            if len(chosen) != 1 and not any(f"{key}.{part}" in reader.invalid for part in LIKELIHOOD):
                reader.add("monitor_likelihood", cell[LIKELIHOOD[0]], name=ind.name, count=len(chosen))
            for part in chosen:
                if part not in AT_RISK:
                    continue
                likelihood = self.kind.label(part)
                if inputs.get(f"{key}.forecast") is None and f"{key}.forecast" not in reader.invalid:
                    reader.add("monitor_forecast_missing", cell["forecast"], name=ind.name, likelihood=likelihood)
                if not causes and colour not in (rules.RED, rules.YELLOW):   # (said above for a red or yellow row)
                    reader.add("monitor_cause_for_risk", cell[CAUSES[0]], name=ind.name, likelihood=likelihood)

    def values(self, record, lay):
        """What a return said, row by row (matched by indicator id; a value of another type than the new row
        takes, a target turned qualitative, is left out)."""
        by_id = {i.id: i for i in record.indicators}
        words = {self.kind.label(part): part for part in LIKELIHOOD}
        out = {}
        for j, ind in enumerate(lay.project.indicators):
            was = by_id.get(ind.id)
            if was is None:
                continue
            key, text = f"indicators.{j}", lay.fields[f"indicators.{j}.progress"].type == "text"
            for part, value in (("progress", was.actual), ("forecast", was.extra.get("forecast"))):
                if value is not None and isinstance(value, str) == text:
                    out[f"{key}.{part}"] = value
            for part in CAUSES:
                out[f"{key}.{part}"] = was.extra.get(part)
            for word in (was.extra.get("likelihood") or "").split("、"):
                if word in words:
                    out[f"{key}.{words[word]}"] = TICK
            out[f"{key}.explanation"] = was.deviation_reason
            out[f"{key}.remark"] = was.extra.get("remark")
        return out

    def what(self, lay, key):
        _, j, part = key.split(".")
        return f"{lay.project.indicators[int(j)].name}·{words(self.kind, part, month_of(lay.project), False)}"

    @staticmethod
    def colour(ind, x, month):
        return rules.indicator_warning(x, ind.target, month) if isinstance(x, float) else None

    def fill(self, reader, inputs, result):
        month = month_of(reader.project)
        out = []
        for i, ind in enumerate(reader.project.indicators):
            key = f"indicators.{i}"
            x = inputs.get(f"{key}.progress")
            chosen = [self.kind.label(part) for part in LIKELIHOOD if inputs.get(f"{key}.{part}")]
            extra = {"forecast": inputs.get(f"{key}.forecast"),
                     **{part: inputs.get(f"{key}.{part}") for part in CAUSES},
                     "likelihood": "、".join(chosen) or None, "remark": inputs.get(f"{key}.remark"),
                     "warning": self.colour(ind, x, month),
                     "ratio": rules.indicator_ratio(x, ind.target, month) if isinstance(x, float) else None}
            out.append(IndicatorRecord(ind.id, ind.level1, ind.level2, ind.name, ind.target.text, x, ind.weight,
                                       None, inputs.get(f"{key}.explanation"), extra))
        reader.record.indicators = out


class MonitorNote(Monitored):
    """说明: how to tick, as the official form has it, across the foot; it closes the indicator table."""
    name = "monitor_note"

    def place(self, lay, row):
        lay.rows["note"] = row
        self.put(lay, "note", row, 0, "fixed", last=lay.last_col)
        return row + 1

    def draw(self, pen):
        row, text = pen.lay.rows["note"], words(self.kind, "note", month_of(pen.p))
        pen.text(row, 0, text, pen.fmt["text"], row, pen.last)
        pen.fit(row, text, sum(pen.widths) * 0.9, at_least=text.count("\n") + 2)   # room for a wide glyph or two

    def read(self, reader, inputs):
        pass

    def fill(self, reader, inputs, result):
        pass


def value_type(ind) -> str:
    """What 1-X月执行情况 and 全年预计完成情况 take: a number, a percent, or (qualitative) a text."""
    if ind.target.qualitative:
        return "text"
    return "percent" if ind.target.percent else "number"


SECTIONS = {s.name: s for s in (MonitorFunds, MonitorGoal, MonitorIndicators, MonitorNote)}
