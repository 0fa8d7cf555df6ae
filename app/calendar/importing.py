"""Importing a year's official holiday schedule (the State Council's notice) from CSV or .xlsx.

The file has one row per day that differs from a plain Monday-Friday week: ``date, kind, note``,
where kind is ``holiday``/``workday`` (or 休/班, 放假/上班, 休息日/工作日). A header row is optional.
Importing makes the year *complete*: its days replace whatever the year had (the library's
schedule, a provisional calendar, single corrections), and deadlines may reach it. Rows of an
adjacent year (a make-up day just before New Year) are stored as corrections of that year,
which must already be known.

Uploads are hostile: the size and the number of rows are bounded, .xlsx is read with openpyxl in
read-only mode, and every problem is reported with its line number before anything is written.
"""
from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select

from workflows.clock import utcnow

from ..errors import Invalid
from .models import CalendarOverride, CalendarYear
from .recompute import recompute_year
from .services import audit_calendar, load_calendar

MAX_BYTES = 1024 * 1024
MAX_ROWS = 1000
KINDS = {
    "holiday": False, "休": False, "休息": False, "休息日": False, "放假": False, "假": False, "节假日": False,
    "off": False,
    "workday": True, "班": True, "上班": True, "工作日": True, "调休上班": True, "补班": True, "work": True,
}


@dataclass(frozen=True)
class ScheduleRow:
    line: int
    day: date
    workday: bool
    note: str


def parse_schedule(content: bytes) -> list[ScheduleRow]:
    """Rows of a CSV (UTF-8, with or without BOM, or GBK) or .xlsx schedule; Invalid lists every bad line."""
    if not content:
        raise Invalid("the file is empty", fields=[("file", "empty")])
    if len(content) > MAX_BYTES:
        raise Invalid(f"the file is larger than {MAX_BYTES // 1024} KB", fields=[("file", "too large")])
    raw_rows = _xlsx_rows(content) if content[:4] == b"PK\x03\x04" else _csv_rows(content)
    rows, errors, seen = [], [], {}
    for line, cells in raw_rows:
        cells = [c for c in cells] + ["", "", ""]
        first = cells[0]
        if first in ("", None) and all(c in ("", None) for c in cells[1:3]):
            continue
        day = _as_date(first)
        if day is None:
            if not rows and not errors and not seen:  # a header row
                continue
            errors.append((f"line {line}", f"'{first}' is not a date (YYYY-MM-DD)"))
            continue
        kind = str(cells[1] or "").strip().lower()
        if kind not in KINDS:
            errors.append((f"line {line}", f"'{cells[1]}' is neither holiday (休) nor workday (班)"))
            continue
        workday = KINDS[kind]
        if workday and day.weekday() < 5:
            errors.append((f"line {line}", f"{day} is a {day.strftime('%A')}: a make-up working day (调休上班) "
                           "falls on a weekend"))
            continue
        if day in seen and seen[day] != workday:
            errors.append((f"line {line}", f"{day} is listed twice with different kinds"))
            continue
        seen[day] = workday
        rows.append(ScheduleRow(line, day, workday, str(cells[2] or "").strip()[:200]))
    if errors:
        shown = "; ".join(f"{where}: {message}" for where, message in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        raise Invalid(f"the schedule has {len(errors)} bad line(s), nothing was imported: {shown}{more}",
                      fields=errors)
    if not rows:
        raise Invalid("the file lists no days (expected rows: date, holiday|workday, note)",
                      fields=[("file", "no rows")])
    return rows


def _csv_rows(content: bytes):
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise Invalid("the file is neither UTF-8 nor GBK text", fields=[("file", "encoding")])
    if "\0" in text:
        raise Invalid("the file is not a CSV text file", fields=[("file", "binary")])
    dialect = csv.excel_tab if text.count("\t") > text.count(",") else csv.excel
    for number, cells in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
        if number > MAX_ROWS:
            raise Invalid(f"the file has more than {MAX_ROWS} rows", fields=[("file", "too many rows")])
        yield number, [cell.strip() for cell in cells]


def _xlsx_rows(content: bytes):
    from openpyxl import load_workbook
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise Invalid(f"the .xlsx file cannot be read: {type(exc).__name__}", fields=[("file", "xlsx")]) from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(max_col=3, values_only=True), start=1):
            if number > MAX_ROWS:
                raise Invalid(f"the file has more than {MAX_ROWS} rows", fields=[("file", "too many rows")])
            yield number, [v.strip() if isinstance(v, str) else v for v in values]
    finally:
        workbook.close()


def _as_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value or "").strip().replace("/", "-").replace(".", "-")
    try:
        year, month, day = (int(part) for part in text.split("-"))
        return date(year, month, day)
    except (ValueError, TypeError):
        return None


def import_schedule(core, content: bytes, *, year: int | None = None, note: str = "", actor: str = "",
                    source: str = "calendar") -> dict:
    """Import one year's official schedule in one transaction, then recompute the provisional
    deadlines of that year (one transaction per case). Returns a summary."""
    rows = parse_schedule(content)
    counts = Counter(row.day.year for row in rows)
    target = int(year) if year else counts.most_common(1)[0][0]
    if target not in counts:
        raise Invalid(f"the file has no day in {target}", fields=[("year", str(target))])
    with core.calendar.changing() as session:
        calendar = load_calendar(session)
        others = sorted({row.day.year for row in rows} - {target})
        unknown = [y for y in others if calendar.coverage(y) is None]
        if unknown:
            raise Invalid(f"rows in {unknown[0]} can only correct a known year; import {unknown[0]} first",
                          fields=[("year", str(unknown[0]))])
        was = calendar.coverage(target)
        replaced = session.scalars(select(CalendarOverride).where(
            CalendarOverride.day >= date(target, 1, 1), CalendarOverride.day <= date(target, 12, 31),
            CalendarOverride.source == "override")).all()
        replaced = [{"date": r.day.isoformat(), "kind": "workday" if r.workday else "holiday"} for r in replaced]
        session.execute(delete(CalendarOverride).where(CalendarOverride.day >= date(target, 1, 1),
                                                       CalendarOverride.day <= date(target, 12, 31)))
        now = utcnow()
        for row in rows:
            existing = session.get(CalendarOverride, row.day) if row.day.year != target else None
            entry = existing or CalendarOverride(day=row.day)
            entry.workday, entry.note, entry.source = row.workday, row.note, "official"
            entry.updated_at, entry.updated_by = now, actor or ""
            if existing is None:
                session.add(entry)
        year_row = session.get(CalendarYear, target) or CalendarYear(year=target)
        year_row.status, year_row.note, year_row.changed_at, year_row.changed_by = "official", note or "", now, actor
        session.add(year_row)
        summary = {"year": target, "holidays": sum(not r.workday for r in rows if r.day.year == target),
                   "workdays": sum(r.workday for r in rows if r.day.year == target),
                   "corrections_in_other_years": sum(r.day.year != target for r in rows),
                   "was": was, "replaced_overrides": replaced, "note": note or ""}
        audit_calendar(session, actor, "calendar_import", summary, source)
    summary["recomputed"] = recompute_year(core, target, actor)
    return summary
