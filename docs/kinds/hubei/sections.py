"""Hubei's own sections (form kind `hubei`): the funds grid with 全年执行数 split by source, and a footer of
inputs. Everything else is the national form's shared sections (xlform/kinds/sections.py)."""
from __future__ import annotations

import datetime as dt
import re

from xlform.kinds.schema import ListOf, Text
from xlform.kinds.sections import Funds, Section, own_inputs
from xlform.returns.values import read_text

EPOCH = dt.date(1899, 12, 30)   # day 0 of a spreadsheet's dates
FIRST, LAST = dt.date(2000, 1, 1), dt.date(2100, 12, 31)


class SplitFunds(Funds):
    """项目资金（万元）on one row, 年度资金总额: 年初预算数 | 全年预算数 | 全年执行数 (合计 | 财政拨款 | 其他资金)
    | 分值 | 执行率 | 得分. The fields are the shared section's (funds.fiscal.executed …), so its checks, its
    record fields and the scores are inherited unchanged."""

    def place(self, lay, row):
        kind = self.kind
        parts = ["initial", "annual", "executed", *kind.fund_rows, "weight", "rate", "score"]
        first = lay.ncols - len(parts)
        self.col = {part: first + i for i, part in enumerate(parts)}
        lay.funds_col = {k: self.col[k] for k in kind.funds_columns if k in self.col}
        lay.rows.update(funds_header=row, funds_sources=row + 1, **{"funds.total": row + 2})
        r, c = row + 2, self.col
        self.put(lay, "funds.total.initial", r, c["initial"], "fixed", "amount")
        self.put(lay, "funds.total.annual", r, c["annual"], "fixed", "amount")
        self.put(lay, "funds.total.executed", r, c["executed"], "formula", "amount")
        for key in kind.fund_rows:
            self.put(lay, f"funds.{key}.executed", r, c[key], "input", "amount", f"XF_FUND_{key.upper()}_EXECUTED",
                     label=kind.label(key))
        self.put(lay, "funds.weight", r, c["weight"], "fixed", "number")
        self.put(lay, "funds.rate", r, c["rate"], "formula", "percent")
        self.put(lay, "funds.score", r, c["score"], "formula", "score")
        return row + 3

    def draw(self, pen):
        k, f, lay, p, c = self.kind, pen.fmt, pen.lay, pen.p, self.col
        header, sources, r = lay.rows["funds_header"], lay.rows["funds_sources"], lay.rows["funds.total"]
        first = min(c.values())
        pen.text(header, 0, k.heading("funds"), f["label"], r, 0)
        pen.text(header, 1, "", f["label"], sources, first - 1)
        for part in ("initial", "annual", "weight", "rate", "score"):
            pen.text(header, c[part], k.heading(part), f["label"], sources, c[part])
        pen.text(header, c["executed"], k.heading("executed"), f["label"], header, c[k.fund_rows[-1]])
        pen.text(sources, c["executed"], k.heading("executed_total"), f["label"])
        pen.text(r, 1, k.heading("total"), f["label"], r, first - 1)
        for part in ("initial", "annual"):
            pen.input_number(lay.cell(f"funds.total.{part}"), getattr(p.funds.total, part) or None, f["amount"])
        for key in k.fund_rows:
            pen.text(sources, c[key], k.heading(key), f["label"])
            cell, annual = lay.cell(f"funds.{key}.executed"), p.funds.rows[key].annual
            pen.input_number(cell, pen.inputs.get(f"funds.{key}.executed"), f["in_amount"])
            pen.validate(cell, "executed", {"validate": "decimal", "criteria": ">=", "value": 0},
                         row=k.label(key), annual=f"{annual:g}")
            pen.warn(cell, f"=AND(ISNUMBER({cell}),{cell}>{annual:g})")
            pen.name(f"funds.{key}.executed")
        self.draw_formulas(pen)


class Footer(Section):
    """填表人 | 联系电话 | 填报日期 across the foot, each required; a date is read back as 2021-01-15."""
    name = "footer"
    keys = {"footer": ListOf(Text(name=True), least=1, most=4)}
    needs = ("footer",)
    messages = {"hubei_date": ("error", "{label}“{value}”不是有效日期，请填写如 2021-01-15 的日期。")}

    @classmethod
    def labelled(cls, spec):
        return [(("footer", i), key) for i, key in enumerate(spec["footer"])]

    def place(self, lay, row):
        lay.rows["footer"] = row
        keys = self.kind.spec["footer"]
        width = lay.ncols // len(keys)
        self.places = []
        for n, key in enumerate(keys):
            label, end = n * width, (lay.last_col if n == len(keys) - 1 else (n + 1) * width - 1)
            self.places.append((key, label))
            self.put(lay, key, row, label + 1, "input", "date" if key == "date" else "text",
                     f"XF_{key.upper()}", 0 if key == "date" else 30, self.kind.label(key), last=end)
        return row + 1

    def draw(self, pen):
        k, f, row = self.kind, pen.fmt, pen.lay.rows["footer"]
        for key, label in self.places:
            pen.text(row, label, k.heading(key), f["label"])
            fld = pen.lay.fields[key]
            if fld.type != "date":
                pen.text_input(key)
                continue
            r, c = pen.lay.rows["footer"], label + 1
            looks = pen.format("in_date", num_format="yyyy-mm-dd", align="center", valign="vcenter", border=1,
                               locked=False, bg_color="#FFF9E0")
            pen.merge(r, c, r, fld.last, looks)
            typed = parse_date(pen.inputs.get(key))
            pen.input_number(fld.cell, (typed - EPOCH).days if typed else None, looks)
            pen.validate(fld.cell, "date", {"validate": "date", "criteria": "between", "minimum": FIRST,
                                            "maximum": LAST})
            pen.name(key)

    def read(self, reader, inputs):
        reader.read_fields(self.name, inputs, types=("text",))
        for key in own_inputs(reader.lay, self.name):
            fld = reader.lay.fields[key]
            if fld.type == "date":
                raw = reader.value(fld.cell)
                day = parse_date(raw)
                if raw not in (None, "") and day is None:
                    reader.add("hubei_date", fld.cell, label=fld.label, value=reader.show(raw))
                    reader.invalid.add(key)
                inputs[key] = day.isoformat() if day else None

    def check(self, reader, inputs, result):
        for key in own_inputs(reader.lay, self.name):
            if inputs.get(key) is None and key not in reader.invalid:
                reader.add("blank_text", reader.lay.cell(key), label=reader.lay.fields[key].label)


def parse_date(value) -> dt.date | None:
    """A date as a spreadsheet keeps it (a day number) or as typed text (2021-01-15, 2021年1月15日)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        day = EPOCH + dt.timedelta(days=int(value)) if 0 < value < 200000 else None
    else:
        m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", read_text(value) or "")
        try:
            day = dt.date(*map(int, m.groups())) if m else None
        except ValueError:
            day = None
    return day if day and FIRST <= day <= LAST else None


SECTIONS = {"funds": SplitFunds, "footer": Footer}
