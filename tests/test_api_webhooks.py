"""Webhooks out: queued with the event, sent by the drain, signed, in order per case, at least once."""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import select

from app.api.ingest import upsert_external
from app.api.keys import create_key, register_client, set_webhook
from app.api.models import WebhookDelivery
from app.api.webhooks import drain
from workflows.clock import utcnow

EVENTS = ["case.registered", "case.dispatched", "case.replied", "case.closed", "case.escalated"]


class Receiver:
    """An HTTP server on 127.0.0.1 that records what it receives; it can be down (not listening)."""

    def __init__(self):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.received: list[dict] = []
        self.server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self):
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append({"headers": dict(self.headers), "body": body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def subscribe(core, url, name="platform", scopes=("intake", "read"), department=None) -> str:
    with core.db.unit_of_work() as session:
        register_client(session, name, list(scopes), actor="admin", department=department)
        create_key(session, name, actor="admin")
        return set_webhook(session, name, url, EVENTS, actor="admin")


def order(core, external_id, text="路灯不亮"):
    return upsert_external(core, source="platform", external_id=external_id, user="api-platform",
                           fields={"channel": "platform", "type": "投诉", "text": text},
                           audit_source="api:platform")[0]


def deliveries(core):
    with core.db.read() as session:
        return session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


def close(driver, number):
    driver.dispatch(number, department="chengguan")
    driver.sign(number)
    driver.reply(number, text="已更换灯泡")
    driver.do(number, "verify", "dispatcher", verify_result="passed")
    driver.do(number, "follow_up", "dispatcher", satisfaction="satisfied")


def test_events_are_queued_in_the_events_transaction_and_nothing_is_sent_there(core, driver):
    receiver = Receiver()
    receiver.up()
    try:
        subscribe(core, receiver.url, scopes=("intake",))
        number = order(core, "W-1")
        rows = deliveries(core)
        assert [(r.event, r.status) for r in rows] == [("case.registered", "pending")]
        assert receiver.received == []  # the request's transaction sent nothing
        # A case the client neither handed over nor may read is none of its business.
        driver.register(text="别人的诉求")
        assert len(deliveries(core)) == 1
        assert number
    finally:
        receiver.down()


def test_down_then_back_each_event_once_in_order_signed(core, driver, frozen_clock):
    receiver = Receiver()
    secret = subscribe(core, receiver.url)
    first, second = order(core, "W-1"), order(core, "W-2", "井盖缺失")
    close(driver, first)
    driver.dispatch(second, department="chengguan")
    queued = deliveries(core)
    assert [r.event for r in queued if r.case_id == queued[0].case_id] == [
        "case.registered", "case.dispatched", "case.replied", "case.closed"]
    # The receiver is down: every case's first event fails and waits; later ones do not overtake it.
    result = drain(core)
    assert result == {"sent": 0, "retry": 2, "failed": 0}
    assert {r.attempts for r in deliveries(core)} == {0, 1}
    assert drain(core) == {"sent": 0, "retry": 0, "failed": 0}  # backing off
    receiver.up()
    try:
        frozen_clock.move_to(utcnow() + timedelta(minutes=2))
        result = drain(core)
        assert result == {"sent": len(queued), "retry": 0, "failed": 0}
        assert drain(core) == {"sent": 0, "retry": 0, "failed": 0}
    finally:
        receiver.down()
    bodies = [json.loads(r["body"]) for r in receiver.received]
    ids = [b["id"] for b in bodies]
    assert len(ids) == len(set(ids)) == len(queued)  # each once
    per_case = {}
    for body in bodies:
        per_case.setdefault(body["case"]["number"], []).append(body["event"])
    assert per_case[first] == ["case.registered", "case.dispatched", "case.replied", "case.closed"]
    assert per_case[second] == ["case.registered", "case.dispatched"]
    closed = [b for b in bodies if b["event"] == "case.closed"][0]
    assert closed["case"]["reply_text"] == "已更换灯泡" and closed["case"]["satisfaction"] == "satisfied"
    assert closed["case"]["external_id"] == "W-1"
    for message in receiver.received:
        headers = {k.lower(): v for k, v in message["headers"].items()}
        t, v1 = (part.split("=", 1)[1] for part in headers["x-bihuan-signature"].split(","))
        expected = hmac.new(secret.encode(), f"{t}.".encode() + message["body"], hashlib.sha256).hexdigest()
        assert hmac.compare_digest(v1, expected)
        assert headers["x-bihuan-event-id"] == json.loads(message["body"])["id"]
    assert "张" not in json.dumps(bodies, ensure_ascii=False)


def test_given_up_after_the_last_try_is_an_incident_for_admins(core, monkeypatch, frozen_clock, login):
    monkeypatch.setenv("BIHUAN_WEBHOOK_MAX_ATTEMPTS", "3")
    receiver = Receiver()  # never comes up
    subscribe(core, receiver.url)
    order(core, "W-9")
    outcomes = []
    for _ in range(3):
        outcomes.append(drain(core))
        frozen_clock.move_to(utcnow() + timedelta(hours=2))
    assert outcomes == [{"sent": 0, "retry": 1, "failed": 0}, {"sent": 0, "retry": 1, "failed": 0},
                        {"sent": 0, "retry": 0, "failed": 1}]
    row = deliveries(core)[0]
    assert row.status == "failed" and row.attempts == 3 and "Connection refused" in (row.last_error or "")
    page = login("admin").get("/admin/api-clients/").get_data(as_text=True)
    assert "case.registered" in page and "Connection refused" in page
    retried = login("admin").post(f"/admin/api-clients/deliveries/{row.id}/retry")
    assert retried.status_code == 302 and deliveries(core)[0].status == "pending"
