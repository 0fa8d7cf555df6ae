"""Printable documents read back: the .docx (python-docx) holds the case's facts in the GB/T 9704
layout, the QR code carries the case's address, and only those who may see the case get them."""
from __future__ import annotations

import io

import pytest
from docx import Document as read_docx
from docx.shared import Pt
from sqlalchemy import select

from app.cases.models import Case
from app.documents.docx import balanced_lines
from app.documents.facts import doc_number, local_text, qr_png
from app.supervision.models import SupervisionItem
from tests.conftest import CST, at

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def all_text(doc) -> str:
    parts = [p.text for p in doc.paragraphs]
    parts += [cell.text for table in doc.tables for row in table.rows for cell in row.cells]
    return "\n".join(parts)


def fetch_docx(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert "attachment" in response.headers["Content-Disposition"]
    return read_docx(io.BytesIO(response.data))


def east_asia(run) -> str:
    return run._element.rPr.rFonts.get(f"{W}eastAsia")


@pytest.fixture
def dispatched(driver):
    number = driver.register(type="投诉", text="夜间施工噪音扰民，持续到凌晨两点", address="长兴岛街137号",
                             reporter_name="王小明", reporter_phone="13900001111")
    driver.dispatch(number)
    driver.sign(number)
    return number


def case_row(core, number) -> Case:
    with core.db.read() as session:
        return session.scalars(select(Case).where(Case.number == number)).one()


def test_work_order_docx_holds_the_cases_facts_in_the_govdoc_layout(login, core, dispatched):
    case = case_row(core, dispatched)
    doc = fetch_docx(login("dispatcher"), f"/documents/cases/{dispatched}/work-order.docx")
    text = all_text(doc)
    for fact in (dispatched, "城管执法中队", local_text(case.deadline), local_text(case.dispatched_at), "投诉",
                 "夜间施工噪音扰民，持续到凌晨两点", "长兴岛街137号", "公众电话投诉", "社会治理诉求工单"):
        assert fact in text, fact
    assert "13900001111" not in text and "王小明" not in text  # masked on paper as on screen
    section = doc.sections[0]
    mm = lambda length: round(length / 36000, 1)  # noqa: E731 - EMU; Word stores twips
    assert (mm(section.page_width), mm(section.page_height)) == (210, 297)
    assert (mm(section.top_margin), mm(section.left_margin)) == (37, 28)
    assert mm(section.page_width - section.left_margin - section.right_margin) == 156
    assert mm(section.page_height - section.top_margin - section.bottom_margin) == 225
    grid = section._sectPr.find(f"{W}docGrid")
    assert grid.get(f"{W}type") == "linesAndChars" and grid.get(f"{W}linePitch") == "579"
    # the office mark red 小标宋, the title 22 pt 小标宋, the body 16 pt 仿宋 in the East-Asian slot
    mark = doc.paragraphs[0].runs[0]
    assert mark.text == "黄岛街道社会治理联动指挥中心" and str(mark.font.color.rgb) == "FF0000"
    assert east_asia(mark) == "方正小标宋简体"
    title = next(p for p in doc.paragraphs if p.text == "社会治理诉求工单")
    assert title.runs[0].font.size == Pt(22) and east_asia(title.runs[0]) == "方正小标宋简体"
    body = next(p for p in doc.paragraphs if p.text.startswith("请承办部门"))
    assert body.runs[0].font.size == Pt(16) and east_asia(body.runs[0]) == "仿宋_GB2312"
    assert str(body.runs[0].font.color.rgb) == "000000"
    day = case.dispatched_at.astimezone(CST)
    assert doc.paragraphs[-1].text == f"{day.year}年{day.month}月{day.day}日"  # 成文日期, Arabic numerals
    assert doc.paragraphs[-1].paragraph_format.right_indent == Pt(64)  # four characters in
    footer = doc.sections[0].footer.paragraphs[0]
    assert "PAGE" in footer._p.xml and footer.text.startswith("— ") and footer.text.endswith(" —")
    assert doc.settings.odd_and_even_pages_header_footer


def test_work_order_qr_code_encodes_the_case_url(login, dispatched):
    url = f"http://localhost/cases/{dispatched}"
    doc = fetch_docx(login("dispatcher"), f"/documents/cases/{dispatched}/work-order.docx")
    images = [rel.target_part.blob for rel in doc.part.rels.values() if "image" in rel.reltype]
    assert images == [qr_png(url)]  # the PNG is exactly the one made for that address
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(images[0])))
    assert [d.text for d in decoded] == [url]


def test_the_qr_code_uses_the_public_address_when_configured(core, dispatched):
    from app import create_app
    from tests.conftest import WebClient
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False,
                      "PUBLIC_BASE_URL": "https://bihuan.example.gov.cn/"}, core=core)
    page = WebClient(app, "dispatcher").get(f"/documents/cases/{dispatched}/work-order").get_data(as_text=True)
    assert f'alt="https://bihuan.example.gov.cn/cases/{dispatched}"' in page


def test_work_order_print_page_is_a4_with_a_print_stylesheet(login, dispatched):
    client = login("handler")
    response = client.get(f"/documents/cases/{dispatched}/work-order")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and dispatched in body and "城管执法中队" in body
    assert "css/govdoc.css" in body and 'src="data:image/png;base64,' in body
    css = client.get("/static/css/govdoc.css").get_data(as_text=True)
    assert "size: A4" in css and "@media print" in css and "37mm" in css
    # the case page links to it
    assert f"/documents/cases/{dispatched}/work-order" in client.get(f"/cases/{dispatched}").get_data(as_text=True)


def test_documents_are_only_for_who_may_see_the_case(login, core, clock, driver, dispatched):
    other = login("handler2")  # community_building; the case is chengguan's
    assert other.get(f"/documents/cases/{dispatched}/work-order").status_code == 403
    assert other.get(f"/documents/cases/{dispatched}/work-order.docx").status_code == 403
    assert login(None).get(f"/documents/cases/{dispatched}/work-order").status_code == 302
    assert login("dispatcher").get("/documents/cases/HD-NOPE/work-order").status_code == 404
    clock.move_to(at(2026, 11, 25, 9, 0))
    driver.fire()
    with core.db.read() as session:
        item_id = session.scalars(select(SupervisionItem.id)).first()
    assert item_id is not None
    assert other.get(f"/documents/supervision/{item_id}.docx").status_code == 403
    assert login("handler").get(f"/documents/supervision/{item_id}.docx").status_code == 200
    assert login("center").get(f"/documents/supervision/{item_id}?measure=bogus").status_code == 400


@pytest.fixture
def escalated(driver, clock):
    """A 咨询 signed by chengguan, never answered: tier 1 on 11-05, tier 2 on 11-11, tier 3 on 11-17."""
    number = driver.register(type="咨询", text="咨询垃圾分类投放时间")
    driver.dispatch(number)
    driver.sign(number)
    clock.move_to(at(2026, 11, 5, 9, 0))
    assert driver.fire() == 1
    driver.do(number, "urge", "center", urge_note="请于三日内办结并回复")
    return number


def items(core, number) -> dict[int, SupervisionItem]:
    with core.db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        return {i.tier: i for i in session.scalars(select(SupervisionItem).where(SupervisionItem.case_id == case_id))}


def test_tier1_supervision_notice(login, core, escalated):
    item = items(core, escalated)[1]
    case = case_row(core, escalated)
    doc = fetch_docx(login("center"), f"/documents/supervision/{item.id}.docx")
    text = all_text(doc)
    assert doc.paragraphs[0].text == "黄岛街道社会治理中心"
    assert doc_number("黄街治督", 2026, item.id) in text and "〔2026〕" in text
    for fact in ("督办通知单", escalated, "城管执法中队：", "拖延办理", local_text(case.deadline),
                 local_text(item.due_at), "请于三日内办结并回复", "2026年11月5日"):
        assert fact in text, fact
    headings = [p for p in doc.paragraphs if p.text.startswith(("一、", "二、", "三、"))]
    assert [east_asia(p.runs[0]) for p in headings] == ["黑体"] * 3
    # the board links to it
    board = login("center").get("/supervision").get_data(as_text=True)
    assert f"/documents/supervision/{item.id}" in board


def test_tier2_interview_notice_and_circular(login, core, driver, clock, escalated):
    clock.move_to(at(2026, 11, 11, 9, 0))
    assert driver.fire() == 1
    item = items(core, escalated)[2]
    discipline = login("discipline")
    # before the committee decides, either paper can be printed
    circular = all_text(fetch_docx(discipline, f"/documents/supervision/{item.id}.docx?measure=notice"))
    assert "关于城管执法中队诉求办理不力情况的通报" in circular and "各部门、各社区：" in circular
    driver.do(escalated, "interview_or_notice", "discipline", measure="interview", measure_note="约谈城管中队负责人")
    item = items(core, escalated)[2]
    doc = fetch_docx(discipline, f"/documents/supervision/{item.id}.docx")
    text = all_text(doc)
    assert doc.paragraphs[0].text == "中共黄岛街道纪律检查工作委员会"
    for fact in ("约谈通知书", doc_number("黄街纪", 2026, item.id), escalated, "城管执法中队：", "拖延办理",
                 local_text(item.due_at), "约谈城管中队负责人", "2026年11月11日"):
        assert fact in text, fact


def test_tier3_accountability_decision(login, core, driver, clock, escalated):
    clock.move_to(at(2026, 11, 11, 9, 0))
    driver.fire()
    driver.do(escalated, "interview_or_notice", "discipline", measure="notice", measure_note="全街道通报")
    clock.move_to(at(2026, 11, 17, 9, 0))
    assert driver.fire() == 1
    driver.do(escalated, "accountability", "party", accountability_decision="accountability",
              responsible_person="张队长", accountability_note="拖延办理，予以问责")
    item = items(core, escalated)[3]
    case = case_row(core, escalated)
    doc = fetch_docx(login("party"), f"/documents/supervision/{item.id}.docx")
    text = all_text(doc)
    assert doc.paragraphs[0].text == "中共黄岛街道工作委员会"
    for fact in ("追责决定书", doc_number("黄街党", 2026, item.id), escalated, "城管执法中队", "张队长", "问责",
                 "拖延办理，予以问责", local_text(case.deadline), "2026年11月17日"):
        assert fact in text, fact
    html = login("party").get(f"/documents/supervision/{item.id}").get_data(as_text=True)
    assert "追责决定书" in html and "张队长" in html and "data-print" in html and "js/print.js" in html


def test_long_titles_break_into_balanced_lines():
    title = "关于城管执法中队诉求办理不力情况的通报关于城管执法"
    lines = balanced_lines(title, 20)
    assert "".join(lines) == title and len(lines) == 2 and abs(len(lines[0]) - len(lines[1])) <= 1
    assert len(lines[0]) <= len(lines[1])
    assert balanced_lines("督办通知单") == ["督办通知单"]
    assert doc_number("黄街办", 2026, 12) == "黄街办〔2026〕12号"


def test_the_work_order_lists_the_files_registered_with_the_case(login, core, driver):
    import io as _io
    operator = login("operator")
    response = operator.post("/intake/register", content_type="multipart/form-data",
                             data={"channel": "phone", "type": "complaint", "text": "路面塌陷",
                                   "attachments": [(_io.BytesIO(b"%PDF-1.4\n" + b"0" * 100), "现场说明.pdf"),
                                                   (_io.BytesIO(b"%PDF-1.4\n" + b"1" * 100), "示意图.pdf")]})
    number = response.headers["Location"].rsplit("/", 1)[-1]
    driver.dispatch(number)
    doc = fetch_docx(login("dispatcher"), f"/documents/cases/{number}/work-order.docx")
    lines = [p.text for p in doc.paragraphs]
    assert "附件：1.现场说明.pdf" in lines and "\u3000\u3000\u30002.示意图.pdf" in lines
