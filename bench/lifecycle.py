"""Benchmarks for the executable core. Prints figures; asserts nothing.

    .venv/bin/python bench/lifecycle.py                      # SQLite in a temp dir
    BIHUAN_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/lifecycle.py

Figures:
  1. full lifecycles per second through the service layer (DB, projection, audit, commit per action);
  2. the bare SpiffWorkflow engine on the same diagrams with one JSON serialize/deserialize per task,
     and the ratio of the two (target: service >= 0.8 x bare); the halves run interleaved in
     ``--rounds`` pairs (A B B A ...), reported as median and range, per wall and per CPU second;
  3. an escalation sweep with nothing due at 1 000 and at 100 000 open cases (target: < 20 ms, flat);
  4. firing 10 000 due timers (target: >= 500/s); bench/sweep.py compares 1 and 2 processes and
     measures lateness;
  5. stored workflow-state bytes per open case (target: <= 4 KB).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from app.cases.models import Case, WorkflowInstance  # noqa: E402
from app.cases.timers import fire_due  # noqa: E402
from app.core import Core  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Base  # noqa: E402
from app.seed import seed_demo  # noqa: E402

LIFECYCLE = [
    ("dispatch", "dispatcher", {"decision": "dispatch", "category": "城市管理", "difficulty": "normal"}),
    ("sign_for", "handler", {"decision": "sign_for"}),
    ("handle", "handler", {"decision": "reply", "reply_text": "已处理"}),
    ("verify", "dispatcher", {"verify_result": "passed"}),
    ("follow_up", "dispatcher", {"satisfaction": "satisfied"}),
]


def fresh_database(url: str | None) -> tuple[str, callable]:
    if not url:
        path = Path(tempfile.mkdtemp(prefix="bihuan-bench-")) / "bench.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        return url, lambda: None
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    schema = f"bihuan_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    upgrade(scoped)

    def drop():
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return scoped, drop


# -- 1. service layer ----------------------------------------------------------------------
def service_lifecycles(core: Core, n: int) -> tuple[float, float]:
    """(lifecycles per wall second, per CPU second of this process)."""
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        case = core.cases.register(channel="phone", type="投诉", text="路灯不亮", user="operator", source="bench",
                                   detail=False)
        for bpmn_id, user, data in LIFECYCLE:
            task = next(t for t in case["tasks"] if t["task"] == bpmn_id)
            case = core.cases.complete_task(task["id"], user=user, data=data, source="bench", detail=False)
        assert case["status"] == "closed"
    return n / (time.perf_counter() - start), n / (time.process_time() - cpu)


# -- 2. bare engine ------------------------------------------------------------------------
def bare_engine_lifecycles(n: int, engine) -> tuple[float, float]:
    from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
    from SpiffWorkflow.util.task import TaskState


    # The same script functions as the application's engine (deadlines on the working calendar),
    # in SpiffWorkflow's own Python script engine rather than our sandboxed one.
    from workflows import notices
    from workflows.workdays import hours_before
    functions = {"now": lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "working_days_after": engine._working_days_after, "working_days_before": engine._working_days_before,
                 "hours_before": hours_before, "notify": notices.note, "step_due": engine._step_due}
    script_engine = PythonScriptEngine(environment=TaskDataEnvironment(functions))
    parser = SpiffBpmnParser()
    parser.add_bpmn_files([str(p) for p in (ROOT / "bpmn").glob("*.bpmn")])
    parser.add_dmn_files([str(p) for p in (ROOT / "bpmn" / "rules").glob("*.dmn")])
    spec = parser.get_spec("case_lifecycle")
    subprocess_specs = parser.get_subprocess_specs("case_lifecycle")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))

    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        wf = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
        wf.get_tasks(state=TaskState.READY)[0].set_data(
            type="complaint", category=None, difficulty="normal", urgent=False, department=None, channel="phone",
            case_number="BENCH-0001")
        wf.do_engine_steps()
        for bpmn_id, _user, data in LIFECYCLE:
            wf = serializer.deserialize_json(serializer.serialize_json(wf))
            wf.script_engine = script_engine
            task = next(t for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == bpmn_id)
            task.data.update(data)
            task.run()
            wf.do_engine_steps()
        assert wf.completed
    return n / (time.perf_counter() - start), n / (time.process_time() - cpu)


# -- cloning real instances for the large-scale figures --------------------------------------
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _renumber(state: bytes) -> bytes:
    """A copy of a workflow state with fresh task ids (ready tasks are keyed by them)."""
    raw = zlib.decompress(state)
    mapping: dict[bytes, bytes] = {}
    raw = _UUID.sub(lambda m: mapping.setdefault(m.group(0), str(uuid.uuid4()).encode()), raw)
    return zlib.compress(raw, 6)


def clone_open_cases(core: Core, template_number: str, count: int, next_timer_at, fresh_ids: bool) -> None:
    with core.db.read() as session:
        case = session.scalars(select(Case).where(Case.number == template_number)).one()
        inst = session.scalars(select(WorkflowInstance).where(WorkflowInstance.case_id == case.id)).one()
        base_id = (session.scalar(select(func.max(Case.id))) or 0) + 1
    columns = {c.key: getattr(case, c.key) for c in Case.__table__.columns if c.key != "id"}
    now = datetime.now(timezone.utc)
    batch = 5000
    for offset in range(0, count, batch):
        size = min(batch, count - offset)
        ids = range(base_id + offset, base_id + offset + size)
        cases = [{**columns, "id": i, "number": f"BENCH-{i:08d}"} for i in ids]
        insts = [{"case_id": i, "process_version_id": inst.process_version_id, "process_id": inst.process_id,
                  "state": _renumber(inst.state) if fresh_ids else inst.state, "completed": False,
                  "next_timer_at": next_timer_at, "version": 1, "updated_at": now} for i in ids]
        with core.db.unit_of_work() as session:
            session.execute(insert(Case), cases)
            session.execute(insert(WorkflowInstance), insts)
    if core.db.engine.dialect.name == "postgresql":  # the ids were given: move the sequence past them
        with core.db.unit_of_work() as session:
            session.execute(text("SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))"))


def analyze(core: Core) -> None:
    """After a bulk load, what autovacuum does within a minute on a running PostgreSQL: without
    statistics the planner guesses a third of the rows due, and walks the whole table for the
    empty sweep's one-row probe instead of the next_timer_at index (81 ms at 1 000 000 cases)."""
    if core.db.engine.dialect.name != "postgresql":
        return
    with core.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("cases", "workflow_instances"):
            conn.execute(text(f"VACUUM (ANALYZE) {table}"))


def time_empty_sweep(core: Core, repeats: int = 50) -> tuple[float, float]:
    fire_due(core)  # warm up
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fired = fire_due(core)
        samples.append((time.perf_counter() - t0) * 1000)
        assert fired == 0
    return statistics.median(samples), max(samples)


def prepare_due_timers(core: Core, count: int) -> None:
    """``count`` open cases whose sign-for deadline passed a week ago: the template case is
    dispatched in the past (time travel only here), so the sweep itself runs on the real clock."""
    from time_machine import travel
    clear_cases(core)
    with travel(datetime.now(timezone.utc) - timedelta(days=8), tick=True):
        template = core.cases.register(channel="phone", type="投诉", text="模板", user="operator")["number"]
        task = core.cases.show(template)["tasks"][0]["id"]
        core.cases.complete_task(task, user="dispatcher", data=LIFECYCLE[0][2])
    with core.db.read() as session:
        due = session.scalar(select(WorkflowInstance.next_timer_at))
    assert due < datetime.now(timezone.utc)
    clone_open_cases(core, template, count - 1, due, fresh_ids=True)


def _sweeper(url: str, go, results) -> None:
    core = Core(url)
    go.wait()
    t0 = time.time()
    fired = fire_due(core)  # claims dynamically, like every `bihuan scheduler`
    results.put((fired, t0, time.time()))
    core.close()


def fire_with_workers(url: str, workers: int) -> tuple[int, float]:
    """Run ``workers`` sweeper processes sharing the due timers, like that many `bihuan scheduler`s
    (bench/sweep.py compares 1 and 2 in interleaved rounds, with CPU time and lateness)."""
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_sweeper, args=(url, go, results)) for _ in range(workers)]
    for p in procs:
        p.start()
    time.sleep(3)  # let every process import and connect before the clock starts
    go.set()
    outcome = [results.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    return sum(o[0] for o in outcome), max(o[2] for o in outcome) - min(o[1] for o in outcome)


def clear_cases(core: Core) -> None:
    """Empty every table but the seeded users, organisation and process versions. The audit log
    refuses DELETE (app/audit/guard.py): a bench database is emptied the way the tests' is."""
    from app.audit import guard as audit_guard
    keep = {"users", "user_roles", "departments", "grids", "alembic_version", "process_versions"}
    tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name not in keep]
    with core.db.unit_of_work() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("TRUNCATE " + ", ".join(t.name for t in tables) + " RESTART IDENTITY CASCADE"))
            return
        for statement in audit_guard.statements("sqlite", install=False):
            session.execute(text(statement))
        for table in tables:
            session.execute(table.delete())
        for statement in audit_guard.statements("sqlite", install=True):
            session.execute(text(statement))


def compare(core: Core, per: int, rounds: int, backend: str, beside: str) -> None:
    """Service vs bare lifecycles, interleaved A B B A ...: a busy machine (other processes, CPU
    frequency) weighs on both halves alike, and the ratio is taken per pair. CPU time beside wall
    time shows how much of a swing is the machine rather than the code."""
    wall = {"service": [], "bare": []}
    cpu = {"service": [], "bare": []}
    for r in range(rounds):
        for half in (["service", "bare"] if r % 2 == 0 else ["bare", "service"]):
            w, c = service_lifecycles(core, per) if half == "service" else bare_engine_lifecycles(per, core.engine)
            wall[half].append(w)
            cpu[half].append(c)
    print(f"-- lifecycles beside {beside}")
    for half, label in (("service", f"service layer ({backend})"), ("bare", "bare SpiffWorkflow + JSON per task")):
        print(f"lifecycles/s  {label}: wall median {statistics.median(wall[half]):7.1f} "
              f"range {min(wall[half]):6.1f} .. {max(wall[half]):6.1f};  per CPU s median "
              f"{statistics.median(cpu[half]):7.1f} range {min(cpu[half]):6.1f} .. {max(cpu[half]):6.1f}")
    for kind, figures in (("wall", wall), ("CPU", cpu)):
        ratios = [a / b for a, b in zip(figures["service"], figures["bare"])]
        print(f"ratio service/bare ({kind}, {rounds} interleaved pairs of {per}): median "
              f"{statistics.median(ratios):.2f} range {min(ratios):.2f} .. {max(ratios):.2f}   (target >= 0.8)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lifecycles", type=int, default=100, help="per half, split over the rounds")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved service/bare pairs")
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--open-cases", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--timer-workers", type=int, nargs="+", default=[1])
    args = parser.parse_args()

    url, drop = fresh_database(os.environ.get("BIHUAN_BENCH_DATABASE_URL"))
    core = Core(url)
    try:
        seed_demo(core)
        backend = core.db.engine.dialect.name
        print(f"backend: {backend}")

        service_lifecycles(core, 5)  # warm up caches (bundle parse, calendar)
        bare_engine_lifecycles(5, core.engine)
        per = max(1, args.lifecycles // args.rounds)
        compare(core, per, args.rounds, backend, "an empty database")

        clear_cases(core)
        template = core.cases.register(channel="phone", type="投诉", text="模板", user="operator")["number"]
        task = core.cases.show(template)["tasks"][0]["id"]
        core.cases.complete_task(task, user="dispatcher", data=LIFECYCLE[0][2])
        with core.db.read() as session:
            sizes = [len(s) for s in session.scalars(select(WorkflowInstance.state))]
        print(f"stored workflow state per open case: {statistics.mean(sizes):.0f} bytes (target <= 4096)")

        future = datetime.now(timezone.utc) + timedelta(days=30)
        have = 1
        for target in sorted(args.open_cases):
            clone_open_cases(core, template, target - have, future, fresh_ids=False)
            have = target
            analyze(core)
            median, worst = time_empty_sweep(core)
            print(f"empty sweep at {target:>7,} open cases: median {median:6.2f} ms, max {worst:6.2f} ms (target < 20)")
        # The ratio is asked for at the largest size too: the service's queries then run
        # beside that many open cases, in the same run as the bare engine.
        compare(core, per, args.rounds, backend, f"{have:,} open cases")

        for workers in args.timer_workers:
            prepare_due_timers(core, args.timers)
            fired, elapsed = fire_with_workers(url, workers)
            print(f"fired {fired:,} due timers with {workers} sweeper process(es) in {elapsed:.1f} s: "
                  f"{fired / elapsed:7.1f} timers/s (target >= 500)")
    finally:
        core.close()
        drop()


if __name__ == "__main__":
    # Like the tests, the figures never depend on today's date: the run starts on a fixed Monday
    # inside the statutory calendar and the clock ticks from there.
    from time_machine import travel
    with travel(datetime(2026, 11, 2, 10, 0, tzinfo=timezone(timedelta(hours=8))), tick=True):
        main()
