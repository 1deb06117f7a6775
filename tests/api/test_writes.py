"""Writing through the API: the model's own validation, server-owned fields, and no
lost updates (ETag / If-Match / If-None-Match)."""

from datetime import UTC, datetime

import pytest

from studies.models import Arm, OutcomeResult, Patient, Publication, Study

SOURCE = {"source_kind": "table", "source_label": "Table 2"}


@pytest.fixture
def patient(erlangen):
    return erlangen["patients"][0]


def test_a_value_outside_the_measure_range_gets_the_models_message(staff_client, patient):
    body = {
        "patient": patient.pk,
        "measure": "sledai-2k",
        "timepoint": "day",
        "day": 30,
        "value": 120,
        "source_publication": patient.source_publication_id,
        **SOURCE,
    }
    response = staff_client.post("/api/v1/outcomes/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"value": ["120 is outside SLEDAI-2K's range 0–105"]}
    assert not OutcomeResult.objects.filter(day=30).exists()


def test_cross_field_rules_of_the_model_apply(staff_client, erlangen, patient):
    body = {
        "patient": patient.pk,
        "arm": erlangen["arm"].pk,
        "measure": "doris",
        "timepoint": "day",
        "day": 30,
        "value_bool": True,
        "source_publication": patient.source_publication_id,
        **SOURCE,
    }
    response = staff_client.post("/api/v1/outcomes/", body, format="json")
    assert response.status_code == 400
    assert "patient" in response.json()


def test_a_patient_needs_a_publication_that_reports_the_study(staff_client, erlangen):
    from tests.factories import PublicationFactory

    other = PublicationFactory()
    body = {
        "arm": erlangen["arm"].pk,
        "label": "Patient 7",
        "primary_disease": "sle",
        "source_publication": other.pk,
        **SOURCE,
    }
    response = staff_client.post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400
    assert "source_publication" in response.json()


def test_server_owned_fields_are_ignored(staff_client, staff, erlangen):
    long_ago = "2001-01-01T00:00:00Z"
    body = {
        "title": "Server-owned",
        "design": "case",
        "created_at": long_ago,
        "updated_at": long_ago,
        "created_by": erlangen["publication"].created_by_id,
        "id": 99999,
    }
    response = staff_client.post("/api/v1/studies/", body, format="json")
    assert response.status_code == 201
    study = Study.objects.get(title="Server-owned")
    assert study.created_by == staff
    assert study.pk != 99999
    assert study.created_at > datetime(2020, 1, 1, tzinfo=UTC)
    assert response.json()["created_at"] != long_ago


def test_create_answers_with_the_row_location_and_etag(staff_client):
    response = staff_client.post(
        "/api/v1/publications/",
        {"doi": "HTTPS://doi.org/10.5555/NEW", "year": 2025, "publication_type": "preprint"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["doi"] == "10.5555/new"
    assert response["ETag"]
    assert response["Location"].endswith(f"/api/v1/publications/{response.json()['id']}/")


def test_study_write_links_reports_and_registry_ids(staff_client, erlangen):
    study = erlangen["study"]
    response = staff_client.patch(
        f"/api/v1/studies/{study.pk}/",
        {
            "registry_ids": [{"registry": "nct", "identifier": "nct05000002"}],
            "reports": [{"publication": erlangen["publication"].pk, "data_cutoff": "2023-06-30"}],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["registry_ids"] == [{"registry": "nct", "identifier": "NCT05000002"}]
    assert response.json()["reports"][0]["data_cutoff"] == "2023-06-30"


def test_arm_products_are_replaced_and_checked(staff_client, erlangen):
    arm = erlangen["arm"]
    construct = erlangen["construct"].pk
    response = staff_client.patch(
        f"/api/v1/arms/{arm.pk}/",
        {"products": [{"construct": construct, "dose_value": 1000000}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"products": [{"non_field_errors": ["A dose needs its unit."]}]}
    response = staff_client.patch(
        f"/api/v1/arms/{arm.pk}/",
        {"products": [{"construct": construct, "dose_value": 500000, "dose_unit": "cells_per_kg"}]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["products"][0]["dose_value"] == 500000


# No lost updates -----------------------------------------------------------------------------


def test_detail_carries_an_etag_and_if_none_match_gives_304(anonymous_client, erlangen):
    url = f"/api/v1/studies/{erlangen['study'].pk}/"
    etag = anonymous_client.get(url)["ETag"]
    response = anonymous_client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response.content == b""
    assert anonymous_client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_the_study_etag_follows_its_nested_rows(anonymous_client, staff_client, erlangen):
    url = f"/api/v1/studies/{erlangen['study'].pk}/"
    before = anonymous_client.get(url)["ETag"]
    staff_client.patch(f"/api/v1/arms/{erlangen['arm'].pk}/", {"n_patients": 9}, format="json")
    assert anonymous_client.get(url)["ETag"] != before


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_stale_if_match_gets_412_and_changes_nothing(staff_client, erlangen, method):
    publication = erlangen["publication"]
    url = f"/api/v1/publications/{publication.pk}/"
    stale = staff_client.get(url)["ETag"]
    staff_client.patch(url, {"journal": "Someone else's edit"}, format="json")
    before = Publication.objects.values().get(pk=publication.pk)
    body = {
        "doi": publication.doi,
        "year": 2022,
        "publication_type": "article",
        "journal": "My edit",
    }
    call = getattr(staff_client, method)
    response = (
        call(url, body, format="json", HTTP_IF_MATCH=stale)
        if method != "delete"
        else (call(url, HTTP_IF_MATCH=stale))
    )
    assert response.status_code == 412
    assert Publication.objects.values().get(pk=publication.pk) == before


def test_a_current_if_match_lets_the_write_through(staff_client, erlangen):
    url = f"/api/v1/patients/{erlangen['patients'][0].pk}/"
    etag = staff_client.get(url)["ETag"]
    response = staff_client.patch(url, {"follow_up_days": 365}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert Patient.objects.get(pk=erlangen["patients"][0].pk).follow_up_days == 365
    assert (
        staff_client.patch(
            url, {"follow_up_days": 1}, format="json", HTTP_IF_MATCH=etag
        ).status_code
        == 412
    )


def test_deleting_a_row_others_refer_to_is_a_409(staff_client, erlangen):
    response = staff_client.delete(f"/api/v1/arms/{erlangen['arm'].pk}/")
    assert response.status_code == 409
    assert Arm.objects.filter(pk=erlangen["arm"].pk).exists()


def test_products_written_through_the_api_are_found_by_search(staff_client, erlangen):
    from tests.factories import CarConstructFactory

    construct = CarConstructFactory(name="FINDME-CAR19")
    arm = erlangen["arm"]
    response = staff_client.patch(
        f"/api/v1/arms/{arm.pk}/",
        {"products": [{"construct": construct.pk, "dose_value": 500000,
                       "dose_unit": "cells_per_kg"}]},
        format="json",
    )
    assert response.status_code == 200

    found = staff_client.get("/api/v1/studies/", {"search": "FINDME-CAR19"}).json()

    assert [row["id"] for row in found["results"]] == [arm.study_id]


def test_products_written_through_the_api_reach_the_catalogue_facets(staff_client, erlangen):
    from studies.facet_values import untag
    from studies.models import StudyFacets
    from tests.factories import CarConstructFactory

    construct = CarConstructFactory(name="FACET-CAR", cell_source="allogeneic")
    arm = erlangen["arm"]
    response = staff_client.patch(
        f"/api/v1/arms/{arm.pk}/",
        {"products": [{"construct": construct.pk, "dose_value": 500000,
                       "dose_unit": "cells_per_kg"}]},
        format="json",
    )
    assert response.status_code == 200

    stored = untag(StudyFacets.objects.get(study_id=arm.study_id).tags)
    assert stored["construct"] == [str(construct.pk)]
    assert stored["cell_source"] == ["allogeneic"]
