"""The browser-side texts of the designer pages, for Babel and for the page.

The JavaScript in app/static/js/designer/ and assets/designer/ (the modeler bundle) writes
``designerText(msgid)``; the msgids are listed here with ``N_`` so ``pybabel extract`` finds them,
and every page renders their translations into ``#designer-messages`` (tests/test_designer_web.py checks
the list covers the scripts).
"""
from __future__ import annotations

from flask_babel import gettext


def N_(text: str) -> str:
    """Marks a msgid for extraction; translated later, per request."""
    return text


JS_TEXTS = (
    N_("导入时有 {n} 条警告（图仍可编辑，但请检查）："),
    N_("图中找不到元素 {id}"),
    N_("无法在编辑器中打开这个文件："),
    N_("文件未能打开，保存已停用。可以用“下载”取回原文件，或在流程管理页面导入修正后的文件。"),
    N_("有未保存的修改"),
    N_("正在保存…"),
    N_("已保存（草稿修订 {n}）"),
    N_("草稿已被他人修改：{message}"),
    N_("未保存：草稿已被他人修改"),
    N_("未保存：{message}"),
    N_("服务器返回 {status}"),
    N_("登录已过期，请在新窗口重新登录后再试。"),
    N_("正在校验草稿…"),
    N_("（校验的是已保存的草稿，当前修改尚未保存）"),
    N_("校验失败：{message}"),
    N_("发现 {n} 个问题"),
    N_("校验通过，没有发现问题"),
    N_("（整个流程包）"),
    N_("（此前没有这个文件）"),
    N_("（这个文件已删除）"),
    N_("无法显示这个流程图：{message}"),
    N_("决策需求图"),
    N_("决策表"),
    N_("文字表达式"),
    N_("表达式"),
    N_("{kind}：{name}"),
    N_("导入时有 {n} 条警告：{messages}"),
    N_("无法在编辑器中打开这个决策表：{message}"),
    N_("不是合法的 JSON：{message}"),
    N_("时间点 timeDate"),
    N_("时长 timeDuration"),
    N_("周期 timeCycle"),
    N_("{id}（不是已知角色）"),
    N_("已有元素使用 ID “{id}”（可能是另一条泳道），不能重复。"),
    N_("泳道 ID = 角色"),
    N_("泳道中的用户任务由该角色办理；承办部门任务归案件所在部门。"),
    N_("所在泳道（角色）：{lanes}"),
    N_("表单（JSON Schema 文件）"),
    N_("文件在 forms/ 下，例如 dispatch.schema.json。"),
    N_("脚本（Python，沙箱执行）"),
    N_("可用 now()、working_days_after(start, n)；不可 import，不可使用双下划线名称、while 和 **。"),
    N_("决策表 ID"),
    N_("对应 rules/*.dmn 中 decision 的 id，例如 deadlines。"),
    N_("被调用流程 ID"),
    N_("例如 supervision_escalation。"),
    N_("定时器类型"),
    N_("定时器表达式"),
    N_("工作日时限写作 working_days_after(start, n)，例如 working_days_after(dispatched_at, 1)；也可以直接写变量名（如 deadline）。"),
    N_("（无默认流）"),
    N_("默认流"),
    N_("没有条件成立时走默认流。"),
    N_("条件：{flow}"),
    N_("条件是 Python 表达式，例如 decision == \"refuse\"、return_count >= 2。"),
    N_("这是网关 {id} 的默认流，不需要条件。"),
    N_("条件表达式"),
    # the group titles and texts of bpmn.io's properties panel (assets/designer/)
    N_("办理角色"),
    N_("表单"),
    N_("定时器"),
    N_("条件"),
    N_("脚本"),
    N_("调用"),
    N_("前置脚本"),
    N_("后置脚本"),
    N_("任务开始前执行（沙箱）。"),
    N_("任务完成后执行（沙箱）。"),
    N_("仅提醒（不是任务时限）"),
    N_("到期预警、超期提醒：不把这个定时器当作任务的办理时限。"),
)


def js_messages() -> dict[str, str]:
    """msgid -> text in the current language, only where they differ (the page stays small)."""
    return {text: gettext(text) for text in JS_TEXTS if gettext(text) != text}
