"""The OpenAPI schema: complete, valid, served with an offline docs page, and true to
the API's behaviour (schemathesis fuzzes every operation against it)."""

import os
from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import token_client

CASES_PER_OPERATION = 50
RESOURCES = [
    "publications",
    "studies",
    "constructs",
    "arms",
    "patients",
    "outcomes",
    "adverse-events",
    "diseases",
    "antigens",
    "measures",
    "summaries",
]


@pytest.fixture
def openapi(anonymous_client, db):
    response = anonymous_client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_every_resource_and_bundle_endpoint_is_documented(openapi):
    paths = openapi["paths"]
    for resource in RESOURCES:
        assert f"/api/v1/{resource}/" in paths, resource
    assert {
        "/api/v1/bundles/",
        "/api/v1/bundles/{publication}/",
        "/api/v1/bundles/schema.json",
    } <= set(paths)
    studies = paths["/api/v1/studies/"]["get"]
    parameters = {p["name"] for p in studies["parameters"]}
    assert {
        "cursor",
        "page_size",
        "ordering",
        "search",
        "disease",
        "target",
        "construct",
        "phase",
        "year_min",
        "year_max",
        "registry_id",
        "doi",
        "pmid",
        "format",
    } <= parameters
    assert {"200", "400", "401", "404", "429"} <= set(studies["responses"])
    assert "text/csv" in studies["responses"]["200"]["content"]


def test_errors_and_conditional_requests_are_documented(openapi):
    detail = openapi["paths"]["/api/v1/publications/{id}/"]
    assert {"200", "304", "404"} <= set(detail["get"]["responses"])
    assert "ETag" in detail["get"]["responses"]["200"]["headers"]
    assert {"If-Match"} <= {p["name"] for p in detail["patch"]["parameters"]}
    assert {"400", "401", "403", "412"} <= set(detail["patch"]["responses"])
    assert {"409", "412"} <= set(detail["delete"]["responses"])
    throttled = detail["get"]["responses"]["429"]
    assert "Retry-After" in throttled["headers"]
    assert "Link" in openapi["paths"]["/api/v1/studies/"]["get"]["responses"]["200"]["headers"]


def test_server_owned_fields_are_not_input(openapi):
    schemas = openapi["components"]["schemas"]
    for name in (
        "PublicationWriteRequest",
        "StudyWriteRequest",
        "PatientWriteRequest",
        "OutcomeWriteRequest",
    ):
        fields = set(schemas[name]["properties"])
        assert not fields & {"id", "created_by", "created_at", "updated_at"}, name


def test_the_docs_page_works_offline(anonymous_client, db):
    response = anonymous_client.get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/api/v1/schema/" in page
    assert "swagger-ui" in page
    for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs"):
        assert cdn not in page
    assert "/static/drf_spectacular_sidecar/" in page


# Schemathesis ---------------------------------------------------------------------------


# Loaded at import (schemathesis' lazy fixture loader does not work with this pytest);
# the schema view needs no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
cases_seen: Counter = Counter()


@pytest.fixture
def staff_token(staff) -> str:
    return token_client(staff)._credentials["HTTP_AUTHORIZATION"]


@pytest.fixture
def keep_test_connection():
    """Requests go straight to the WSGI app, whose request signals would close the
    database connection holding the test's transaction; Django's test client
    disconnects them in the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Fuzzing generates CASES_PER_OPERATION cases per operation. CARLIT_SCHEMATHESIS_FULL=1
# adds schemathesis' coverage phase (boundary values and malformed input for every
# parameter: thousands more cases, several minutes).
PHASES = [Phase.generate]
if os.environ.get("CARLIT_SCHEMATHESIS_FULL"):
    PHASES.insert(0, Phase.explicit)


@schema.parametrize()
@settings(
    max_examples=CASES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,
    phases=PHASES,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_the_promises_of_its_schema(
    case, erlangen, staff_token, keep_test_connection
):
    """Every operation, called with a staff token (so that writes run too) over a
    small data set: no 5xx, no undocumented status, header or body."""
    cases_seen[case.operation.label] += 1
    case.call_and_validate(
        headers={"Authorization": staff_token},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )


def test_schemathesis_generated_enough_cases_for_every_operation(openapi):
    """Runs after the fuzzing test above (same module, collection order)."""
    if not cases_seen:
        pytest.skip("the schemathesis test did not run in this session")
    operations = {
        f"{method.upper()} {path}" for path, item in openapi["paths"].items() for method in item
    }
    assert operations <= set(cases_seen), operations - set(cases_seen)
    print(sorted(cases_seen.items(), key=lambda kv: kv[1]))
    assert min(cases_seen.values()) >= CASES_PER_OPERATION, cases_seen.most_common()[-5:]
