"""Notifications through the real engine and the timer sweep: who is told what and when (the
reminder timers at their working-day instant), the outbox drained to a local robot webhook and a
local SMTP server, retries with backoff, and the bell, list and mark-as-read pages."""
from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from app.auth.models import User
from app.notifications.models import Notification, OutboxMessage
from app.notifications.outbox import drain
from tests.conftest import at


def utc_iso(value) -> str:
    return value.astimezone(UTC).isoformat()


def notes(core, username: str, kind: str | None = None) -> list[Notification]:
    with core.db.read() as session:
        query = (select(Notification).join(User, User.id == Notification.user_id)
                 .where(User.username == username).order_by(Notification.id))
        if kind:
            query = query.where(Notification.kind == kind)
        return list(session.scalars(query))


def who_got(core, kind: str, number: str) -> set[str]:
    with core.db.read() as session:
        return set(session.scalars(select(User.username).join(Notification, Notification.user_id == User.id)
                                   .where(Notification.kind == kind, Notification.case_number == number)))


def close_case(driver, number):
    driver.reply(number)
    driver.do(number, "verify", "dispatcher", verify_result="passed")
    driver.do(number, "follow_up", "dispatcher", satisfaction="satisfied")
    assert driver.show(number)["status"] == "closed"


# -- the reminder timers, at their working-day instants ----------------------------------------------
def test_handle_warning_fires_one_working_day_before_the_deadline_across_a_weekend(driver, core, clock):
    clock.move_to(at(2026, 11, 5, 10, 0))  # Thursday
    number = driver.register(type="咨询")  # 2 working days
    driver.dispatch(number)
    driver.sign(number)
    case = driver.show(number)
    assert case["deadline"] == utc_iso(at(2026, 11, 9, 23, 59, 59))  # Monday, end of day
    # the reminders are not the task's deadline: the worklist still shows the deadline
    assert driver.task(number, "handle")["due"] == case["deadline"]

    clock.move_to(at(2026, 11, 6, 23, 59, 59))  # Friday's end, the timer's instant: not passed yet
    driver.fire()
    assert notes(core, "handler", "task_due_soon") == []
    clock.move_to(at(2026, 11, 7, 0, 0, 0))  # past Friday's end: Monday, the deadline, is one working day away
    driver.fire()
    assert who_got(core, "task_due_soon", number) == {"handler"}  # its department only, not handler2
    [warning] = notes(core, "handler", "task_due_soon")
    assert warning.params["task"] == "办理" and warning.task_id == driver.task(number, "handle")["id"]

    clock.move_to(at(2026, 11, 8, 12, 0))  # Sunday: nothing new
    driver.fire()
    assert notes(core, "handler", "task_overdue") == []
    clock.move_to(at(2026, 11, 10, 0, 0, 0))  # past the deadline
    driver.fire()
    assert who_got(core, "task_overdue", number) == {"handler"}
    assert len(notes(core, "handler", "task_due_soon")) == 1  # each fires once
    # the deadline timer escalated as before, and the department hears of the supervision item
    assert driver.show(number)["supervision_tier"] == 1
    assert who_got(core, "supervision_opened", number) == {"handler"}


def test_sign_for_warning_at_the_end_of_the_dispatch_day_and_none_once_signed(driver, core, clock):
    late = driver.register(type="咨询")
    signed = driver.register(type="咨询")
    for number in (late, signed):
        driver.dispatch(number)
    driver.sign(signed)
    clock.move_to(at(2026, 11, 2, 23, 59, 59))
    driver.fire()
    assert who_got(core, "task_due_soon", late) == set()
    clock.move_to(at(2026, 11, 3, 0, 0, 0))  # past Monday's end: 签收 is due at Tuesday's end
    driver.fire()
    assert who_got(core, "task_due_soon", late) == {"handler"}
    assert who_got(core, "task_due_soon", signed) == set()  # the reminder left with the task
    assert who_got(core, "task_overdue", late) == set()
    clock.move_to(at(2026, 11, 4, 0, 0, 0))
    driver.fire()
    assert who_got(core, "task_overdue", late) == {"handler"}
    assert who_got(core, "task_overdue", signed) == set()


def test_a_designer_moves_the_warning(driver, core, clock):
    from tests.conftest import deploy_variant
    deploy_variant(core, "case_lifecycle.bpmn", "<bpmn:timeDate>working_days_before(deadline, 1)</bpmn:timeDate>",
                   "<bpmn:timeDate>working_days_before(deadline, 0)</bpmn:timeDate>")
    number = driver.register(type="咨询")
    driver.dispatch(number)
    driver.sign(number)  # deadline: Wednesday 11-04, end of day
    clock.move_to(at(2026, 11, 4, 0, 0, 0))  # the shipped warning's instant has passed
    driver.fire()
    assert who_got(core, "task_due_soon", number) == set()
    clock.move_to(at(2026, 11, 5, 0, 0, 0))
    driver.fire()
    assert who_got(core, "task_due_soon", number) == {"handler"}


# -- the other events ------------------------------------------------------------------------------------
def test_arrivals_and_closing_are_told_to_the_right_people(driver, core):
    number = driver.register()
    assert who_got(core, "task_arrived", number) == {"dispatcher"}
    driver.dispatch(number)
    assert who_got(core, "task_arrived", number) == {"dispatcher", "handler"}  # not handler2 (其他部门)
    driver.sign(number)
    close_case(driver, number)
    assert who_got(core, "case_closed", number) == {"operator"}  # who registered it


# -- the outbox and the channels -------------------------------------------------------------------------
class Robot:
    """A WeCom/DingTalk robot on 127.0.0.1: records each POST; the first ``fail`` ones get HTTP 500."""

    def __init__(self, fail: int = 0):
        self.received, self.fail = [], fail
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if robot.fail > 0:
                    robot.fail -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                robot.received.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errcode": 0, "errmsg": "ok"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/cgi-bin/webhook/send?key=test"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    inbox = Inbox()
    with socket.socket() as probe:  # the controller checks its own port on start, so it needs a real one
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def set_email(core, username, email):
    with core.db.unit_of_work() as session:
        session.execute(update(User).where(User.username == username).values(email=email))


def outbox(core) -> list[OutboxMessage]:
    with core.db.read() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_robot_and_email_receive_the_notification_after_the_action(driver, core, smtp, monkeypatch):
    set_email(core, "handler", "handler@example.org")
    with Robot() as robot:
        monkeypatch.setenv("BIHUAN_NOTIFY_WEBHOOK_URL", robot.url)
        monkeypatch.setenv("BIHUAN_NOTIFY_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("BIHUAN_NOTIFY_SMTP_PORT", str(smtp.port))
        number = driver.register()
        driver.dispatch(number)
        # queued with the action, sent by nobody yet: delivery is never inside the action
        assert robot.received == [] and smtp.messages == []
        assert {(m.channel, m.status) for m in outbox(core)} == {("webhook", "pending"), ("email", "pending")}
        result = drain(core)
    assert result["sent"] == len(outbox(core)) and result["retry"] == result["failed"] == 0
    texts = [m["text"]["content"] for m in robot.received]
    assert all(m["msgtype"] == "text" for m in robot.received)
    assert any(number in t and "派单/转办" in t for t in texts)  # the dispatcher's arrival (no department)
    assert any(number in t and "签收" in t for t in texts)
    [(recipients, content)] = smtp.messages
    assert recipients == ["handler@example.org"] and number in content
    assert all(m.status == "sent" and m.sent_at is not None for m in outbox(core))
    assert drain(core) == {"sent": 0, "retry": 0, "failed": 0}  # sent once


def test_a_failing_robot_is_retried_with_backoff_and_never_blocks_the_case(driver, core, monkeypatch, frozen_clock):
    with Robot(fail=2) as robot:
        monkeypatch.setenv("BIHUAN_NOTIFY_WEBHOOK_URL", robot.url)
        number = driver.register()
        driver.dispatch(number)  # the case goes on whatever the robot does
        assert "sign_for" in driver.ready(number)
        assert drain(core) == {"sent": 0, "retry": 2, "failed": 0}
        first, _second = outbox(core)
        assert first.attempts == 1 and "500" in first.last_error and first.status == "pending"
        assert drain(core) == {"sent": 0, "retry": 0, "failed": 0}  # not due again yet
        frozen_clock.shift(timedelta(minutes=1))
        assert drain(core) == {"sent": 2, "retry": 0, "failed": 0}
        assert len(robot.received) == 2


def test_a_channel_that_keeps_failing_is_given_up(driver, core, monkeypatch, frozen_clock):
    monkeypatch.setenv("BIHUAN_NOTIFY_WEBHOOK_URL", "http://127.0.0.1:9/nobody-listens")
    monkeypatch.setenv("BIHUAN_NOTIFY_MAX_ATTEMPTS", "3")
    driver.register()
    assert len(outbox(core)) == 1
    assert drain(core)["retry"] == 1
    frozen_clock.shift(timedelta(minutes=1))
    assert drain(core)["retry"] == 1
    frozen_clock.shift(timedelta(minutes=1))
    assert drain(core) == {"sent": 0, "retry": 0, "failed": 0}  # the pause doubled: 2 minutes
    frozen_clock.shift(timedelta(minutes=1))
    assert drain(core)["failed"] == 1
    [row] = outbox(core)
    assert row.status == "failed" and row.attempts == 3


def test_nothing_is_queued_without_a_configured_channel(driver, core):
    driver.register()
    assert outbox(core) == [] and notes(core, "dispatcher", "task_arrived")


# -- the pages ---------------------------------------------------------------------------------------------
def test_bell_list_and_mark_as_read(driver, core, login):
    first = driver.register()
    second = driver.register()
    client = login("dispatcher")
    html = client.get("/tasks").get_data(as_text=True)
    assert 'id="bell"' in html and '<span class="count">2</span>' in html
    page = client.get("/notifications").get_data(as_text=True)
    assert first in page and second in page and "新待办" in page
    [one, two] = notes(core, "dispatcher")
    # the link goes to the task while it is ready
    assert f'/tasks/{one.task_id}' in page
    response = client.post(f"/notifications/{one.id}/read")
    assert response.status_code == 302
    assert [n.read_at is not None for n in notes(core, "dispatcher")] == [True, False]
    # someone else's notification is not found, and stays unread
    assert login("operator").post(f"/notifications/{two.id}/read").status_code == 404
    assert notes(core, "dispatcher")[1].read_at is None
    client.post("/notifications/read-all")
    assert all(n.read_at is not None for n in notes(core, "dispatcher"))
    assert 'class="count"' not in client.get("/notifications").get_data(as_text=True).split("</header>")[0]
    client.get("/lang/en")
    assert "New task" in client.get("/notifications").get_data(as_text=True)
    anonymous = login(None).get("/notifications")
    assert anonymous.status_code == 302 and "/login" in anonymous.location


def test_a_supervision_item_opened_by_a_users_action_is_told_to_its_department(driver, core):
    """Two returns open a 推诿扯皮 item from the handler's own action (not the sweep)."""
    number = driver.register()
    driver.dispatch(number)
    driver.do(number, "sign_for", "handler", decision="return", return_reason="不属于本部门职责")
    driver.do(number, "reassign", "dispatcher", department="chengguan")
    driver.do(number, "sign_for", "handler", decision="return", return_reason="仍不属于本部门职责")
    items = driver.show(number)["supervision"]
    assert items, "two returns open a 推诿扯皮 item"
    handlers = {"chengguan": {"handler"}, "community_building": {"handler2"}}
    assert who_got(core, "supervision_opened", number) == set().union(*(handlers[i["department"]] for i in items))
