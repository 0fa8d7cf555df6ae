"""标签翻译: the table of the draft's own labels and their English, as the designer page shows and
sends it (the routes, ``designer.labels`` and ``designer.save_labels``, are in app/designer/views.py).

The rows are the draft's labels (``app.processes.labels.draft_labels``): element ids and kinds where
the text is written, the text, and an English input prefilled with the draft's translation, else the
catalog's. A save replaces the whole table, in the draft like any file save (same revision rule),
and is refused as a whole with a clear message for a label the draft does not have, English that is
not text, too long, with control characters or Chinese. The role check (``before_request``) and
CSRF (form token or the X-CSRFToken header) are the blueprint's and the app's.
"""
from __future__ import annotations

from flask import request
from flask_babel import force_locale, gettext as _

from ..errors import Invalid
from ..processes import labels
from .messages import N_

# What a label is, in words (the msgids the diagram editor's panel already uses, and a form's parts).
KINDS = {
    "userTask": N_("用户任务"), "scriptTask": N_("脚本任务"), "businessRuleTask": N_("业务规则任务"),
    "callActivity": N_("调用活动"), "subProcess": N_("子流程"), "task": N_("任务"), "serviceTask": N_("任务"),
    "manualTask": N_("任务"), "sendTask": N_("任务"), "receiveTask": N_("任务"),
    "startEvent": N_("开始事件"), "endEvent": N_("结束事件"), "boundaryEvent": N_("边界事件"),
    "intermediateCatchEvent": N_("中间捕获事件"), "intermediateThrowEvent": N_("中间抛出事件"),
    "exclusiveGateway": N_("排他网关"), "parallelGateway": N_("并行网关"), "inclusiveGateway": N_("包容网关"),
    "eventBasedGateway": N_("事件网关"), "sequenceFlow": N_("顺序流"), "lane": N_("泳道（角色）"),
    "participant": N_("池/参与者"), "process": N_("流程"), "collaboration": N_("协作"),
    "dmn_decision": N_("决策表"), "dmn_input": N_("决策表输入列"), "dmn_output": N_("决策表输出列"),
    "dmn_rule": N_("决策表规则说明"),
    "form_title": N_("表单标题"), "form_description": N_("表单说明"), "field_title": N_("字段标题"),
    "field_option": N_("选项"), "field_description": N_("字段说明"),
}


def catalog_english(text: str) -> str | None:
    """What the message catalog says in English for ``text``; None when it does not know it."""
    with force_locale("en"):
        found = _(text)
    return found if found != text else None


def rows(files: dict, typed: dict | None = None) -> list[dict]:
    """One row per Chinese label of ``files``: text, English to show (what was ``typed`` when the page
    comes back with an error, else the draft's, else the catalog's), the catalog's, where it is written."""
    out = []
    for label in labels.draft_labels(files, catalog_english):
        english = label.english or label.catalog
        if typed is not None and label.text in typed:
            english = typed[label.text] if isinstance(typed[label.text], str) else ""
        out.append({"text": label.text, "english": english, "catalog": label.catalog,
                     "places": [{"file": f, "element_id": e, "kind": _(KINDS[k]) if k in KINDS else k}
                                for f, e, k in label.places]})
    return out


def read_request() -> tuple[object, object]:
    """(translations, base_revision) from a JSON body or the page's form; Invalid for a malformed one."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise Invalid(_("请求格式错误：需要 JSON {translations, base_revision}。"))
        return body.get("translations"), body.get("base_revision")
    texts, english = request.form.getlist("zh"), request.form.getlist("en")
    if len(texts) != len(english):
        raise Invalid(_("请求格式错误：每个标签需要一个英文输入。"))
    if len(set(texts)) != len(texts):
        raise Invalid(_("请求格式错误：同一标签提交了两次。"))
    return dict(zip(texts, english)), request.form.get("base_revision")
