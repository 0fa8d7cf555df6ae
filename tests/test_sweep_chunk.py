"""A sweep fires a chunk of cases in one transaction and reads their supervision items and claimed
tasks once for the whole chunk (app/cases/timers.py). Each case must come out exactly as if its
timer had fired alone: the items' numbering (第N次) and department, the 及时签收率 flag of the KPI
rollup, and who is told."""
from __future__ import annotations

from sqlalchemy import select

from app.reports.kpi_rollup import COUNTERS, KpiDaily, KpiHandling
from app.reports.rollups import rebuild
from tests.conftest import at


def sign_overdue(case):
    return sorted((i["cause_no"], i["tier"], i["department"], i["status"]) for i in case["supervision"]
                  if i["reason"] == "sign_overdue")


def kpi_table(core):
    with core.db.read() as session:
        daily = {(r.dim, r.day, r.key): tuple(getattr(r, n) for n in COUNTERS) for r in session.scalars(select(KpiDaily))}
        hist = {(r.dim, r.day, r.key, r.days): r.cases for r in session.scalars(select(KpiHandling))}
    return {k: v for k, v in daily.items() if any(v)}, {k: v for k, v in hist.items() if v}


def test_a_chunk_numbers_a_second_lapse_and_keeps_the_rollup_as_a_rebuild(driver, clock):
    """Three cases dispatched Monday 11-02 to 城管 are never signed for (due at the end of 11-03).
    They lapse in one sweep, are returned and reassigned to 城管, and lapse again in one sweep:
    a second 签收超时 against the same department is 第2次, and its 纪工委 tier, opened by a later
    sweep together with the first lapse's, keeps that number."""
    numbers = [driver.register(text=f"第{k}件") for k in range(3)]
    for number in numbers:
        driver.dispatch(number)
    clock.move_to(at(2026, 11, 4, 9, 0))
    assert driver.fire() == 3
    clock.move_to(at(2026, 11, 4, 10, 0))
    for number in numbers:
        driver.do(number, "sign_for", "handler", decision="return", return_reason="需补充材料")
        driver.do(number, "reassign", "dispatcher", department="chengguan")  # sign-for due at the end of 11-05
    clock.move_to(at(2026, 11, 6, 9, 0))
    assert driver.fire() == 3
    for number in numbers:  # the first lapse stays open until the center verifies it (核实销号)
        assert sign_overdue(driver.show(number)) == [(1, 1, "chengguan", "open"), (2, 1, "chengguan", "open")]
    clock.move_to(at(2026, 11, 12, 9, 0))  # both tier 1 items were due by the end of 11-11
    assert driver.fire() == 6
    for number in numbers:
        assert sign_overdue(driver.show(number)) == [(1, 1, "chengguan", "escalated"), (1, 2, "chengguan", "open"),
                                                     (2, 1, "chengguan", "escalated"), (2, 2, "chengguan", "open")]
    # The flag the rollup keeps (a 签收超时 before this action) came from the chunk's read: a wrong
    # one moves a case between buckets, which a rebuild from the cases does not.
    kept = kpi_table(driver.core)
    assert kept[0]
    with driver.core.db.unit_of_work() as session:
        rebuild(session)
    assert kpi_table(driver.core) == kept
