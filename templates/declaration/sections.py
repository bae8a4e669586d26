"""The 绩效目标申报表's own sections (form kind `declaration`): 项目属性, the 资金情况 block, 年度绩效目标 and
the indicator table the department fills. The header is the shared one (xlform/kinds/sections.py).

What the department declares is read back and checked by xlform/returns/declaration.py `read_declared`,
which `xlform import` uses too (without a registry, through the hidden sheet's cell map).
"""
from __future__ import annotations

from xlform.kinds.schema import Keys, ListOf, Number, Text
from xlform.kinds.sections import Section
from xlform.returns.declaration import read_declared


class Declared(Section):
    """A part of the declaration: read and checked as a whole by read_declared, not field by field."""

    def read(self, reader, inputs):
        pass

    def fill(self, reader, inputs, result):
        pass

    def values(self, record, lay):
        return {}


class Attributes(Declared):
    """项目属性 (新增/延续): a list input beside its label."""
    name = "attributes"
    keys = {"attributes": ListOf(Text(100), least=1)}
    needs = ("attributes",)

    def place(self, lay, row):
        lay.rows["attributes"] = row
        self.put(lay, "attribute", row, 2, "input", "list", "XF_ATTRIBUTE", label=self.kind.label("attribute"),
                 last=lay.last_col)
        return row + 1

    def draw(self, pen):
        k, f, row = self.kind, pen.fmt, pen.lay.rows["attributes"]
        pen.text(row, 0, k.heading("attribute"), f["label"], row, 1)
        cell = pen.lay.cell("attribute")
        pen.text(row, 2, pen.inputs.get("attribute") or "", f["in_text"], row, pen.last)
        pen.validate(cell, "attribute", {"validate": "list", "source": list(k.spec["attributes"])})
        pen.name("attribute")


class DeclaredFunds(Declared):
    """资金情况（万元）: 年度资金总额 and the kind's fund rows, each with its 年初预算数 (locked)."""
    name = "declared_funds"

    def place(self, lay, row):
        lay.rows["funds_header"] = row
        for n, row_key in enumerate(("total",) + self.kind.fund_rows):
            lay.rows[f"funds.{row_key}"] = row + 1 + n
            self.put(lay, f"funds.{row_key}.initial", row + 1 + n, lay.col["target"], "fixed", "amount")
        return row + 2 + len(self.kind.fund_rows)

    def draw(self, pen):
        k, f, lay = self.kind, pen.fmt, pen.lay
        header, col = lay.rows["funds_header"], lay.col["target"]
        pen.text(header, 0, k.heading("funds"), f["label"], lay.rows[f"funds.{k.fund_rows[-1]}"], 0)
        pen.text(header, 1, "", f["label"], header, col - 1)
        pen.text(header, col, k.heading("initial"), f["label"])
        pen.text(header, col + 1, "", f["label"], header, pen.last)
        for row_key in ("total",) + k.fund_rows:
            r = lay.rows[f"funds.{row_key}"]
            pen.text(r, 1, k.heading(row_key), f["label"], r, col - 1)
            budget = pen.p.funds.total if row_key == "total" else pen.p.funds.rows[row_key]
            # a row the definition leaves without money prints blank, not 0
            pen.input_number(lay.cell(f"funds.{row_key}.initial"), budget.initial or None, f["amount"])
            pen.text(r, col + 1, "", f["label"], r, pen.last)


class DeclaredGoal(Declared):
    """年度绩效目标: an input, or the definition's goal (locked) where the bureau gave one."""
    name = "declared_goal"

    def place(self, lay, row):
        lay.rows["goal"] = row
        if lay.project.goal:
            self.put(lay, "goal.expected", row, 1, "fixed", last=lay.last_col)
        else:
            self.put(lay, "goal.expected", row, 1, "input", "text", "XF_GOAL", self.kind.limit("goal"),
                     self.kind.label("goal"), last=lay.last_col)
        return row + 1

    def draw(self, pen):
        k, f, row = self.kind, pen.fmt, pen.lay.rows["goal"]
        pen.text(row, 0, k.heading("goal"), f["label"])
        if pen.lay.fields["goal.expected"].role == "fixed":
            pen.text(row, 1, pen.p.goal, f["text"], row, pen.last)
        else:
            pen.text_input("goal.expected", "goal")
        pen.heights[row] = max(pen.heights.get(row, 0), 4 * k.spec["fonts"]["size"] * 1.4 + 5)


def declared_rows(project, kind) -> list[tuple[str, str, object]]:
    """The rows of a declaration's indicator table, in order: each 二级指标 of the kind's national set with
    its known indicators, then its blank rows (blank_rows: n, or {二级指标: n, default: n}; 0 and no known
    indicator leaves the 二级指标 out); known indicators under another 二级 or 一级 follow their 一级."""
    counts = project.extra.get("blank_rows", kind.spec.get("blank_rows", 3))
    counts = counts if isinstance(counts, dict) else {"default": counts}
    default = counts.get("default", kind.spec.get("blank_rows", 3))
    groups: dict[str, dict[str, list]] = {l1: {l2: [] for l2 in l2s} for l1, l2s in kind.spec["levels"].items()}
    for ind in project.indicators:
        groups.setdefault(ind.level1, {}).setdefault(ind.level2, []).append(ind)
    rows = []
    for level1, level2s in groups.items():
        for level2, known in level2s.items():
            rows += [(level1, level2, ind) for ind in known]
            rows += [(level1, level2, None)] * counts.get(level2, default)
    return rows


class DeclaredIndicators(Declared):
    """The indicator table to fill: 一级 | 二级 | 三级指标 | 指标值 | 分值 | 备注, known rows locked, blank rows
    unlocked; then the 预算执行率 row (its 分值) and the 分值合计 (a formula). Reading it back reads the whole
    declaration (read_declared)."""
    name = "declared_indicators"
    keys = {"levels": Keys(rest=ListOf(Text(100), least=1)), "blank_rows": Number(0, 50, whole=True)}
    needs = ("levels",)

    def place(self, lay, row):
        col, kind = lay.col, self.kind
        lay.rows.update(indicator_header=row, first_indicator=row + 1)
        lay.declared = declared_rows(lay.project, kind)
        first: dict[tuple, int] = {}
        for n, (level1, level2, ind) in enumerate(lay.declared):
            r, key, name = row + 1 + n, f"declared.{n}", f"XF_D{n + 1:03d}"
            first.setdefault((level1,), r)
            first.setdefault((level1, level2), r)
            self.put(lay, f"{key}.level1", first[(level1,)], col["level1"], "fixed")
            self.put(lay, f"{key}.level2", first[(level1, level2)], col["level2"], "fixed")
            for part, type_of in (("name", "text"), ("target", "text"), ("weight", "number")):
                if ind is not None:
                    self.put(lay, f"{key}.{part}", r, col[part], "fixed", type_of)
                else:
                    self.put(lay, f"{key}.{part}", r, col[part], "input", type_of, f"{name}_{part.upper()}",
                             kind.limit(part) if type_of == "text" else 0, kind.label(part))
            self.put(lay, f"{key}.remark", r, col["remark"], "input", "text", f"{name}_REMARK", kind.limit("remark"),
                     kind.label("remark"))
        end = row + 1 + len(lay.declared)
        lay.rows.update(rate_row=end, weight_total=end + 1)
        self.put(lay, "funds.weight", end, col["weight"], "fixed", "number")
        self.put(lay, "declared.total", end + 1, col["weight"], "formula", "number")
        return end + 2

    def draw(self, pen):
        k, f, lay, col = self.kind, pen.fmt, pen.lay, pen.lay.col
        header, first = lay.rows["indicator_header"], lay.rows["first_indicator"]
        rate_row, total_row = lay.rows["rate_row"], lay.rows["weight_total"]
        pen.repeat_row = header   # later pages start with the table's header
        for key in ("level1", "level2", "name", "target", "weight", "remark"):
            pen.text(header, col[key], k.heading(key), f["label"])
        split = {key: f"{v:g}" for key, v in lay.profile.weights.items()}
        shares = dict(output=split.get("产出指标", ""), benefit=split.get("效益指标", ""),
                      satisfaction=split.get("满意度指标", ""), funds=split.get("funds", ""))
        # a text cell: =100% typed as a 指标值 stays text in Excel
        literal = pen.format("in_literal", valign="vcenter", text_wrap=True, border=1, locked=False,
                             num_format="@")
        for n, (level1, level2, ind) in enumerate(lay.declared):
            key, row = f"declared.{n}", first + n
            if ind is not None:
                pen.text(row, col["name"], ind.name, f["text"])
                pen.text(row, col["target"], ind.target.text, f["label"])
                pen.number(lay.cell(f"{key}.weight"), ind.weight, f["number"])
            else:
                for part in ("name", "target"):
                    fld = lay.fields[f"{key}.{part}"]
                    pen.text(row, col[part], pen.inputs.get(f"{key}.{part}") or "",
                             literal if part == "target" else f["in_text"])
                    pen.validate(fld.cell, part, {"validate": "length", "criteria": "<=", "value": fld.limit},
                                 limit=fld.limit, level1=level1, level2=level2)
                    pen.name(f"{key}.{part}")
                cell = lay.cell(f"{key}.weight")
                pen.input_number(cell, pen.inputs.get(f"{key}.weight"), f["in_number"])
                pen.validate(cell, "weight", {"validate": "decimal", "criteria": ">", "value": 0}, **shares)
                pen.name(f"{key}.weight")
            pen.extra_input(f"{key}.remark", k.extra_inputs[0].input)
            pen.auto_rows.add(row)   # single cells: every client grows the row to what is typed
        pen.text(rate_row, 1, k.heading("rate_row"), f["label"], rate_row, col["weight"] - 1)
        pen.number(lay.cell("funds.weight"), pen.p.funds.weight, f["number"])
        pen.text(rate_row, col["weight"] + 1, "", f["label"], rate_row, pen.last)
        pen.text(total_row, 1, k.label("weight_total"), f["label"], total_row, col["weight"] - 1)
        weights = [ind.weight for _, _, ind in lay.declared if ind is not None] + \
            [pen.inputs.get(f"declared.{n}.weight") for n, (_, _, ind) in enumerate(lay.declared) if ind is None]
        span = f"{lay.cell('funds.weight')}" + (f",{lay.cell('declared.0.weight')}:"
                                                f"{lay.cell(f'declared.{len(lay.declared) - 1}.weight')}"
                                                if lay.declared else "")
        total = pen.p.funds.weight + sum(w for w in weights if isinstance(w, (int, float)))
        pen.formula(lay.cell("declared.total"), f"SUM({span})", total, f["number"])
        pen.text(total_row, col["weight"] + 1, "", f["label"], total_row, pen.last)

    def finish(self, pen):
        """绩效指标 and the merged 一级/二级 labels, drawn once every row's height is known: page breaks fall
        between 二级 groups where they can, and each part of a group split over two pages has its labels."""
        k, f, lay, col = self.kind, pen.fmt, pen.lay, pen.lay.col
        header, first, total_row = lay.rows["indicator_header"], lay.rows["first_indicator"], lay.rows["weight_total"]
        runs = {level: self.runs(lay, part, first) for level, part in (("level1", 0), ("level2", 1))}
        for level in runs:   # a one-row group is a plain wrapped cell: its row must hold it
            for group, a, b in runs[level]:
                if a == b:
                    pen.fit(a, group[-1], pen.widths[col[level]])
        size = k.spec["fonts"]["size"]
        heights = [pen.heights.get(r, pen.line_height(1, size)) for r in range(total_row + 1)]
        pen.plan = pen.plan_pages(heights, first, [(a, b) for _, a, b in runs["level2"]], heights[header])
        cuts = sorted(pen.plan.breaks)

        def parts(a, b):
            starts = [a] + [r for r in cuts if a < r <= b]
            return zip(starts, starts[1:] + [b + 1])
        for a, b in parts(header, total_row):
            pen.text(a, 0, k.heading("indicators"), f["label"], b - 1, 0)
        for level in runs:
            for group, a, b in runs[level]:
                for x, y in parts(a, b):
                    pen.text(x, col[level], group[-1], f["label"], y - 1, col[level])

    @staticmethod
    def runs(lay, part: int, first: int) -> list[list]:
        """[(一级,) or (一级, 二级), first row, last row] of the declared rows' groups."""
        out: list[list] = []
        for n, row in enumerate(lay.declared):
            group = row[:part + 1]
            if out and out[-1][0] == group:
                out[-1][2] = first + n
            else:
                out.append([group, first + n, first + n])
        return out

    def fill(self, reader, inputs, result):
        """The whole declaration, read and checked (the shared header's project fields give way to it)."""
        read_declared(reader.cell, reader.lay.cell_map(), self.kind, reader.lay.profile, reader.at, reader.record,
                      reader.project.year)


SECTIONS = {s.name: s for s in (Attributes, DeclaredFunds, DeclaredGoal, DeclaredIndicators)}
