"""gunicorn settings for Bihuan, all from the environment (docs/deploy.md has the table).

    PROMETHEUS_MULTIPROC_DIR=/run/bihuan/metrics gunicorn -c deploy/gunicorn.conf.py app.wsgi:app
"""
import os
import shutil
import tempfile

bind = os.environ.get("BIHUAN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("BIHUAN_WEB_WORKERS", str(max(2, (os.cpu_count() or 1) * 2))))
# Threads: a worker waiting on PostgreSQL serves another request meanwhile. Each thread may hold one
# pooled connection, so workers x threads must stay below the pool (10 + 20 overflow) x machines
# budget of max_connections (docs/deploy.md, "PostgreSQL").
worker_class = "gthread"
threads = int(os.environ.get("BIHUAN_WEB_THREADS", "4"))
timeout = int(os.environ.get("BIHUAN_WEB_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (a slow leak never grows without bound).
max_requests = int(os.environ.get("BIHUAN_WEB_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
# Each worker opens its own database pool after the fork: nothing is preloaded in the master.
preload_app = False
# Our app logs one JSON line per request with its request id; gunicorn's access log would repeat it.
accesslog = os.environ.get("BIHUAN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("BIHUAN_LOG_LEVEL", "info").lower()
proc_name = "bihuan-web"
# X-Forwarded-* are handled by the app (BIHUAN_PROXY_HOPS); gunicorn itself trusts no proxy header.
forwarded_allow_ips = ""

# Every worker writes its metrics into this directory; a scrape of any worker adds them up. It must
# be set before a worker imports prometheus_client, so it is set here, in the master.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(tempfile.gettempdir(), f"bihuan-metrics-{os.getpid()}")


def on_starting(server):
    # The previous run's files would add old counts to the new ones.
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def child_exit(server, worker):
    # A dead worker's live gauges (pool connections in use) stop counting.
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)
