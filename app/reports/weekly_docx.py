"""The weekly 专报 as a .docx in the layout of a Chinese government report (GB/T 9704-2012, see
/work/shared/GOVDOC.md): A4 with 37/28 mm top/binding margins, the office mark in red 小标宋 over a red
rule, the issue number centred under it, a 2号 小标宋 title, 3号 仿宋 text with 一、 sections in 黑体 and
（一） in 楷体, the date right-aligned four characters in, "— n —" page numbers, tables with Chinese headers.

Fonts go into the East-Asian slot (w:eastAsia): Word resolves them on the reader's machine.
"""
from __future__ import annotations

import io
from datetime import date

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from .weekly_text import (OFFICE, TITLE, channel_rows, department_rows, key_item_rows, rate, sections_text,
                          volunteer_rows)

RED = RGBColor(0xE6, 0x00, 0x12)
FANGSONG, XIAOBIAOSONG, HEITI, KAITI, SONG = "仿宋_GB2312", "方正小标宋简体", "黑体", "楷体_GB2312", "宋体"
SIZE_3, SIZE_2, SIZE_4, SIZE_TABLE = Pt(16), Pt(22), Pt(14), Pt(10.5)


def _font(run, name: str, size, bold: bool = False, color: RGBColor | None = None) -> None:
    run.font.name = name
    run.font.size = size
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), name)
    fonts.set(qn("w:ascii"), name)
    fonts.set(qn("w:hAnsi"), name)


def _para(doc, text: str = "", font: str = FANGSONG, size=SIZE_3, align=None, bold=False, color=None,
          indent: bool = False):
    p = doc.add_paragraph()
    p.paragraph_format.line_spacing = Pt(28.95)  # 22 lines in the 225 mm type area
    p.paragraph_format.space_after = Pt(0)
    p.paragraph_format.space_before = Pt(0)
    if align is not None:
        p.alignment = align
    if indent:
        p.paragraph_format.first_line_indent = Pt(32)  # two characters of 3号
    if text:
        _font(p.add_run(text), font, size, bold, color)
    return p


def _red_rule(paragraph) -> None:
    """A red rule across the type area under the office mark: the paragraph's bottom border."""
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "18"), ("w:space", "6"), ("w:color", "E60012")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().append(borders)


def _page_numbers(section) -> None:
    """"— n —" in 4号 宋体 at the bottom outside edge (right on odd pages; one footer is close enough)."""
    p = section.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _font(p.add_run("— "), SONG, SIZE_4)
    run = p.add_run()
    _font(run, SONG, SIZE_4)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)
    _font(p.add_run(" —"), SONG, SIZE_4)


def _table(doc, headers: list[str], rows: list[list]) -> None:
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, headers):
        cell.text = ""
        _font(cell.paragraphs[0].add_run(text), HEITI, SIZE_TABLE)
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    for values in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, values):
            cell.text = ""
            _font(cell.paragraphs[0].add_run("" if value is None else str(value)), FANGSONG, SIZE_TABLE)
            cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER


def _chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def render_docx(figures: dict) -> bytes:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.start_type = WD_SECTION.NEW_PAGE
    _page_numbers(section)

    _para(doc, OFFICE, XIAOBIAOSONG, Pt(26), WD_ALIGN_PARAGRAPH.CENTER, color=RED)
    _para(doc, "调度研判专报", XIAOBIAOSONG, Pt(26), WD_ALIGN_PARAGRAPH.CENTER, color=RED)
    number = _para(doc, figures["number"], FANGSONG, SIZE_3, WD_ALIGN_PARAGRAPH.CENTER)
    _red_rule(number)
    _para(doc)
    _para(doc, TITLE.format(start=_chinese_date(date.fromisoformat(figures["from"])),
                            end=_chinese_date(date.fromisoformat(figures["to"]))),
          XIAOBIAOSONG, SIZE_2, WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc)
    if figures.get("draft"):
        _para(doc, "（草稿：本周尚未结束，数据截至生成时）", KAITI, SIZE_3, WD_ALIGN_PARAGRAPH.CENTER)

    for heading, paragraphs, table in sections_text(figures):
        _para(doc, heading, HEITI, SIZE_3, indent=True)
        for sub, text in paragraphs:
            if sub:
                _para(doc, sub, KAITI, SIZE_3, indent=True)
            if text:
                _para(doc, text, indent=True)
        if table == "channels":
            _table(doc, *channel_rows(figures))
        elif table == "departments":
            _table(doc, *department_rows(figures))
        elif table == "key_items":
            headers, rows = key_item_rows(figures, limit=20)
            _table(doc, headers, rows)
        elif table == "volunteers":
            _table(doc, *volunteer_rows(figures))

    _para(doc)
    generated = date.fromisoformat(figures["generated_at"][:10])
    signature = _para(doc, OFFICE, align=WD_ALIGN_PARAGRAPH.RIGHT)
    signature.paragraph_format.right_indent = Pt(64)  # four characters in from the right edge
    dated = _para(doc, _chinese_date(generated), align=WD_ALIGN_PARAGRAPH.RIGHT)
    dated.paragraph_format.right_indent = Pt(64)
    _para(doc, f"（按期回复率合计：{rate(figures['total'].get('on_time_reply_rate'))}；"
               f"计分规则版本：{figures.get('rules_version') or '初始'}）", FANGSONG, Pt(12))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
