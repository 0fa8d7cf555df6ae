"""The JSON API's cost over the service layer, and the webhook outbox's drain rate. Prints figures;
asserts nothing.

    .venv/bin/python bench/api.py                     # SQLite in a temp dir
    .venv/bin/python bench/api.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

1. ``POST /api/v1/cases`` (Flask's test client: key check, rate limiter, schema validation, the
   register call, the answer and the per-call audit row) against ``CaseService.register`` called
   directly, in the same run, alternating blocks so both see the same database size.
   Target: overhead <= 30 %.
2. 10 000 pending webhook deliveries (2 000 cases, 5 events each) drained to a receiver on
   127.0.0.1 by ``app.api.webhooks.drain``: signed POSTs, in order per case. Target: >= 200/s.

Measured 2026-12-01 on the shared 2-core machine (load average 13-20, so the two sides of 1.
move together but noisily; runs of the same code gave +8 % to +24 %):
  SQLite:      service 73.0 ms/case, API 82.8 ms/case, overhead +13.4 %; outbox 996/s
  PostgreSQL:  service 99.8 ms/case, API 123.7 ms/case, overhead +23.9 %; outbox 1248/s
"""
from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import func, insert, select  # noqa: E402

from lifecycle import fresh_database  # noqa: E402

BODY = {"channel": "platform", "type": "complaint", "text": "小区门口路灯不亮，晚上很黑", "address": "幸福路 1 号",
        "reporter_name": "张三", "reporter_phone": "13800001234"}


def register_overhead(core, app, key: str, n: int, block: int = 25) -> None:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}

    def via_service():
        core.cases.register(channel="platform", type="complaint", text=BODY["text"], address=BODY["address"],
                            reporter_name=BODY["reporter_name"], reporter_phone=BODY["reporter_phone"],
                            user="api-bench", source="api:bench", detail=False)

    def via_api():
        response = client.post("/api/v1/cases", json=BODY, headers=headers)
        assert response.status_code == 201, response.get_data(as_text=True)

    for _ in range(10):  # warm-up: caches, bundles, the first connection
        via_service()
        via_api()
    samples = {"service": [], "api": []}
    for _ in range(max(1, n // block)):
        for name, fn in (("service", via_service), ("api", via_api)):
            started = time.perf_counter()
            for _ in range(block):
                fn()
            samples[name].append((time.perf_counter() - started) / block)
    service, api = statistics.median(samples["service"]), statistics.median(samples["api"])
    print(f"register via the service layer: {service * 1000:7.2f} ms/case  {1 / service:7.1f} cases/s")
    print(f"POST /api/v1/cases            : {api * 1000:7.2f} ms/case  {1 / api:7.1f} cases/s")
    print(f"API overhead                  : {(api / service - 1) * 100:+6.1f} %   (target <= 30 %)")


class Receiver:
    def __init__(self):
        self.count = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    outer.count += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


def outbox_drain(core, deliveries: int = 10_000, per_case: int = 5) -> None:
    from app.api.keys import set_webhook
    from app.api.models import ApiClient, WebhookDelivery
    from app.api.webhooks import drain
    from app.cases.models import Case
    from workflows.clock import utcnow

    receiver = Receiver()
    with core.db.unit_of_work() as session:
        set_webhook(session, "bench", receiver.url, ["case.registered"], actor="bench")
        client_id = session.scalar(select(ApiClient.id).where(ApiClient.name == "bench"))
    now = utcnow() - timedelta(seconds=1)
    cases = deliveries // per_case
    with core.db.unit_of_work() as session:
        first = (session.scalar(select(func.max(Case.id))) or 0) + 1
        session.execute(insert(Case), [
            {"id": first + i, "number": f"BENCH-{i:07d}", "channel": "platform", "type": "complaint", "text": "x",
             "status": "registered", "urgent": False, "registered_at": now, "registered_by": "bench",
             "extensions": [], "return_count": 0, "redo_count": 0, "supervision_tier": 0, "has_incident": False,
             "repeat_calls": 0} for i in range(cases)])
        rows = []
        for step in range(per_case):
            for i in range(cases):
                event_id = str(uuid.uuid4())
                rows.append({"event_id": event_id, "client_id": client_id, "case_id": first + i,
                             "event": "case.registered", "payload": {"id": event_id, "step": step},
                             "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now})
        session.execute(insert(WebhookDelivery), rows)
    started = time.perf_counter()
    totals = {"sent": 0, "retry": 0, "failed": 0}
    while True:
        result = drain(core, budget=3600)
        for k in totals:
            totals[k] += result[k]
        if not any(result.values()):
            break
    elapsed = time.perf_counter() - started
    with core.db.read() as session:
        left = session.scalar(select(func.count()).select_from(WebhookDelivery)
                              .where(WebhookDelivery.status != "sent"))
    print(f"outbox: {totals['sent']} deliveries in {elapsed:.1f} s = {totals['sent'] / elapsed:7.1f}/s "
          f"(target >= 200/s); received {receiver.count}, not sent {left}, retries {totals['retry']}")
    receiver.server.shutdown()


def run(url: str | None, n: int) -> None:
    from app import create_app
    from app.api.keys import create_key, register_client
    from app.core import Core
    from app.seed import seed_demo

    url, drop = fresh_database(url)
    core = Core(url)
    try:
        seed_demo(core)
        with core.db.unit_of_work() as session:
            register_client(session, "bench", ["intake", "read"], actor="bench", rate_limit=100000)
            key = create_key(session, "bench", actor="bench")
        app = create_app({"TESTING": True, "SECRET_KEY": "bench-" + "x" * 40}, core=core)
        print(f"== {url.split('?')[0].split(':')[0]}")
        register_overhead(core, app, key, n)
        outbox_drain(core)
    finally:
        core.close()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL (a schema of its own is made)")
    parser.add_argument("--cases", type=int, default=200, help="registrations per side")
    args = parser.parse_args()
    run(args.postgres, args.cases)


if __name__ == "__main__":
    main()
