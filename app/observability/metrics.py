"""Prometheus metrics: defined once here, observed by the web app, the sweeper and the pool.

Under gunicorn every worker is its own process, so the counters live in prometheus_client's
multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` names a directory (emptied before gunicorn starts,
see deploy/gunicorn.conf.py) where each process writes its values, and a scrape of any worker
adds them up. Without it (``bihuan serve``, tests) the default in-process registry is used.

Figures that describe the database rather than a process (incidents open, claims held, outbox
depth) are counted at scrape time from indexed columns, so every worker answers the same.
"""
from __future__ import annotations

import os
import weakref
from typing import Callable, Iterable

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, REGISTRY,
                               generate_latest)
from prometheus_client.core import GaugeMetricFamily

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Web latencies: most pages answer in tens of ms; the long tail (exports, big searches) in seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Timer lateness: the target is "within the sweep interval + 1 s"; a dead scheduler's lease is ~minutes.
LATENESS_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)

REQUESTS = Counter("bihuan_http_requests_total", "HTTP requests by route (URL rule) and status",
                   ["method", "route", "status"])
REQUEST_SECONDS = Histogram("bihuan_http_request_duration_seconds", "HTTP request latency by route",
                            ["method", "route"], buckets=LATENCY_BUCKETS)
SWEEP_SECONDS = Histogram("bihuan_timer_sweep_duration_seconds", "Duration of one timer sweep",
                          buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120))
TIMERS_FIRED = Counter("bihuan_timers_fired_total", "Timers fired by the sweepers")
TIMER_LATENESS = Histogram("bihuan_timer_lateness_seconds", "How long after its due time a timer fired",
                           buckets=LATENESS_BUCKETS)
# livesum: the connections checked out now, summed over the live processes (a dead worker's go away).
POOL_IN_USE = Gauge("bihuan_db_pool_connections_in_use", "Database connections checked out of the pool",
                    multiprocess_mode="livesum")
POOL_SIZE = Gauge("bihuan_db_pool_size", "Configured pool size (without overflow) per process, summed",
                  multiprocess_mode="livesum")

_INSTRUMENTED: "weakref.WeakSet" = weakref.WeakSet()
# name -> (help, function(session) -> number): database figures computed when scraped. Another
# domain adds its own with ``scrape_gauge`` (e.g. the scheduler's claims).
_SCRAPE_GAUGES: dict[str, tuple[str, Callable]] = {}


def scrape_gauge(name: str, help_text: str) -> Callable:
    def register(fn: Callable) -> Callable:
        _SCRAPE_GAUGES[name] = (help_text, fn)
        return fn
    return register


def observe_sweep(fired: int, seconds: float, lateness: Iterable[float] = ()) -> None:
    """One sweep's figures: how many timers it fired, how long it took, and each timer's lateness
    (seconds between its due time and its firing)."""
    SWEEP_SECONDS.observe(seconds)
    if fired:
        TIMERS_FIRED.inc(fired)
    for late in lateness:
        TIMER_LATENESS.observe(max(0.0, float(late)))


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    REQUEST_SECONDS.labels(method, route).observe(seconds)


def instrument_pool(engine) -> None:
    """Count the pool's checked-out connections in this process (SQLAlchemy pool events)."""
    from sqlalchemy import event
    if engine in _INSTRUMENTED:  # several apps (tests) may share one engine: count it once
        return
    _INSTRUMENTED.add(engine)
    size = getattr(engine.pool, "size", None)
    if callable(size):
        POOL_SIZE.inc(size())

    @event.listens_for(engine, "checkout")
    def _out(*_args):
        POOL_IN_USE.inc()

    @event.listens_for(engine, "checkin")
    def _in(*_args):
        POOL_IN_USE.dec()


class _DatabaseCollector:
    """The scrape-time gauges; a database that is away gives ``bihuan_metrics_database_up 0``."""

    def __init__(self, core):
        self.core = core

    def collect(self):
        up = GaugeMetricFamily("bihuan_metrics_database_up", "Whether the scrape could read the database")
        families = []
        try:
            with self.core.db.read() as session:
                for name, (help_text, fn) in _SCRAPE_GAUGES.items():
                    value = fn(session)
                    if value is not None:
                        family = GaugeMetricFamily(name, help_text)
                        family.add_metric([], float(value))
                        families.append(family)
            up.add_metric([], 1.0)
        except Exception:  # noqa: BLE001 - a scrape reports the outage instead of failing
            up.add_metric([], 0.0)
            families = []
        yield up
        yield from families


def render(core) -> tuple[bytes, str]:
    """The exposition text: this process's (or all processes') metrics plus the database gauges."""
    if os.environ.get(MULTIPROC_VARIABLE):
        from prometheus_client import multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(REGISTRY))
    registry.register(_DatabaseCollector(core))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Forward:
    """The default registry's metrics inside a per-scrape registry (so the database collector is
    never registered globally, and a test's app doesn't leak into the next one's)."""

    def __init__(self, source):
        self.source = source

    def collect(self):
        return self.source.collect()


# -- the database figures ----------------------------------------------------------------------
@scrape_gauge("bihuan_incidents_open", "Incidents not yet resolved")
def _incidents_open(session):
    from sqlalchemy import func, select
    from ..cases.models import Incident
    return session.scalar(select(func.count()).select_from(Incident).where(Incident.resolved_at.is_(None)))


@scrape_gauge("bihuan_notification_outbox_depth", "Outbound notifications waiting to be sent")
def _outbox_depth(session):
    from sqlalchemy import func, select
    from ..notifications.models import OutboxMessage
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending"))


@scrape_gauge("bihuan_timers_due", "Workflow instances with a timer due now (not yet fired)")
def _timers_due(session):
    from sqlalchemy import func, select
    from workflows.clock import utcnow
    from ..cases.models import WorkflowInstance
    return session.scalar(select(func.count()).select_from(WorkflowInstance)
                          .where(WorkflowInstance.next_timer_at <= utcnow()))


@scrape_gauge("bihuan_claims_held", "Timer claims (leases) held by schedulers now")
def _claims_held(session):
    """Counted from the lease column of dynamic claiming when it exists (issue 11, scheduler part);
    before that there are no claims to count and the gauge is left out."""
    from sqlalchemy import func, select
    from workflows.clock import utcnow
    from ..cases.models import WorkflowInstance
    for owner, expiry in (("claimed_by", "claim_expires_at"), ("lease_owner", "lease_expires_at")):
        if hasattr(WorkflowInstance, owner) and hasattr(WorkflowInstance, expiry):
            return session.scalar(select(func.count()).select_from(WorkflowInstance).where(
                getattr(WorkflowInstance, owner).is_not(None), getattr(WorkflowInstance, expiry) > utcnow()))
    return None


def serve_scheduler_metrics(core=None) -> int | None:
    """A scheduler has no web server: with ``BIHUAN_SCHEDULER_METRICS_PORT`` it serves its own
    metrics (sweep duration, timers fired, lateness, pool) on that port of
    ``BIHUAN_SCHEDULER_METRICS_ADDR`` (default 127.0.0.1). Returns the port, or None when unset."""
    from ..errors import Invalid
    raw = os.environ.get("BIHUAN_SCHEDULER_METRICS_PORT", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise Invalid(f"invalid BIHUAN_SCHEDULER_METRICS_PORT '{raw}': use a port number")
    from prometheus_client import start_http_server
    if core is not None:
        instrument_pool(core.db.engine)
    start_http_server(int(raw), addr=os.environ.get("BIHUAN_SCHEDULER_METRICS_ADDR", "127.0.0.1"))
    return int(raw)
