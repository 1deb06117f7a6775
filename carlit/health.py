"""Liveness and readiness for load balancers and docker compose health checks.

`health` is the view behind /health/: it checks the database only, quickly, and
answers 200 when the database is fine (the container liveness probe). With ?full=1
(or through `health_full`) it also reports the Celery broker, the workers and how
fresh the stored summaries are, and answers 503 when any of them is down.

Run as `python -m carlit.health`, this module asks a local server for /health/ and
exits 0 only on a 200: the container health check.
"""

import os
import sys
import urllib.error
import urllib.request

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

LOCAL_HEALTH_URL = "http://127.0.0.1:8000/health/"
# How long the full check waits for the broker and for worker replies.
BROKER_TIMEOUT = 2.0
WORKER_TIMEOUT = 1.0
NOT_CONFIGURED = "not configured (CELERY_BROKER_URL unset: tasks run in the web process)"


def _error(exc: Exception) -> str:
    return f"error: {exc.__class__.__name__}"


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; the name helps operators
        return _error(exc)
    return "ok"


def broker_status() -> str:
    if not settings.CELERY_BROKER_URL:
        return NOT_CONFIGURED
    from kombu import Connection

    broker = Connection(settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT)
    try:
        broker.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT)
    except Exception as exc:  # kombu raises transport-specific errors
        return _error(exc)
    finally:
        broker.release()
    return "ok"


def worker_status() -> dict:
    """Workers answering a ping within WORKER_TIMEOUT (returns at the first answer)."""
    if not settings.CELERY_BROKER_URL:
        return {"status": NOT_CONFIGURED, "workers": []}
    from carlit.celery import app

    try:
        replies = app.control.broadcast("ping", reply=True, timeout=WORKER_TIMEOUT, limit=1)
    except Exception as exc:
        return {"status": _error(exc), "workers": []}
    names = sorted(name for reply in replies or [] for name in reply)
    return {"status": "ok" if names else "error: no worker answered", "workers": names}


def summaries_status() -> dict:
    from summaries.selectors import freshness

    try:
        current = freshness()
    except Exception as exc:
        return {"status": _error(exc)}
    return {"status": str(current), **current.as_dict()}


def health(request):
    if request.GET.get("full"):
        return health_full(request)
    database = database_status()
    return JsonResponse({"database": database}, status=200 if database == "ok" else 503)


def health_full(request):
    """Database, broker, workers and summary freshness; 503 unless all are usable."""
    database = database_status()
    broker = broker_status()
    workers = worker_status() if broker == "ok" else {"status": "unknown (no broker)",
                                                       "workers": []}
    report = {
        "database": database,
        "broker": broker,
        "workers": workers,
        "summaries": summaries_status() if database == "ok" else {"status": "unknown"},
    }
    usable = database == "ok" and (
        broker == NOT_CONFIGURED or (broker == "ok" and workers["status"] == "ok")
    )
    return JsonResponse(report, status=200 if usable else 503)


def probe_host(allowed_hosts: str) -> str:
    """The Host header for a probe from inside the container.

    Django answers 400 to a Host outside ALLOWED_HOSTS, so the probe names the first
    allowed host ("localhost" when none is usable, as in development).
    """
    for host in allowed_hosts.split(","):
        host = host.strip().lstrip(".")
        if host and "*" not in host:
            return host
    return "localhost"


def probe(url: str = LOCAL_HEALTH_URL, *, host: str | None = None, timeout: float = 5) -> bool:
    if host is None:
        host = probe_host(os.environ.get("DJANGO_ALLOWED_HOSTS", ""))
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"health probe of {url} failed: {exc}", file=sys.stderr)
        return False


if __name__ == "__main__":
    sys.exit(0 if probe() else 1)
