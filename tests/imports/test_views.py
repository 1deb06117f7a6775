"""The import pages: upload, preview, confirm, result; who may use them."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from curation.models import Extraction
from imports.models import RegistryRecord
from tests.factories import PublicationFactory

from .samples import BIBTEX, MULLER_DOI, RIS_THREE, ctgov_study

UPLOAD = "/curation/import/"


def upload(client, content: bytes, name: str = "refs.ris", import_format: str = ""):
    return client.post(UPLOAD, {
        "import_format": import_format,
        "file": SimpleUploadedFile(name, content),
    })


def test_a_curator_previews_confirms_and_sees_the_drafts(client_for, curator):
    PublicationFactory(doi=MULLER_DOI.lower())
    client = client_for(curator)
    assert "Import citations or registry records" in client.get("/curation/").content.decode()
    response = upload(client, RIS_THREE)
    assert response.status_code == 302
    preview_url = response["Location"]
    page = client.get(preview_url).content.decode()
    assert 'data-import-count="new">2<' in page
    assert 'data-import-count="matches">1<' in page
    assert 'data-import-count="invalid">0<' in page
    assert "line 18" in page and "in the catalogue" in page
    assert Extraction.objects.count() == 0

    response = client.post(preview_url + "confirm/")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "2 draft extractions and 0 registry records created" in page
    for extraction in Extraction.objects.all():
        assert extraction.get_absolute_url() in page
    # Confirming twice (a second click, the back button) writes nothing more.
    response = client.post(preview_url + "confirm/", follow=True)
    assert "already confirmed" in response.content.decode()
    assert Extraction.objects.count() == 2


def test_invalid_records_are_listed_and_cannot_be_confirmed(client_for, curator):
    client = client_for(curator)
    broken = BIBTEX.replace(b"  year      = {2024},", b"  year      = {next year},")
    preview_url = upload(client, broken, "refs.bib")["Location"]
    page = client.get(preview_url).content.decode()
    assert 'data-import-count="invalid">1<' in page
    assert "Record 2, line 21, field year: &#x27;next year&#x27; has no year." in page
    assert "import-confirm" not in page
    response = client.post(preview_url + "confirm/", follow=True)
    assert "Nothing was imported: 1 record is invalid." in response.content.decode()
    assert Extraction.objects.count() == 0


def test_a_malformed_file_is_refused_on_the_upload_page(client_for, curator):
    client = client_for(curator)
    response = upload(client, RIS_THREE.replace(b"VL  - 390\n", b"VL  - 390\noops\n"))
    assert response.status_code == 200
    assert "The file could not be read (line 25): Not a RIS line" in response.content.decode()


def test_a_registry_record_preview_and_page(client_for, curator):
    client = client_for(curator)
    preview_url = upload(client, json.dumps(ctgov_study()).encode(), "study.json")["Location"]
    page = client.get(preview_url).content.decode()
    assert "record 1" in page and "NCT09000001" in page
    assert "Phase 1/2 · Recruiting · Example University Hospital · DE, CN" in page
    client.post(preview_url + "confirm/")
    record = RegistryRecord.objects.get()
    page = client.get(record.get_absolute_url()).content.decode()
    assert "China, Germany" in page and "2023-03-01" in page
    assert "&quot;registry_ids&quot;" in page


def test_the_size_limit_is_named_on_the_form(client_for, curator, settings):
    settings.IMPORTS_MAX_UPLOAD_BYTES = 512
    response = upload(client_for(curator), RIS_THREE)
    assert "The file is 930 bytes; the limit is 512 bytes." in response.content.decode()


def test_an_unknown_format_is_refused(client_for, curator):
    response = upload(client_for(curator), b"just some notes", "notes.txt")
    assert "Cannot tell the format of &#x27;notes.txt&#x27;" in response.content.decode()


def test_a_stale_preview_link_asks_for_the_file_again(client_for, curator):
    response = client_for(curator).get(UPLOAD + "not-a-key/", follow=True)
    assert "no longer current" in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(UPLOAD)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("who", ["reviewer", "outsider"])
def test_only_curators_may_import(client_for, request, who):
    client = client_for(request.getfixturevalue(who))
    assert client.get(UPLOAD).status_code == 403
    assert upload(client, RIS_THREE).status_code == 403
    assert Extraction.objects.count() == 0
