"""Shared test set-up: which backing services this run has, and what to do without them.

Tests that need a service carry a marker (declared in pyproject.toml):

- ``postgres``: the default database must be PostgreSQL (set DATABASE_URL);
- ``broker``: a real Redis broker (set CELERY_BROKER_URL);
- ``browser``: Debian's chromium at /usr/bin/chromium.

Locally such tests are skipped when their service is missing. With CI=true nothing is
skipped: they fail, saying which service is missing, so a green CI run means every
test ran. Either way the terminal summary says which backends were used.
"""

import os
import shutil
import socket
import subprocess
import threading
from functools import cache
from urllib.parse import urlsplit

import pytest

# Playwright's sync API runs an asyncio event loop in the test's thread, and Django
# refuses database access from a thread with a running loop (SynchronousOnlyOperation).
# Browser tests drive a live server and query the database in the same thread, so
# the check is turned off for the whole test run (Django reads it at each call).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_PATH = "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").strip().lower() == "true"

# Skip reasons start with these words, so the summary can count skips per service.
NEEDS = {
    "PostgreSQL": "needs PostgreSQL",
    "broker": "needs a Redis broker",
    "Chromium": "needs Chromium",
}

missing_service_key = pytest.StashKey[str]()


def database_vendor() -> str:
    from django.db import connections

    return connections["default"].vendor


# The test database's name, read before pytest-django creates it: a teardown that fails
# leaves the settings holding the test name, which would read "test_test_...".
test_database_key = pytest.StashKey[str]()


def name_of_test_database() -> str:
    from django.db import connections

    return connections["default"].creation._get_test_db_name()


def database_label(config: pytest.Config) -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    if database_vendor() == "sqlite":
        return "sqlite (in-memory test database)"
    where = f"{db.get('HOST') or 'local socket'}:{db.get('PORT') or 'default port'}"
    name = config.stash.get(test_database_key, None) or name_of_test_database()
    return f"{database_vendor()} at {where}, test database {name}"


def broker_url() -> str:
    from django.conf import settings

    return settings.CELERY_BROKER_URL


@cache
def database_error() -> str | None:
    """Why the configured database server cannot be reached, or None.

    SQLite needs no server; for the others a TCP connection to HOST:PORT is tried.
    """
    from django.conf import settings

    db = settings.DATABASES["default"]
    host, port = db.get("HOST"), db.get("PORT")
    if database_vendor() == "sqlite" or not host or host.startswith("/"):
        return None
    port = int(port or {"postgresql": 5432, "mysql": 3306}.get(database_vendor(), 0))
    try:
        with socket.create_connection((host, port), timeout=3):
            return None
    except OSError as exc:
        return f"{host}:{port}: {exc}"


@cache
def broker_error() -> str | None:
    """Why the broker named by CELERY_BROKER_URL cannot be reached, or None."""
    from kombu import Connection

    connection = Connection(broker_url(), connect_timeout=3)
    try:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=5)
    except Exception as exc:  # kombu raises transport-specific errors
        return f"{exc.__class__.__name__}: {exc}"
    finally:
        connection.release()
    return None


def missing_service(item: pytest.Item) -> str | None:
    """Why this test cannot run here, or None when its services are present."""
    if item.get_closest_marker("postgres") and database_vendor() != "postgresql":
        return f"{NEEDS['PostgreSQL']}: set DATABASE_URL"
    if item.get_closest_marker("broker"):
        if not broker_url():
            return f"{NEEDS['broker']}: set CELERY_BROKER_URL"
        if error := broker_error():
            return f"{NEEDS['broker']}: CELERY_BROKER_URL is set but does not answer ({error})"
    if item.get_closest_marker("browser") and not os.path.exists(CHROMIUM_PATH):
        return f"{NEEDS['Chromium']} at {CHROMIUM_PATH}: apt-get install chromium"
    return None


def pytest_configure(config: pytest.Config) -> None:
    # WhiteNoise warns that STATIC_ROOT is missing: tests serve static files from the
    # finders, as `make run` does, and never collect them.
    config.addinivalue_line("filterwarnings", "ignore:No directory at:UserWarning")


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return  # xdist workers: the controller has checked already
    session.config.stash[test_database_key] = name_of_test_database()
    if error := database_error():
        # A run against a dead database server would only produce a wall of errors.
        pytest.exit(
            f"DATABASE_URL names a {database_vendor()} server that cannot be reached "
            f"({error}). Start it, or unset DATABASE_URL to test on SQLite.",
            returncode=3,
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        reason = missing_service(item)
        if reason is None:
            continue
        if IN_CI:
            item.stash[missing_service_key] = reason
        else:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if reason := item.stash.get(missing_service_key, None):
        pytest.fail(f"CI=true, so not skipped: this test {reason}", pytrace=False)


# Sessions other than the suite's own still open on the PostgreSQL test database when the
# suite ends. pytest-django cannot drop the database then and only warns ("being accessed
# by other users"); they are listed in the summary so that whatever left them is found.
_LEFT_OPEN: list[str] = []


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    yield
    if database_vendor() != "postgresql":
        return
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, application_name, state, backend_start, client_port, left(query, 200) "
            "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        for row in cursor.fetchall():
            try:  # a diagnosis only: it must not fail the run
                found = [*row, _holder(row[4]), _wrapper_of(row[0])]
            except Exception as error:
                found = [*row, f"not traced: {error!r}"]
            _LEFT_OPEN.append(" | ".join(str(value) for value in found))


def _holder(port: int | None) -> str:
    """The local process holding a connection's client port, as `ss` tells (and this
    process's live threads when it is the one): where a leftover session comes from."""
    if not port or not shutil.which("ss"):
        return "holder unknown"
    shown = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"sport = :{port}"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()
    if f"pid={os.getpid()}," in shown:
        shown += f"; this process's threads: {[t.name for t in threading.enumerate()]}"
    return shown or "holder not found"


def _wrapper_of(backend_pid: int) -> str:
    """The Django connection of this process on that server session, if any: the
    thread it was made in and what still refers to it."""
    import gc

    import psycopg2.extensions

    everything = gc.get_objects()
    for raw in everything:
        # type(), not isinstance(): a dead weak proxy raises on any other look.
        if type(raw) is not psycopg2.extensions.connection or raw.closed:
            continue
        if raw.get_backend_pid() != backend_pid:
            continue
        wrappers = [
            owner
            for holder in gc.get_referrers(raw)
            if isinstance(holder, dict)
            for owner in gc.get_referrers(holder)
            if getattr(owner, "__dict__", None) is holder and hasattr(owner, "alias")
        ]
        if not wrappers:
            return "a psycopg2 connection outside Django"
        wrapper = wrappers[0]
        made_in = "the main thread" if wrapper._thread_ident == threading.main_thread().ident \
            else f"thread {wrapper._thread_ident}"
        referrers = [  # but the wrapper's own parts
            type(r).__name__
            for r in gc.get_referrers(wrapper)
            if r is not wrappers and r is not everything
            and getattr(r, "connection", None) is not wrapper
            and getattr(r, "wrapper", None) is not wrapper
        ]
        return (f"Django connection {wrapper.alias!r} made in {made_in}, in atomic block: "
                f"{wrapper.in_atomic_block}; referred to by {referrers}")
    return "no connection of this process"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    for session in _LEFT_OPEN:
        terminalreporter.write_line(f"session left open on the test database: {session}")
    if broker_url():
        url = urlsplit(broker_url())  # without the password, if any
        celery = f"broker {url.scheme}://{url.hostname}:{url.port or ''}{url.path}"
    else:
        celery = "eager (no broker)"
    chromium = "present" if os.path.exists(CHROMIUM_PATH) else "absent"

    skipped_by_service = dict.fromkeys(NEEDS, 0)
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        for service, needs in NEEDS.items():
            if needs in reason:
                skipped_by_service[service] += 1
    skipped = ", ".join(f"{n} for lack of {s}" for s, n in skipped_by_service.items() if n)

    terminalreporter.write_line(
        f"carlit backends: database {database_label(config)}; celery {celery}; "
        f"chromium {chromium}; skipped: {skipped or 'none for lack of a service'}"
    )


@pytest.fixture(autouse=True)
def _celery_eager_unless_broker(request):
    """Run tasks in-process, as without a broker, except in tests marked ``broker``.

    With CELERY_BROKER_URL set, a task queued by an ordinary test would wait in Redis
    for a worker that the test run does not start; broker tests exercise Redis itself.
    """
    from carlit.celery import app

    if app.conf.task_always_eager or request.node.get_closest_marker("broker"):
        yield
        return
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _empty_cache(monkeypatch):
    """Start each test with Django's cache empty, and keep the vocabulary codes in it
    until a save drops them: reloaded after their five minutes, they would add five
    queries to a page whenever a slow test (a busy machine) outlasts them, and make
    query counts depend on timing. Saves still drop them, which tests do check."""
    from django.core.cache import cache

    from studies.filtersets import codes

    cache.clear()
    monkeypatch.setattr(codes, "CACHE_SECONDS", None)


@pytest.fixture
def chromium_path() -> str:
    """Where Debian's chromium is; tests using it are marked ``browser``."""
    return CHROMIUM_PATH


# Named people, shared by the curation, imports, links and discussion tests -------------
# Each holds the role the docstring says; passwords are unusable (client.force_login).


@pytest.fixture
def curator(db):
    """Alice curates: she starts extractions, imports files, proposes links."""
    from tests.factories import with_roles

    return with_roles("alice", "curator")


@pytest.fixture
def other_curator(db):
    """Carol curates too, on her own drafts; she never sees Alice's."""
    from tests.factories import with_roles

    return with_roles("carol", "curator")


@pytest.fixture
def reviewer(db):
    """Rita reviews other people's work (and cannot curate)."""
    from tests.factories import with_roles

    return with_roles("rita", "reviewer")


@pytest.fixture
def senior(db):
    """Sam curates and reviews (a senior curator holding both roles)."""
    from tests.factories import with_roles

    return with_roles("sam", "curator", "reviewer")


@pytest.fixture
def admin_user(db):
    """Ada holds the admin role: every curation permission."""
    from tests.factories import with_roles

    return with_roles("ada", "admin")


@pytest.fixture
def outsider(db):
    """Otto is signed in but has no role."""
    from tests.factories import UserFactory

    return UserFactory(username="otto")


@pytest.fixture
def api_for(db):
    """api_for(user) -> an API client sending user's token (None: anonymous)."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def client(user):
        api = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api

    return client


@pytest.fixture
def client_for(client):
    """client_for(user) -> the test client signed in as user (None: anonymous)."""

    def sign_in(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return sign_in
