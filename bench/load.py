"""Load and failure, measured: gunicorn + schedulers on PostgreSQL, simulated caseworkers on loopback.

    .venv/bin/python bench/load.py                          # 200 caseworkers, 60 s, 4 workers, 2 schedulers
    .venv/bin/python bench/load.py --duration 120 --chaos 20  # kill -9 a scheduler and a web worker 20 times
    BIHUAN_BENCH_DATABASE_URL=postgresql+psycopg://user@host/db .venv/bin/python bench/load.py

A fresh schema is migrated and seeded (demo users), open cases are registered (some waiting for
the dispatcher, the rest dispatched to the two handler departments), then gunicorn (``--workers``
workers, deploy/gunicorn.conf.py) and ``--schedulers`` ``bihuan scheduler`` processes start on
127.0.0.1. A feeder process keeps registering cases dispatched days ago (registered on a shifted
clock), so their 签收 deadlines are overdue and the schedulers escalate them throughout the run.

Each simulated caseworker logs in as a demo user and repeats, with a think time between requests:
the worklist, opening a task, completing it (the real form post with its CSRF token), a search and
a case page. Two caseworkers may open the same task: the second submit is answered 409 (the task
was completed by someone else; the form says so and keeps what was typed). These 409s are counted
and are the expected outcome of that race, not errors.

With ``--chaos N`` the bench kill -9s one scheduler and one gunicorn worker at N random instants;
the scheduler is restarted (as systemd's Restart=always would), gunicorn's master replaces the
worker. Requests in flight in a killed worker are dropped (counted as "dropped", not 5xx).

Afterwards the schedulers run two more sweeps, stop, and the bench reports: requests/s, p50/p95/p99
per kind, 5xx (must be 0), 409s, then ``bihuan check`` (case columns, ready tasks, supervision items
and audit rows against the engine state of every case), timers fired twice (the same timer of the
same case in two audit rows) and timers left due (lost). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BIHUAN = [sys.executable, "-c", "from app.cli import main; main()"]
DEPARTMENTS = {"handler": "chengguan", "handler2": "community_building"}
# Who the caseworkers are (demo users; several sessions share one account, as shifts do).
MIX = [("handler", 35), ("handler2", 25), ("dispatcher", 25), ("operator", 10), ("leader", 5)]
PASSWORD = "Load-bench-" + uuid.uuid4().hex[:12]
TEXTS = ["小区门口路灯不亮", "楼道堆放杂物影响通行", "夜间施工噪音扰民", "人行道井盖松动", "垃圾清运不及时"]
TASK_LINK = re.compile(r"/tasks/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
CASE_LINK = re.compile(r"/cases/(HD-\d{8}-\d{4})")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|name="csrf-token" content="([^"]+)"')


# -- setup ------------------------------------------------------------------------------------------
def schema_url(base: str, schema: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)


def prepare(base: str, cases: int) -> tuple[str, str]:
    from sqlalchemy import create_engine, text
    from app.core import Core
    from app.migrate import upgrade
    from app.seed import seed_demo
    schema = f"bihuan_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = schema_url(base, schema)
    upgrade(url)
    core = Core(url)
    try:
        seed_demo(core)
        # Production mode refuses the demo password (app/auth/views.py): the caseworkers get a strong one.
        from sqlalchemy import select
        from app.auth.models import User
        from app.auth.services import set_password
        with core.db.unit_of_work() as session:
            for user in session.scalars(select(User).where(User.username.in_([name for name, _ in MIX]))):
                set_password(user, PASSWORD)
        for i in range(cases):
            number = core.cases.register(channel="phone", type="投诉", text=random.choice(TEXTS) + f" {i}",
                                         address=f"和平路{i % 300}号", user="operator", detail=False)["number"]
            if i % 4:  # three in four dispatched, alternately to the two handler departments
                dispatch(core, number, "chengguan" if i % 2 else "community_building")
    finally:
        core.close()
    return url, schema


def dispatch(core, number: str, department: str) -> None:
    task = next(t for t in core.cases.show(number)["tasks"] if t["task"] == "dispatch")
    core.cases.complete_task(task["id"], user="dispatcher", detail=False, source="bench",
                             data={"decision": "dispatch", "category": "城市管理", "difficulty": "normal",
                                   "department": department})


def feeder(url: str, rate: float, stop_file: str) -> None:
    """Cases dispatched 4 days ago, a few a second, so timers fall due all through the run."""
    import time_machine
    from workflows.clock import utcnow
    from app.core import Core
    core = Core(url)
    real = utcnow()
    i = 0
    while not os.path.exists(stop_file):
        started = time.monotonic()
        with time_machine.travel(real - timedelta(days=4) + timedelta(seconds=i), tick=False):
            number = core.cases.register(channel="grid", type="求助", text=f"巡查发现占道经营 {i}", user="operator",
                                         detail=False)["number"]
            dispatch(core, number, "chengguan" if i % 2 else "community_building")
        i += 1
        time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - started)))
    core.close()


# -- processes --------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, url: str, workers: int, schedulers: int, logdir: Path):
        self.url, self.workers, self.count, self.logdir = url, workers, schedulers, logdir
        self.port = free_port()
        self.env = {**os.environ, "BIHUAN_DATABASE_URL": url, "BIHUAN_SECRET_KEY": uuid.uuid4().hex * 2,
                    "BIHUAN_ENV": "production", "BIHUAN_BIND": f"127.0.0.1:{self.port}",
                    "BIHUAN_WEB_WORKERS": str(workers), "BIHUAN_SWEEP_SECONDS": "2",
                    "PROMETHEUS_MULTIPROC_DIR": str(logdir / "metrics"), "PYTHONPATH": str(ROOT),
                    "BIHUAN_LOG_LEVEL": "WARNING"}
        self.web = None
        self.schedulers: list[subprocess.Popen | None] = [None] * schedulers
        self.restarts = 0

    def start(self) -> None:
        self.web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
                                     "app.wsgi:app"], cwd=ROOT, env=self.env,
                                    stdout=open(self.logdir / "gunicorn.log", "ab"), stderr=subprocess.STDOUT)
        for k in range(self.count):
            self.start_scheduler(k)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        raise SystemExit("gunicorn did not start; see " + str(self.logdir / "gunicorn.log"))

    def scheduler_args(self, k: int) -> list[str]:
        # Static shards today (K/N); with dynamic claiming every scheduler takes any due timer.
        help_text = subprocess.run(BIHUAN + ["scheduler", "--help"], env=self.env, capture_output=True,
                                   text=True).stdout
        return ["scheduler", "--shard", f"{k}/{self.count}"] if "--shard" in help_text else ["scheduler"]

    def start_scheduler(self, k: int) -> None:
        if not hasattr(self, "_args"):
            self._args = [self.scheduler_args(k) for k in range(self.count)]
        self.schedulers[k] = subprocess.Popen(BIHUAN + self._args[k], cwd=ROOT, env=self.env,
                                              stdout=subprocess.DEVNULL,
                                              stderr=open(self.logdir / f"scheduler-{k}.log", "ab"))

    def worker_pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.web.pid}/task/{self.web.pid}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children]

    def chaos(self) -> str:
        k = random.randrange(self.count)
        self.schedulers[k].send_signal(signal.SIGKILL)
        self.schedulers[k].wait()
        pids = self.worker_pids()
        victim = random.choice(pids) if pids else None
        if victim:
            os.kill(victim, signal.SIGKILL)
        time.sleep(0.5)  # what a supervisor's restart delay would be
        self.start_scheduler(k)
        self.restarts += 1
        return f"scheduler {k} and web worker {victim}"

    def stop(self) -> None:
        for proc in [*self.schedulers, self.web]:
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.schedulers, self.web]:
            if proc:
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()


# -- caseworkers ------------------------------------------------------------------------------------
class Dropped(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Browser:
    """One caseworker's keep-alive connection and session cookie."""

    def __init__(self, port: int):
        self.port, self.conn, self.cookies = port, None, {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (http.client.HTTPException, OSError) as exc:
                self.conn.close()
                self.conn = None
                # An idle keep-alive connection the server closed is reopened once; a request lost
                # in a killed worker is reported as dropped (a browser would show an error).
                if isinstance(exc, TimeoutError):
                    raise Dropped("timeout") from None
                if attempt == 2 or not isinstance(exc, (http.client.RemoteDisconnected, BrokenPipeError,
                                                         ConnectionResetError)) or method != "GET":
                    raise Dropped("reset") from None
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text


def form_for(role_user: str, html: str) -> dict | None:
    """The decision a caseworker takes on the task page in front of them (None: only looks)."""
    if 'value="sign_for"' in html:
        return {"decision": "sign_for"}
    if 'name="reply_text"' in html:
        return {"decision": "reply", "reply_text": "已到现场处理完毕"}
    if 'name="verify_result"' in html:
        return {"verify_result": "passed"}
    if 'name="satisfaction"' in html:
        return {"satisfaction": "satisfied"}
    if 'value="merge_duplicate"' in html and 'name="category"' in html:
        return {"decision": "dispatch", "category": "城市管理", "difficulty": "normal",
                "department": random.choice(list(DEPARTMENTS.values()))}
    return None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency = defaultdict(list)
        self.status = Counter()
        self.dropped = Counter()
        self.errors: list[str] = []

    def add(self, kind: str, status: int, seconds: float, path: str, body: str) -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            self.status[(kind, status)] += 1
            if status >= 500 and len(self.errors) < 5:
                self.errors.append(f"{status} {path}: {body[:300]}")


def log_in(index: int, port: int, user: str, stats: Stats, gate: threading.Semaphore) -> Browser | None:
    """Before the measured run, a few at a time: a morning's logins are spread over an hour, and
    argon2 makes each cost ~0.1 s of CPU on purpose; 200 at once would measure only that."""
    browser = Browser(port)
    with gate:
        for _ in range(3):
            started = time.perf_counter()
            try:
                status, html = browser.request("GET", "/login")
                match = CSRF.search(html)
                status, _ = browser.request("POST", "/login", {"username": user, "password": PASSWORD,
                                                               "csrf_token": (match.group(1) or match.group(2))
                                                               if match else ""})
            except Dropped:
                continue
            stats.add("login", status, time.perf_counter() - started, "/login", "")
            if status in (302, 303):
                return browser
    return None


def caseworker(index: int, browser: Browser, user: str, until: float, think: float, stats: Stats) -> None:
    rng = random.Random(index)

    def call(kind, method, path, form=None):
        started = time.perf_counter()
        try:
            status, body = browser.request(method, path, form)
        except Dropped as exc:
            with stats.lock:
                stats.dropped[(kind, exc.reason)] += 1
            return 0, ""
        stats.add(kind, status, time.perf_counter() - started, path, body)
        return status, body

    def token(html):
        match = CSRF.search(html)
        return (match.group(1) or match.group(2)) if match else ""

    time.sleep(rng.uniform(0, think))  # not all in step
    numbers: list[str] = []
    while time.monotonic() < until:
        if user in ("operator", "leader"):
            status, html = call("search", "GET", "/cases/search?" + urllib.parse.urlencode(
                {"q": rng.choice(TEXTS)[:4]}))
            numbers = CASE_LINK.findall(html) or numbers
        else:
            status, html = call("worklist", "GET", "/tasks")
            tasks = TASK_LINK.findall(html)
            numbers = CASE_LINK.findall(html) or numbers
            if tasks:
                task_id = rng.choice(tasks[:20])
                time.sleep(rng.uniform(0.5, 1.5) * think)
                status, page = call("open_task", "GET", f"/tasks/{task_id}")
                form = form_for(user, page) if status == 200 else None
                if form is not None:
                    time.sleep(rng.uniform(0.5, 1.5) * think)  # filling in the form
                    call("complete_task", "POST", f"/tasks/{task_id}", {**form, "csrf_token": token(page)})
            if rng.random() < 0.3:
                time.sleep(rng.uniform(0.5, 1.5) * think)
                call("search", "GET", "/cases/search?" + urllib.parse.urlencode({"q": rng.choice(TEXTS)[:4]}))
        if numbers:
            time.sleep(rng.uniform(0.5, 1.5) * think)
            call("case_page", "GET", f"/cases/{rng.choice(numbers)}")
        time.sleep(rng.uniform(0.5, 1.5) * think)


# -- afterwards -------------------------------------------------------------------------------------
def timer_figures(url: str, since) -> dict:
    """Timers fired twice (one timer of one case in two audit rows) and timers still due (lost)."""
    from sqlalchemy import func, select
    from workflows.clock import utcnow
    from app.cases.models import AuditEntry, WorkflowInstance
    from app.core import Core
    core = Core(url)
    try:
        seen, twice, fired = Counter(), 0, 0
        with core.db.read() as session:
            for case_id, changes in session.execute(select(AuditEntry.case_id, AuditEntry.changes).where(
                    AuditEntry.action == "timer", AuditEntry.source == "scheduler", AuditEntry.at >= since)):
                for name in (changes or {}).get("timers") or []:
                    seen[(case_id, name)] += 1
                    fired += 1
            twice = sum(1 for n in seen.values() if n > 1)
            overdue = session.scalar(select(func.count()).select_from(WorkflowInstance).where(
                WorkflowInstance.next_timer_at <= utcnow() - timedelta(seconds=10)))
        return {"timers_fired": fired, "fired_twice": twice, "left_due": overdue}
    finally:
        core.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("BIHUAN_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--cases", type=int, default=1200, help="open cases registered before the run")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--schedulers", type=int, default=2)
    parser.add_argument("--think", type=float, default=1.0, help="mean think time between requests (s)")
    parser.add_argument("--feed", type=float, default=5.0, help="overdue cases registered per second")
    parser.add_argument("--chaos", type=int, default=0, help="kill -9 a scheduler and a web worker N times")
    parser.add_argument("--keep", action="store_true", help="keep the schema (to look at it afterwards)")
    parser.add_argument("--feeder", nargs=3, help=argparse.SUPPRESS)  # internal: URL RATE STOPFILE
    args = parser.parse_args()
    if args.feeder:
        feeder(args.feeder[0], float(args.feeder[1]), args.feeder[2])
        return
    if not args.url.startswith("postgresql"):
        raise SystemExit("bench/load.py runs on PostgreSQL (--url or BIHUAN_BENCH_DATABASE_URL)")

    from sqlalchemy import create_engine, text
    from workflows.clock import utcnow
    logdir = Path(tempfile.mkdtemp(prefix="bihuan-load-"))
    t0 = time.monotonic()
    url, schema = prepare(args.url, args.cases)
    print(f"setup: schema {schema}, {args.cases} open cases in {time.monotonic() - t0:.0f} s; logs in {logdir}",
          flush=True)
    cluster = Cluster(url, args.workers, args.schedulers, logdir)
    stop_file = str(logdir / "stop-feeder")
    feeder_proc = None
    try:
        cluster.start()
        started_at = utcnow()
        feeder_proc = subprocess.Popen([sys.executable, __file__, "--feeder", url, str(args.feed), stop_file],
                                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                       stderr=open(logdir / "feeder.log", "ab"))
        stats = Stats()
        users = [name for name, weight in MIX for _ in range(weight)]
        gate, browsers = threading.Semaphore(8), [None] * args.users

        def login(i):
            browsers[i] = log_in(i, cluster.port, users[i % len(users)], stats, gate)
        logins = [threading.Thread(target=login, args=(i,)) for i in range(args.users)]
        for thread in logins:
            thread.start()
        for thread in logins:
            thread.join()
        print(f"{sum(1 for b in browsers if b)} of {args.users} caseworkers logged in", flush=True)
        until = time.monotonic() + args.duration
        threads = [threading.Thread(target=caseworker, daemon=True,
                                    args=(i, browsers[i], users[i % len(users)], until, args.think, stats))
                   for i in range(args.users) if browsers[i]]
        begun = time.monotonic()
        for thread in threads:
            thread.start()
        kills = sorted(random.uniform(3, args.duration - 3) for _ in range(args.chaos)) if args.chaos else []
        for at in kills:
            time.sleep(max(0.0, begun + at - time.monotonic()))
            cluster.chaos()
        for thread in threads:
            thread.join(args.duration + 120)
        elapsed = time.monotonic() - begun
        Path(stop_file).touch()
        feeder_proc.wait(timeout=60)
        time.sleep(6)  # two more sweeps: whatever fell due by now fires
        figures = timer_figures(url, started_at)
    finally:
        Path(stop_file).touch()
        if feeder_proc and feeder_proc.poll() is None:
            feeder_proc.kill()
        cluster.stop()

    total = sum(stats.status.values())
    print(f"\n{args.users} caseworkers, {elapsed:.0f} s, gunicorn {args.workers} workers x "
          f"{os.environ.get('BIHUAN_WEB_THREADS', '4')} threads, {args.schedulers} schedulers"
          + (f", chaos: {len(kills)} x kill -9 (scheduler + web worker)" if kills else ""))
    print(f"requests: {total}  ({total / elapsed:.1f}/s)")
    print(f"{'kind':<14}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}   statuses")
    for kind in ("login", "worklist", "open_task", "complete_task", "search", "case_page"):
        values = stats.latency.get(kind, [])
        codes = {code: n for (k, code), n in sorted(stats.status.items()) if k == kind}
        print(f"{kind:<14}{len(values):>7}{percentile(values, 50) * 1000:>9.0f}{percentile(values, 95) * 1000:>9.0f}"
              f"{percentile(values, 99) * 1000:>9.0f}   {codes}")
    everything = [v for kind, values in stats.latency.items() if kind != "login" for v in values]
    print(f"{'all but login':<14}{len(everything):>7}{percentile(everything, 50) * 1000:>9.0f}"
          f"{percentile(everything, 95) * 1000:>9.0f}{percentile(everything, 99) * 1000:>9.0f}")
    fivexx = sum(n for (_, code), n in stats.status.items() if code >= 500)
    conflicts = sum(n for (kind, code), n in stats.status.items() if code == 409)
    print(f"5xx: {fivexx}")
    for line in stats.errors:
        print("   ", line)
    print(f"409: {conflicts} (two caseworkers submitted the same task; the later one is told who completed it)")
    resets = {k: n for (k, why), n in stats.dropped.items() if why == "reset"}
    timeouts = {k: n for (k, why), n in stats.dropped.items() if why == "timeout"}
    print(f"dropped, connection reset (in a killed worker): {sum(resets.values())} {resets}")
    print(f"no answer within 60 s (client timeout): {sum(timeouts.values())} {timeouts}")
    print(f"timers fired during the run: {figures['timers_fired']}, fired twice: {figures['fired_twice']}, "
          f"still due 10 s after the run (lost): {figures['left_due']}")
    check = subprocess.run(BIHUAN + ["check"], cwd=ROOT, capture_output=True, text=True,
                           env={**os.environ, "BIHUAN_DATABASE_URL": url, "PYTHONPATH": str(ROOT)})
    try:
        findings = json.loads(check.stdout)
    except ValueError:
        findings = None
    print(f"bihuan check: exit {check.returncode}, "
          + (f"{len(findings)} finding(s)" if findings is not None else check.stderr.strip()[:300]))
    for finding in (findings or [])[:10]:
        print("   ", json.dumps(finding, ensure_ascii=False))
    if not args.keep:
        admin = create_engine(args.url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
