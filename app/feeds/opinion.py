"""Online opinion (网络舆情): a monitoring service's spreadsheet becomes ``online`` cases.

Columns (Chinese headers, or the English ones; order free, other columns ignored):

    来源网站 source_site · 链接 url · 标题 title · 内容 text · 发布时间 posted_at · 地点 location
    optional: 诉求类型 type (咨询/求助/投诉/举报/建议, default 投诉) · 类别 category

Each row is registered through the case service (same BPMN as any case) with
``external_source='opinion'`` and ``external_id`` = the post's URL, so a URL imported once is
skipped afterwards (and a URL twice in one file is imported once). A dry run reports what would
happen. Rows with problems are reported by row number and then **nothing** is imported: the
whole file commits in one transaction, or not at all.

The file is hostile until read: its size is capped before parsing, the zip container is checked
for the uncompressed size and the compression ratio of every member (zip bombs) before openpyxl
opens it, and the number of rows is capped while reading.
"""
from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI

from ..cases.models import TYPES, Case
from ..cases.services import MAX_TEXT, TYPE_BY_LABEL
from ..errors import Invalid

SOURCE = "opinion"
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 2000
MAX_UNPACKED = 50 * 1024 * 1024      # all members of the .xlsx together, uncompressed
MAX_RATIO = 200                      # uncompressed / compressed, per member: beyond it, a bomb
EXTERNAL_ID_MAX = 100                # cases.external_id
EARLIEST = datetime(2000, 1, 1, tzinfo=SHANGHAI)

# The header words of each column, compared without case, spaces, underscores or a trailing colon.
COLUMNS = {
    "source_site": ("来源网站", "来源", "网站", "source_site", "source", "site", "sourcesite"),
    "url": ("链接", "网址", "原文链接", "url", "link"),
    "title": ("标题", "title"),
    "text": ("内容", "正文", "text", "content", "body"),
    "posted_at": ("发布时间", "posted_at", "postedtime", "posted", "published", "published_at", "time"),
    "location": ("地点", "位置", "location", "place", "address"),
    "type": ("诉求类型", "类型", "type"),
    "category": ("类别", "category"),
}
REQUIRED = ("url", "posted_at")


@dataclass
class OpinionRow:
    row: int
    url: str
    external_id: str
    source_site: str
    title: str
    text: str
    posted_at: datetime
    location: str
    type: str
    category: str | None

    def case_text(self) -> str:
        head = f"【网络舆情】{self.title}" if self.title else "【网络舆情】"
        posted = self.posted_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        tail = f"来源：{self.source_site or '-'}　发布时间：{posted}\n原文：{self.url}"
        body = self.text
        room = MAX_TEXT - len(head) - len(tail) - 2
        if len(body) > room:  # a long post is cut, the link to the whole of it stays
            body = body[:max(room - 1, 0)] + "…"
        return "\n".join(part for part in (head, body, tail) if part)


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    to_import: list[OpinionRow] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)     # {"row", "url", "reason", "case"?}
    errors: list[dict] = field(default_factory=list)      # {"row", "message"}
    registered: list[dict] = field(default_factory=list)  # {"row", "number", "url"}

    def as_dict(self) -> dict:
        return {"dry_run": self.dry_run, "rows": self.rows, "errors": self.errors, "skipped": self.skipped,
                "would_register": [{"row": r.row, "url": r.url, "title": r.title} for r in self.to_import]
                if self.dry_run else [],
                "registered": self.registered,
                "imported": len(self.registered)}


# -- reading the file -----------------------------------------------------------------------------
def _check_container(content: bytes) -> None:
    if not content:
        raise Invalid("the file is empty", fields=[("file", "empty")])
    if len(content) > MAX_BYTES:
        raise Invalid(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB", fields=[("file", "too large")])
    if content[:4] != b"PK\x03\x04":
        raise Invalid("not an .xlsx file (an Excel 2007+ workbook is expected)", fields=[("file", "not xlsx")])
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
            total = 0
            for member in members:
                total += member.file_size
                if member.file_size > MAX_RATIO * max(member.compress_size, 1) and member.file_size > 1024 * 1024:
                    raise Invalid("the file unpacks to far more than its size (a zip bomb?); refused",
                                  fields=[("file", "zip bomb")])
            if total > MAX_UNPACKED:
                raise Invalid(f"the file unpacks to more than {MAX_UNPACKED // (1024 * 1024)} MB; refused",
                              fields=[("file", "too large unpacked")])
            if "xl/workbook.xml" not in {m.filename for m in members}:
                raise Invalid("not an .xlsx workbook (no xl/workbook.xml)", fields=[("file", "not xlsx")])
            for member in members:
                if member.filename.endswith((".xml", ".rels")) and _declares_dtd(archive, member):
                    raise Invalid(f"the workbook part {member.filename[:60]} declares a DTD or entities; refused",
                                  fields=[("file", "dtd")])
    except zipfile.BadZipFile:
        raise Invalid("the .xlsx file is damaged (not a readable zip)", fields=[("file", "broken")]) from None


def _declares_dtd(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bool:
    """Excel never writes a DOCTYPE; one in a part is an entity attack (XXE, billion laughs) on the
    XML parser openpyxl uses, so it is looked for in the raw bytes before any parsing."""
    tail = b""
    with archive.open(member) as stream:
        while chunk := stream.read(1 << 16):
            window = tail + chunk
            if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
                return True
            tail = window[-16:]
    return False


def _header_key(value) -> str:
    return re.sub(r"[\s_:：]+", "", str(value or "")).lower()


HEADER_LOOKUP = {_header_key(word): column for column, words in COLUMNS.items() for word in words}


def read_rows(content: bytes) -> tuple[dict[str, int], list[tuple[int, list]]]:
    """({column: index}, [(row number, cells)]) of the first sheet; Invalid when the file cannot be read."""
    _check_container(content)
    from openpyxl import load_workbook
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises anything on a broken workbook
        raise Invalid(f"the .xlsx file cannot be read ({type(exc).__name__})", fields=[("file", "broken")]) from None
    try:
        sheet = workbook.worksheets[0]
        columns: dict[str, int] | None = None
        rows: list[tuple[int, list]] = []
        for number, values in enumerate(sheet.iter_rows(max_col=30, values_only=True), start=1):
            values = list(values)
            if columns is None:
                if all(v in (None, "") for v in values):
                    continue
                columns = {}
                for index, value in enumerate(values):
                    column = HEADER_LOOKUP.get(_header_key(value))
                    if column and column not in columns:
                        columns[column] = index
                missing = [COLUMNS[c][0] for c in REQUIRED if c not in columns]
                if "text" not in columns and "title" not in columns:
                    missing.append("内容 or 标题")
                if missing:
                    raise Invalid(f"row {number}: the header lacks the column(s) {', '.join(missing)} "
                                  "(expected 来源网站, 链接, 标题, 内容, 发布时间, 地点)", fields=[("file", "header")])
                continue
            if all(v in (None, "") for v in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise Invalid(f"the file has more than {MAX_ROWS} data rows; split it", fields=[("file", "too many rows")])
            rows.append((number, values))
    except Invalid:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken sheet part surfaces while iterating
        raise Invalid(f"the .xlsx file cannot be read ({type(exc).__name__})", fields=[("file", "broken")]) from None
    finally:
        workbook.close()
    if columns is None:
        raise Invalid("the sheet is empty", fields=[("file", "empty")])
    return columns, rows


# -- checking each row ----------------------------------------------------------------------------
def normalize_url(value) -> str | None:
    text = str(value or "").strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in text):
        return None
    # The fragment never names another post; scheme and host are case-insensitive.
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def external_id_of(url: str) -> str:
    """The URL itself, or for one longer than the column its SHA-256 (still one id per URL)."""
    return url if len(url) <= EXTERNAL_ID_MAX else "sha256:" + hashlib.sha256(url.encode()).hexdigest()


def parse_posted(value, now: datetime) -> datetime | None:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=SHANGHAI)
    else:
        text = str(value or "").strip().replace("/", "-").replace("T", " ")
        moment = None
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日"):
            try:
                moment = datetime.strptime(text, fmt).replace(tzinfo=SHANGHAI)
                break
            except ValueError:
                continue
        if moment is None:
            return None
    if moment < EARLIEST or moment > now + timedelta(days=1):
        raise ValueError("out of range")
    return moment


def _cell(cells: list, columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    value = cells[index] if index is not None and index < len(cells) else None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def check_rows(columns: dict[str, int], rows: list[tuple[int, list]], now: datetime | None = None) \
        -> tuple[list[OpinionRow], list[dict]]:
    now = now or utcnow()
    good, errors = [], []
    for number, cells in rows:
        problems = []
        url = normalize_url(_cell(cells, columns, "url"))
        if url is None:
            problems.append("链接 must be an http(s) URL")
        raw_posted = cells[columns["posted_at"]] if columns["posted_at"] < len(cells) else None
        try:
            posted = parse_posted(raw_posted, now)
            if posted is None:
                problems.append(f"发布时间 '{str(raw_posted or '')[:40]}' is not a date and time (YYYY-MM-DD HH:MM)")
        except ValueError:
            posted = None
            problems.append(f"发布时间 {str(raw_posted)[:40]} is out of range (2000 until today)")
        title, text = _cell(cells, columns, "title")[:200], _cell(cells, columns, "text")
        if not title and not text:
            problems.append("标题 and 内容 are both empty")
        raw_type = _cell(cells, columns, "type") or "投诉"
        kind = TYPE_BY_LABEL.get(raw_type, raw_type)
        if kind not in TYPES:
            problems.append(f"诉求类型 '{raw_type[:20]}' is not one of {', '.join(TYPE_BY_LABEL)}")
        location = _cell(cells, columns, "location")
        if len(location) > 300:
            problems.append("地点 is longer than 300 characters")
        if problems:
            errors.append({"row": number, "message": "; ".join(problems)})
            continue
        good.append(OpinionRow(row=number, url=url, external_id=external_id_of(url),
                               source_site=_cell(cells, columns, "source_site")[:100], title=title, text=text,
                               posted_at=posted, location=location, type=kind,
                               category=_cell(cells, columns, "category")[:50] or None))
    return good, errors


def plan(session, rows: list[OpinionRow], report: ImportReport) -> None:
    """Split the good rows into new ones and ones to skip (imported before, or repeated in this file)."""
    ids = [r.external_id for r in rows]
    known: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        known.update(session.execute(select(Case.external_id, Case.number).where(
            Case.external_source == SOURCE, Case.external_id.in_(chunk))).all())
    first_row: dict[str, int] = {}
    for row in rows:
        if row.external_id in known:
            report.skipped.append({"row": row.row, "url": row.url, "reason": "already imported",
                                   "case": known[row.external_id]})
        elif row.external_id in first_row:
            report.skipped.append({"row": row.row, "url": row.url,
                                   "reason": f"same URL as row {first_row[row.external_id]}"})
        else:
            first_row[row.external_id] = row.row
            report.to_import.append(row)


def import_opinion(core, content: bytes, *, user: str | None, apply: bool, source: str = "opinion_import") \
        -> ImportReport:
    """Check the whole file; with ``apply`` and no bad row, register the new rows in one transaction."""
    report = ImportReport(dry_run=not apply)
    columns, raw = read_rows(content)
    report.rows = len(raw)
    rows, report.errors = check_rows(columns, raw)
    with core.db.read() as session:
        plan(session, rows, report)
    if not apply or report.errors or not report.to_import:
        return report
    with core.db.unit_of_work() as session:
        # Checked again inside the write transaction: a concurrent import of the same file skips
        # what the other one registered (the unique (external_source, external_id) index backs this).
        again = ImportReport(dry_run=False)
        plan(session, report.to_import, again)
        report.skipped.extend(again.skipped)
        for row in again.to_import:
            def mark(_session, case, _actor, row=row):
                case.external_source, case.external_id = SOURCE, row.external_id
            try:
                case = core.cases.register(channel="online", type=row.type, text=row.case_text(),
                                           category=row.category, address=row.location or None, user=user,
                                           source=source, detail=False, attach=mark, session=session)
            except Invalid as exc:
                # The row passed our checks but not the case service's: name it, and commit nothing.
                raise Invalid(f"row {row.row}: {exc}", fields=[("file", f"row {row.row}")]) from None
            report.registered.append({"row": row.row, "number": case["number"], "url": row.url})
    return report
