"""The ``bihuan`` console script. JSON to stdout; user errors: one line on stderr, exit 1."""
from __future__ import annotations

import functools
import json
import logging
import os
import sys
from contextlib import contextmanager

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from .errors import BihuanError, Invalid, NotFound

EXIT_USER_ERROR = 1


def _emit(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USER_ERROR)


def user_errors(fn):
    """Turn domain errors into one clear stderr line instead of a traceback."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Invalid as exc:
            details = "; ".join(f"{f}: {m}" for f, m in exc.fields) if exc.fields else ""
            _fail(f"{exc}" if not details or details in str(exc) else f"{exc} ({details})")
        except BihuanError as exc:
            _fail(str(exc))
        except (OperationalError, ProgrammingError) as exc:
            first = str(exc.orig).splitlines()[0] if getattr(exc, "orig", None) else str(exc).splitlines()[0]
            _fail(f"database error: {first}{_database_hint(first)}")
    return wrapper


def _database_hint(message: str) -> str:
    """Point operators the right way: a lock timeout is contention, not a missing migration."""
    lowered = message.lower()
    if "locked" in lowered or "lock timeout" in lowered or "could not obtain lock" in lowered \
            or "deadlock" in lowered:
        return " (another process held the database lock too long; retry, and check for long-running commands)"
    if "no such table" in lowered or "no such column" in lowered or "does not exist" in lowered:
        return " (is the database migrated? run 'bihuan db upgrade')"
    return ""


def _core(check: bool = True):
    from .core import Core
    from .migrate import check_schema
    core = Core()
    if check:
        try:
            check_schema(core.db.engine, core.db.url)
        except OperationalError as exc:
            core.close()
            raise BihuanError(f"cannot open the database: {str(exc.orig).splitlines()[0]}") from None
        except BihuanError:
            core.close()
            raise
    return core


@contextmanager
def _opened():
    core = _core()
    try:
        yield core
    finally:
        core.close()


LOG_LEVEL_VARIABLE = "BIHUAN_LOG_LEVEL"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Long-running commands report their sweeps and incidents as they go; one-shot commands answer
# in JSON on stdout and keep stderr for warnings and the error line.
LONG_RUNNING = {"serve", "scheduler"}
# The loggers the setting is for: ours, and werkzeug's request lines under ``serve``.
OWN_LOGGERS = ("app", "workflows", "werkzeug")


def _log_level(command: str | None) -> int:
    value = os.environ.get(LOG_LEVEL_VARIABLE, "").strip()
    if not value:
        return logging.INFO if command in LONG_RUNNING else logging.WARNING
    if value.upper() not in LOG_LEVELS:
        _fail(f"invalid {LOG_LEVEL_VARIABLE} '{value}': use one of {', '.join(LOG_LEVELS)}")
    return getattr(logging, value.upper())


def _configure_logging(level: int) -> None:
    """Log lines go to stderr, never stdout, which holds only the JSON answer.

    Libraries are chatty at INFO (SpiffWorkflow logs every task state change, APScheduler every
    run, Alembic its plugins on each schema check): they log their warnings, and everything only
    at DEBUG.
    """
    if os.environ.get("BIHUAN_ENV", "").lower() == "production":  # one JSON object per line (schedulers)
        from .observability.logging import configure_json_logging
        configure_json_logging(level)
        return
    libraries = level if level <= logging.DEBUG else max(level, logging.WARNING)
    logging.basicConfig(level=libraries, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)


@click.group(help="Bihuan 闭环: case processing for grassroots governance. "
                  f"Log level: ${LOG_LEVEL_VARIABLE} (default INFO for serve and scheduler, WARNING otherwise).")
@click.pass_context
def main(ctx: click.Context) -> None:
    _configure_logging(_log_level(ctx.invoked_subcommand))
    from workflows.clock import start_test_clock
    try:
        start_test_clock(os.environ)  # test mode only: the suite runs the CLI on its frozen clock
    except ValueError as exc:
        _fail(str(exc))


# -- db ------------------------------------------------------------------------------------
@main.group(help="Database schema.")
def db() -> None:
    pass


@db.command("upgrade", help="Create or upgrade the schema (Alembic).")
@user_errors
def db_upgrade() -> None:
    from .db import default_database_url
    from .migrate import upgrade
    from .privacy.rotation import rotate
    url = default_database_url()
    revision = upgrade(url)
    with _opened() as core:
        # Rows from before encryption (and after a key change) are sealed here: a migration has no keys.
        sealed = rotate(core.db)["rotated"]
    _emit({"database": _redact(url), "revision": revision, "encrypted": sealed})


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


# -- demo ----------------------------------------------------------------------------------
@main.group(help="Demo data.")
def demo() -> None:
    pass


@demo.command("seed", help="Departments, grids, one user per role and a few demo cases (idempotent).")
@click.option("--no-cases", is_flag=True, help="Only departments, grids and users.")
@user_errors
def demo_seed(no_cases: bool) -> None:
    from .demo_cases import demo_calendar, seed_demo_cases, seed_past_cases
    from .patrol.demo import seed_patrols
    from .seed import seed_demo
    with _opened() as core:
        result = seed_demo(core)
        if not no_cases:
            result["provisional_calendar"] = demo_calendar(core)
        result["demo_cases"] = 0 if no_cases else seed_demo_cases(core)
        result["past_cases"] = seed_past_cases(core) if result["demo_cases"] else 0  # supervision on first login
        from .joint.demo import seed_joint_cases
        result["joint_cases"] = seed_joint_cases(core) if result["demo_cases"] else 0  # 联动处置, 批示督办
        if not no_cases:
            from .volunteers.demo import seed_volunteers
            result["volunteers"] = seed_volunteers(core)  # 志愿者积分 demo (idempotent, ~1.5 s)
        result["patrols"] = 0 if no_cases else seed_patrols(core)  # 网格巡查: three weeks of past patrols
        _emit(result)


# -- serving -------------------------------------------------------------------------------
@demo.command("history", help="Closed and open cases over past months, shaped as the engine writes them.")
@click.option("--cases", type=int, default=3000, show_default=True)
@click.option("--months", type=int, default=6, show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing when a history was generated before (make run).")
@click.option("--open-limit", type=int, default=400, show_default=True,
              help="At most this many open cases (driven through the engine); the rest finish before now.")
@user_errors
def demo_history(cases: int, months: int, if_empty: bool, open_limit: int) -> None:
    from .reports.history_writer import generate
    with _opened() as core:
        _emit(generate(core, cases=cases, months=months, if_empty=if_empty, open_limit=open_limit))


@main.command(help="Web app with the embedded scheduler.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
@click.option("--no-scheduler", is_flag=True, help="Do not run the timer sweep in this process.")
@user_errors
def serve(host: str, port: int, no_scheduler: bool) -> None:
    from werkzeug.serving import run_simple

    from . import create_app
    from .scheduler import build_scheduler
    from .web.serving import BihuanRequestHandler
    core = _core()
    app = create_app(core=core)
    scheduler = None if no_scheduler else build_scheduler(core, blocking=False)
    if scheduler:
        scheduler.start()
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, request_handler=BihuanRequestHandler)
    finally:
        if scheduler:
            scheduler.shutdown(wait=False)
        core.close()


@main.command(help="The timer sweep and the periodic jobs alone; run as many as you like (docs/scheduling.md).")
@click.option("--shard", default=None, hidden=True, help="Deprecated and ignored: timers are claimed dynamically.")
@user_errors
def scheduler(shard: str | None) -> None:
    from .scheduler import build_scheduler
    from .scheduling.claims import scheduler_id
    if shard is not None:
        click.echo("warning: --shard is deprecated and ignored: every scheduler claims due timers dynamically",
                   err=True)
    core = _core()
    from .observability.metrics import serve_scheduler_metrics
    serve_scheduler_metrics(core)  # BIHUAN_SCHEDULER_METRICS_PORT: sweep figures for Prometheus
    sched = build_scheduler(core, blocking=True)
    from .observability.timer_log import observed_sweep
    sched.modify_job("timer_sweep", func=observed_sweep)  # the same sweep, with its metrics recorded
    click.echo(f"bihuan scheduler running (scheduler {scheduler_id()}); Ctrl-C to stop", err=True)
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        core.close()


# -- cases and tasks -----------------------------------------------------------------------
@main.group(help="Cases (诉求/工单).")
def case() -> None:
    pass


@case.command("create", help="Register (受理) a request.")
@click.option("--channel", required=True, help="phone|grid|online|platform|web")
@click.option("--type", "type_", required=True, help="咨询|求助|投诉|举报|建议")
@click.option("--text", required=True)
@click.option("--category")
@click.option("--address")
@click.option("--reporter-name")
@click.option("--reporter-phone")
@click.option("--grid")
@click.option("--urgent", is_flag=True, help="紧急件")
@click.option("--user")
@user_errors
def case_create(channel, type_, text, category, address, reporter_name, reporter_phone, grid, urgent, user) -> None:
    with _opened() as core:
        _emit(core.cases.register(channel=channel, type=type_, text=text, category=category, address=address,
                                  reporter_name=reporter_name, reporter_phone=reporter_phone, grid=grid,
                                  urgent=urgent, user=user, source="cli"))


@case.command("show", help="Every column, supervision items and history of a case.")
@click.argument("number")
@user_errors
def case_show(number: str) -> None:
    with _opened() as core:
        _emit(core.cases.show(number))


@main.group(help="Ready user tasks.")
def task() -> None:
    pass


@task.command("list")
@click.option("--case", "case_number")
@click.option("--role")
@click.option("--user")
@user_errors
def task_list(case_number, role, user) -> None:
    with _opened() as core:
        tasks = core.cases.list_tasks(case=case_number, role=role, user=user)
        _emit([{k: t[k] for k in ("id", "case", "task", "name", "role", "department", "due")} for t in tasks])


@task.command("complete")
@click.argument("task_id")
@click.option("--user", required=True)
@click.option("--data", "data_json", default="{}", show_default=True, help="form data as a JSON object")
@user_errors
def task_complete(task_id, user, data_json) -> None:
    try:
        data = json.loads(data_json)
    except json.JSONDecodeError as exc:
        raise Invalid(f"--data is not valid JSON: {exc.msg} at position {exc.pos}") from None
    with _opened() as core:
        _emit(core.cases.complete_task(task_id, user=user, data=data, source="cli"))


# -- timers and calendar -------------------------------------------------------------------
@main.group(help="Process timers (deadlines and escalation).")
def timers() -> None:
    pass


@timers.command("due")
@user_errors
def timers_due() -> None:
    from .cases.timers import due_timers
    with _opened() as core:
        _emit(due_timers(core))


@timers.command("fire", help="Fire every timer due now, or due at --now (a demo's way to advance time).")
@click.option("--now", "at", metavar="INSTANT",
              help="Sweep as if it were this instant, with its UTC offset, e.g. 2026-11-20T09:00+08:00.")
@user_errors
def timers_fire(at: str | None) -> None:
    from workflows.clock import shifted
    from .cases.timers import fire_due
    when = _instant(at) if at else None
    with _opened() as core:
        if when is None:
            _emit({"fired": fire_due(core)})
            return
        with shifted(when):  # the scripts' now() and the timers' own clock run at that instant too
            _emit({"fired": fire_due(core, when), "now": when.isoformat()})


def _instant(text: str):
    from datetime import datetime
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"--now must be an ISO instant such as 2026-11-20T09:00+08:00, got {text!r}") from None
    if value.tzinfo is None:
        raise Invalid(f"--now needs a UTC offset (e.g. +08:00): {text!r}")
    return value


@main.group(help="Working-day calendar: official schedules, provisional years, single corrections.")
def calendar() -> None:
    pass


@calendar.command("status", help="How far the calendar reaches, year by year, and what is provisional.")
@user_errors
def calendar_status() -> None:
    with _opened() as core:
        _emit(core.calendar.status())


@calendar.command("import", help="Import a year's official schedule (CSV or .xlsx: date, holiday|workday, note); "
                                 "the year becomes complete and its provisional deadlines are recomputed.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--year", type=int, help="the year the schedule is for (default: the year most rows are in)")
@click.option("--note", default="", help="e.g. the notice's number: 国办发明电〔2026〕7号")
@click.option("--user", default="cli")
@user_errors
def calendar_import(file, year, note, user) -> None:
    from .calendar.importing import MAX_BYTES, import_schedule
    try:
        with open(file, "rb") as handle:
            content = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise Invalid(f"cannot read {file}: {exc.strerror}") from None
    with _opened() as core:
        _emit(import_schedule(core, content, year=year, note=note, actor=user, source="cli"))


@calendar.command("provisional", help="Switch the provisional (rule-based) calendar of an unpublished year on or off.")
@click.argument("year", type=int)
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--note", default="")
@click.option("--user", default="cli")
@user_errors
def calendar_provisional(year, state, note, user) -> None:
    with _opened() as core:
        _emit(core.calendar.set_provisional(year, state == "on", actor=user, note=note))


@calendar.command("deadlines", help="Deadlines computed on a provisional year (暂定), earliest first.")
@click.option("--year", type=int)
@click.option("--limit", type=int, default=200, show_default=True)
@user_errors
def calendar_deadlines(year, limit) -> None:
    from .calendar.services import list_provisional
    with _opened() as core, core.db.read() as session:
        _emit(list_provisional(session, year, max(1, min(limit, 10_000))))


@calendar.command("recompute", help="Recompute the provisional deadlines of a year that is now official.")
@click.argument("year", type=int)
@click.option("--user", default="cli")
@user_errors
def calendar_recompute(year, user) -> None:
    from .calendar.recompute import recompute_year
    with _opened() as core:
        _emit(recompute_year(core, year, user))


@calendar.command("add-override", help="Correct one day of a year the calendar already knows.")
@click.argument("day")
@click.argument("kind", type=click.Choice(["workday", "holiday"]))
@click.option("--note", default="")
@click.option("--user", default="cli")
@user_errors
def calendar_add_override(day, kind, note, user) -> None:
    with _opened() as core:
        _emit(core.calendar.add_override(day, kind, note, actor=user))


@calendar.command("remove-override", help="Drop one correction.")
@click.argument("day")
@click.option("--user", default="cli")
@user_errors
def calendar_remove_override(day, user) -> None:
    with _opened() as core:
        removed = core.calendar.remove_override(day, actor=user)
        if removed is None:
            raise NotFound(f"no override on {day}")
        _emit(removed)


@main.group(help="Incidents: failed scripts or tables on a case.")
def incident() -> None:
    pass


@incident.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="include resolved incidents")
@user_errors
def incident_list(include_resolved: bool) -> None:
    from .cases.incidents import list_incidents
    with _opened() as core:
        _emit(list_incidents(core, include_resolved))


@incident.command("resolve")
@click.argument("incident_id", type=int)
@click.option("--user", required=True)
@click.option("--note", default="")
@user_errors
def incident_resolve(incident_id: int, user: str, note: str) -> None:
    from .cases.incidents import resolve_incident
    with _opened() as core:
        _emit(resolve_incident(core, incident_id, user, note))


@main.group(help="Process versions.")
def process() -> None:
    pass


@process.command("deploy", help="Deploy a directory of diagrams/tables/forms as a new version.")
@click.argument("directory", required=False)
@click.option("--user", default="cli")
@click.option("--reason", default="", help="Why (required): kept with the version in its history.")
@user_errors
def process_deploy(directory, user, reason) -> None:
    from workflows.bundle import read_directory

    from .processes.services import SHIPPED_BUNDLE, deploy
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("a deploy needs a reason: --reason \"why, and what you expect\"", fields=[("reason", "required")])
    with _opened() as core:
        with core.db.unit_of_work() as session:
            row, created = deploy(session, read_directory(directory or SHIPPED_BUNDLE), actor=user, note=reason[:500])
            _emit({"version": row.version, "hash": row.content_hash, "created": created, "reason": row.note})


@process.command("what-if", help="Replay the draft's (or DIR's) rules on past cases against the deployed version.")
@click.option("--from", "start", help="First day, YYYY-MM-DD (default: 90 days ago).")
@click.option("--to", "end", help="Last day, YYYY-MM-DD (default: today).")
@click.option("--draft", "use_draft", is_flag=True, help="Replay the designers' draft (the default).")
@click.option("--dir", "directory", help="Replay a directory of diagrams/tables/forms instead of the draft.")
@click.option("--type", "type_", help="Only this type (code or 投诉 ...).")
@click.option("--category", help="Only this category.")
@click.option("--department", help="Only this (recorded) department code.")
@click.option("--budget", type=float, help="Stop after this many seconds (result marked partial).")
@click.option("--json", "as_json", is_flag=True, help="The whole result as JSON (the page shows the same).")
@user_errors
def process_what_if(start, end, use_draft, directory, type_, category, department, budget, as_json) -> None:
    from .processes import whatif, whatif_text
    if use_draft and directory:
        raise Invalid("use --draft or --dir, not both")
    request = whatif.parse_request(start, end, type_, category, department)
    with _opened() as core:
        result = whatif.run(core, request, directory=directory, budget=budget)
    if as_json:
        _emit(result)
        return
    d, n = result["deployed"]["total"], result["draft"]["total"]
    click.echo(f"{result['request']['start']} .. {result['request']['end']}: {result['processed']} of "
               f"{result['total']} cases replayed ({result['status']}), {result['changed_count']} change")
    for key in ("on_time_reply_rate", "overdue", "sign_overdue", "tier1", "tier2", "tier3", "points"):
        click.echo(f"  {key:20} {d.get(key)!s:>10} -> {n.get(key)!s:>10}")
    for case in result["changed"][:20]:
        click.echo(f"  {case['number']}: {whatif_text.why(case['reasons'])}")
    for entry in result["not_replayed"]:
        click.echo(f"  NOT replayed: {entry['file']} {entry['element_id'] or ''} ({whatif_text.change_why(entry['why'])})")


# Commands of other domains, kept in their folders (app/<domain>/commands.py); they use the helpers above.
from .audit.commands import audit as _audit_commands  # noqa: E402
from .intake.commands import call as _call_commands  # noqa: E402
from .feeds.commands import import_group as _import_commands  # noqa: E402
from .joint.commands import joint as _joint_commands  # noqa: E402
from .notifications.commands import notify as _notify_commands  # noqa: E402
from .operations import commands as _ops  # noqa: E402 - backup, restore, check, archive
from .org.commands import org as _org_commands  # noqa: E402
from .privacy.commands import keys as _keys_commands, privacy as _privacy_commands  # noqa: E402
from .reports import commands as _reports_commands  # noqa: E402,F401 - registers ledger export, kpi
from .reports import score_commands as _score_commands  # noqa: E402,F401 - registers score, report weekly
from .reports.rollup_commands import reports as _rollup_commands  # noqa: E402 - bihuan reports rebuild
from .api.commands import api as _api_commands  # noqa: E402 - bihuan api client/key/webhook
from .volunteers.commands import volunteers as _volunteer_commands  # noqa: E402
from .patrol.commands import patrol as _patrol_commands  # noqa: E402 - bihuan patrol score|summary
from .attachments.commands import attachments as _attachment_commands  # noqa: E402 - bihuan attachments clean

for _group in (_ops.backup, _ops.restore, _ops.check, _ops.archive, _audit_commands, _call_commands,
               _notify_commands, _keys_commands, _privacy_commands, _rollup_commands):
    main.add_command(_group)
main.add_command(_api_commands)
main.add_command(_import_commands)  # bihuan import opinion
main.add_command(_volunteer_commands)
main.add_command(_patrol_commands)
main.add_command(_org_commands)
main.add_command(_joint_commands)
main.add_command(_attachment_commands)

if __name__ == "__main__":  # pragma: no cover
    main()

