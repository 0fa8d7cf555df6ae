"""Validation problems and process-editing errors in the designer's language.

``workflows.validation`` (no Flask there) gives each ``Problem`` a stable ``code`` and the
``params`` its English ``message`` interpolates; ``localize`` turns them into the Chinese msgid
translated for the current request (English via the catalog). Underlying exception texts (Python,
SpiffWorkflow, lxml) stay as they are, as a parameter.

``tr`` is gettext that also works outside a request (the CLI, tests, background work): there the
locale selector cannot read the session, so the Chinese msgid is interpolated as it is.
"""
from __future__ import annotations

import re
from typing import Mapping

from flask import has_request_context
from flask_babel import gettext


def N_(msgid: str) -> str:  # noqa: N802 - marks a msgid for extraction, translated later
    return msgid


def tr(msgid: str, **params) -> str:
    """gettext(msgid, **params) in a request; the interpolated msgid anywhere else."""
    if has_request_context():
        return gettext(msgid, **params)
    return msgid % params if params else msgid


# One msgid per code of workflows.validation.CODES and app.processes.importing.NOTE_CODES.
MESSAGES: dict[str, str] = {
    "not_a_model_path": N_("不是模型文件：流程包中的模型应位于 %(places)s"),
    "file_too_large": N_("文件超过 %(mb)s MB"),
    "doctype_refused": N_("不允许 DOCTYPE/ENTITY 声明（它们可能读取服务器文件或无限展开），请删除 <!DOCTYPE ...> 部分"),
    "malformed_xml": N_("XML 格式错误：%(error)s"),
    "form_not_utf8": N_("不是 UTF-8 文本（第 %(byte)s 字节）"),
    "form_too_deep": N_("JSON 嵌套超过 %(depth)s 层"),
    "too_many_elements": N_("文件含 %(count)s 个 XML 元素，最多允许 %(limit)s 个"),
    "form_too_many_fields": N_("表单含 %(count)s 个字段，最多允许 %(limit)s 个"),
    "unsupported_element": N_("不支持的 BPMN 元素：<%(element)s>（事件定义 %(definition)s）；请改用定时、消息、错误、"
                              "信号或升级事件"),
    "missing_reference": N_("引用了不存在的元素 %(ref)s（检查顺序流的 sourceRef/targetRef）"),
    "nested_too_deeply": N_("文件嵌套层次太深，无法解析"),
    "number_too_long": N_("文件中有过长的数字，无法解析"),
    "structure_unreadable": N_("文件结构不完整，无法解析（例如缺少必需的属性或引用）"),
    "form_not_json": N_("不是合法的 JSON：%(error)s"),
    "form_not_object": N_("不是合法的 JSON Schema：表单必须是 JSON 对象"),
    "form_not_schema": N_("不是合法的 JSON Schema：%(error)s"),
    "not_bpmn_root": N_("不是 BPMN 2.0 文件：根元素是 <%(root)s>（%(where)s），应为 BPMN 2.0 的 <definitions>"),
    "not_dmn_root": N_("不是 DMN 文件：根元素是 <%(root)s>（%(where)s），应为 DMN 的 <definitions>"),
    "cannot_parse": N_("无法解析：%(error)s"),
    "lifecycle_missing": N_("缺少生命周期流程 %(process)s"),
    "lifecycle_not_executable": N_("生命周期流程 %(process)s 不可执行（isExecutable=\"false\"）"),
    "process_not_executable": N_("流程不可执行（isExecutable=\"false\"）：会保留，但不会运行"),
    "cannot_build": N_("无法构建流程：%(error)s"),
    "task_not_in_lane": N_("用户任务不在任何泳道中（泳道 id 即角色）"),
    "unknown_role": N_("泳道 %(role)s 不是已知角色（可用：%(roles)s）"),
    "task_without_form": N_("用户任务没有表单（%(property)s）"),
    "form_missing": N_("表单 %(form)s 不存在"),
    "form_invalid": N_("表单 %(form)s 不是合法的 JSON Schema"),
    "gateway_without_default_or_conditions": N_("排他网关既没有默认流向，也没有条件"),
    "called_process_not_executable": N_("调用的流程 %(process)s 不可执行"),
    "called_process_missing": N_("调用的流程 %(process)s 不存在"),
    "sandbox_refused": N_("%(subject)s被沙箱拒绝：%(error)s%(hint)s"),
    "cannot_compile": N_("%(subject)s无法编译：%(error)s"),
    "timer_without_expression": N_("定时器没有表达式"),
    "timer_iso_literal": N_("定时器表达式 %(expression)s 是 ISO 8601 字面值，但这里的定时器表达式是 Python 表达式："
                            "请加引号（\"%(expression)s\"）或计算得出（working_days_after(...)）"),
    "timer_too_complex": N_("定时器表达式太复杂，无法用示例数据检查；请只用名称、函数调用和常量"
                            "（例如 working_days_after(dispatched_at, 1)）"),
    "timer_no_sample": N_("定时器表达式用到的 %(name)s 没有示例值，因此未计算（日期时间请命名为 *_at/*_due/deadline，"
                          "数字请命名为 *_days/*_count）"),
    "timer_unchecked": N_("定时器表达式无法检查：%(error)s"),
    "timer_fails": N_("定时器表达式用示例数据（%(sample)s）计算失败：%(error)s"),
    "timer_naive": N_("定时器给出的日期时间没有时区（%(value)s），会按服务器的本地时间解读"),
    "timer_invalid_value": N_("%(kind)s 表达式用示例数据没有得到合法的 %(kind)s：%(error)s"),
    "dmn_no_decision": N_("此 DMN 文件中没有决策"),
    "dmn_rule_cells": N_("规则有 %(cells_in)s 个输入单元格和 %(cells_out)s 个输出单元格，但决策表有 %(inputs)s 个输入和 "
                         "%(outputs)s 个输出"),
    "dmn_missing_attribute": N_("无法解析决策表：有元素缺少 %(attribute)s 属性"),
    "dmn_cannot_parse": N_("无法解析决策表：%(error)s"),
    "dmn_input_without_expression": N_("输入没有表达式"),
    "labels_invalid": N_("标签翻译文件无效（%(error)s）：应为一个 JSON 对象，键是中文原文，值是 1 到 200 个字符的英文"),
    # notes of an import (app/processes/importing.py)
    "import_converted": N_("已从 %(encoding)s 转换为 UTF-8"),
    "import_bpmn_by_content": N_("%(name)s 中是 BPMN 流程图；按内容而不是扩展名导入"),
    "import_dmn_by_content": N_("%(name)s 中是 DMN 决策表；按内容而不是扩展名导入"),
    "import_replaced_process": N_("已替换草稿中定义流程 %(id)s 的文件 %(path)s"),
    "import_replaced_decision": N_("已替换草稿中定义决策 %(id)s 的文件 %(path)s"),
    "import_replaced_form": N_("已替换草稿中的表单 %(path)s"),
    "import_layout_generated": N_("文件没有流程图布局，已自动生成"),
    "import_layout_failed": N_("文件没有流程图布局，也无法自动生成（流程结构不完整）；可在建模器中手动布局"),
}

# What a sandbox_refused / cannot_compile problem is about (validation.SUBJECTS) ...
SUBJECTS: dict[str, str] = {
    "script": N_("脚本"),
    "prescript": N_("前置脚本"),
    "postscript": N_("后置脚本"),
    "condition": N_("通往 %(target)s 的条件"),
    "timer": N_("定时器表达式"),
    "dmn_input": N_("输入表达式"),
    "dmn_cell": N_("输入 %(label)s 的单元格 %(text)s"),
    "dmn_output": N_("%(label)s 的输出 %(text)s"),
}
# ... and the hint for an expression written for another engine (validation.HINTS).
HINTS: dict[str, str] = {
    "juel": N_("（这像是 Camunda/JUEL 表达式；闭环使用 Python 表达式，例如 approved == True）"),
    "feel": N_("（这像是 FEEL 表达式；闭环使用 Python 表达式）"),
    "iso_unquoted": N_("（ISO 8601 值在这里必须加引号：\"%(literal)s\"）"),
    "feel_range": N_("（不支持 [1..5] 这样的 FEEL 区间；请写成例如 1 <= ? <= 5）"),
}


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _fields(problem) -> tuple[str, dict, str]:
    if isinstance(problem, Mapping):
        return problem.get("code") or "", dict(problem.get("params") or {}), problem.get("message") or ""
    return getattr(problem, "code", "") or "", dict(getattr(problem, "params", None) or {}), \
        getattr(problem, "message", "") or str(problem)


def text(code: str, params: Mapping | None = None, fallback: str = "") -> str:
    """The localized text for a code and its params; ``fallback`` (the English text) when unknown."""
    msgid = MESSAGES.get(code or "")
    if msgid is None:
        return fallback
    params = dict(params or {})
    try:
        if code in ("sandbox_refused", "cannot_compile"):
            subject = SUBJECTS.get(params.get("subject", ""))
            params["subject"] = _fill(subject, params) if subject else str(params.get("subject", ""))
            hint = HINTS.get(params.get("hint") or "")
            params["hint"] = _fill(hint, params) if hint else ""
        elif code in ("not_bpmn_root", "not_dmn_root"):
            namespace = params.get("namespace")
            params["where"] = tr("命名空间 %(namespace)s", namespace=namespace) if namespace else tr("无命名空间")
        return _fill(msgid, params)
    except (KeyError, TypeError, ValueError):  # params that do not fit (an older problem): English is still right
        return fallback or msgid


def _fill(msgid: str, params: dict) -> str:
    if not set(_PLACEHOLDER.findall(msgid)) <= set(params):
        raise KeyError(msgid)
    return tr(msgid, **params)


def localize(problem, name=None) -> str:
    """A Problem (or its as_dict()) as a sentence in the current language; the English message for an
    unknown code. ``name``: how to show the designer's own labels it quotes (a DMN column's label, a
    flow's target), e.g. in their English (标签翻译)."""
    code, params, message = _fields(problem)
    if name is not None:
        params = {k: name(v) if k in ("label", "target") and isinstance(v, str) else v for k, v in params.items()}
    return text(code, params, message)


def unreadable(exc) -> str:
    """A ``workflows.reading.Unreadable`` in the current language."""
    return text(getattr(exc, "code", ""), getattr(exc, "params", None), str(exc))


def describe(problem) -> str:
    """'file: element (name): text', like str(Problem) but localized."""
    if isinstance(problem, Mapping):
        file, element_id, name = problem.get("file", ""), problem.get("element_id", ""), problem.get("element_name", "")
    else:
        file, element_id, name = problem.file, problem.element_id, problem.element_name
    where = f"{element_id}" + (f" ({name})" if name else "")
    what = localize(problem)
    file = file or tr("（整个流程包）")
    return f"{file}: {where}: {what}" if where else f"{file}: {what}"
