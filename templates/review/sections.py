"""The 复核 worksheet's own sections (form kind `review`): the funds as returned, the indicator table with the
return's values beside the reviewer's, and the totals with 偏离度 and its class. The header and the reviewer's
signature are the shared sections (xlform/kinds/sections.py).

A review project (xlform/review/worksheets.py) is the reviewed project with, under extra["review"], what the
department returned: {"of": {...}, "funds": {"rows": {row: {initial, annual, executed}}, "weight", "rate",
"score"}, "indicators": [{"actual", "score"}], "total"}. Those are fixed cells; every rule is in
xlform/scoring/review.py, formula and value from one definition.
"""
from __future__ import annotations

from xlform.kinds.sections import Header, Section, actual_type, draw_actual, prompt_values, typed_score
from xlform.scoring import review as rules

PARTS = ("actual", "typed", "reason", "note")   # the reviewer's inputs of an indicator: review.{i}.{part}


def returned(project) -> dict:
    return project.extra["review"]


def computed(lay, inputs: dict) -> dict:
    """Every formula cell's value from the reviewer's inputs, by the 复核 rules: review.{i}.score,
    review.{i}.deviation, review_total, review_deviation, review_class."""
    p, profile = lay.project, lay.profile
    back = returned(p)
    out, scores = {}, []
    for i, (ind, rule) in enumerate(zip(p.indicators, lay.rules())):
        key, got = f"review.{i}", back["indicators"][i]
        r = rules.score(rule, inputs.get(f"{key}.actual"), inputs.get(f"{key}.typed"), inputs.get(f"{key}.reason"),
                        got["score"], ind.weight, profile)
        out[f"{key}.score"] = r
        out[f"{key}.deviation"] = rules.deviation(got["score"], r)
        scores.append(r)
    funds = back["funds"]
    total = rules.total_score([funds.get("score")] + scores, funds.get("rate"), profile)
    out["review_total"] = total
    out["review_deviation"] = d = rules.deviation(back["total"], total)
    out["review_class"] = rules.deviation_class(d, profile)
    return out


class ReviewHeader(Header):
    """The shared header; the record's project is the reviewed one's, without the returned values."""

    def fill(self, reader, inputs, result):
        p = reader.project
        reader.record.project = {"name": p.project, "department": p.department, "implementer": p.implementer,
                                 "year": p.year}


class ReturnedFunds(Section):
    """项目资金 as returned: 年初预算数 | 全年预算数 | 全年执行数 | 分值 | 执行率 | 得分, every cell locked."""
    name = "returned_funds"
    PARTS = ("initial", "annual", "executed", "weight", "rate", "score")

    def place(self, lay, row):
        rows = ["total"] + [r for r in returned(lay.project)["funds"]["rows"] if r != "total"]
        lay.funds_col = fc = {c: lay.ncols - len(self.PARTS) + i for i, c in enumerate(self.PARTS)}
        lay.rows["funds_header"] = row
        for n, key in enumerate(rows):
            lay.rows[f"funds.{key}"] = row + 1 + n
            for part in ("initial", "annual", "executed"):
                self.put(lay, f"funds.{key}.{part}", row + 1 + n, fc[part], "fixed", "amount")
        for part in ("weight", "rate", "score"):
            self.put(lay, f"funds.{part}", row + 1, fc[part], "fixed", "percent" if part == "rate" else "number")
        return row + 1 + len(rows)

    def draw(self, pen):
        k, f, lay = self.kind, pen.fmt, pen.lay
        funds, fc = returned(pen.p)["funds"], lay.funds_col
        header, first = lay.rows["funds_header"], min(fc.values())
        keys = [key.removeprefix("funds.") for key in lay.rows if key.startswith("funds.") and key != "funds_header"]
        last_row = lay.rows[f"funds.{keys[-1]}"]
        pen.text(header, 0, k.heading("funds"), f["label"], last_row, 0)
        pen.text(header, 1, "", f["label"], header, first - 1)
        for part, c in fc.items():
            pen.text(header, c, k.heading(part), f["label"])
        for key in keys:
            r, row = lay.rows[f"funds.{key}"], funds["rows"].get(key, {})
            pen.text(r, 1, k.spec["labels"].get(key, key), f["label"], r, first - 1)
            for part in ("initial", "annual", "executed"):
                pen.input_number(lay.cell(f"funds.{key}.{part}"), row.get(part), f["amount"])
            if key != "total":
                for part in ("weight", "rate", "score"):
                    pen.text(r, fc[part], k.label("dash"), f["label"])
        pen.input_number(lay.cell("funds.weight"), funds.get("weight"), f["number"])
        pen.input_number(lay.cell("funds.rate"), funds.get("rate"), f["rate"])
        pen.input_number(lay.cell("funds.score"), funds.get("score"), f["number"])

    def read(self, reader, inputs):
        pass

    def fill(self, reader, inputs, result):
        funds = returned(reader.project)["funds"]
        reader.record.funds = {"weight": funds.get("weight"), "rows": funds["rows"], "rate": funds.get("rate"),
                               "score": funds.get("score")}

    def values(self, record, lay):
        return {}


class ReviewIndicators(Section):
    """一级 | 二级 | 三级指标 | 年度指标值 | 分值 | 自评完成值 | 自评得分 (locked, as returned) | 复核完成值 |
    复核评分 | 扣分原因 | 复核得分 | 偏离度 | 说明."""
    name = "review_indicators"
    columns = ("review_actual", "review_typed", "review_reason", "review_score", "deviation", "note")
    messages = {
        "review_reason_unknown": ("error", "扣分原因“{value}”不在可选范围内，请从下拉列表选择：{reasons}。"),
        "review_note_missing": ("error", "“{name}”选择了扣分原因“{reason}”，请在说明栏写明复核依据。"),
        "review_typed_missing": ("error", "“{name}”的复核完成值改为“{tier}”，请填写复核评分（{range}）。"),
        "review_typed_tier": ("error", "“{name}”的复核评分 {score} 与完成情况“{tier}”不符：应在 {range} 之间。"),
    }

    def place(self, lay, row):
        col, profile = lay.col, lay.profile
        lay.rows.update(indicator_header=row, first_indicator=row + 1)
        for i, ind in enumerate(lay.project.indicators):
            r, key, n = row + 1 + i, f"indicators.{i}", f"XF_R{i + 1:03d}"
            for part in ("level1", "level2", "name", "target"):
                self.put(lay, f"{key}.{part}", r, col[part], "fixed")
            self.put(lay, f"{key}.weight", r, col["weight"], "fixed", "number")
            self.put(lay, f"{key}.actual", r, col["actual"], "fixed", actual_type(ind, profile))
            self.put(lay, f"{key}.score", r, col["score"], "fixed", "score")
            review = f"review.{i}"
            self.put(lay, f"{review}.actual", r, col["review_actual"], "input", actual_type(ind, profile),
                     f"{n}_ACTUAL", label=ind.name)
            if typed_score(ind, profile):
                self.put(lay, f"{review}.typed", r, col["review_typed"], "input", "score", f"{n}_TYPED",
                         label=ind.name)
            self.put(lay, f"{review}.reason", r, col["review_reason"], "input", "text", f"{n}_REASON", 20,
                     self.kind.label("review_reason"))
            self.put(lay, f"{review}.score", r, col["review_score"], "formula", "score")
            self.put(lay, f"{review}.deviation", r, col["deviation"], "formula", "percent")
            self.put(lay, f"{review}.note", r, col["note"], "input", "text", f"{n}_NOTE", self.kind.limit("review_note"),
                     self.kind.label("note"))
        return row + 1 + len(lay.project.indicators)

    def draw(self, pen):
        k, f, lay, p, col = self.kind, pen.fmt, pen.lay, pen.p, pen.lay.col
        header = lay.rows["indicator_header"]
        pen.repeat_row = header   # later pages start with the table's header
        last = header + len(p.indicators)
        pen.text(header, 0, k.heading("indicators"), f["label"], last, 0)
        for key in ("level1", "level2", "name", "target", "weight", "actual", "score", *self.columns):
            pen.text(header, col[key], k.heading(key), f["label"])
        back, values = returned(p), computed(lay, pen.inputs)
        reasons = rules.reasons(lay.profile)
        for i, (ind, rule) in enumerate(zip(p.indicators, lay.rules())):
            key, review, row, got = f"indicators.{i}", f"review.{i}", lay.row_of(i), back["indicators"][i]
            pen.auto_rows.add(row)   # single cells: every client fits the row to a typed 说明
            pen.text(row, col["name"], ind.name, f["text"])
            pen.text(row, col["target"], ind.target.text, f["label"])
            pen.number(lay.cell(f"{key}.weight"), ind.weight, f["number"])
            type_of = lay.fields[f"{key}.actual"].type
            shown = f["rate"] if type_of in ("percent", "qualitative") else f["number"]
            if isinstance(got["actual"], str):
                pen.text(row, col["actual"], got["actual"], f["label"])
            else:
                pen.input_number(lay.cell(f"{key}.actual"), got["actual"], shown)
            pen.input_number(lay.cell(f"{key}.score"), got["score"], f["number"])
            self.draw_inputs(pen, i, ind, rule, reasons)
            y, q, r = (lay.cell(f"{review}.{part}") for part in ("actual", "reason", "score"))
            t = lay.cell(f"{review}.typed") if f"{review}.typed" in lay.fields else None
            s, w = lay.cell(f"{key}.score"), lay.cell(f"{key}.weight")
            pen.formula(r, rules.score_formula(rule, y, t, q, s, w, lay.profile), values[f"{review}.score"],
                        f["number"])   # General: 100, 22.5, 10.01 fit a narrow column
            pen.formula(lay.cell(f"{review}.deviation"), rules.deviation_formula(s, r),
                        values[f"{review}.deviation"], f["rate"])

    def draw_inputs(self, pen, i, ind, rule, reasons):
        k, f, lay, col, review = self.kind, pen.fmt, pen.lay, pen.lay.col, f"review.{i}"
        row = lay.row_of(i)
        y = lay.cell(f"{review}.actual")
        draw_actual(pen, f"{review}.actual", prompt_values(pen, ind))   # as the 自评表 asks for it
        if f"{review}.typed" in lay.fields:
            t = lay.cell(f"{review}.typed")
            pen.input_number(t, pen.inputs.get(f"{review}.typed"), f["in_number"])
            pen.validate(t, "review_typed", {"validate": "decimal", "criteria": "between", "minimum": 0,
                                             "maximum": ind.weight}, weight=f"{ind.weight:g}")
            tier = f'IF(ISBLANK({y}),{lay.cell(f"indicators.{i}.actual")},{y})'
            pen.warn(t, f"=AND(ISNUMBER({t}),NOT({rule.validation_formula(tier, lay.cell(f'indicators.{i}.weight'), t)}))")
            pen.name(f"{review}.typed")
        else:
            pen.text(row, col["review_typed"], k.label("dash"), f["label"])
        q = lay.cell(f"{review}.reason")
        pen.text(row, col["review_reason"], pen.inputs.get(f"{review}.reason") or "", f["in_text"])
        pen.validate(q, "review_reason", {"validate": "list", "source": reasons}, reasons="、".join(reasons))
        pen.name(f"{review}.reason")
        note = lay.fields[f"{review}.note"]
        pen.text(row, col["note"], pen.inputs.get(f"{review}.note") or "", f["in_text"])
        pen.validate(note.cell, "review_note", {"validate": "length", "criteria": "<=", "value": note.limit},
                     limit=note.limit)
        pen.warn(note.cell, f"=AND(ISBLANK({note.cell}),NOT(ISBLANK({q})))")
        pen.name(f"{review}.note")

    def finish(self, pen):
        """The merged 一级/二级 labels, once every row is known."""
        lay, col, f = pen.lay, pen.lay.col, pen.fmt
        for level in ("level1", "level2"):
            for first, last, text in lay.groups(level):
                pen.text(first, col[level], text, f["label"], last, col[level])
                if first == last:   # a one-row group is a plain wrapped cell: its row must hold it
                    pen.fit(first, text, pen.widths[col[level]])

    # -- reading back ---------------------------------------------------------------------------------
    def check(self, reader, inputs, result):
        lay, profile, back = reader.lay, reader.lay.profile, returned(reader.project)
        reasons = rules.reasons(profile)
        for i, (ind, rule) in enumerate(zip(reader.project.indicators, lay.rules())):
            review = f"review.{i}"
            y, q, note = (inputs.get(f"{review}.{part}") for part in ("actual", "reason", "note"))
            y_cell, type_of = lay.cell(f"{review}.actual"), lay.fields[f"{review}.actual"].type
            if isinstance(y, float) and type_of == "qualitative" and not 0 <= y <= 1:
                reader.add("percent_range", y_cell, value=f"{y * 100:g}%")
            elif isinstance(y, float) and y < 0:
                reader.add("negative", y_cell, what=self.kind.label("review_actual"), value=f"{y:g}")
            if q is not None and q not in reasons:
                reader.add("review_reason_unknown", lay.cell(f"{review}.reason"), value=q, reasons="、".join(reasons))
                inputs[f"{review}.reason"] = None
            elif q is not None and note is None:
                reader.add("review_note_missing", lay.cell(f"{review}.note"), name=ind.name, reason=q)
            if f"{review}.typed" in lay.fields:
                self.check_typed(reader, i, ind, rule, inputs, back["indicators"][i]["actual"])

    def check_typed(self, reader, i, ind, rule, inputs, returned_actual):
        lay, review = reader.lay, f"review.{i}"
        y, t = inputs.get(f"{review}.actual"), inputs.get(f"{review}.typed")
        cell = lay.cell(f"{review}.typed")
        tier = y if y is not None else returned_actual
        span = rule.score_range(tier, ind.weight)
        shown = "" if span is None else f"{span[0]:g} 至 {span[1]:g}" + ("" if span[2] else "（不含）")
        if t is None and y is not None and f"{review}.typed" not in reader.invalid:
            reader.add("review_typed_missing", cell, name=ind.name, tier=reader.show(y), range=shown)
        elif t is not None and not 0 <= t <= ind.weight:
            reader.add("score_out_of_range", cell, score=f"{t:g}", weight=f"{ind.weight:g}")
        elif t is not None and not rule.valid_score(tier, t, ind.weight):
            reader.add("review_typed_tier", cell, name=ind.name, score=f"{t:g}", tier=reader.show(tier), range=shown)

    def fill(self, reader, inputs, result):
        from xlform.storage.record import IndicatorRecord
        back, values = returned(reader.project), computed(reader.lay, inputs)
        out = []
        for i, ind in enumerate(reader.project.indicators):
            review, got = f"review.{i}", back["indicators"][i]
            out.append(IndicatorRecord(ind.id, ind.level1, ind.level2, ind.name, ind.target.text,
                                       inputs.get(f"{review}.actual"), ind.weight, values[f"{review}.score"],
                                       inputs.get(f"{review}.note"),
                                       {"self_actual": got["actual"], "self_score": got["score"],
                                        "reason": inputs.get(f"{review}.reason"),
                                        "typed": inputs.get(f"{review}.typed"),
                                        "deviation": values[f"{review}.deviation"]}))
        reader.record.indicators = out

    def values(self, record, lay):
        return {}


class ReviewTotal(Section):
    """总分: 分值合计, 自评总分 (as returned) | 复核总分 | 偏离度 | its class; then how the worksheet is filled."""
    name = "review_total"

    def place(self, lay, row):
        col = lay.col
        lay.rows.update(total=row, review_help=row + 1)
        self.put(lay, "total_weight", row, col["weight"], "fixed", "number")
        self.put(lay, "self_total", row, col["score"], "fixed", "score")
        self.put(lay, "review_total", row, col["review_score"], "formula", "score")
        self.put(lay, "review_deviation", row, col["deviation"], "formula", "percent")
        self.put(lay, "review_class", row, col["note"], "formula", "text")
        return row + 2

    def draw(self, pen):
        k, f, lay, p, col = self.kind, pen.fmt, pen.lay, pen.p, pen.lay.col
        row, back, values = lay.rows["total"], returned(pen.p), computed(pen.lay, pen.inputs)
        pen.text(row, 0, k.heading("total_score"), f["label"], row, col["weight"] - 1)
        pen.number(lay.cell("total_weight"), p.funds.weight + sum(i.weight for i in p.indicators), f["number"])
        pen.text(row, col["actual"], k.label("dash"), f["label"])
        pen.input_number(lay.cell("self_total"), back["total"], f["number"])
        pen.text(row, col["review_actual"], k.heading("review_total"), f["label"], row, col["review_score"] - 1)
        n = len(p.indicators)
        scores = f"{lay.cell('review.0.score')}:{lay.cell(f'review.{n - 1}.score')}" if n else ""
        cells = ",".join(c for c in (lay.cell("funds.score"), scores) if c)
        total = lay.cell("review_total")
        pen.formula(total, rules.total_formula(cells, lay.cell("funds.rate"), lay.profile), values["review_total"],
                    f["number"])
        d = lay.cell("review_deviation")
        pen.formula(d, rules.deviation_formula(lay.cell("self_total"), total), values["review_deviation"], f["rate"])
        pen.formula(lay.cell("review_class"), rules.class_formula(d, lay.profile), values["review_class"],
                    f["label"])
        help_row = lay.rows["review_help"]
        pen.text(help_row, 0, k.label("review_help"), f["text"], help_row, pen.last)
        pen.fit(help_row, k.label("review_help"), 0.85 * sum(pen.widths))   # a line to spare: wrapping is the client's

    def read(self, reader, inputs):
        pass

    def check(self, reader, inputs, result):
        """Cached values of the formula cells that disagree with the 复核 rules (stale, or an edited formula)."""
        values = computed(reader.lay, inputs)
        flagged = {p.where for p in reader.problems if p.code == "formula_changed"}
        for key, value in values.items():
            cell = reader.lay.cell(key)
            got = reader.cell(cell)
            if got.formula is None or got.value is None or reader.at(cell) in flagged:
                continue
            if isinstance(got.value, float) and isinstance(value, float) and abs(got.value - value) <= 1e-9:
                continue
            if got.value == value or (got.value == "" and value is None):
                continue
            reader.add("stale_value", cell, cached=reader.show(got.value), computed=reader.show(value))

    def fill(self, reader, inputs, result):
        values, back = computed(reader.lay, inputs), returned(reader.project)
        reader.record.total_score = values["review_total"]
        reader.record.extra.update({"review_of": back["of"], "self_total": back["total"],
                                    "deviation": values["review_deviation"], "class": values["review_class"]})

    def values(self, record, lay):
        return {}


SECTIONS = {"header": ReviewHeader, "returned_funds": ReturnedFunds, "review_indicators": ReviewIndicators,
            "review_total": ReviewTotal}
