"""What every benchmark needs: databases, a gunicorn server on loopback, timed requests
and side-by-side comparisons that print their ratio.

Two measurements of a comparison are taken in turns (A, B, A, B, ...) so that load
from anything else on the machine falls on both alike; the ratio is of the medians.
"""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PROJECT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
LOOPBACK = "127.0.0.1"


def server_url() -> str:
    """The PostgreSQL server (no database name); BENCH_POSTGRES_URL overrides it."""
    url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER_URL).rstrip("/")
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"Benchmarks run against a PostgreSQL on loopback only, not {host}.")
    return url


def database_url(name: str) -> str:
    return f"{server_url()}/{name}"


def bench_database(studies: int) -> str:
    """carlit_bench_1k, carlit_bench_10k, ... (bench/summaries_refresh.py uses
    carlit_bench itself as a scratch database, so these names stay clear of it)."""
    size = f"{studies // 1000}k" if studies % 1000 == 0 else str(studies)
    return f"carlit_bench_{size}"


def manage(database: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=PROJECT,
        env={**os.environ, "DATABASE_URL": database_url(database), **(env or {})},
        check=True,
        capture_output=True,
        text=True,
    )


def psql(database: str, sql: str) -> list[tuple]:
    import psycopg2

    connection = psycopg2.connect(database_url(database))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = ", load average " + " ".join(f"{value:.1f}" for value in os.getloadavg())
    postgres = psql("postgres", "SHOW server_version")[0][0]
    return f"{os.cpu_count()} × {cpu}{memory}{load}; PostgreSQL {postgres}"


# The server ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn serving carlit on 127.0.0.1 with the benchmark-only URLs mounted.

    Production settings (DEBUG off, no SSL redirect: there is no proxy), throttling
    raised out of the way, and database connections kept between requests."""

    def __init__(self, database: str, *, workers: int = 3, debug: bool = False):
        self.database = database
        self.workers = workers
        self.debug = debug
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def environment(self) -> dict:
        return {
            **os.environ,
            "DATABASE_URL": database_url(self.database),
            "DATABASE_CONN_MAX_AGE": "600",
            "CARLIT_BENCH_URLS": "1",
            "DJANGO_DEBUG": "1" if self.debug else "0",
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-only-" + "x" * 40),
            "DJANGO_ALLOWED_HOSTS": LOOPBACK,
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "CARLIT_API_ANON_RATE": "100000000/minute",
            "CARLIT_API_USER_RATE": "100000000/minute",
        }

    def __enter__(self) -> Server:
        if not self.debug:
            subprocess.run(
                [str(VENV_BIN / "python"), "manage.py", "collectstatic", "--noinput", "-v0"],
                cwd=PROJECT,
                env=self.environment(),
                check=True,
            )
        self.process = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "carlit.wsgi",
                "--bind",
                f"{LOOPBACK}:{self.port}",
                "--workers",
                str(self.workers),
                "--timeout",
                "120",
                "--log-level",
                "warning",
            ],
            cwd=PROJECT,
            env=self.environment(),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn for {self.database} exited ({self.process.returncode})"
                )
            try:
                if get(self.address, "/bench/raw/studies/?page_size=1").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError(f"gunicorn for {self.database} did not answer within 60 s")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# Requests ------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    body: bytes
    seconds: float


def request(
    address: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict | None = None,
    timeout: float = 120,
) -> Response:
    """One request on a new connection (gunicorn's sync workers close it anyway)."""
    parts = urlsplit(address)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        data = answer.read()
    finally:
        connection.close()
    return Response(answer.status, data, time.perf_counter() - started)


def get(address: str, path: str, headers: dict | None = None) -> Response:
    return request(address, "GET", path, headers=headers)


def getter(address: str, path: str) -> Callable[[], Response]:
    return lambda: get(address, path)


# Comparisons ---------------------------------------------------------------------------------


@dataclass
class Comparison:
    group: str
    name: str
    label_a: str
    label_b: str
    times_a: list[float] = field(default_factory=list)
    times_b: list[float] = field(default_factory=list)
    target: float | None = None  # A/B must not exceed this
    note: str = ""

    @property
    def median_a(self) -> float:
        return statistics.median(self.times_a)

    @property
    def median_b(self) -> float:
        return statistics.median(self.times_b)

    @property
    def ratio(self) -> float:
        return self.median_a / self.median_b

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "(no target)"
        return "met" if self.ratio <= self.target else "MISSED"

    def line(self) -> str:
        target = f"target ≤ {self.target:g}× " if self.target is not None else ""
        return (
            f"{self.name}: {self.label_a} {ms(self.median_a)} vs {self.label_b} "
            f"{ms(self.median_b)} -> ratio {self.ratio:.2f}× {target}{self.verdict}"
        )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def compare(
    group: str,
    name: str,
    label_a: str,
    run_a: Callable[[], Response],
    label_b: str,
    run_b: Callable[[], Response],
    *,
    rounds: int = 25,
    warmup: int = 3,
    target: float | None = None,
    note: str = "",
) -> Comparison:
    """Time A and B in turns; both must answer 200."""
    result = Comparison(group, name, label_a, label_b, target=target, note=note)
    for index in range(warmup + rounds):
        pair = ((run_a, result.times_a), (run_b, result.times_b))
        if index % 2:
            pair = pair[::-1]  # alternate who goes first
        for run, times in pair:
            answer = run()
            if answer.status != 200:
                raise RuntimeError(f"{name}: HTTP {answer.status}: {answer.body[:300]!r}")
            if index >= warmup:
                times.append(answer.seconds)
    print("  " + result.line(), flush=True)
    return result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
