"""Personal data is erased a set time after the case closed; the case still counts (issue 14)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.cases.models import AuditEntry, Case
from app.privacy.masking import mask_free_text
from app.privacy.retention import erase_due
from app.scheduler import erase_personal_data
from workflows.clock import utcnow


def closed_case(driver, core, closed_days_ago: int, text="噪音扰民，请回电13912345678") -> str:
    number = driver.register(reporter_phone="13912345678", reporter_name="李四", text=text)
    with core.db.unit_of_work() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        case.status, case.closed_at = "closed", utcnow() - timedelta(days=closed_days_ago)
    return number


def test_cases_past_the_retention_period_lose_their_personal_data_only(core, driver):
    old = closed_case(driver, core, 3 * 365 + 1)
    recent = closed_case(driver, core, 3 * 365 - 1)
    assert erase_due(core.db, dry_run=True)["due"] == 1
    result = erase_due(core.db)
    assert result["erased"] == 1 and result["cases"] == [old]
    gone, kept = driver.show(old), driver.show(recent)
    assert gone["reporter_phone"] is None and gone["reporter_name"] is None
    assert "13912345678" not in gone["text"] and "139****5678" in gone["text"]
    assert gone["status"] == "closed" and gone["type"] == kept["type"]  # still counted as before
    assert kept["reporter_phone"] == "139****5678" and "13912345678" in kept["text"]
    with core.db.read() as session:
        [row] = session.scalars(select(AuditEntry).where(AuditEntry.action == "anonymise")).all()
        assert row.actor == "retention" and row.source == "scheduler"
        case = session.scalars(select(Case).where(Case.number == old)).one()
        assert case.reporter_phone_index is None
    assert erase_due(core.db)["erased"] == 0  # idempotent
    erase_personal_data(core)  # the scheduler's job is the same call
    with core.db.read() as session:
        assert len(session.scalars(select(AuditEntry).where(AuditEntry.action == "anonymise")).all()) == 1


def test_the_retention_period_comes_from_the_environment(core, driver, monkeypatch):
    closed_case(driver, core, 40)
    assert erase_due(core.db, dry_run=True)["due"] == 0
    monkeypatch.setenv("BIHUAN_RETENTION_DAYS", "30")
    assert erase_due(core.db, dry_run=True)["due"] == 1


def test_free_text_masking():
    assert mask_free_text("电话13912345678") == "电话139****5678"
    assert mask_free_text("电话 139-1234-5678") == "电话 139****5678"
    assert mask_free_text("身份证370211199001011234") == "身份证370211********1234"
    assert mask_free_text("座机0532-86881234") == "座机0532-****1234"
    assert mask_free_text("工单HD-20261102-0001") == "工单HD-20261102-0001"
