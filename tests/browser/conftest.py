"""Playwright (sync API) driving Debian's chromium against pytest-django's live server.

Each test gets a fresh browser context and page, with the demo data loaded, and leaves
a full-page screenshot in test-results/screenshots/ (CI keeps that folder)."""

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections

from tests.conftest import CHROMIUM_PATH

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# The test database's serialized contents (the vocabularies seeded by migrations), kept
# from before Playwright starts; see _serialized_rollback_under_playwright.
_SERIALIZED: dict[str, str] = {}


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    for alias in connections:
        contents = getattr(connections[alias], "_test_serialized_contents", None)
        if contents is not None:
            _SERIALIZED[alias] = contents
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # Tests ran in Playwright's context (see below), whose connections pytest-django
        # cannot see when it drops the test database at the end: one left open there
        # made it warn that the database was "being accessed by other users". Closed
        # here, in that context, and again once Playwright has handed back its own.
        connections.close_all()
    connections.close_all()


@pytest.fixture(autouse=True)
def _serialized_rollback_under_playwright(request):
    """Restore the migrated data for serialized_rollback tests once Playwright runs.

    Playwright's sync API runs the test code in another context, where Django's
    (context-local) connection objects are new ones that no longer carry the copy of
    the database taken at its creation, so pytest-django cannot restore it. This
    fixture runs after pytest-django's set-up and restores it from the saved copy."""
    marker = request.node.get_closest_marker("django_db")
    if not marker or not marker.kwargs.get("serialized_rollback"):
        return
    for alias, contents in _SERIALIZED.items():
        connection = connections[alias]
        if not hasattr(connection, "_test_serialized_contents"):
            connection._test_serialized_contents = contents
            connection.creation.deserialize_db_from_string(contents)


def _screenshot_name(request) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:120] + ".png"


@pytest.fixture
def page_for(browser, request):
    """page_for(java_script_enabled=...) -> a new page; each is screenshotted at the end."""
    contexts = []

    def open_page(**options):
        options = {"viewport": {"width": 1280, "height": 900}, "accept_downloads": True, **options}
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for number, context in enumerate(contexts):
        for page in context.pages:
            suffix = f"-{number}" if number else ""
            path = SCREENSHOTS / _screenshot_name(request).replace(".png", f"{suffix}.png")
            try:
                page.screenshot(path=str(path), full_page=True)
            except Exception:  # a crashed page must not hide the test's own failure
                pass
        context.close()


@pytest.fixture
def page(page_for):
    return page_for()


@pytest.fixture
def demo(live_server):
    """The demo data set, loaded into the database the live server reads."""
    call_command("load_demo", stdout=io.StringIO())
    return live_server
