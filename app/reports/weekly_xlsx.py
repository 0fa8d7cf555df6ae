"""The .xlsx appendix of the weekly 专报: the key and difficult items, then the channel and department tables
with the same figures as the page, and the 志愿服务 figures when the report has them. Real dates and numbers,
Chinese headers, frozen header rows."""
from __future__ import annotations

import io
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from workflows.workdays import parse_instant

from .periods import SHANGHAI
from .weekly_text import CHANNEL_HEADERS, DEPARTMENT_HEADERS, KEY_ITEM_HEADERS, volunteer_rows

TITLE_FONT, HEADER_FONT = Font(bold=True, size=14), Font(bold=True)


def _local(value: str | None) -> datetime | None:
    # Excel has no time zones: the Shanghai wall-clock time, as everyone in the office reads it.
    return parse_instant(value).astimezone(SHANGHAI).replace(tzinfo=None) if value else None


def _sheet(wb, title: str, heading: str, headers: list[str], rows: list[list], widths: list[int]):
    ws = wb.create_sheet(title)
    ws.append([heading])
    ws["A1"].font = TITLE_FONT
    ws.append(headers)
    for cell in ws[2]:
        cell.font = HEADER_FONT
        cell.alignment = Alignment(horizontal="center")
    for row in rows:
        ws.append(row)
    ws.freeze_panes = "A3"
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    return ws


def render_xlsx(figures: dict) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    period = f"{figures['number']}（{figures['from']}至{figures['to']}）"
    items = [[it["number"], it["channel_label"], it["type"], it["category"], it["department_name"], it["status"],
              _local(it["deadline"]), it["working_days_late"], "；".join(it["reason_labels"])]
             for it in figures["key_items"]]
    ws = _sheet(wb, "重点难点事项", f"附件：重点难点事项清单 {period}", KEY_ITEM_HEADERS, items,
                [20, 14, 8, 14, 18, 10, 18, 10, 40])
    for row in ws.iter_rows(min_row=3, min_col=7, max_col=7):
        row[0].number_format = "yyyy-mm-dd hh:mm"
    channels = [[r["label"], r["new"], r["closed"], r["open"], r["overdue"], r["on_time_reply_rate"], r["change"]["new"]]
                for r in figures["channels"] + [figures["total"]]]
    ws = _sheet(wb, "分渠道情况", f"分渠道情况 {period}", CHANNEL_HEADERS, channels, [18, 8, 8, 8, 8, 12, 10])
    for row in ws.iter_rows(min_row=3, min_col=6, max_col=6):
        row[0].number_format = "0.0%"
    departments = [[r["label"], r["received"], r["on_time"], r["overdue"], r["supervision_items"], r["score"]]
                   for r in figures["departments"]]
    _sheet(wb, "部门情况", f"部门办理与考核计分 {period}", DEPARTMENT_HEADERS, departments, [20, 10, 10, 10, 10, 10])
    volunteers = volunteer_rows(figures)
    if volunteers is not None:  # reports stored before the section existed have none
        _sheet(wb, "志愿服务", f"志愿服务 {period}", *volunteers, [22, 12])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
