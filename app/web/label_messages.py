"""Dynamic msgids for Babel: the Chinese words of the label dicts, which are translated at render time
with ``gettext(value)`` where ``pybabel extract`` cannot see a literal.

``LABELS``: what app/web/formatting.py ``label()`` translates, from CHANNELS, TYPES, DIFFICULTIES,
STATUSES (app/cases/models.py), ROLES (app/auth/models.py), TIERS, REASONS, ITEM_STATUSES
(app/supervision/models.py). ``OTHER``: the dicts app/cases/views.py (ACTIONS, TASK_ACTIONS, DECISIONS,
ACTORS, FIELDS, SATISFACTION, MEASURES, DECISIONS_3) and app/web/errors.py (TITLES) pass to ``_()``.
``FORMS`` (generated, at the end): the titles, option names and descriptions of the shipped task forms.

Nothing imports this module at run time; tests/test_translations.py checks it still lists every value.
After changing one of those dicts, add the new words here and run ``make translations``.
"""
from __future__ import annotations


def N_(text: str) -> str:
    """Marks a msgid for extraction; returns it unchanged."""
    return text


LABELS = {
    "channel": (
        N_("公众电话投诉"),
        N_("网格员上报"),
        N_("网络舆情"),
        N_("社会治理平台件"),
        N_("网上诉求"),
    ),
    "type": (
        N_("咨询"),
        N_("求助"),
        N_("投诉"),
        N_("举报"),
        N_("建议"),
    ),
    "difficulty": (
        N_("简单"),
        N_("一般"),
        N_("复杂"),
    ),
    "status": (
        N_("已受理"),
        N_("已派单"),
        N_("已退回"),
        N_("办理中"),
        N_("已答复"),
        N_("已核实"),
        N_("已销号"),
        N_("不予受理"),
        N_("已并单"),
    ),
    "role": (
        N_("系统管理员"),
        N_("流程设计员"),
        N_("受理员"),
        N_("指挥中心"),
        N_("承办部门"),
        N_("社会治理中心（一级督办）"),
        N_("纪工委（二级督办）"),
        N_("党工委（三级督办）"),
        N_("网格员"),
        N_("领导/查看"),
    ),
    "tier": (
        N_("社会治理中心督办"),
        N_("纪工委督办"),
        N_("党工委督办"),
    ),
    "reason": (
        N_("签收超时"),
        N_("拖延办理"),
        N_("推诿扯皮"),
        N_("重办后仍不满意"),
    ),
    "item_status": (
        N_("督办中"),
        N_("已升级"),
        N_("已答复待核实"),
        N_("已核实销号"),
    ),
}


OTHER = {
    "case_action": (
        N_("受理"),
        N_("超时（系统定时）"),
        N_("查看完整号码"),
        N_("流程异常"),
        N_("异常已处理"),
        N_("认领"),
        N_("取消认领"),
    ),
    "task_action": (
        N_("派单"),
        N_("签收"),
        N_("改派"),
        N_("答复"),
        N_("延期审批"),
        N_("核实"),
        N_("回访"),
        N_("销号"),
        N_("催办"),
        N_("约谈/通报"),
        N_("追责"),
        N_("核实销号"),
    ),
    "decision": (
        N_("不予受理"),
        N_("并单"),
        N_("退回"),
        N_("延期申请"),
        N_("约谈"),
        N_("通报"),
    ),
    "actor": (
        N_("系统（定时）"),
        N_("命令行"),
        N_("网页"),
        N_("接口"),
    ),
    "case_field": (
        N_("来源渠道"),
        N_("诉求类型"),
        N_("类别"),
        N_("难度"),
        N_("紧急"),
        N_("地址"),
        N_("网格"),
        N_("承办部门"),
        N_("状态"),
        N_("受理时间"),
        N_("受理人"),
        N_("派单时间"),
        N_("签收时间"),
        N_("办理时限"),
        N_("答复时间"),
        N_("核实时间"),
        N_("回访时间"),
        N_("销号时间"),
        N_("满意度"),
        N_("退回次数"),
        N_("重办次数"),
        N_("延期"),
        N_("督办级别"),
        N_("不予受理理由"),
        N_("并入工单"),
    ),
    "satisfaction": (
        N_("满意"),
        N_("基本满意"),
        N_("不满意"),
        N_("联系不上"),
    ),
    "measure": (
        N_("约谈"),
        N_("通报"),
    ),
    "accountability_decision": (
        N_("通报批评"),
        N_("约谈"),
        N_("问责"),
    ),
    "error_title": (
        N_("请求有误"),
        N_("无权访问"),
        N_("未找到"),
        N_("不支持的操作"),
        N_("操作冲突"),
        N_("文件过大"),
        N_("操作过于频繁"),
        N_("系统错误"),
        N_("服务暂不可用"),
        N_("错误"),
    ),
}


# == generated: the texts of the shipped task forms ==============================================
# ``FORMS``: for each bpmn/forms/*.schema.json (sorted by file name), the form's title and every
# property's ``title``, ``enumNames`` entries and ``description``, in schema order, each once per form.
# app/tasks/forms.py and app/cases/web.py pass these texts to ``_()`` when they render a task form or a
# timeline entry. Do not edit by hand: after changing a shipped form, regenerate this dict's body with
#   .venv/bin/python - <<'PY'
#   import json, pathlib
#   for p in sorted(pathlib.Path('bpmn/forms').glob('*.schema.json')):
#       s = json.loads(p.read_text(encoding='utf-8')); seen = []
#       for x in [s, *(v for v in s.get('properties', {}).values() if isinstance(v, dict))]:
#           for t in [x.get('title'), *(x.get('enumNames') or []), x.get('description')]:
#               if isinstance(t, str) and t and t not in seen: seen.append(t)
#       print(f'    "{p.name.split(".")[0]}": (',
#             *(f'        N_({json.dumps(t, ensure_ascii=False)}),' for t in seen), '    ),', sep='\n')
#   PY
# then run `make translations` and translate; tests/test_translations.py checks the list is complete.
FORMS = {
    "accountability": (
        N_("追责（三级督办）"),
        N_("追责决定"),
        N_("通报批评"),
        N_("约谈"),
        N_("问责"),
        N_("责任人"),
        N_("决定内容"),
    ),
    "approve_extension": (
        N_("延期审批"),
        N_("同意延期"),
        N_("审批意见"),
    ),
    "close": (
        N_("销号"),
        N_("销号说明"),
    ),
    "dispatch": (
        N_("派单/转办"),
        N_("处理方式"),
        N_("派单"),
        N_("不予受理"),
        N_("并单（重复件）"),
        N_("类别"),
        N_("难度"),
        N_("简单"),
        N_("一般"),
        N_("复杂"),
        N_("紧急"),
        N_("承办部门（留空按派单规则）"),
        N_("不予受理理由"),
        N_("重复件原工单号"),
        N_("备注"),
    ),
    "follow_up": (
        N_("回访"),
        N_("满意度"),
        N_("满意"),
        N_("基本满意"),
        N_("不满意"),
        N_("联系不上"),
        N_("回访记录"),
    ),
    "handle": (
        N_("办理"),
        N_("办理结果"),
        N_("答复（办结）"),
        N_("申请延期"),
        N_("答复内容"),
        N_("延期工作日数"),
        N_("延期理由"),
    ),
    "interview_or_notice": (
        N_("约谈/通报（二级督办）"),
        N_("督办措施"),
        N_("约谈"),
        N_("通报"),
        N_("记录"),
    ),
    "reassign": (
        N_("改派"),
        N_("改派至承办部门"),
        N_("改派说明"),
    ),
    "sign_for": (
        N_("签收"),
        N_("签收或退回"),
        N_("退回（非本部门职责）"),
        N_("退回理由"),
    ),
    "urge": (
        N_("催办（一级督办）"),
        N_("催办内容"),
        N_("部门回应"),
    ),
    "verify": (
        N_("核实"),
        N_("核实通过"),
        N_("核实意见"),
    ),
    "verify_close": (
        N_("核实销号（督办）"),
        N_("核实情况"),
    ),
}
