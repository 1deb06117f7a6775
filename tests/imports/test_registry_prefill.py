"""A curator fills a study of a draft from an imported registry record instead of
retyping it: through the service and the workspace page."""

import pytest

from curation.models import Extraction
from curation.services import (
    ExtractionForbidden,
    ExtractionRefused,
    StaleVersion,
    extraction_add_registry_study,
    extraction_create,
    extraction_save,
)
from imports.services import import_confirm
from tests.curation.forms_data import workspace_data

from .samples import ctgov_page, ctgov_study


@pytest.fixture
def records(curator):
    """Two imported ClinicalTrials.gov records: NCT09000001 (CASTLE-X) and NCT09000002."""
    second = ctgov_study("NCT09000002", countries=["France"])
    second["protocolSection"]["identificationModule"].pop("acronym")
    import_confirm(user=curator, content=ctgov_page(ctgov_study(), second))


@pytest.fixture
def draft(curator, records):
    return extraction_create(curator=curator, citation={
        "doi": "10.5555/registry-prefill", "year": 2024, "publication_type": "article",
    })


def add(draft, user, registry_id="NCT09000001", version=None):
    return extraction_add_registry_study(
        extraction_id=draft.pk, user=user, registry_id=registry_id,
        version=draft.version if version is None else version,
    )


def studies_of(draft) -> list[dict]:
    return Extraction.objects.get(pk=draft.pk).payload["studies"]


def test_it_adds_the_registry_record_as_a_study(draft, curator):
    extraction, record = add(draft, curator, registry_id=" nct09000001 ")
    assert extraction.version == draft.version + 1
    (study,) = studies_of(draft)
    assert study["key"] == "CASTLE-X"
    assert study["registry_ids"] == [{"registry": "nct", "identifier": "NCT09000001"}]
    assert study["title"].startswith("A Phase 1/2 Study of Autologous CD19 CAR T Cells")
    assert study["design"] == "trial"
    assert study["phase"] == "1_2"
    assert study["status"] == "recruiting"
    assert study["sponsor"] == "Example University Hospital"
    assert study["countries"] == ["CN", "DE"]
    assert (study["start_date"], study["completion_date"]) == ("2023-03-01", "2026-12-31")
    # Conditions stay on the record for the curator to turn into arms with sources.
    assert sorted(disease.code for disease in record.diseases.all()) == [
        "lupus-nephritis", "sle"
    ]


def test_it_gives_each_added_study_its_own_key(draft, curator):
    payload = {**draft.payload, "studies": [{"key": "CASTLE-X", "title": "Another study",
                                             "design": "cohort"}]}
    draft = extraction_save(extraction_id=draft.pk, user=curator, payload=payload,
                            version=draft.version)
    draft, _ = add(draft, curator)
    add(draft, curator, registry_id="NCT09000002")
    assert [study["key"] for study in studies_of(draft)] == [
        "CASTLE-X", "CASTLE-X-2", "NCT09000002"
    ]


def test_it_refuses_an_unknown_registry_id_and_saves_nothing(draft, curator):
    with pytest.raises(ExtractionRefused, match="No imported registry record has the id "
                       "NCT09999999"):
        add(draft, curator, registry_id="NCT09999999")
    assert Extraction.objects.get(pk=draft.pk).version == draft.version
    assert studies_of(draft) == []


def test_it_refuses_a_study_already_in_the_payload(draft, curator):
    draft, _ = add(draft, curator)
    with pytest.raises(ExtractionRefused, match="already has the registry id NCT09000001"):
        add(draft, curator)
    assert len(studies_of(draft)) == 1
    assert Extraction.objects.get(pk=draft.pk).version == draft.version


def test_another_curator_cannot_add_a_study(draft, other_curator):
    with pytest.raises(ExtractionForbidden):
        add(draft, other_curator)
    assert studies_of(draft) == []


def test_it_rejects_stale_edit(draft, curator):
    opened = draft.version
    extraction_save(extraction_id=draft.pk, user=curator, payload=draft.payload,
                    version=opened)
    with pytest.raises(StaleVersion, match=f"you had version {opened}"):
        add(draft, curator, version=opened)
    assert studies_of(draft) == []


def test_the_workspace_saves_the_typing_then_adds_the_study(
    client_for, draft, curator, other_curator
):
    url = draft.get_absolute_url()
    client = client_for(curator)
    page = client.get(url).content.decode()
    assert 'id="registry-study"' in page and '<option value="NCT09000002">' in page

    # The curator typed a journal and, without saving, adds a study: both are kept.
    data = workspace_data(draft, **{"publication-journal": "Lupus Science & Medicine",
                                    "action": "add_registry_study",
                                    "registry_id": "NCT09000001"})
    page = client.post(url, data, follow=True).content.decode()
    assert "the study NCT09000001 added" in page
    assert "Lupus Nephritis" in page and "(sle)" in page
    saved = Extraction.objects.get(pk=draft.pk)
    assert saved.payload["publication"]["journal"] == "Lupus Science & Medicine"
    assert [study["key"] for study in saved.payload["studies"]] == ["CASTLE-X"]

    # An unknown id: the typing is still saved, the refusal says why.
    data = workspace_data(saved, **{"publication-journal": "Lupus", "action":
                                    "add_registry_study", "registry_id": "NCT00000000"})
    page = client.post(url, data, follow=True).content.decode()
    assert "no study was added: No imported registry record has the id NCT00000000" in page
    saved = Extraction.objects.get(pk=draft.pk)
    assert saved.payload["publication"]["journal"] == "Lupus"
    assert len(saved.payload["studies"]) == 1

    # Curators extract blind: another curator's draft does not exist for them.
    data = workspace_data(saved, action="add_registry_study", registry_id="NCT09000002")
    assert client_for(other_curator).post(url, data).status_code == 404
    assert len(studies_of(draft)) == 1
