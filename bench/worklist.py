"""Worklist and case-search response times at 1 000 000 cases. Prints figures; asserts nothing.

    .venv/bin/python bench/worklist.py                           # SQLite in a temp dir
    .venv/bin/python bench/worklist.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    BIHUAN_BENCH_POSTGRES=postgresql+psycopg://... .venv/bin/python bench/worklist.py   # both

Builds a fresh database per backend (PostgreSQL: a schema of its own, dropped at the end), bulk
inserts ``--cases`` cases in a realistic mix of states with about one ready task per open case,
then times GET /tasks and GET /cases/search through Flask's test client with a logged-in
session: 200 requests per scenario after a warm-up, p50 and p95 of the *server* time (the WSGI
call, i.e. session load, view, queries and template), plus the same queries called directly.
Target: p95 < 50 ms on SQLite and on PostgreSQL (``--cases 100000`` for a quicker run).

SQLite is measured as the app runs it (no ANALYZE: nothing in the app runs one); PostgreSQL
after ANALYZE, which autovacuum would have done within a minute of such a load.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from app.cases import fulltext  # noqa: E402
from app.cases.models import AuditEntry, Case, ReadyTask, WorkflowInstance  # noqa: E402
from app.core import Core  # noqa: E402
from app.processes.models import ProcessVersion  # noqa: E402
from app.auth.services import create_user  # noqa: E402
from app.seed import DEMO_PASSWORD, DEPARTMENTS, GRIDS, seed_demo  # noqa: E402
from workflows.workdays import SHANGHAI  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from lifecycle import fresh_database  # noqa: E402

SEED = 20261126
BATCH = 5000

# status -> (share of all cases, the ready task(s) an open case in that status waits on)
STATUS_MIX = {
    "closed": (0.55, ()),
    "refused": (0.025, ()),
    "merged": (0.015, ()),
    "registered": (0.04, ("dispatch",)),
    "dispatched": (0.06, ("sign_for",)),
    "returned": (0.015, ("reassign",)),
    "handling": (0.16, ("handle",)),
    "replied": (0.07, ("verify",)),
    "verified": (0.065, ("follow_up",)),
}
TASKS = {  # bpmn id -> (name, role, form)
    "dispatch": ("派单/转办", "dispatcher", "dispatch.schema.json"),
    "sign_for": ("签收", "handler", "sign_for.schema.json"),
    "reassign": ("改派", "dispatcher", "reassign.schema.json"),
    "handle": ("办理", "handler", "handle.schema.json"),
    "approve_extension": ("延期审批", "dispatcher", "approve_extension.schema.json"),
    "verify": ("核实", "dispatcher", "verify.schema.json"),
    "follow_up": ("回访", "dispatcher", "follow_up.schema.json"),
    "close": ("销号", "dispatcher", "close.schema.json"),
    "urge": ("催办", "supervisor_center", "urge.schema.json"),
    "interview_or_notice": ("约谈/通报", "supervisor_discipline", "interview_or_notice.schema.json"),
    "accountability": ("追责", "supervisor_party", "accountability.schema.json"),
}
SUPERVISION_TASK = {1: "urge", 2: "interview_or_notice", 3: "accountability"}
CHANNEL_MIX = {"phone": 45, "grid": 20, "platform": 15, "online": 10, "web": 10}
TYPE_MIX = {"complaint": 40, "help": 20, "inquiry": 15, "suggestion": 15, "report": 10}
DEPARTMENT_MIX = dict(zip(DEPARTMENTS, (28, 18, 12, 10, 6, 10, 9, 7)))
CATEGORIES = {
    "城市管理": ["路灯不亮", "占道经营", "违章搭建", "井盖缺失", "共享单车乱停放", "广告牌松动"],
    "环境卫生": ["垃圾清运不及时", "绿化带杂草丛生", "河道漂浮物", "餐馆油烟扰民", "公厕无人保洁"],
    "噪音扰民": ["夜间施工噪音", "广场舞音响过大", "酒吧深夜喧哗", "装修噪音周末不停"],
    "物业管理": ["电梯经常停运", "小区门禁损坏", "物业费收支不公开", "地下车库渗水"],
    "市场监管": ["超市出售过期食品", "早餐店卫生差", "商家拒绝退款", "药店无证经营"],
    "社会治安": ["楼道堆放杂物堵塞消防通道", "电动车楼道充电", "小区外有人聚众赌博", "夜间可疑人员徘徊"],
    "民生服务": ["低保申请进度", "老年人助餐点", "社区医院预约难", "居住证办理咨询"],
    "道路交通": ["红绿灯故障", "路面塌陷", "公交站牌缺失", "学校门口接送拥堵"],
}
ROADS = ["和平路", "光明街", "解放路", "人民大道", "建设路", "幸福里", "文化街", "新华路", "长江路", "东风路",
         "朝阳路", "滨河路", "育才路", "青年路", "胜利街"]
ESTATES = ["阳光花园", "锦绣家园", "和谐苑", "翠湖小区", "金色港湾", "东方明珠苑", "梧桐里", "紫荆城", "枫林小区",
           "书香门第"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
DETAILS = ["已持续一周，多次反映未解决", "影响老人和孩子出行", "希望尽快派人处理", "附近居民意见很大",
           "晚上十点以后尤其严重", "之前打过电话但没有回音", "存在安全隐患", "请相关部门核实", "周末更加明显",
           "请给予答复"]


def _weighted(rng: random.Random, mix: dict):
    keys, weights = list(mix), [mix[k] if not isinstance(mix[k], tuple) else mix[k][0] for k in mix]
    return rng.choices(keys, weights)[0]


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('356789')}{rng.randrange(10**9):09d}"


def _assignee(rng: random.Random, role: str, department: str | None) -> str | None:
    # Some tasks are claimed by the demo users, so "mine" and "unclaimed" both have rows.
    if rng.random() < 0.15:
        return {"dispatcher": "dispatcher", "supervisor_center": "center"}.get(
            role, "handler" if role == "handler" and department == "chengguan" else None)
    return None


def generate(core: Core, count: int, now: datetime) -> dict:
    """Insert ``count`` cases with their instances and ready tasks; returns sample values to search for."""
    rng = random.Random(SEED)
    with core.db.read() as session:
        version_id = session.scalar(select(ProcessVersion.id).order_by(ProcessVersion.id.desc()))
    # The worklist and the search never read workflow state, so every instance shares one small
    # valid placeholder (a compressed empty JSON object) instead of a real 1.6 KB engine snapshot.
    placeholder = zlib.compress(b"{}")
    frequent = [_phone(rng) for _ in range(300)]  # callers who ring again and again
    grids = list(GRIDS)
    counters: dict[str, int] = {}
    samples: dict = {"numbers": [], "phones": frequent[:20]}
    cases, instances, tasks, audits = [], [], [], []
    next_id = 1

    def flush():
        # Core executemany on the tables: one statement per batch, no ORM bookkeeping per row.
        with core.db.unit_of_work() as session:
            session.execute(insert(Case.__table__), cases)
            session.execute(insert(WorkflowInstance.__table__), instances)
            if tasks:
                session.execute(insert(ReadyTask.__table__), tasks)
            session.execute(insert(AuditEntry.__table__), audits)
        for rows in (cases, instances, tasks, audits):
            rows.clear()

    for _ in range(count):
        status = _weighted(rng, STATUS_MIX)
        is_open = bool(STATUS_MIX[status][1])
        # open cases are recent; closed ones spread over the past year
        age = timedelta(days=rng.uniform(0, 45) if is_open else rng.uniform(3, 365))
        registered = now - age
        day = registered.astimezone(SHANGHAI).strftime("%Y%m%d")
        counters[day] = counters.get(day, 0) + 1
        number = f"HD-{day}-{counters[day]:04d}"
        category = rng.choice(list(CATEGORIES))
        subject = rng.choice(CATEGORIES[category])
        road, estate = rng.choice(ROADS), rng.choice(ESTATES)
        address = f"{road}{rng.randint(1, 300)}号{estate}{rng.randint(1, 30)}栋"
        channel, kind = _weighted(rng, CHANNEL_MIX), _weighted(rng, TYPE_MIX)
        dispatched = status not in ("registered", "refused", "merged")
        department = _weighted(rng, DEPARTMENT_MIX) if dispatched else None
        deadline = now + timedelta(days=rng.uniform(-20, 20)) if is_open and dispatched else None
        tier = rng.choices((0, 1, 2, 3), (90, 6, 3, 1))[0] if status in ("dispatched", "handling", "returned") else 0
        phone = rng.choice(frequent) if rng.random() < 0.1 else _phone(rng)
        step = lambda hours: registered + timedelta(hours=hours) if dispatched else None  # noqa: E731
        cases.append({
            "id": next_id, "number": number, "channel": channel, "type": kind,
            "category": category if dispatched else None, "difficulty": rng.choice(("simple", "normal", "complex")),
            "urgent": rng.random() < 0.04,
            "text": f"{estate}{subject}，{rng.choice(DETAILS)}。{rng.choice(DETAILS)}。",
            "address": address, "grid": rng.choice(grids) if channel == "grid" else None,
            "reporter_name": f"{rng.choice(SURNAMES)}先生" if rng.random() < 0.5 else f"{rng.choice(SURNAMES)}女士",
            "reporter_phone": phone, "department": department, "status": status,
            "refuse_reason": "不属于受理范围" if status == "refused" else None,
            "merged_into": None, "registered_at": registered, "registered_by": "operator",
            "dispatched_at": step(2), "signed_at": step(20) if status not in ("dispatched", "returned") else None,
            "replied_at": step(120) if status in ("replied", "verified", "closed") else None,
            "verified_at": step(140) if status in ("verified", "closed") else None,
            "followed_up_at": step(160) if status == "closed" else None,
            "closed_at": step(170) if status in ("closed", "refused", "merged") else None,
            "deadline": deadline, "extensions": [], "satisfaction": "satisfied" if status == "closed" else None,
            "return_count": 1 if status == "returned" else 0, "redo_count": 0, "supervision_tier": tier,
            "has_incident": False})
        bpmn_ids = list(STATUS_MIX[status][1])
        if status == "handling" and rng.random() < 0.08:
            bpmn_ids = ["approve_extension"]
        if status == "verified" and rng.random() < 0.4:
            bpmn_ids = ["close"]
        if tier:
            bpmn_ids.append(SUPERVISION_TASK[tier])
        due = None
        for bpmn_id in bpmn_ids:
            name, role, form = TASKS[bpmn_id]
            due = now + timedelta(days=rng.uniform(-20, 20), minutes=rng.randrange(1440))
            tasks.append({"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "case_id": next_id,
                          "bpmn_id": bpmn_id, "name": name, "role": role,
                          "department": department if role == "handler" else None, "form": form,
                          "supervision_tier": tier if role.startswith("supervisor") else 0, "due_at": due,
                          "assignee": _assignee(rng, role, department),
                          "created_at": registered})
        instances.append({"case_id": next_id, "process_version_id": version_id, "process_id": "case_lifecycle",
                          "state": placeholder, "completed": not is_open, "next_timer_at": due if is_open else None,
                          "version": 1, "updated_at": registered})
        audits.append({"at": registered, "actor": "operator", "case_id": next_id, "action": "register",
                       "changes": {"channel": channel, "type": kind}, "source": channel})
        if next_id % max(1, count // 100) == 0:
            samples["numbers"].append(number)
        next_id += 1
        if len(cases) >= BATCH:
            flush()
    if cases:
        flush()
    return samples


def replicate(core: Core, copies: int) -> None:
    """Copy the generated cases (with their instances, tasks and audit rows) ``copies``
    more times, in SQL. Python generates about 1 000 cases a second on a busy 2-core machine, too
    slow for 1 000 000; the copies keep every distribution (states, departments, texts, days) and
    only make each day ``copies + 1`` times as busy. A copy's number is the original's plus ``-k``;
    the sampled numbers and phones are the originals'."""
    tables = {t.name: [c.name for c in t.columns] for t in
              (Case.__table__, WorkflowInstance.__table__, ReadyTask.__table__, AuditEntry.__table__)}
    uuid_sql = "lower(hex(randomblob(16)))" if core.db.engine.dialect.name == "sqlite" else "gen_random_uuid()::text"
    with core.db.engine.begin() as conn:
        span = conn.exec_driver_sql("SELECT max(id) FROM cases").scalar()
    for k in range(1, copies + 1):
        overrides = {"cases": {"id": f"id + {k * span}", "number": f"number || '-{k}'"},
                     "workflow_instances": {"id": None, "case_id": f"case_id + {k * span}"},
                     "ready_tasks": {"id": uuid_sql, "case_id": f"case_id + {k * span}"},
                     "audit_log": {"id": None, "case_id": f"case_id + {k * span}"}}
        with core.db.engine.begin() as conn:
            for name, columns in tables.items():
                columns = [c for c in columns if overrides[name].get(c, c) is not None]
                exprs = [overrides[name].get(c) or c for c in columns]
                conn.exec_driver_sql(f"INSERT INTO {name} ({', '.join(columns)}) SELECT {', '.join(exprs)} FROM {name}"
                                     f" WHERE {'id' if name == 'cases' else 'case_id'} <= {span}")


# -- timing --------------------------------------------------------------------------------
class ServerTimer:
    """WSGI middleware: the time the app spends on one request, from environ to the last body byte."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.last_ms = 0.0
        self.last_cpu_ms = 0.0  # this process's CPU: on SQLite the database work too; a busy machine inflates wall time

    def __call__(self, environ, start_response):
        t0, c0 = time.perf_counter(), time.process_time()
        body = list(self.wsgi_app(environ, start_response))
        self.last_ms = (time.perf_counter() - t0) * 1000
        self.last_cpu_ms = (time.process_time() - c0) * 1000
        return body


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]


def time_requests(client, timer: ServerTimer, url: str, repeats: int, warmup: int = 10) -> tuple:
    """(p50, p95, status, CPU p95) of the server time of ``url``."""
    status = 0
    for _ in range(warmup):
        status = client.get(url).status_code
    samples, cpu = [], []
    for _ in range(repeats):
        client.get(url)
        samples.append(timer.last_ms)
        cpu.append(timer.last_cpu_ms)
    return (*percentiles(samples), status, percentiles(cpu)[1])


def time_calls(fn, repeats: int, warmup: int = 5) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return percentiles(samples)


def database_size(core: Core, url: str) -> str:
    if core.db.engine.dialect.name == "sqlite":
        with core.db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(url.split("sqlite:///", 1)[1])
        return f"{path.stat().st_size / 2**20:.1f} MB (file)"
    with core.db.engine.connect() as conn:
        size = conn.execute(text("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                                 "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                 "WHERE n.nspname = current_schema() AND c.relkind = 'r'")).scalar()
    return f"{size / 2**20:.1f} MB (tables + indexes + toast)"


def scenarios(samples: dict, now: datetime) -> list[tuple[str, str, str]]:
    """(label, user, url) for each measured page, using the parameter names the views read."""
    week_end = (now - timedelta(days=30)).astimezone(SHANGHAI).date()
    week_start = week_end - timedelta(days=6)
    return [
        ("worklist dispatcher, due ascending", "dispatcher", "/tasks"),
        ("worklist dispatcher, due descending", "dispatcher", "/tasks?sort=-due"),
        ("worklist dispatcher, type=complaint", "dispatcher", "/tasks?type=complaint"),
        ("worklist dispatcher, channel=grid, tab=overdue", "dispatcher", "/tasks?channel=grid&tab=overdue"),
        ("worklist dispatcher, page 5", "dispatcher", "/tasks?page=5"),
        ("worklist handler (chengguan), due", "handler", "/tasks"),
        ("worklist handler (chengguan), -due, type=complaint", "handler", "/tasks?sort=-due&type=complaint"),
        ("worklist center (tier 1), due", "center", "/tasks"),
        ("worklist dispatcher+center+handler, due", "multirole", "/tasks"),
        ("search by case number", "dispatcher", f"/cases/search?number={samples['numbers'][len(samples['numbers']) // 2]}"),
        ("search by number prefix (one day)", "dispatcher", f"/cases/search?number={samples['numbers'][3][:11]}"),
        ("search by phone", "dispatcher", f"/cases/search?phone={samples['phones'][0]}"),
        ("search status=handling + department", "dispatcher", "/cases/search?status=handling&department=police"),
        ("search text, two characters (bounded scan: 路灯)", "dispatcher", "/cases/search?q=路灯"),
        ("search text, two characters, no match (bounded scan)", "dispatcher", "/cases/search?q=无此"),
        ("search text, common fragment (路灯不亮)", "dispatcher", "/cases/search?q=路灯不亮"),
        ("search text, address (和平路1)", "dispatcher", "/cases/search?q=和平路1"),
        ("search text, rare fragment (no match)", "dispatcher", "/cases/search?q=无此内容的片段"),
        ("search text, three characters, no match", "dispatcher", "/cases/search?q=无此内"),
        ("search text + status=handling", "dispatcher", "/cases/search?q=夜间施工&status=handling"),
        ("search text in one week", "dispatcher",
         f"/cases/search?q=夜间施工&date_from={week_start.isoformat()}&date_to={week_end.isoformat()}"),
        ("search registered in one week", "dispatcher",
         f"/cases/search?date_from={week_start.isoformat()}&date_to={week_end.isoformat()}"),
        ("search as handler, status=handling", "handler", "/cases/search?status=handling"),
        ("search as handler, text fragment", "handler", "/cases/search?q=夜间施工"),
        ("search as handler, rare text (no match)", "handler", "/cases/search?q=无此内容的片段"),
        ("search as handler, two characters (bounded scan)", "handler", "/cases/search?q=无此"),
    ]


def direct_queries(core: Core, samples: dict, now: datetime) -> list[tuple[str, callable]]:
    """The views' own query functions, when the modules are there, called without Flask."""
    out = []
    from app.web.access import WebUser
    users = {"dispatcher": WebUser(1, "dispatcher", "", ("dispatcher",)),
             "handler": WebUser(2, "handler", "", ("handler",), "chengguan")}
    try:
        from app.tasks import worklist
    except ImportError:
        worklist = None
    if worklist is not None:
        for who, args in (("dispatcher", {}), ("dispatcher", {"type": "complaint"}), ("handler", {})):
            filters = worklist.Filters.from_args(args)

            def run(user=users[who], filters=filters):
                with core.db.read() as session:
                    worklist.page(session, user, filters, now)
                    worklist.counts(session, user, filters, now)
            out.append((f"worklist.page+counts {who} {args or ''}", run))
    try:
        from app.cases import search
    except ImportError:
        search = None
    if search is not None:
        for who, label, args in (
                ("dispatcher", "phone", {"phone": samples["phones"][0]}),
                ("dispatcher", "status+department", {"status": "handling", "department": "police"}),
                ("dispatcher", "text rare (index)", {"q": "无此内容的片段"}),
                ("dispatcher", "text common (index)", {"q": "路灯不亮"}),
                ("dispatcher", "text address (index)", {"q": "和平路1"}),
                ("dispatcher", "text two chars (bounded scan)", {"q": "路灯"}),
                ("dispatcher", "text two chars no match (bounded scan)", {"q": "无此"}),
                ("handler", "text common (index)", {"q": "夜间施工"}),
                ("handler", "text rare (index)", {"q": "无此内容的片段"}),
                ("handler", "text two chars no match (bounded scan)", {"q": "无此"})):
            def run(args=args, user=users[who]):
                with core.db.read() as session:
                    search.search_cases(session, user, search.Criteria.from_args(args))
            out.append((f"search_cases {who} {label}", run))
    return out


def run_backend(base_url: str | None, count: int, repeats: int, replicas: int = 1) -> None:
    url, drop = fresh_database(base_url)
    core = Core(url)
    try:
        seed_demo(core)
        with core.db.unit_of_work() as session:
            # One person doing the center's dispatching, tier-1 supervision and chengguan work.
            create_user(session, "multirole", DEMO_PASSWORD, ["dispatcher", "supervisor_center", "handler"],
                        department="chengguan")
        backend = core.db.engine.dialect.name
        now = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        if backend == "sqlite":
            # A bulk load indexes the text once at the end ('rebuild': ~0.15 ms a case) rather
            # than through the per-row triggers (~1.5 ms a case in 5 000-row batches); the
            # resulting index is the same, and the triggers are back before anything is timed.
            with core.db.engine.begin() as conn:
                for trigger in fulltext.SQLITE_TRIGGERS:
                    conn.exec_driver_sql(f"DROP TRIGGER {trigger}")
        if replicas > 1:
            samples = generate(core, count // replicas, now)
            replicate(core, replicas - 1)
        else:
            samples = generate(core, count, now)
        if backend == "sqlite":
            t1 = time.perf_counter()
            with core.db.engine.begin() as conn:
                conn.exec_driver_sql(fulltext.SQLITE_REBUILD)
                for statement in fulltext.SQLITE_TRIGGERS.values():
                    conn.exec_driver_sql(statement)
            print(f"(sqlite: full-text index rebuilt in {time.perf_counter() - t1:.0f} s)")
        if backend == "postgresql":
            # This schema's tables only: a bare ANALYZE takes locks on every schema of the database
            # and deadlocks with whoever is dropping one (parallel test runs do). VACUUM as well, as
            # autovacuum would have done on a running system: after a bulk load the visibility map
            # is empty, so every index-only COUNT (the worklist's tabs) read the table's rows too.
            with core.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in ("cases", "workflow_instances", "ready_tasks", "audit_log"):
                    conn.execute(text(f"VACUUM (ANALYZE) {table}"))
        with core.db.read() as session:
            n_cases = session.scalar(select(func.count()).select_from(Case))
            n_tasks = session.scalar(select(func.count()).select_from(ReadyTask))
        print(f"\n== {backend}: {n_cases:,} cases, {n_tasks:,} ready tasks, built in "
              f"{time.perf_counter() - t0:.0f} s; database {database_size(core, url)}")

        from app import create_app
        app = create_app({"TESTING": True, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False}, core=core)
        timer = ServerTimer(app.wsgi_app)
        app.wsgi_app = timer
        clients = {}
        for username in ("dispatcher", "handler", "center", "multirole"):
            clients[username] = app.test_client()
            response = clients[username].post("/login", data={"username": username, "password": DEMO_PASSWORD})
            assert response.status_code == 302, f"login as {username}: {response.status_code}"

        print(f"{'server time per request (ms)':58} {'p50':>7} {'p95':>7}  status  cpu-p95")
        misses = []
        for label, user, path in scenarios(samples, now):
            p50, p95, status, cpu95 = time_requests(clients[user], timer, path, repeats)
            flag = "  MISS" if status == 200 and p95 >= 50 else ""  # the target, on both databases
            print(f"  {label:56} {p50:7.1f} {p95:7.1f}  {status} {cpu95:7.1f}{flag}  {path}")
            if flag:
                misses.append(label)
        queries = direct_queries(core, samples, now)
        if queries:
            print(f"{'query functions called directly (ms)':58} {'p50':>7} {'p95':>7}")
            for label, fn in queries:
                p50, p95 = time_calls(fn, min(repeats, 50))
                print(f"  {label:56} {p50:7.1f} {p95:7.1f}")
        print(f"p95 >= 50 ms ({backend}): {', '.join(misses) if misses else 'none'}")
        print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    finally:
        core.close()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--postgres", default=os.environ.get("BIHUAN_BENCH_POSTGRES"),
                        help="also run on this PostgreSQL URL (a fresh schema, dropped at the end)")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--replicas", type=int, default=1,
                        help="generate cases/N in Python and copy them N-1 times in SQL (much faster)")
    args = parser.parse_args()
    if not args.no_sqlite:
        run_backend(None, args.cases, args.repeats, args.replicas)
    if args.postgres:
        run_backend(args.postgres, args.cases, args.repeats, args.replicas)


if __name__ == "__main__":
    # Like the tests, the figures never depend on today's date: the run starts on a fixed Monday
    # inside the statutory calendar and the clock ticks from there.
    from time_machine import travel
    with travel(datetime(2026, 11, 2, 10, 0, tzinfo=timezone(timedelta(hours=8))), tick=True):
        main()
