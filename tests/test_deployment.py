"""The docker compose deployment, checked without Docker: its files are parsed and
compared with what the settings read and what the code serves."""

import ast
import json
import re
import shlex
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from carlit import health

PROJECT_DIR = Path(__file__).resolve().parent.parent
APP_SERVICES = ["web", "worker", "beat"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture
def unused_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_env_vars() -> set[str]:
    """Names of the environment variables carlit/settings.py reads."""
    tree = ast.parse((PROJECT_DIR / "carlit" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = ast.unparse(node.func)
        if func in {"os.environ.get", "os.getenv", "env_bool", "env_list"} and node.args:
            if isinstance(node.args[0], ast.Constant):  # not env_bool's own lookup
                names.add(node.args[0].value)
        names.update(kw.value.value for kw in node.keywords if kw.arg == "env")
    return names


def hostname(url: str) -> str | None:
    """The host of a URL in the compose file, once ${...} placeholders are filled in."""
    return urlsplit(re.sub(r"\$\{[^}]*\}", "placeholder", url)).hostname


def command_line(command) -> str:
    return command if isinstance(command, str) else shlex.join(command)


def healthcheck_line(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return command_line(test[1:] if test[0] in {"CMD", "CMD-SHELL"} else test)


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (PROJECT_DIR / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_compose_runs_the_five_services(services):
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"


def test_postgres_keeps_its_data_in_a_volume(compose, services):
    volume = services["postgres"]["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


def test_every_long_running_service_has_a_health_check(services):
    assert "pg_isready" in healthcheck_line(services["postgres"])
    assert healthcheck_line(services["redis"]) == "redis-cli ping"
    assert healthcheck_line(services["web"]) == "python -m carlit.health"
    assert "celery -A carlit inspect ping" in healthcheck_line(services["worker"])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_database_and_broker(services, name):
    assert services[name]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }


def test_web_worker_and_beat_share_one_image_and_one_configuration(services):
    web = services["web"]
    for name in ["worker", "beat"]:
        assert services[name]["build"] == web["build"] == "."
        assert services[name]["image"] == web["image"]
        assert services[name]["environment"] == web["environment"]


def test_the_commands_start_what_each_service_is_for(services):
    web = command_line(services["web"]["command"])
    assert web.index("manage.py migrate") < web.index("gunicorn carlit.wsgi:application")
    assert "--bind 0.0.0.0:8000" in web
    assert "--timeout 120" in web  # streamed exports of the whole catalogue
    assert command_line(services["worker"]["command"]).startswith("celery -A carlit worker")
    assert command_line(services["beat"]["command"]).startswith("celery -A carlit beat")


def test_compose_passes_only_variables_the_settings_read(services):
    passed = set(services["web"]["environment"])

    assert passed <= settings_env_vars(), passed - settings_env_vars()


def test_compose_runs_production_settings_against_its_own_services(services):
    environment = services["web"]["environment"]

    assert environment["DJANGO_DEBUG"] == "0"
    assert environment["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")
    assert environment["DJANGO_ALLOWED_HOSTS"].startswith("${DJANGO_ALLOWED_HOSTS:?")
    assert hostname(environment["DATABASE_URL"]) == "postgres"
    assert hostname(environment["CELERY_BROKER_URL"]) == "redis"
    assert hostname(environment["REDIS_CACHE_URL"]) == "redis"
    assert environment["CELERY_BROKER_URL"] != environment["REDIS_CACHE_URL"]


def test_the_image_serves_carlit_with_gunicorn_as_a_non_root_user():
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    runs = [value for keyword, value in instructions if keyword == "RUN"]
    cmd = json.loads(dict(instructions)["CMD"])
    last_user = [value for keyword, value in instructions if keyword == "USER"][-1]

    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert any(re.search(r"\bpip install \.", run) for run in runs)
    assert any("manage.py collectstatic" in run for run in runs)
    assert last_user not in {"root", "0"}
    assert keywords.index("USER") > len(keywords) - 1 - keywords[::-1].index("RUN")
    assert cmd[:2] == ["gunicorn", "carlit.wsgi:application"]
    assert cmd[cmd.index("--bind") + 1] == "0.0.0.0:8000"
    # Long enough for a streamed export of the whole catalogue (gunicorn's default is 30 s).
    assert int(cmd[cmd.index("--timeout") + 1]) >= 120


def test_the_build_context_leaves_out_local_state():
    ignored = set((PROJECT_DIR / ".dockerignore").read_text().split())

    assert {".git", ".venv", "db.sqlite3", ".env", "staticfiles"} <= ignored


def test_the_health_probe_asks_for_a_host_django_serves():
    assert health.probe_host("carlit.example.org,www.carlit.example.org") == "carlit.example.org"
    assert health.probe_host(" .example.org") == "example.org"
    assert health.probe_host("*") == "localhost"
    assert health.probe_host("") == "localhost"


def test_the_health_probe_listens_where_gunicorn_binds():
    probed = urlsplit(health.LOCAL_HEALTH_URL)

    assert probed.path == "/health/"
    assert probed.port == 8000


@pytest.mark.django_db(transaction=True)
def test_the_health_probe_passes_against_a_running_server(live_server):
    assert health.probe(f"{live_server.url}/health/", host="localhost")


def test_the_health_probe_fails_when_nothing_answers(unused_tcp_port):
    assert not health.probe(f"http://127.0.0.1:{unused_tcp_port}/health/", timeout=2)


def test_readme_documents_every_setting():
    readme = (PROJECT_DIR / "README.md").read_text()

    assert [name for name in sorted(settings_env_vars()) if f"`{name}`" not in readme] == []
