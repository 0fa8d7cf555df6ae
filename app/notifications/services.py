"""Who is told what, written in the transaction of the action that caused it.

``notify_action`` is called by the case projection (app/cases/projection.py) after every engine
action, with the snapshots before and after it. From their difference it writes:

* ``task_arrived`` — a new ready task, to everyone whose worklist shows it (its role; a handler
  task only to the case's department);
* ``task_due_soon`` / ``task_overdue`` — what the diagram's reminder timers raised
  (``notify(...)``, workflows/notices.py), to the task's claimant or else its whole queue;
* ``supervision_opened`` — an item opened against a department, to that department's handlers;
* ``case_closed`` — to whoever registered the case.

Each notification also queues one outbox message per configured channel (email and SMS per
person, the group robot once per department), which the scheduler sends later (outbox.py).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session, lazyload

from ..auth.models import User, UserRole
from ..db import held, insert_rows
from ..org.models import Department
from ..supervision.models import REASONS, TIERS, SupervisionItem
from . import channels as outbound
from .models import Notification, OutboxMessage


def N_(text: str) -> str:
    """Marks a msgid for extraction; the page translates it for its reader, the outbox sends it as is."""
    return text


TEXTS = {
    "task_arrived": N_("新待办：%(case)s %(task)s"),
    "task_due_soon": N_("即将到期：%(case)s %(task)s（%(due)s 前）"),
    "task_overdue": N_("已超期：%(case)s %(task)s（时限 %(due)s）"),
    "supervision_opened": N_("督办：%(case)s 被列入%(tier)s（%(reason)s）"),
    "case_closed": N_("已办结：%(case)s"),
    "repeat_call": N_("回头件：%(case)s 诉求人再次来电（第 %(count)s 次）"),
}
SUBJECT = N_("闭环提醒")


def render(kind: str, params: dict, translate=lambda text: text) -> str:
    try:
        return translate(TEXTS[kind]) % {"case": "", "task": "", "due": "", "tier": "", "reason": "", "count": "",
                                         **params}
    except (KeyError, TypeError, ValueError):
        return kind


def _local(value) -> str:
    from workflows.workdays import SHANGHAI, parse_instant
    return parse_instant(value).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else ""


def _queue_users(session: Session, role: str | None, department: str | None) -> list[User]:
    if not role:
        return []
    # Memoised per transaction: a timer sweep commits a chunk of cases in one, and their escalations
    # mostly tell the same queues. A transaction reads one snapshot, so nothing goes stale in it.
    memo = session.info.setdefault("bihuan_queue_users", {})
    key = (role, department)
    if key not in memo:
        memo[key] = _select_queue_users(session, role, department)
    return memo[key]


def _select_queue_users(session: Session, role: str, department: str | None) -> list[User]:
    from ..api.keys import UNUSABLE_PASSWORD
    # An API client's system account (app/api/keys.py) holds a department's role so that it may
    # complete its tasks, but nobody reads its bell: the webhook is how a system hears of things.
    # Their roles are not needed to tell them something: loaded only if some caller asks (lazily),
    # not by a second SELECT for every queue (the relationship's default, "selectin").
    query = (select(User).options(lazyload(User.role_rows)).join(UserRole, UserRole.user_id == User.id)
             .where(UserRole.role == role, User.active.is_(True), User.password_hash != UNUSABLE_PASSWORD))
    if role == "handler":
        if not department:
            return []
        query = query.where(User.department == department)
    return list(session.scalars(query.order_by(User.id)))


def queue_of(session: Session, task) -> list[User]:
    """Who a ready task row is for: its claimant, or else everyone whose worklist shows it."""
    if task.assignee:
        claimant = session.scalars(select(User).where(User.username == task.assignee)).first()
        if claimant is not None:
            return [claimant]
    if task.role == "leader":  # a released 领导签批销号: everyone who may instruct
        return instructing_users(session)
    return _queue_users(session, task.role, task.department)


def instructing_users(session: Session) -> list[User]:
    """Everyone who may instruct (批示督办), and so take a released sign-off (app/joint/hooks.py)."""
    from ..joint.hooks import INSTRUCT_ROLES  # the joint domain imports the case projection, which imports this
    users = {u.id: u for role in sorted(INSTRUCT_ROLES) for u in _queue_users(session, role, None)}
    return [users[key] for key in sorted(users)]


def _task_queue(session: Session, case, task) -> list[User]:
    """Everyone whose worklist shows a ready task of the engine (its role; a handler task: the case's
    department, or the co-handling unit whose part it is)."""
    if task.role == "leader":  # 领导签批销号: the instructing leader's own, else released to all who may instruct
        leader = session.scalars(select(User).where(User.username == task.data.get("instructed_by"),
                                                    User.active.is_(True))).first()
        return [leader] if leader is not None else instructing_users(session)
    department = (getattr(task, "unit", None) or case.department) if task.role == "handler" else None
    return _queue_users(session, task.role, department)


def _department_handlers(session: Session, department: str | None) -> list[User]:
    return _queue_users(session, "handler", department)


def notify_action(session: Session, case, before, after, changes: dict, notices, now: datetime,
                  opened: list | None = None) -> int:
    """Write the notifications (and their outbox rows) one action caused; returns how many.
    ``opened``: the supervision items the projection just added (app/supervision/projection.py)."""
    if opened is None:
        opened = [o for o in session.new if isinstance(o, SupervisionItem) and o.case_id == case.id]
    with session.no_autoflush:  # like the rest of the projection: written once, at commit
        pending = [(users, kind, task_id, {"case": case.number, **params})
                   for users, kind, task_id, params in _pending(session, case, before, after, changes, notices, opened)]
        return notify_many(session, case, pending, now)


def notify_users(session: Session, case, users: list[User], kind: str, task_id: str | None, params: dict,
                 now: datetime) -> int:
    """One notification of ``kind`` for each user, and its outbox rows; returns how many."""
    return notify_many(session, case, [(users, kind, task_id, params)], now)


def notify_many(session: Session, case, pending: list, now: datetime) -> int:
    """Notifications for (users, kind, task id, params) tuples, written by one INSERT (and one for
    the outbox), however many kinds an action is worth (an escalation tells three queues)."""
    pending = [entry for entry in pending if entry[0]]
    if not pending:
        return 0
    if case.id is None:  # the rows name the case by id: it must be written first
        session.flush([case])
    # One INSERT each (app/db.py): nothing reads these rows back in the action.
    insert_rows(session, Notification.__table__, [
        {"user_id": u.id, "kind": kind, "case_id": case.id, "case_number": case.number, "task_id": task_id,
         "params": params, "created_at": now, "read_at": None} for users, kind, task_id, params in pending for u in users])
    channels = outbound.configured()
    insert_rows(session, OutboxMessage.__table__, [row for users, kind, _task_id, params in pending
                                                   for row in _outbox_rows(session, users, render(kind, params),
                                                                           case.id, now, channels)])
    return sum(len(users) for users, *_ in pending)


_CLAIMANTS_AHEAD = "bihuan_claimants_read_ahead"


def _claimants():
    from ..cases.models import ReadyTask  # the case domain imports this module (its projection)
    return select(ReadyTask.id, User).join(User, User.username == ReadyTask.assignee)


def claimants_read_ahead(session: Session, case_ids: list[int]):
    """Within the block, who claimed the ready tasks of these cases is read once, up front: for a
    transaction that applies one action to each of them (the timer sweep's chunk, whose reminders
    tell a claimant only), one SELECT instead of one per case."""
    from ..cases.models import ReadyTask
    found: dict[int, dict] = {case_id: {} for case_id in case_ids}
    with session.no_autoflush:
        for task_id, user, case_id in session.execute(
                _claimants().add_columns(ReadyTask.case_id).where(ReadyTask.case_id.in_(case_ids))):
            found[case_id][task_id] = user
    return held(session, _CLAIMANTS_AHEAD, found)


def _pending(session: Session, case, before, after, changes: dict, notices, opened) -> list:
    """(users, kind, task id, params) for everything one action is worth telling."""
    from ..cases.models import (
        ReadyTask,  # the case domain imports this module (its projection)
    )

    pending: list[tuple[list[User], str, str | None, dict]] = []
    for task_id, task in after.ready.items():
        if task_id in before.ready:
            continue
        pending.append((_task_queue(session, case, task), "task_arrived", task_id,
                        {"task": task.name, "due": _local(task.due)}))
    # A reminder is about the ready task it is attached to, read from the snapshot: its row may be
    # one this very action adds (not flushed yet), when the warning's instant had already passed as
    # the task arrived (a case registered on a Saturday, a 回访 reached after its warning day).
    about = {notice.task for notice in notices if notice.task}
    tasks = [(task_id, task) for task_id, task in after.ready.items() if task.bpmn_id in about]
    # A claimed task tells its claimant only; a task this action adds has none yet.
    claimants = session.info.get(_CLAIMANTS_AHEAD, {}).get(case.id)  # the timer sweep reads a chunk's at once
    if claimants is None:
        claimants = dict(session.execute(_claimants().where(ReadyTask.id.in_([task_id for task_id, _ in tasks])))
                         .tuples().all()) if tasks else {}
    for notice in notices:
        for task_id, task in tasks:
            if task.bpmn_id == notice.task:
                users = [claimants[task_id]] if task_id in claimants else _task_queue(session, case, task)
                pending.append((users, notice.kind, task_id, {"task": task.name, "due": _local(task.due)}))
    # Whatever department the supervision projection fixed on an item is the one told.
    for item in opened:
        pending.append((_department_handlers(session, item.department), "supervision_opened", None,
                        {"tier": TIERS.get(item.tier, str(item.tier)), "reason": REASONS.get(item.reason, item.reason),
                         "department": item.department}))
    status = changes.get("status")
    if status and status[1] == "closed" and case.registered_by:
        registrar = session.scalars(select(User).where(User.username == case.registered_by)).first()
        if registrar is not None:
            pending.append(([registrar], "case_closed", None, {}))
    return pending


def enqueue(session: Session, users: list[User], body: str, *, case_id: int | None, now: datetime,
            channels: dict | None = None) -> int:
    """Queue ``body`` on every configured channel for these users; returns the rows written."""
    rows = _outbox_rows(session, users, body, case_id, now, outbound.configured() if channels is None else channels)
    insert_rows(session, OutboxMessage.__table__, rows)
    return len(rows)


def _outbox_rows(session: Session, users: list[User], body: str, case_id: int | None, now: datetime,
                 channels: dict) -> list[dict]:
    rows = []
    if "email" in channels:
        rows += [("email", u.email) for u in users if u.email]
    if "sms" in channels:
        rows += [("sms", u.mobile) for u in users if u.mobile]
    if "webhook" in channels:
        # A group robot reaches a whole department at once: one message per group, not per person.
        codes = sorted({u.department for u in users if u.department})
        hooks = dict(session.execute(select(Department.code, Department.robot_webhook)
                                     .where(Department.code.in_(codes))).all()) if codes else {}
        urls = {hooks.get(u.department) or outbound.default_webhook() for u in users}
        rows += [("webhook", url) for url in sorted(u for u in urls if u)]
    return [{"channel": channel, "recipient": recipient, "subject": SUBJECT, "body": body, "case_id": case_id,
             "status": "pending", "attempts": 0, "next_attempt_at": now, "last_error": None, "created_at": now,
             "sent_at": None} for channel, recipient in rows]


# -- reading and marking (the web pages) ---------------------------------------------------------
def unread_count(session: Session, user_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def recent(session: Session, user_id: int, limit: int = 100, unread_only: bool = False) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


def mark_read(session: Session, user_id: int, notification_id: int | None, now: datetime) -> int:
    """Mark one of the user's notifications (or, with None, all of them) read; returns how many changed.
    Another user's notification is never touched (it counts as not found)."""
    where = and_(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        where = and_(where, Notification.id == notification_id)
    return session.execute(update(Notification).where(where).values(read_at=now)).rowcount or 0

