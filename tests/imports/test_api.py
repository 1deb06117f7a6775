"""POST /api/v1/imports/preview/ and /api/v1/imports/confirm/ with a token."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from curation.models import Extraction
from imports.models import RegistryRecord
from tests.factories import PublicationFactory

from .samples import BILLION_LAUGHS, MULLER_DOI, RIS_THREE, ctgov_page, ctgov_study

PREVIEW = "/api/v1/imports/preview/"
CONFIRM = "/api/v1/imports/confirm/"


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def send(client, url, content: bytes, name="refs.ris", **data):
    return client.post(url, {"file": SimpleUploadedFile(name, content), **data},
                       format="multipart")


def test_preview_then_confirm(curator):
    PublicationFactory(doi=MULLER_DOI.lower())
    client = api(curator)
    response = send(client, PREVIEW, RIS_THREE)
    assert response.status_code == 200
    body = response.json()
    assert body["format"] == "ris"
    assert body["counts"] == {"new": 2, "matches": 1, "invalid": 0}
    assert [row["line"] for row in body["records"]] == [1, 18, 30]
    assert body["records"][1]["status"] == "match"
    assert body["records"][1]["existing"]["url"].startswith("/curation/history/publication/")
    assert Extraction.objects.count() == 0

    response = send(client, CONFIRM, RIS_THREE, format="ris")
    assert response.status_code == 201
    body = response.json()
    assert len(body["extractions"]) == 2
    assert Extraction.objects.filter(curator=curator).count() == 2
    again = send(client, CONFIRM, RIS_THREE).json()
    assert again["counts"] == {"new": 0, "matches": 3, "invalid": 0}
    assert again["extractions"] == []


def test_registry_records_over_the_api(curator):
    page = ctgov_page(ctgov_study(), ctgov_study("NCT09000002", phases=["PHASE4"]))
    response = send(api(curator), CONFIRM, page, name="page.json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{
        "line": None, "record": 2, "field": "protocolSection.designModule.phases",
        "message": "No carlit phase for PHASE4.",
    }]
    assert RegistryRecord.objects.count() == 0
    response = send(api(curator), CONFIRM, ctgov_page(ctgov_study()), name="page.json")
    assert response.status_code == 201
    assert response.json()["registry_records"][0]["identifier"] == "NCT09000001"


def test_a_refused_xml_file_is_a_400_naming_why(curator):
    response = send(api(curator), PREVIEW, BILLION_LAUGHS, name="pubmed.xml")
    assert response.status_code == 400
    assert "declares the XML entity 'lol'" in response.json()["detail"]


def test_a_malformed_file_names_its_line(curator):
    broken = RIS_THREE.replace(b"VL  - 390\n", b"VL  - 390\noops\n")
    response = send(api(curator), CONFIRM, broken)
    assert response.status_code == 400
    assert response.json()["errors"][0]["line"] == 25
    assert Extraction.objects.count() == 0


def test_missing_file_and_unknown_format(curator):
    response = api(curator).post(PREVIEW, {"format": "endnote"}, format="multipart")
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"file", "format"}


def test_the_size_limit(curator, settings):
    settings.IMPORTS_MAX_UPLOAD_BYTES = 512
    response = send(api(curator), PREVIEW, json.dumps(ctgov_study()).encode(), name="s.json")
    assert response.status_code == 413
    assert response.json()["detail"].endswith("the limit is 512 bytes.")


@pytest.mark.parametrize("who", [None, "reviewer", "outsider"])
def test_only_curators(db, request, who):
    user = request.getfixturevalue(who) if who else None
    response = send(api(user), CONFIRM, RIS_THREE)
    assert response.status_code == (401 if user is None else 403)
    assert Extraction.objects.count() == 0


def test_the_endpoints_are_in_the_schema(client, db):
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]
    for path in (PREVIEW, CONFIRM):
        operation = paths[path]["post"]
        assert "multipart/form-data" in operation["requestBody"]["content"]
        assert {"400", "401", "403", "413"} <= set(operation["responses"])
