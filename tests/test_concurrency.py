"""Two people completing the same task at once: one wins, one gets a clear conflict, nothing is lost."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from app.cases.models import WorkflowInstance
from app.errors import Conflict
from tests.conftest import audit_rows


def race(fn, n=2):
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = ("ok", fn(i))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            results[i] = ("error", exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.parametrize("attempt", range(3))
def test_two_completions_of_one_task(driver, core, attempt):
    number = driver.register()
    task_id = driver.task(number, "dispatch")["id"]
    categories = ["城市管理", "治安"]

    def complete(i):
        return core.cases.complete_task(task_id, user="dispatcher", data={
            "decision": "dispatch", "category": categories[i], "difficulty": "normal"})

    results = race(complete)
    outcomes = sorted(kind for kind, _ in results)
    assert outcomes == ["error", "ok"], results
    error = next(value for kind, value in results if kind == "error")
    assert isinstance(error, Conflict)
    winner = next(value for kind, value in results if kind == "ok")

    case = driver.show(number)
    assert case["status"] == "dispatched"
    assert case["category"] == winner["category"]  # the loser changed nothing
    assert [h.task_bpmn_id for h in audit_rows(core, number, "complete")] == ["dispatch"]
    assert driver.ready(number) == ["sign_for"]
    with core.db.read() as session:
        inst = session.scalars(select(WorkflowInstance)).one()
        assert inst.version == 2  # written at intake, then by exactly one completion


def test_stale_instance_version_is_a_conflict(driver, core):
    """The optimistic lock itself: a writer holding an old version cannot overwrite a newer state."""
    from sqlalchemy.orm.exc import StaleDataError

    number = driver.register()
    with core.db.sessions() as stale:
        old = stale.scalars(select(WorkflowInstance)).one()
        stale.commit()  # end the read; the object keeps version 1 (expire_on_commit is off)
        driver.dispatch(number)
        old.state = old.state + b"\0"
        with pytest.raises(StaleDataError):
            stale.commit()
    assert driver.show(number)["status"] == "dispatched"
