"""A ``Document`` as .docx in the layout of GB/T 9704-2012 (党政机关公文格式), see shared GOVDOC.md.

A4, top margin 37 mm, binding (left) 28 mm, a 156 × 225 mm type area of 22 lines × 28 characters;
3号 (16 pt) 仿宋 throughout; the title 2号 (22 pt) 小标宋 centred in balanced lines; the office's
name in red 小标宋 over a red rule; the number centred under it; the date right-aligned four
characters in; page numbers "— n —" in 4号 宋体 at the outside bottom edge (right on odd pages,
left on even ones, as the paper is printed on both sides). Chinese font names go in the run's
East-Asian slot; the reader's machine resolves them, so a server without the fonts still writes
a correct file.
"""
from __future__ import annotations

import io
import math

from docx import Document as new_docx
from docx.enum.section import WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from .facts import Document

FANGSONG, XIAOBIAOSONG, HEITI, KAITI, SONG = "仿宋_GB2312", "方正小标宋简体", "黑体", "楷体_GB2312", "宋体"
BODY_PT, TITLE_PT, PAGE_NUMBER_PT = 16, 22, 14
RED = RGBColor(0xFF, 0x00, 0x00)
BLACK = RGBColor(0, 0, 0)
AREA_W_MM, AREA_H_MM, LINES, CHARS = 156, 225, 22, 28
# 22 lines fill the 225 mm type area: 28.95 pt, rounded down to whole twips so that the 22nd fits.
LINE_PT = math.floor(AREA_H_MM / 25.4 * 72 / LINES * 20) / 20
CHAR_PT = AREA_W_MM / 25.4 * 72 / CHARS          # 15.8 pt: 28 characters fill the 156 mm line
TITLE_CHARS = int(AREA_W_MM / 25.4 * 72 // TITLE_PT)  # 20 characters of 22 pt on a line


def font(run, name: str, size: float, *, color: RGBColor = BLACK, bold: bool = False) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.color.rgb = color
    fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(slot), name)


def balanced_lines(title: str, per_line: int = TITLE_CHARS) -> list[str]:
    """A long title broken into lines of nearly equal length, the shorter ones on top (a trapezoid),
    instead of a full line over a stub."""
    n = max(1, math.ceil(len(title) / per_line))
    base, extra = divmod(len(title), n)
    sizes = [base] * (n - extra) + [base + 1] * extra
    lines, start = [], 0
    for size in sizes:
        lines.append(title[start:start + size])
        start += size
    return lines


def _paragraph(doc, text: str = "", *, name=FANGSONG, size=BODY_PT, align=WD_ALIGN_PARAGRAPH.JUSTIFY,
               indent_chars: float = 0, color=BLACK):
    p = doc.add_paragraph()
    p.alignment = align
    fmt = p.paragraph_format
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(LINE_PT)
    if indent_chars:
        fmt.first_line_indent = Pt(BODY_PT * indent_chars)
    if text:
        font(p.add_run(text), name, size, color=color)
    return p


def _border(paragraph, edge: str, color: str = "FF0000", size_eighths: int = 12) -> None:
    pPr = paragraph._p.get_or_add_pPr()
    borders = pPr.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        pPr.append(borders)
    line = OxmlElement(f"w:{edge}")
    for key, value in (("val", "single"), ("sz", str(size_eighths)), ("space", "4"), ("color", color)):
        line.set(qn(f"w:{key}"), value)
    borders.append(line)


def _setup(doc) -> None:
    section = doc.sections[0]
    section.start_type = WD_SECTION.NEW_PAGE
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.left_margin = Mm(37), Mm(28)
    section.right_margin = Mm(210 - 28 - AREA_W_MM)        # 26 mm
    section.bottom_margin = Mm(297 - 37 - AREA_H_MM)       # 35 mm
    section.footer_distance = Mm(28 - 7)                   # the page number sits about 7 mm under the type area
    # The 22 × 28 grid: w:docGrid with the line pitch and the character pitch (charSpace is in
    # 1/4096 pt relative to the 16 pt font).
    grid = section._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        section._sectPr.append(grid)
    grid.set(qn("w:type"), "linesAndChars")
    grid.set(qn("w:linePitch"), str(int(LINE_PT * 20)))
    grid.set(qn("w:charSpace"), str(round((CHAR_PT - BODY_PT) * 4096)))
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = FANGSONG, Pt(BODY_PT)
    normal.font.color.rgb = BLACK
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FANGSONG)
    # Two-sided printing: odd pages number at the right, even pages at the left, one character in.
    doc.settings.odd_and_even_pages_header_footer = True
    _page_number(section.footer, WD_ALIGN_PARAGRAPH.RIGHT)
    _page_number(section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)


def _page_number(footer, align) -> None:
    p = footer.paragraphs[0]
    p.alignment = align
    if align == WD_ALIGN_PARAGRAPH.RIGHT:
        p.paragraph_format.right_indent = Pt(PAGE_NUMBER_PT)
    else:
        p.paragraph_format.left_indent = Pt(PAGE_NUMBER_PT)
    font(p.add_run("— "), SONG, PAGE_NUMBER_PT)
    run = p.add_run()
    font(run, SONG, PAGE_NUMBER_PT)
    for kind, text in (("begin", None), (None, "PAGE"), ("separate", None), (None, "1"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        elif text == "PAGE":
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = " PAGE "
        else:
            el = OxmlElement("w:t")
            el.text = text
        run._r.append(el)
    font(p.add_run(" —"), SONG, PAGE_NUMBER_PT)


def _table(doc, rows: list[tuple[str, str]]) -> None:
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for label, value in rows:
        cells = table.add_row().cells
        cells[0].width, cells[1].width = Mm(32), Mm(AREA_W_MM - 32)
        for cell, text, name in ((cells[0], label, HEITI), (cells[1], value, FANGSONG)):
            p = cell.paragraphs[0]
            p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
            p.paragraph_format.line_spacing = Pt(LINE_PT)
            font(p.add_run(text), name, BODY_PT)


def render_docx(document: Document) -> bytes:
    doc = new_docx()
    _setup(doc)
    # 版头: the office's name in red 小标宋, as large as fits one line, then the number over a red rule.
    mark_pt = min(36, math.floor(AREA_W_MM / 25.4 * 72 / max(len(document.office), 1)))
    _paragraph(doc, document.office, name=XIAOBIAOSONG, size=mark_pt, align=WD_ALIGN_PARAGRAPH.CENTER, color=RED)
    _paragraph(doc)
    number = _paragraph(doc, document.number, align=WD_ALIGN_PARAGRAPH.CENTER)
    _border(number, "bottom")
    _paragraph(doc)
    title = _paragraph(doc, align=WD_ALIGN_PARAGRAPH.CENTER)
    for i, line in enumerate(balanced_lines(document.title)):
        if i:
            brk = title.add_run()
            font(brk, XIAOBIAOSONG, TITLE_PT)
            brk.add_break()
        font(title.add_run(line), XIAOBIAOSONG, TITLE_PT)
    _paragraph(doc)
    if document.recipient:
        _paragraph(doc, document.recipient, align=WD_ALIGN_PARAGRAPH.LEFT)
    for block in document.blocks:
        if block.kind == "table":
            _table(doc, block.rows)
        elif block.kind == "h1":
            _paragraph(doc, block.text, name=HEITI, indent_chars=2)
        elif block.kind == "h2":
            _paragraph(doc, block.text, name=KAITI, indent_chars=2)
        else:
            _paragraph(doc, block.text, indent_chars=2)
    if document.attachments:
        _paragraph(doc)
        for line in document.attachment_lines:
            _paragraph(doc, line, align=WD_ALIGN_PARAGRAPH.LEFT, indent_chars=2)
    if document.qr_png:
        p = _paragraph(doc, align=WD_ALIGN_PARAGRAPH.LEFT)
        p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
        p.add_run().add_picture(io.BytesIO(document.qr_png), width=Mm(30))
        _paragraph(doc, "扫码查看工单", align=WD_ALIGN_PARAGRAPH.LEFT)
    _paragraph(doc)
    _paragraph(doc)
    # 落款 centred over the date; the date right-aligned, four characters in from the right edge.
    signature = _paragraph(doc, document.signature, align=WD_ALIGN_PARAGRAPH.RIGHT)
    signature.paragraph_format.right_indent = Pt(BODY_PT * document.signature_indent_em)
    date = _paragraph(doc, document.date_text, align=WD_ALIGN_PARAGRAPH.RIGHT)
    date.paragraph_format.right_indent = Pt(BODY_PT * 4)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()

