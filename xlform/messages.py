"""The catalogue of problems found in returned workbooks: code -> (severity, Chinese message with what to do).

These texts go back to the departments, so they are Chinese and say how to fix the problem: no English, no
Python value (problem() shows a missing value as （空）). `{detail}` is what xlform/xlsx/reader.py says went wrong, in
Chinese; problem() puts it in brackets, or leaves it out when there is none.
"""
from __future__ import annotations

from .errors import Problem

CATALOGUE: dict[str, tuple[str, str]] = {
    # the file itself
    "not_found": ("error", "文件不存在或无法打开。请确认文件已保存、可以打开后重新报送。"),
    "not_zip": ("error", "文件不是 Excel 工作簿（.xlsx），无法读取。请在下发的自评表模板中填写并保存为 .xlsx 后重新报送。"),
    "ole": ("error", "文件是加密的工作簿或旧版 .xls/.et 格式，无法读取。请取消打开密码，并用 Excel 或 WPS 另存为 .xlsx 后重新报送。"),
    "truncated": ("error", "文件已损坏或不完整，无法读取{detail}。请重新保存后报送。"),
    "not_xlsx": ("error", "文件不是有效的 .xlsx 工作簿{detail}。请在下发的自评表模板中填写后重新报送。"),
    "bad_xml": ("error", "工作簿内容已损坏，无法读取{detail}。请用 Excel 或 WPS 重新保存为 .xlsx 后报送。"),
    "hostile": ("error", "工作簿含有不允许的内容{detail}，已拒绝读取。请在下发的自评表模板中填写后重新报送。"),
    "too_large": ("error", "文件超出读取限制{detail}，已拒绝读取。请只报送下发的自评表。"),
    "internal": ("error", "读取此文件时出现意外错误，未能完成检查。请用 Excel 或 WPS 重新保存为 .xlsx 后重新报送；"
                 "如仍出现此提示，请联系下发单位。"),
    "save_as_xlsx": ("error", "文件是 {ext} 格式，无法读取。请用 Excel、WPS 或 LibreOffice 打开后另存为 .xlsx 再重新报送。"),
    "unsupported": ("error", "工作簿的保存方式无法识别{detail}。请用 Excel、WPS 或 LibreOffice 重新保存为 .xlsx 后报送。"),
    # identity of the form
    "not_xlform": ("error", "工作簿不是下发的自评表模板（缺少模板信息），无法识别。请使用下发的模板填写。"),
    "meta_missing": ("error", "隐藏的模板信息表已被删除；已按项目名称识别为模板 {template_id} 第 {version} 版。请使用下发的原模板填写。"),
    "cell_map_changed": ("error", "模板信息表中的单元格位置与下发的模板不一致，模板信息可能被修改。请使用下发的原模板填写。"),
    "unknown_template": ("error", "模板编号“{template_id}”不在下发记录中，请确认使用的是本年度下发的模板。"),
    "unknown_version": ("error", "模板 {template_id} 没有第 {version} 版的下发记录，请使用下发的模板。"),
    "hash_mismatch": ("error", "模板 {template_id} 第 {version} 版的校验值与下发记录不符，模板信息可能被修改。请使用下发的原模板填写。"),
    "outdated_version": ("warning", "填写的是模板 {template_id} 第 {version} 版，当前为第 {current} 版。如需按新版报送，请向下发单位索取新版模板。"),
    "meta_visible": ("warning", "隐藏的模板信息表“{sheet}”已被设为可见。请勿修改该表，将其重新隐藏，或在下发的原模板中填写。"),
    "sheet_missing": ("error", "找不到工作表“{sheet}”，可能已被删除或重命名。请使用下发的原模板填写。"),
    "sheet_renamed": ("error", "工作表“{sheet}”被重命名为“{actual}”。请勿修改工作表名称。"),
    "protection_removed": ("error", "工作表保护已被撤销。请使用下发的原模板填写，不要撤销工作表保护。"),
    # locked content
    "locked_changed": ("error", "锁定单元格被修改：应为“{expected}”，现为“{actual}”。请恢复原内容，只填写黄色单元格。"),
    "formula_changed": ("error", "公式被修改或替换：应为“={expected}”，现为“{actual}”。请使用下发的原模板填写。"),
    "structure_changed": ("error", "共有 {count} 个锁定单元格或公式与下发的模板不一致（以上只列出前 {listed} 个），"
                          "可能插入、删除或移动了行列。请在下发的原模板中重新填写，不要改动表格结构。"),
    "hidden_row": ("error", "第 {row} 行被隐藏。请取消隐藏，不要隐藏表格中的行或列。"),
    "hidden_column": ("error", "第 {column} 列被隐藏。请取消隐藏，不要隐藏表格中的行或列。"),
    "number_format": ("error", "单元格的数字格式被改为“{format}”，显示的内容不是实际数值。请恢复原格式，或在下发的原模板中填写。"),
    "extra_content": ("warning", "表格以外的单元格有内容“{actual}”，不会被读取。如需报送，请填入表格内的对应单元格。"),
    "extra_content_many": ("warning", "表格以外共有 {count} 个单元格有内容（以上只列出前 {listed} 个），不会被读取。如需报送，请填入表格内。"),
    "not_review": ("error", "此工作簿不是抽查复核表，请使用财政部门下发的复核表填写后报送。"),
    "stale_value": ("warning", "单元格保存的计算结果“{cached}”与按评分规则计算的“{computed}”不一致（可能未重新计算），以规则计算结果为准。"),
    # inputs
    "not_a_number": ("error", "“{value}”不是有效的数字。请只填写数字{hint}。"),
    "number_too_large": ("error", "“{value}”过大：金额、数量和比率的绝对值都应小于 10 的 15 次方。请核对后重新填写。"),
    "input_formula": ("warning", "单元格填写的是公式“={formula}”，已按其计算结果“{value}”读取。请直接填写数值或文字。"),
    "lenient_number": ("warning", "“{value}”已按 {parsed} 读取（{how}）。请直接填写数字。"),
    "negative": ("error", "{what}不能为负数（现为 {value}），请填写 0 或正数。"),
    "percent_range": ("error", "完成程度须在 0% 至 100% 之间（现为 {value}），请改正。"),
    "score_out_of_range": ("error", "得分 {score} 超出范围：须在 0 至分值 {weight} 之间。"),
    "blank_executed": ("error", "{row}的{executed_label}未填写（{annual_label} {annual} 万元）。没有执行请填 0。"),
    "blank_actual": ("error", "“{name}”的实际完成值未填写，请填写。"),
    "blank_score": ("error", "“{name}”的得分未填写（由评价人填写）。"),
    "blank_goal_actual": ("warning", "年度总体目标的实际完成情况未填写，请填写。"),
    "over_budget": ("warning", "{row}的{executed_label} {executed} 万元超过{annual_label} {annual} 万元，请核实。"),
    "reason_missing": ("error", "“{name}”得分 {score} 低于分值 {weight}，须填写偏差原因分析及改进措施。"),
    "reason_overshoot": ("warning", "“{name}”实际完成值 {actual} 超过年度指标值 {target} 达 {overshoot} 以上，请填写偏差原因分析及改进措施。"),
    "text_too_long": ("warning", "内容超过 {limit} 字（现为 {length} 字），请精简。"),
    "not_a_tier": ("error", "“{value}”不是可选的完成情况。请从下拉列表选择：达成年度指标、部分达成年度指标并具有一定效果、未达成年度指标且效果较差。"),
    "score_out_of_tier": ("error", "得分 {score} 与所选完成情况“{tier}”不符：应在 {range} 之间。"),
    "reason_tier": ("error", "“{name}”完成情况为“{tier}”，须填写偏差原因分析及改进措施。"),
    "funds_reason_missing": ("error", "预算执行率 {rate} 低于 {threshold}，须填写原因。"),
    "blank_text": ("error", "{label}未填写，请填写。"),
    # quality flags (xlform/returns/quality.py): what reviewers find in returns that pass every check
    "quality_empty_text": ("warning", "{label}只填写了“{text}”，没有说明实际情况。请具体填写。"),
    "quality_same_reason": ("warning", "“{name}”的偏差原因与本表另外 {others} 个指标完全相同（“{text}”）。请按各指标的实际情况分别说明。"),
    "quality_copied": ("warning", "{label}与其他 {count} 个部门报表中的内容完全相同（如{department}“{project}”{where}）。请按本项目的实际情况填写，不要照抄。"),
    "quality_all_full": ("warning", "全部 {count} 个指标均为满分，且偏差原因等说明均未填写实际内容。请核实自评是否如实反映项目情况。"),
    "quality_cost_at_least": ("warning", "“{name}”是成本指标，年度指标值“{target}”却是越高越好。成本指标一般应为“≤”，请与下发单位核实。"),
    "quality_satisfaction_full": ("warning", "满意度指标“{name}”的实际完成值恰为 100%。请核实是否有满意度调查支撑（“未收到投诉”不等于满意度 100%）。"),
    "quality_actual_is_target": ("warning", "全部 {count} 个定量指标的实际完成值都与年度指标值完全相同。请核实是否按实际完成情况填写。"),
    # a filled 绩效目标申报表 (form kind declaration)
    "decl_attribute": ("error", "项目属性未选择或无效（现为“{value}”）。请从下拉列表选择：{choices}。"),
    "decl_goal_missing": ("error", "年度绩效目标未填写。请写明本项目年度要做什么、达到什么效果。"),
    "decl_name_missing": ("error", "本行填写了指标值或分值，但三级指标名称为空。请填写指标名称，或清空该行。"),
    "decl_target_missing": ("error", "“{name}”的指标值未填写。"),
    "decl_target_unclear": ("error", "“{name}”的指标值“{value}”既不是可计分的目标值，也不是明确的定性描述：{hint}。"),
    "decl_weight_missing": ("error", "“{name}”的分值未填写。"),
    "decl_weight_positive": ("error", "“{name}”的分值须大于 0（现为 {value}）。"),
    "decl_duplicate": ("error", "三级指标“{name}”在{level2}下重复填写，请合并或改名。"),
    "decl_too_few": ("error", "{level1}下至少需要填写一个三级指标。"),
    "decl_split": ("error", "{level1}的分值合计为 {have}，应为 {want}（{split}）。"),
    # xlform import: workbooks an office already has -> definitions
    "import_not_a_source": ("error", "工作表“{sheet}”是{title}，不能导入为项目定义。请导入该项目的申报表或自评表（监控表由同一定义生成）。"),
    "import_not_a_form": ("error", "工作簿中没有找到项目支出绩效自评表、绩效目标申报表或指标清单（未找到“项目名称”“三级指标”“年度指标值”等栏目）。"),
    "import_missing": ("error", "{what}未找到或为空。"),
    "import_not_a_number": ("error", "{what}“{value}”不是有效的数字。"),
    "import_qualitative": ("warning", "指标值“{value}”不是可计分的目标值（运算符、数字、单位），按定性指标导入。"),
    "import_weights_spread": ("warning", "来源没有分值，已按{profile}分值比例（{split}）在各一级指标内平均分配。"),
    "import_year": ("warning", "未找到年度，按 {year} 年导入；可用 --year 指定。"),
    "import_goal_missing": ("warning", "未找到年度绩效目标，已暂填“{goal}”，请修改。"),
    "import_too_many": ("error", "工作簿中有 {count} 个项目，超过一次导入的上限 {limit} 个，未导入。请拆分为几个文件后分别导入。"),
    "import_meta": ("error", "隐藏的模板信息表中 {key} 的值“{value}”无效：{why}。本工作簿未导入。"),
    "import_name_collision": ("error", "项目名称“{name}”与 {other} 的“{other_name}”仅空格、全角半角或大小写不同，无法判断是否同一项目，两处均未导入。请统一或区分项目名称后重新导入。"),
    "import_annual_from_initial": ("warning", "申报表只有年初预算数，全年预算数暂按年初预算数填写，年底请按调整后的预算修改。"),
}


QUOTED = 500   # characters of a value a message quotes, at most (a long formula shown whole): a cell holds 32,767


def shown(value):
    """A value as a message shows it: （空） for none, 12.5 not 12.50000001 (a Python value never shows), a long
    text cut short (a text of 32,767 characters typed where a number goes made a line that long)."""
    if value is None:
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and len(value) > QUOTED:
        return value[:QUOTED] + "…"
    return value


def problem(code: str, cell: str, catalogue: dict | None = None, **values) -> Problem:
    """A catalogued problem at a cell ("自评表!F13") or a file; values fill the message. `catalogue`: the
    entries a form's own sections add (Section.messages), looked up first."""
    severity, text = (catalogue or CATALOGUE).get(code) or CATALOGUE[code]
    detail = values.pop("detail", None)
    values = {k: shown(v) for k, v in values.items()}
    values["detail"] = f"（{detail}）" if detail else ""
    return Problem(cell, "", text.format(**values), code, severity)
