"""A real Celery worker in a subprocess, consuming from the test run's broker and
writing to the test database (which it can see only in transactional tests)."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

PROJECT = Path(__file__).resolve().parents[2]


def worker_database_url() -> str:
    """DATABASE_URL of the test database pytest-django created (test_<name>)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        credentials += f":{quote(db['PASSWORD'])}"
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgres://{credentials}@{host}/{db['NAME']}"


def wait_for(predicate, *, timeout: float = 30, interval: float = 0.2, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval)
    raise AssertionError(f"gave up after {timeout} s waiting for {what or predicate}")


class Worker:
    """`celery -A carlit worker -P solo` with the test's database and broker."""

    def __init__(self, **environment: str):
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the process
            prefix="carlit-worker-", suffix=".log", delete=False
        )
        self.hostname = f"summaries-test-{os.getpid()}-{time.monotonic_ns()}@localhost"
        env = {
            **os.environ,
            "DATABASE_URL": worker_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "DATABASE_CONN_MAX_AGE": "0",
            **environment,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "carlit", "worker", "-P", "solo",
             "--without-gossip", "--without-mingle", "--loglevel=INFO",
             "--hostname", self.hostname],
            cwd=PROJECT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_until_ready(self, timeout: float = 30) -> "Worker":
        from carlit.celery import app

        def answers():
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited:\n{self.output()}")
            return app.control.ping(destination=[self.hostname], timeout=0.5)

        wait_for(answers, timeout=timeout, what="the worker to answer a ping")
        return self

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def kill(self) -> None:
        """SIGKILL: no cleanup, no acknowledgement, the database session just drops."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def run_django(code: str, **environment: str) -> str:
    """Run Python in a fresh Django process on the test database (`manage.py shell`)."""
    env = {**os.environ, "DATABASE_URL": worker_database_url(), **environment}
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
