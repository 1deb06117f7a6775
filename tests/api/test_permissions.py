"""Who may do what, cell by cell: anonymous, curator (signed in, not staff) and staff,
for every endpoint and method. Until the curation workflow lands only staff write."""

import pytest

from studies.models import AdverseEvent, CarConstruct, OutcomeResult, Publication
from tests.factories import (
    AdverseEventFactory,
    ArmFactory,
    CarConstructFactory,
    PatientFactory,
    PatientResultFactory,
    PublicationFactory,
    StudyFactory,
)

from .conftest import token_client

ROLES = ("anonymous", "curator", "staff")
METHODS = ("list", "retrieve", "create", "update", "partial_update", "destroy")

# Expected status per endpoint: method -> (anonymous, curator, staff).
READ_WRITE = {
    "list": (200, 200, 200),
    "retrieve": (200, 200, 200),
    "create": (401, 403, 201),
    "update": (401, 403, 200),
    "partial_update": (401, 403, 200),
    "destroy": (401, 403, 204),
}
READ_ONLY = {
    "list": (200, 200, 200),
    "retrieve": (200, 200, 200),
    "create": (401, 403, 405),
    "update": (401, 403, 405),
    "partial_update": (401, 403, 405),
    "destroy": (401, 403, 405),
}
MATRIX = {
    "publications": READ_WRITE,
    "studies": READ_WRITE,
    "constructs": READ_WRITE,
    "arms": READ_WRITE,
    "patients": READ_WRITE,
    "outcomes": READ_WRITE,
    "adverse-events": READ_WRITE,
    "diseases": READ_ONLY,
    "antigens": READ_ONLY,
    "measures": READ_ONLY,
}
SOURCE = {"source_kind": "table", "source_label": "Table 2"}


def _cases():
    for endpoint, expected in MATRIX.items():
        for method in METHODS:
            for role, status in zip(ROLES, expected[method], strict=True):
                yield pytest.param(
                    endpoint, method, role, status, id=f"{endpoint}-{method}-{role}-{status}"
                )


@pytest.fixture
def world(erlangen, sle):
    """For each endpoint: a row to read and change, a fresh row to delete, and input."""
    publication = erlangen["publication"]
    arm = erlangen["arm"]
    patient = erlangen["patients"][0]
    source = {**SOURCE, "source_publication": publication.pk}
    spare_arm = ArmFactory(
        study=erlangen["study"], label="Spare", disease=sle, source_publication=publication
    )
    return {
        "publications": {
            "lookup": publication.pk,
            "fresh": lambda: PublicationFactory().pk,
            "create": {"doi": "10.5555/new.paper", "year": 2024, "publication_type": "letter"},
            "update": {
                "doi": "10.5555/erlangen.2022",
                "year": 2022,
                "title": "Renamed",
                "publication_type": "article",
                "pmid": 35000001,
            },
            "partial_update": {"journal": "Renamed Journal"},
        },
        "studies": {
            "lookup": erlangen["study"].pk,
            "fresh": lambda: StudyFactory().pk,
            "create": {"title": "A new cohort", "design": "cohort", "countries": ["DE"]},
            "update": {"title": "Erlangen, renamed", "design": "cohort", "phase": "1"},
            "partial_update": {"sponsor": "University Hospital Erlangen"},
        },
        "constructs": {
            "lookup": erlangen["construct"].pk,
            "fresh": lambda: CarConstructFactory().pk,
            "create": {"name": "NEW-CAR19", "targets": ["cd19"], "aliases": ["NC-19"]},
            "update": {"name": "MB-CART19.1 (test)", "targets": ["cd19", "bcma"]},
            "partial_update": {"developer": "Miltenyi Biomedicine"},
        },
        "arms": {
            "lookup": arm.pk,
            "fresh": lambda: (
                ArmFactory(study=erlangen["study"], disease=sle, source_publication=publication).pk
            ),
            "create": {"study": erlangen["study"].pk, "label": "SSc", "disease": "ssc", **source},
            "update": {
                "study": erlangen["study"].pk,
                "label": "SLE",
                "disease": "sle",
                "n_patients": 5,
                **source,
            },
            "partial_update": {"n_patients": 3},
        },
        "patients": {
            "lookup": patient.pk,
            "fresh": lambda: PatientFactory(arm=spare_arm).pk,
            "create": {
                "arm": arm.pk,
                "label": "Patient 9",
                "primary_disease": "sle",
                "age_years": 24,
                **source,
            },
            "update": {
                "arm": arm.pk,
                "label": "Patient 1",
                "primary_disease": "sle",
                "sex": "male",
                **source,
            },
            "partial_update": {"follow_up_days": 700},
        },
        "outcomes": {
            "lookup": OutcomeResult.objects.filter(patient=patient).first().pk,
            "fresh": lambda: PatientResultFactory(patient=PatientFactory(arm=spare_arm)).pk,
            "create": {
                "patient": patient.pk,
                "measure": "sledai-2k",
                "timepoint": "day",
                "day": 180,
                "value": 0,
                **source,
            },
            "update": {
                "patient": patient.pk,
                "measure": "sledai-2k",
                "timepoint": "day",
                "day": 91,
                "value": 1,
                **source,
            },
            "partial_update": {"value": 2},
        },
        "adverse-events": {
            "lookup": AdverseEvent.objects.filter(arm=arm).first().pk,
            "fresh": lambda: AdverseEventFactory(arm=spare_arm).pk,
            "create": {
                "arm": arm.pk,
                "event_type": "icans",
                "n_affected": 0,
                "n_evaluable": 2,
                **source,
            },
            "update": {
                "arm": arm.pk,
                "event_type": "crs",
                "grading_system": "astct",
                "grade": 1,
                "n_affected": 2,
                "n_evaluable": 2,
                **source,
            },
            "partial_update": {"term": "cytokine release syndrome"},
        },
        "diseases": {"lookup": "sle"},
        "antigens": {"lookup": "cd19"},
        "measures": {"lookup": "doris"},
    }


@pytest.fixture
def clients(curator, staff):
    return {
        "anonymous": token_client(),
        "curator": token_client(curator),
        "staff": token_client(staff),
    }


@pytest.mark.parametrize(("endpoint", "method", "role", "expected"), list(_cases()))
def test_permission_matrix(world, clients, endpoint, method, role, expected):
    client = clients[role]
    resource = world[endpoint]
    collection = f"/api/v1/{endpoint}/"
    if method == "destroy" and "fresh" in resource:
        detail = f"{collection}{resource['fresh']()}/"
    else:
        detail = f"{collection}{resource['lookup']}/"
    body = resource.get(method, {})
    response = {
        "list": lambda: client.get(collection),
        "retrieve": lambda: client.get(detail),
        "create": lambda: client.post(collection, body, format="json"),
        "update": lambda: client.put(detail, body, format="json"),
        "partial_update": lambda: client.patch(detail, body, format="json"),
        "destroy": lambda: client.delete(detail),
    }[method]()
    assert response.status_code == expected, response.content


@pytest.mark.parametrize(
    ("role", "expected"), [("anonymous", 200), ("curator", 200), ("staff", 200)]
)
def test_summaries_are_read_only_for_all(erlangen, clients, role, expected):
    client = clients[role]
    assert client.get("/api/v1/summaries/").status_code == expected
    assert (
        client.post("/api/v1/summaries/", {}, format="json").status_code
        == {"anonymous": 401, "curator": 403, "staff": 405}[role]
    )


@pytest.mark.parametrize(
    ("role", "expected"), [("anonymous", 401), ("curator", 403), ("staff", 400)]
)
def test_only_staff_may_import_bundles(db, clients, role, expected):
    response = clients[role].post("/api/v1/bundles/", {"format": "nope"}, format="json")
    assert response.status_code == expected


@pytest.mark.parametrize("role", ROLES)
def test_everyone_may_export_bundles_and_read_the_schema(erlangen, clients, role):
    client = clients[role]
    publication = erlangen["publication"].pk
    assert client.get(f"/api/v1/bundles/{publication}/").status_code == 200
    assert client.get("/api/v1/bundles/schema.json").status_code == 200
    assert client.get("/api/v1/schema/").status_code == 200


def test_a_wrong_token_is_refused_even_for_reads(db):
    client = token_client()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/studies/").status_code == 401


def test_rows_changed_by_staff_count_as_theirs_only_when_created(world, clients, staff):
    clients["staff"].post("/api/v1/constructs/", world["constructs"]["create"], format="json")
    assert CarConstruct.objects.get(name="NEW-CAR19").created_by == staff
    clients["staff"].patch(
        f"/api/v1/publications/{world['publications']['lookup']}/", {"journal": "J"}, format="json"
    )
    assert Publication.objects.get(pk=world["publications"]["lookup"]).created_by != staff
