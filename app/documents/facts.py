"""What each printed document says, taken from the case's data (the layout is docx.py / print.html).

    doc = work_order(session, case, case_url)              # 工单, with the QR code to the case page
    doc = supervision_document(session, item, measure=None) # 督办通知单 / 约谈通知书 / 通报 / 追责决定书

The documents are official Chinese papers (GB/T 9704), so their text stays Chinese whatever the
language of the screen. Names of the issuing offices come from the configuration (``OFFICES``).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.workdays import SHANGHAI

from ..attachments.models import Attachment
from ..cases.models import CHANNELS, DIFFICULTIES, TYPES, AuditEntry, Case
from ..cases.presenters import mask_name, mask_phone
from ..org.models import Department, Grid
from ..supervision.models import REASONS, SupervisionItem

# The issuing office (版头) and its document-number prefix, for each paper. A deployment sets its own
# names with BIHUAN_DOCUMENTS_OFFICES (JSON, same keys); these are the demo sub-district's.
OFFICES = {
    "center": {"name": "黄岛街道社会治理联动指挥中心", "prefix": "黄街指"},
    "supervisor_center": {"name": "黄岛街道社会治理中心", "prefix": "黄街治督"},
    "supervisor_discipline": {"name": "中共黄岛街道纪律检查工作委员会", "prefix": "黄街纪"},
    "supervisor_party": {"name": "中共黄岛街道工作委员会", "prefix": "黄街党"},
}
TIER_OFFICE = {1: "supervisor_center", 2: "supervisor_discipline", 3: "supervisor_party"}
TIER_TASK = {1: "urge", 2: "interview_or_notice", 3: "accountability"}
DECISIONS = {"criticism_notice": "通报批评", "interview": "约谈", "accountability": "问责"}
TODO = "（待填写）"


@dataclass
class Block:
    kind: str                 # "p" body text, "h1" 一、 heading, "h2" （一） heading, "table" rows
    text: str = ""
    rows: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Document:
    kind: str                 # work_order / supervision_notice / interview_notice / circular / accountability
    title: str
    office: str               # 发文机关标志, printed in red
    number: str               # 发文字号, e.g. 黄街治督〔2026〕12号 (or the case number on a work order)
    recipient: str | None     # 主送机关
    blocks: list[Block]
    signature: str            # 落款
    date: datetime            # 成文日期 (an instant; printed as its Shanghai date)
    case_number: str
    case_url: str | None = None
    qr_png: bytes | None = None
    attachments: list[str] = field(default_factory=list)  # 附件说明: the files that go with the paper

    @property
    def attachment_lines(self) -> list[str]:
        """附件：1.… with the later ones aligned under the first name (GB/T 9704 附件说明)."""
        many = len(self.attachments) > 1
        return [("附件：" if i == 0 else "\u3000" * 3) + (f"{i + 1}." if many else "") + name
                for i, name in enumerate(self.attachments)]

    @property
    def date_text(self) -> str:
        d = self.date.astimezone(SHANGHAI)
        return f"{d.year}年{d.month}月{d.day}日"  # Arabic numerals, no leading zeros

    @property
    def signature_indent_em(self) -> float:
        """How far in from the right the 落款 sits so that it is centred over the date, which is
        four characters in (half-width digits count half)."""
        return max(4 + (_width_em(self.date_text) - _width_em(self.signature)) / 2, 0)

    @property
    def filename(self) -> str:
        return f"{self.case_number}-{self.title}"


def _width_em(text: str) -> float:
    return sum(0.5 if ord(ch) < 128 else 1 for ch in text)


def _offices(config: dict | None) -> dict:
    merged = {k: dict(v) for k, v in OFFICES.items()}
    for key, value in (config or {}).items():
        if key in merged and isinstance(value, dict):
            merged[key].update({k: str(v) for k, v in value.items() if k in ("name", "prefix")})
    return merged


def doc_number(prefix: str, year: int, serial: int) -> str:
    """黄街治督〔2026〕12号: the year in 六角括号, the serial without leading zeros."""
    return f"{prefix}〔{year}〕{int(serial)}号"


def local_text(value: datetime | None) -> str:
    if value is None:
        return "—"
    d = value.astimezone(SHANGHAI)
    return f"{d.year}年{d.month}月{d.day}日{d.hour:02d}:{d.minute:02d}"


def _department(session: Session, code: str | None) -> str:
    if not code:
        return "—"
    return session.scalar(select(Department.name).where(Department.code == code)) or code


def _last_data(session: Session, case: Case, bpmn_id: str, **match) -> dict:
    rows = session.scalars(select(AuditEntry).where(AuditEntry.case_id == case.id, AuditEntry.action == "complete",
                                                    AuditEntry.task_bpmn_id == bpmn_id).order_by(AuditEntry.id.desc()))
    for row in rows:
        data = (row.changes or {}).get("data") or {}
        if isinstance(data, dict) and all(data.get(k) == v for k, v in match.items()):
            return data
    return {}


def _attachments(session: Session, case_id: int, stages: tuple[str, ...], since: datetime | None = None) -> list[str]:
    query = select(Attachment.filename).where(Attachment.case_id == case_id, Attachment.stage.in_(stages))
    if since is not None:
        query = query.where(Attachment.uploaded_at >= since)
    return list(session.scalars(query.order_by(Attachment.uploaded_at, Attachment.id)))


def qr_png(url: str) -> bytes:
    import qrcode
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=2)
    qr.add_data(url)
    qr.make(fit=True)
    out = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(out, format="PNG")
    return out.getvalue()


def _summary(case: Case, limit: int = 60) -> str:
    text = " ".join(case.text.split())
    return text if len(text) <= limit else text[:limit] + "……"


def work_order(session: Session, case: Case, case_url: str, offices: dict | None = None) -> Document:
    office = _offices(offices)["center"]
    grid = session.scalar(select(Grid.name).where(Grid.code == case.grid)) if case.grid else None
    reply = _last_data(session, case, "handle", decision="reply").get("reply_text")
    rows = [("工单编号", case.number), ("来源渠道", CHANNELS.get(case.channel, case.channel)),
            ("诉求类型", TYPES.get(case.type, case.type) + ("（紧急）" if case.urgent else "")),
            ("类别", case.category or "—"), ("难度", DIFFICULTIES.get(case.difficulty or "", "—")),
            ("受理时间", local_text(case.registered_at)),
            # Paper leaves the office: the reporter stays masked as on screen.
            ("诉求人", mask_name(case.reporter_name) or "—"), ("联系电话", mask_phone(case.reporter_phone) or "—"),
            ("事发地址", case.address or "—"), ("所属网格", grid or case.grid or "—"),
            ("诉求内容", case.text), ("承办部门", _department(session, case.department)),
            ("派单时间", local_text(case.dispatched_at)), ("办理时限", local_text(case.deadline)),
            ("签收时间", local_text(case.signed_at)), ("办理情况", reply or "—")]
    blocks = [Block("table", rows=rows),
              Block("p", f"请承办部门于办理时限前办结，并通过系统答复办理情况。扫描二维码可查看工单详情：{case_url}")]
    return Document(kind="work_order", title="社会治理诉求工单", office=office["name"], number=f"编号：{case.number}",
                    recipient=None, blocks=blocks, signature=office["name"],
                    date=case.dispatched_at or case.registered_at, case_number=case.number, case_url=case_url,
                    qr_png=qr_png(case_url), attachments=_attachments(session, case.id, ("intake", "patrol")))


def _tier_record(item: SupervisionItem) -> dict:
    """The latest record the item's own tier made (催办, 约谈/通报, 追责), if any."""
    task = TIER_TASK[item.tier]
    for record in reversed(item.records or []):
        if isinstance(record, dict) and record.get("task") == task:
            return record
    return {}


def _record_date(record: dict, fallback: datetime) -> datetime:
    try:
        return datetime.fromisoformat(record["at"])
    except (KeyError, TypeError, ValueError):
        return fallback


def supervision_document(session: Session, item: SupervisionItem, measure: str | None = None,
                         offices: dict | None = None) -> Document:
    """The tier's paper for one supervision item: 督办通知单 (1), 约谈通知书 or 通报 (2), 追责决定书 (3)."""
    case = session.get(Case, item.case_id)
    office = _offices(offices)[TIER_OFFICE[item.tier]]
    record = _tier_record(item)
    data = record.get("data") or {}
    date = _record_date(record, item.opened_at)
    dept = _department(session, item.department)
    reason = REASONS.get(item.reason, item.reason)
    facts = (f"{case.number}号工单（{TYPES.get(case.type, case.type)}：{_summary(case)}），"
             f"{local_text(case.registered_at)}受理，承办部门{dept}，办理时限{local_text(case.deadline)}")
    number = doc_number(office["prefix"], date.astimezone(SHANGHAI).year, item.id)
    # The files the tier's supervisor added with its record (e.g. the interview minutes).
    files = _attachments(session, case.id, (TIER_TASK[item.tier],), since=item.opened_at)
    base = dict(office=office["name"], number=number, signature=office["name"], date=date, case_number=case.number,
                attachments=files)
    if item.tier == 1:
        blocks = [Block("h1", "一、督办事项"),
                  Block("p", f"你单位承办的{facts}。因{reason}，经研究，列入社会治理中心一级督办。"),
                  Block("h1", "二、督办要求"),
                  Block("p", f"请你单位于{local_text(item.due_at)}前办结，并将办理情况书面回复社会治理中心。"
                             "逾期未办结的，将提交街道纪工委二级督办。")]
        if data.get("urge_note"):
            blocks += [Block("h1", "三、催办意见"), Block("p", data["urge_note"])]
        return Document(kind="supervision_notice", title="督办通知单", recipient=f"{dept}：", blocks=blocks, **base)
    if item.tier == 2:
        measure = item.measure or measure or data.get("measure") or "interview"
        note = data.get("measure_note")
        if measure == "notice":
            blocks = [Block("p", f"{dept}承办的{facts}。因{reason}，经社会治理中心一级督办仍未整改到位，"
                                 "现列入街道纪工委二级督办，予以通报。"),
                      Block("p", note or TODO),
                      Block("p", f"请{dept}于{local_text(item.due_at)}前办结并书面说明情况。"
                                 "各部门要引以为戒，切实提高诉求办理质效。")]
            return Document(kind="circular", title=f"关于{dept}诉求办理不力情况的通报",
                            recipient="各部门、各社区：", blocks=blocks, **base)
        blocks = [Block("p", f"你单位承办的{facts}。因{reason}，经社会治理中心一级督办仍未整改到位，"
                             "现列入街道纪工委二级督办。"),
                  Block("p", f"请你单位主要负责人于{local_text(item.due_at)}前到街道纪工委接受约谈，"
                             "并书面说明情况及整改措施。"),
                  Block("p", f"约谈事项：{note or TODO}")]
        return Document(kind="interview_notice", title="约谈通知书", recipient=f"{dept}：", blocks=blocks, **base)
    decision = DECISIONS.get(item.accountability_decision or data.get("accountability_decision") or "", TODO)
    person = item.responsible_person or data.get("responsible_person") or TODO
    blocks = [Block("h1", "一、基本事实"),
              Block("p", f"{dept}承办的{facts}。因{reason}，经社会治理中心一级督办、街道纪工委二级督办，"
                         "仍未依法依规办结，造成不良影响。"),
              Block("h1", "二、追责决定"),
              Block("p", f"经街道党工委研究，决定对{dept}及责任人{person}予以{decision}。"),
              Block("p", data.get("accountability_note") or TODO),
              Block("h1", "三、有关要求"),
              Block("p", f"请{dept}于收到本决定之日起5个工作日内将整改情况书面报街道党工委。")]
    return Document(kind="accountability", title="追责决定书", recipient=f"{dept}：", blocks=blocks, **base)
