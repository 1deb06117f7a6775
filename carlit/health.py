"""Liveness and readiness for load balancers and docker compose health checks.

`health` is the view behind /health/. Run as `python -m carlit.health`, this module
asks a local server for /health/ and exits 0 only on a 200: the container health check.
"""

import os
import sys
import urllib.error
import urllib.request

from django.db import connection
from django.http import JsonResponse

LOCAL_HEALTH_URL = "http://127.0.0.1:8000/health/"


def health(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception as exc:  # any failure means "not ready"; the message helps operators
        database = f"error: {exc.__class__.__name__}"
    status = 200 if database == "ok" else 503
    return JsonResponse({"database": database}, status=status)


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
