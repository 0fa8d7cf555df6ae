"""Redemption (积分兑换), each application its own instance of bpmn/volunteer_redemption.bpmn.

The application reserves the points (a debit) and the stock (a conditional UPDATE) in the same
transaction that starts the instance; the diagram's business rule task (volunteer_redemption.dmn)
decides whether the application is allowed at all (one per quarter) and which approvals it needs.
Rejection or a timed-out approval releases both, again in one transaction with the instance state.

Timers: each row mirrors its instance's earliest waiting timer into the indexed ``next_timer_at``;
``fire_due`` (swept from app/scheduler.py) reads only rows that are due. The row's version column is
an optimistic lock: an approval and the timer racing give one winner.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from workflows.clock import utcnow
from workflows.engine import FormInvalid, ScriptIncident, TaskNotReady
from workflows.workdays import CalendarGap

from ..errors import Blocked, Conflict, Forbidden, Invalid, NotFound
from ..processes.problem_text import tr as _
from ..processes.services import ensure_shipped_version, latest_version
from ..reports.periods import SHANGHAI
from . import ledger
from .accounts import Staff, audit, volunteer_actor
from .models import Redemption, Reward, Volunteer

log = logging.getLogger(__name__)
PROCESS = "volunteer_redemption"
OUTCOMES = {"handed_over": "handed_over", "organiser_rejected": "rejected", "office_rejected": "rejected",
            "organiser_timed_out": "timed_out", "office_timed_out": "timed_out"}
STATUS = {"applied": "待审批", "approved": "待核销", "handed_over": "已核销", "rejected": "未通过",
          "timed_out": "超时退回"}
ACTIVE = ("applied", "approved", "handed_over")  # what counts towards the once-a-quarter rule


def quarter_of(instant: datetime) -> str:
    local = instant.astimezone(SHANGHAI)
    return f"{local.year}Q{(local.month - 1) // 3 + 1}"


def _bundle(core, session: Session, version_id: int | None = None):
    if version_id is None:
        ensure_shipped_version(session)
        row = latest_version(session)
        version_id = row.id
    bundle = core.bundles.get(session, version_id)
    if PROCESS not in bundle.specs:
        raise Invalid(_("当前发布的流程版本不含积分兑换流程（volunteer_redemption.bpmn），请在流程管理中发布包含它的版本"))
    return version_id, bundle


def apply(core, volunteer_id: int, reward_id: int, quantity: int = 1) -> dict:
    """A volunteer's application: the rules' process runs with no transaction open (see complete),
    then one write transaction re-checks, under the volunteer's row lock, what it was given."""
    if not isinstance(quantity, int) or not 1 <= quantity <= 10:
        raise Invalid(_("数量为 1–10"), [("quantity", _("数量为 1–10"))])
    now = utcnow()
    for _attempt in range(3):
        with core.db.read() as session:
            volunteer, reward, points, count = _application(session, volunteer_id, reward_id, quantity, now)
            version_id, bundle = _bundle(core, session) if latest_version(session) is not None else (None, None)
        if bundle is None:  # a fresh install: the shipped version is deployed by a write transaction
            with core.db.unit_of_work() as session:
                version_id, bundle = _bundle(core, session)
        try:
            wf = core.engine.start(bundle, PROCESS, {
                "applied_at": now.isoformat(timespec="seconds"), "points": points, "quarter_count": count,
                "reward": reward.name, "quantity": quantity, "community": volunteer.community})
        except ScriptIncident as exc:
            raise Blocked(_("兑换流程出错：%(error)s", error=exc)) from None
        except CalendarGap as exc:
            raise Invalid(str(exc)) from None
        if wf.completed:  # the rules refused it (redemption_refused): nothing is kept
            data = core.engine.main_path_data(wf)
            raise Invalid(str(data.get("refusal") or _("不符合兑换规则")))
        with core.db.unit_of_work() as session:
            session.get(Volunteer, volunteer_id, with_for_update=True)  # one application at a time
            volunteer, reward, points, now_count = _application(session, volunteer_id, reward_id, quantity, now)
            if now_count != count:
                continue  # another application of this quarter came first: the rules see it this time
            # Stock: a conditional decrement is the check and the reservation at once; of two applications
            # racing for the last item, the second one updates no row.
            taken = session.execute(update(Reward).where(Reward.id == reward.id, Reward.stock >= quantity)
                                    .values(stock=Reward.stock - quantity)).rowcount
            if taken != 1:
                raise Conflict(_("“%(reward)s”库存不足", reward=reward.name))
            row = Redemption(volunteer_id=volunteer.id, reward_id=reward.id, community=volunteer.community,
                             quantity=quantity, points=points, money_value=reward.money_value * quantity,
                             quarter=quarter_of(now), status="applied", reason="", applied_at=now,
                             process_version_id=version_id, state=b"")
            session.add(row)
            session.flush()
            ledger.post(session, volunteer.id, -points, "redemption_reserve", redemption_id=row.id,
                        confirmed_by=volunteer_actor(volunteer.id), note=f"{reward.name} × {quantity}", at=now)
            _project(core, bundle, row, wf)
            audit(session, volunteer_actor(volunteer.id), "volunteer_redeem_apply",
                  {"redemption": row.id, "reward": reward.name, "points": points})
            return describe(row)
    raise Conflict(_("这个兑换申请刚被他人处理，请刷新后再看"))


def _application(session: Session, volunteer_id: int, reward_id: int, quantity: int, now: datetime):
    """(volunteer, reward, points, applications this quarter), refusing what cannot be applied for."""
    volunteer = session.get(Volunteer, volunteer_id)
    if volunteer is None or not volunteer.active:
        raise NotFound(_("志愿者不存在"))
    reward = session.get(Reward, reward_id)
    if reward is None or not reward.active:
        raise NotFound(_("兑换项目不存在或已下架"))
    points = reward.points_price * quantity
    balance = ledger.balance(session, volunteer.id)
    if balance < points:
        raise Invalid(_("积分不足：兑换需要 %(points)s 分，当前余额 %(balance)s 分", points=f"{points:g}",
                        balance=f"{balance:g}"))
    count = len(session.scalars(select(Redemption.id).where(
        Redemption.volunteer_id == volunteer.id, Redemption.quarter == quarter_of(now),
        Redemption.status.in_(ACTIVE))).all())
    return volunteer, reward, points, count


def _project(core, bundle, row: Redemption, wf, actor: str = "", reason: str = "") -> None:
    """Store the instance and mirror what pages and the sweep need: status, ready task, next timer."""
    row.state = core.engine.dump(wf)
    ready = core.engine.ready_tasks(bundle, wf)
    row.current_task = ready[0].bpmn_id if ready else None
    row.current_task_id = ready[0].id if ready else None
    row.next_timer_at = core.engine.next_timer_at(wf)
    if not wf.completed:
        if row.current_task == "handover":
            row.status = "approved"
        return
    ended = [e for e in core.engine.path(wf)["completed"] if e in OUTCOMES]
    outcome = OUTCOMES[ended[0]] if ended else "rejected"
    row.status, row.finished_at, row.next_timer_at = outcome, utcnow(), None
    if outcome == "handed_over":
        row.handed_over_by = actor
        return
    row.reason = (reason or ("审批超时，积分已退回" if outcome == "timed_out" else "未通过审批"))[:500]
    _release(row, actor or "scheduler")


def _release(row: Redemption, actor: str) -> None:
    from sqlalchemy.orm import object_session
    session = object_session(row)
    session.execute(update(Reward).where(Reward.id == row.reward_id).values(stock=Reward.stock + row.quantity))
    ledger.post(session, row.volunteer_id, row.points, "redemption_release", redemption_id=row.id,
                confirmed_by=actor, note=STATUS[row.status])


def complete(core, staff: Staff, redemption_id: int, data: dict) -> dict:
    """The ready step (社区初审, 办公室审批 or 兑换核销) done by ``staff`` with the form ``data``.

    As with cases (CaseService.complete_task), the engine runs between a read and a short write
    transaction, never holding the write lock; a row changed meanwhile is a conflict to reload.
    """
    with core.db.read() as session:
        row = session.get(Redemption, redemption_id)
        if row is None:
            raise NotFound(_("兑换申请不存在"))
        _version, bundle = _bundle(core, session, row.process_version_id)
        if row.current_task is None:
            raise Conflict(_("这个兑换申请已经办结"))
        role = bundle.tasks[row.current_task].role
        if role not in staff.roles:
            step = _(bundle.tasks[row.current_task].name)  # a shipped BPMN name: in the catalog
            raise Forbidden(_("“%(step)s”由志愿服务办公室办理", step=step) if role == "volunteer_admin"
                            else _("“%(step)s”由社区组织者办理", step=step))
        if role == "volunteer_organiser":
            staff.require(row.community)
        read_version, step, task_id, state = row.version, row.current_task, row.current_task_id, row.state
    wf = core.engine.restore(bundle, PROCESS, state)
    try:
        core.engine.complete(bundle, wf, task_id, dict(data))
    except FormInvalid as exc:
        raise Invalid("；".join(m for _f, m in exc.errors), exc.errors) from None
    except TaskNotReady:
        raise Conflict(_("这一步已由他人办理，请刷新")) from None
    except ScriptIncident as exc:
        raise Blocked(_("兑换流程出错：%(error)s", error=exc)) from None
    except CalendarGap as exc:
        raise Invalid(str(exc)) from None
    try:
        with core.db.unit_of_work() as session:
            row = session.get(Redemption, redemption_id)
            if row is None or row.version != read_version:
                raise StaleDataError()
            _project(core, bundle, row, wf, actor=staff.username, reason=str(data.get("reason") or ""))
            audit(session, staff.username, f"volunteer_redeem_{step}",
                  {"redemption": row.id, "decision": data.get("decision"), "reason": data.get("reason"),
                   "status": row.status})
            return describe(row)
    except StaleDataError:
        raise Conflict(_("这个兑换申请刚被他人处理，请刷新后再看")) from None


def fire_due(core, now: datetime | None = None) -> int:
    """Fire the approval timers that are due; each redemption in its own transaction."""
    now = now or utcnow()
    with core.db.read() as session:
        ids = list(session.scalars(select(Redemption.id).where(Redemption.next_timer_at <= now)
                                   .order_by(Redemption.next_timer_at).limit(500)))
    fired = 0
    for rid in ids:
        try:
            with core.db.read() as session:  # the engine runs with no transaction open (see complete)
                row = session.get(Redemption, rid)
                if row is None or row.next_timer_at is None or row.next_timer_at > now:
                    continue
                _version, bundle = _bundle(core, session, row.process_version_id)
                read_version, state = row.version, row.state
            wf = core.engine.restore(bundle, PROCESS, state)
            went_off = bool(core.engine.fire_due_timers(wf, now))
            with core.db.unit_of_work() as session:
                row = session.get(Redemption, rid)
                if row is None or row.version != read_version:
                    continue  # approved at the same moment: the approval won, nothing to time out
                fired += went_off
                _project(core, bundle, row, wf, actor="scheduler")
                audit(session, "scheduler", "volunteer_redeem_timer", {"redemption": row.id, "status": row.status},
                      source="scheduler")
        except StaleDataError:
            continue
        except Exception:  # noqa: BLE001 - one broken instance must not stop the sweep
            log.exception("volunteer redemption %s: timer failed", rid)
    return fired


def describe(row: Redemption) -> dict:
    return {"id": row.id, "status": row.status, "status_label": STATUS.get(row.status, row.status),
            "points": row.points, "quantity": row.quantity, "reason": row.reason, "step": row.current_task,
            "applied_at": row.applied_at.isoformat(), "next_timer_at": row.next_timer_at.isoformat()
            if row.next_timer_at else None}


def listing(session: Session, staff: Staff | None = None, volunteer_id: int | None = None, open_only: bool = False,
            limit: int = 100) -> list[tuple[Redemption, Reward]]:
    query = select(Redemption, Reward).join(Reward, Reward.id == Redemption.reward_id)
    if volunteer_id is not None:
        query = query.where(Redemption.volunteer_id == volunteer_id)
    if staff is not None and not staff.office:
        query = query.where(Redemption.community == (staff.community or ""))
    if open_only:
        query = query.where(Redemption.current_task.is_not(None))
    return [(r, w) for r, w in session.execute(query.order_by(Redemption.id.desc()).limit(limit)).all()]
