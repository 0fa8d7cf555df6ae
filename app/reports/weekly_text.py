"""The words of the weekly 专报 shared by the .docx, the .xlsx and the standalone HTML file.

The filed report is an official document of the sub-district and is written in Chinese whatever the
reader's UI language; the web page renders the same figures through the translated templates.
"""
from __future__ import annotations

OFFICE = "街道社会治理联动指挥中心"
TITLE = "关于{start}至{end}诉求办理情况的调度研判专报"
CHINESE_NUMBERS = "一二三四五六七八九十"


def rate(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def signed(value) -> str:
    if value is None:
        return "—"
    return f"+{value}" if value > 0 else str(value)


def signed_rate(value) -> str:
    if value is None:
        return "—"
    return f"{'+' if value > 0 else ''}{value * 100:.1f}个百分点"


CHANNEL_HEADERS = ["渠道", "新增", "办结", "在办", "超期", "按期回复率", "新增环比"]


def channel_rows(figures: dict) -> tuple[list[str], list[list]]:
    rows = [[r["label"], r["new"], r["closed"], r["open"], r["overdue"], rate(r["on_time_reply_rate"]),
             signed(r["change"]["new"])] for r in figures["channels"] + [figures["total"]]]
    return CHANNEL_HEADERS, rows


DEPARTMENT_HEADERS = ["承办部门", "本周接收", "按期答复", "超期在办", "督办事项", "本月计分"]


def department_rows(figures: dict) -> tuple[list[str], list[list]]:
    rows = [[r["label"], r["received"], "—" if r["on_time"] is None else r["on_time"], r["overdue"],
             r["supervision_items"], "—" if r["score"] is None else r["score"]] for r in figures["departments"]]
    return DEPARTMENT_HEADERS, rows


KEY_ITEM_HEADERS = ["案件编号", "渠道", "类型", "问题分类", "承办部门", "状态", "办理时限", "超期工作日", "重点难点原因"]


def key_item_rows(figures: dict, limit: int | None = None) -> tuple[list[str], list[list]]:
    items = figures["key_items"][:limit] if limit else figures["key_items"]
    rows = [[it["number"], it["channel_label"], it["type"], it["category"], it["department_name"], it["status"],
             (it["deadline"] or "")[:10], it["working_days_late"] or "", "；".join(it["reason_labels"])]
            for it in items]
    return KEY_ITEM_HEADERS, rows


VOLUNTEER_HEADERS = ["项目", "本周"]


def volunteer_rows(figures: dict) -> tuple[list[str], list[list]] | None:
    """The 志愿服务 figures, one row each; None for a report stored before the section existed."""
    from ..volunteers.reports import SUMMARY
    figures = figures.get("volunteers")
    if not figures:
        return None
    return VOLUNTEER_HEADERS, [[label, figures[key]] for key, label in SUMMARY.items() if key in figures]


def _number(value) -> str:
    return f"{value:g}"


def _volunteers(figures: dict) -> str:
    v = figures["volunteers"]
    return (f"截至本周末共有注册志愿者{v['registered_total']}人，本周新注册{v['registered']}人；开展志愿活动"
            f"{v['activities']}场，{v['active']}人参加，服务时长{_number(v['hours'])}小时；发放积分{_number(v['issued'])}分，"
            f"兑换积分{_number(v['redeemed'])}分（奖励价值{_number(v['money'])}元），过期积分{_number(v['expired'])}分。")


def _overview(figures: dict) -> str:
    t = figures["total"]
    parts = [f"本周共受理诉求{t['new']}件（环比{signed(t['change']['new'])}件），办结{t['closed']}件，"
             f"周末在办{t['open']}件，其中超期{t['overdue']}件；按期回复率{rate(t['on_time_reply_rate'])}"
             f"（环比{signed_rate(t['change']['on_time_reply_rate'])}）。"]
    for r in figures["channels"]:
        parts.append(f"{r['label']}新增{r['new']}件、办结{r['closed']}件、在办{r['open']}件、超期{r['overdue']}件，"
                     f"按期回复率{rate(r['on_time_reply_rate'])}。")
    return "".join(parts)


def _key_summary(figures: dict) -> str:
    items = figures["key_items"]
    if not items:
        return "本周无重点难点事项。"
    counts: dict[str, int] = {}
    for it in items:
        for label in it["reason_labels"]:
            counts[label] = counts.get(label, 0) + 1
    detail = "，".join(f"{label}{n}件" for label, n in counts.items())
    text = f"本周重点难点事项共{len(items)}件：{detail}。"
    if figures["repeats"]:
        text += "30日内重复反映：" + "；".join(
            f"{'电话' if r['kind'] == 'phone' else '地址'}{r['value']}共{r['count']}次" for r in figures["repeats"]) + "。"
    return text


def _rising(figures: dict) -> str:
    rows = figures["rising_categories"]
    if not rows:
        return "本周各问题分类诉求量均未上升。"
    return "环比上升较多的问题分类：" + "；".join(
        f"{r['category']}{r['this_week']}件（上周{r['last_week']}件，增加{r['increase']}件）" for r in rows) + "。"


def _follow_ups(figures: dict) -> str:
    rows = figures["follow_ups"]
    if not rows:
        return "上次调度会议研判的重点难点事项均已办结。"
    moving = sum(1 for r in rows if r["actions_this_week"])
    return (f"上次调度会议研判的重点难点事项中仍有{len(rows)}件未办结，本周有进展{moving}件，"
            f"无进展{len(rows) - moving}件：" + "；".join(f"{r['number']}（{r['status']}）" for r in rows) + "。")


def sections_text(figures: dict) -> list[tuple[str, list[tuple[str, str]], str | None]]:
    """[(heading, [(sub heading, paragraph)], table to follow)] in the order of the report."""
    sections = [
        ("总体情况", [("", _overview(figures))], "channels"),
        ("重点难点事项", [("", _key_summary(figures))], "key_items"),
        ("问题分类趋势", [("", _rising(figures))], None),
        ("部门办理与考核计分", [("", f"本月（{figures['score_month']}）截至本周末各承办部门计分如下表，"
                                  "计分依据《规范督查事项考核计分办法》决策表。")], "departments"),
        ("上次调度事项进展", [("（一）督办事项日日有进展", _follow_ups(figures))], None),
    ]
    if figures.get("volunteers"):  # absent from reports stored before the section existed
        sections.append(("志愿服务", [("", _volunteers(figures))], "volunteers"))
    return [(f"{CHINESE_NUMBERS[i]}、{heading}", paragraphs, table)
            for i, (heading, paragraphs, table) in enumerate(sections)]
