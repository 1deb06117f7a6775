"""Settings read from the environment, and the real services they point at."""

import json
import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from carlit.celery import app as celery_app

PROJECT_DIR = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),  # 67 characters
    "DJANGO_ALLOWED_HOSTS": "carlit.example.org",
}

PRINT_SETTINGS = """
import json
from django.conf import settings
from carlit.celery import app
print(json.dumps({
    "debug": settings.DEBUG,
    "engine": settings.DATABASES["default"]["ENGINE"],
    "database": str(settings.DATABASES["default"]["NAME"]),
    "cache": settings.CACHES["default"]["BACKEND"],
    "celery_eager": app.conf.task_always_eager,
    "allowed_hosts": settings.ALLOWED_HOSTS,
}))
"""


def run_in_clean_env(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run Python in the project folder with none of this process's settings."""
    clean_env = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "carlit.settings"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_DIR,
        env={**clean_env, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def scratch_sqlite(tmp_path: Path) -> str:
    """A database URL that keeps management commands away from the project's db.sqlite3."""
    return f"sqlite:///{tmp_path / 'scratch.sqlite3'}"


@pytest.mark.postgres
@pytest.mark.django_db
def test_it_stores_and_reads_rows_in_postgresql_when_database_url_names_it():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL")

    get_user_model().objects.create_user(username="curator", password="not-used-here")
    assert get_user_model().objects.filter(username="curator").exists()


@pytest.mark.broker
def test_celery_sends_task_messages_through_the_redis_broker():
    assert not celery_app.conf.task_always_eager, "a broker URL must turn eager mode off"
    queue_name = f"carlit-test-{uuid.uuid4().hex}"

    with celery_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=2)
        assert broker.transport.driver_type == "redis"

        celery_app.send_task("carlit.tests.echo", args=["ping"], queue=queue_name)

        inbox = broker.SimpleQueue(queue_name)
        try:
            message = inbox.get(timeout=5)
            message.ack()
            task_args, _task_kwargs, _embed = message.payload
            assert message.headers["task"] == "carlit.tests.echo"
            assert task_args == ["ping"]
        finally:
            inbox.consumer.queues[0].delete()
            inbox.close()


@pytest.mark.broker
def test_the_redis_cache_keeps_values_and_an_unreachable_one_reads_as_empty(settings):
    from carlit.cache import TolerantRedisCache

    live = TolerantRedisCache(settings.CELERY_BROKER_URL, {"KEY_PREFIX": uuid.uuid4().hex})
    live.set_many({"a": 1, "b": [2, 3]}, 30)
    assert live.get_many(["a", "b"]) == {"a": 1, "b": [2, 3]}
    assert live.add("a", 9) is False and live.delete("a") is True and live.get("a") is None
    live.delete_many(["b"])

    down = TolerantRedisCache("redis://127.0.0.1:1/0", {})
    down.set("a", 1)  # dropped, not raised
    assert down.get("a", "missing") == "missing" and down.get_many(["a"]) == {}
    assert down.has_key("a") is False and down.add("a", 1) is False
    assert down.set_many({"a": 1}) == ["a"]  # reported as not kept


@celery_app.task(name="carlit.tests.echo")
def echo(text: str) -> str:
    return text


def test_tests_without_the_broker_marker_run_tasks_in_process():
    # Even with CELERY_BROKER_URL set: no worker runs during the tests (see conftest).
    assert echo.delay("ping").get(timeout=1) == "ping"


def test_a_fresh_checkout_runs_on_sqlite_with_eager_celery():
    result = run_in_clean_env(["-c", PRINT_SETTINGS])

    assert result.returncode == 0, result.stderr
    defaults = json.loads(result.stdout)
    assert defaults["debug"] is True
    assert defaults["engine"] == "django.db.backends.sqlite3"
    assert defaults["database"] == str(PROJECT_DIR / "db.sqlite3")
    assert defaults["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert defaults["celery_eager"] is True
    assert "localhost" in defaults["allowed_hosts"]


def test_the_environment_picks_the_database_broker_and_cache():
    result = run_in_clean_env(
        ["-c", PRINT_SETTINGS],
        DATABASE_URL="postgres://carlit:secret@db.internal:5433/carlit",
        CELERY_BROKER_URL="redis://redis.internal:6379/0",
        REDIS_CACHE_URL="redis://redis.internal:6379/1",
    )

    assert result.returncode == 0, result.stderr
    configured = json.loads(result.stdout)
    assert configured["engine"] == "django.db.backends.postgresql"
    assert configured["database"] == "carlit"
    assert configured["cache"] == "carlit.cache.TolerantRedisCache"
    assert configured["celery_eager"] is False


def test_production_mode_refuses_to_start_without_a_secret_key():
    result = run_in_clean_env(["-c", PRINT_SETTINGS], DJANGO_DEBUG="0")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_the_deployment_checklist(tmp_path):
    result = run_in_clean_env(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DATABASE_URL=scratch_sqlite(tmp_path),
        **PRODUCTION_ENV,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_production_redirects_to_https_except_the_health_check(tmp_path):
    script = """
import django
django.setup()
from django.test import Client
client = Client()
page = client.get("/", HTTP_HOST="carlit.example.org")
health = client.get("/health/", HTTP_HOST="carlit.example.org")
print(page.status_code, page.headers.get("Location"), health.status_code)
"""
    result = run_in_clean_env(
        ["-c", script], DATABASE_URL=scratch_sqlite(tmp_path), **PRODUCTION_ENV
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["301", "https://carlit.example.org/", "200"]


def test_models_and_migrations_agree(tmp_path):
    result = run_in_clean_env(
        ["manage.py", "makemigrations", "--check", "--dry-run"],
        DATABASE_URL=scratch_sqlite(tmp_path),
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_health_reports_the_database_ok(client):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"database": "ok"}
