"""Reading the API as an analyst would: lists, filters, paging, CSV, study detail."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from studies.api import pagination
from studies.models import OutcomeResult, Study
from summaries.services import full_rebuild, refresh_keys
from tests.factories import (
    ArmFactory,
    ArmProductFactory,
    CarConstructFactory,
    OutcomeResultFactory,
    PatientAdverseEventFactory,
    PatientFactory,
    PatientResultFactory,
    PublicationFactory,
    StudyFactory,
)

LIST_ENDPOINTS = [
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
def three_studies(erlangen, sle, cd19, sledai, doris):
    """Two more studies like the Erlangen one, so that every list has several rows."""
    for n in (1, 2):
        publication = PublicationFactory(year=2023 + n, authors=[f"Author{n}"])
        arm = ArmFactory(study=StudyFactory(), disease=sle, source_publication=publication)
        ArmProductFactory(arm=arm, construct=CarConstructFactory(targets=[cd19]))
        for label in ("Patient 1", "Patient 2"):
            patient = PatientFactory(arm=arm, label=label)
            PatientResultFactory(patient=patient, measure=sledai, value=3)
            PatientAdverseEventFactory(patient=patient)
        OutcomeResultFactory(arm=arm, measure=doris)
    return erlangen


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
def test_list_costs_the_same_queries_for_1_and_100_rows(anonymous_client, three_studies, endpoint):
    one = queries_for(anonymous_client, f"/api/v1/{endpoint}/?page_size=1")
    hundred = queries_for(anonymous_client, f"/api/v1/{endpoint}/?page_size=100")
    assert one == hundred
    if endpoint != "summaries":
        assert hundred == 1  # the page itself, aggregated in SQL


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
def test_lists_are_readable_anonymously(anonymous_client, erlangen, endpoint):
    if endpoint == "summaries":
        full_rebuild()  # stored summaries refresh after a commit, which a test never reaches
    response = anonymous_client.get(f"/api/v1/{endpoint}/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert body["results"]


def test_paging_follows_next_links_through_every_row(anonymous_client, three_studies):
    url, seen, links = "/api/v1/patients/?page_size=2", [], []
    while url:
        response = anonymous_client.get(url)
        seen += [row["id"] for row in response.json()["results"]]
        url = response.json()["next"]
        if url:
            assert f'<{url}>; rel="next"' in response["Link"]
            links.append(url)
        else:
            assert 'rel="next"' not in response.get("Link", "")
    assert len(seen) == len(set(seen)) == 6
    assert all("cursor=" in link and "page=" not in link for link in links)


def test_page_size_is_capped(anonymous_client, three_studies, monkeypatch):
    monkeypatch.setattr(pagination.RowCursorPagination, "max_page_size", 2)
    response = anonymous_client.get("/api/v1/patients/?page_size=1000")
    assert len(response.json()["results"]) == 2
    assert response.json()["next"]


def test_a_forged_cursor_is_a_json_404(anonymous_client, erlangen):
    response = anonymous_client.get("/api/v1/patients/?cursor=not-a-cursor")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_ordering_sorts_and_pages_consistently(anonymous_client, three_studies):
    years = []
    url = "/api/v1/publications/?ordering=year&page_size=1"
    while url:
        body = anonymous_client.get(url).json()
        years += [row["year"] for row in body["results"]]
        url = body["next"]
    assert years == sorted(years) == [2022, 2024, 2025]


def test_search_finds_publications_by_author(anonymous_client, three_studies):
    rows = anonymous_client.get("/api/v1/publications/?search=mackensen").json()["results"]
    assert [row["doi"] for row in rows] == ["10.5555/erlangen.2022"]


@pytest.mark.parametrize(
    "query",
    [
        "disease=sle",
        "disease=lupus-nephritis&disease=sle",
        "target=cd19",
        "registry_id=nct05000001",
        "doi=https://doi.org/10.5555/ERLANGEN.2022",
        "pmid=35000001",
        "search=erlangen",
    ],
)
def test_study_filters_find_the_study(anonymous_client, three_studies, query):
    rows = anonymous_client.get(f"/api/v1/studies/?{query}").json()["results"]
    assert three_studies["study"].pk in [row["id"] for row in rows]


def test_study_filters_exclude_what_does_not_match(anonymous_client, three_studies):
    assert anonymous_client.get("/api/v1/studies/?disease=ssc").json()["results"] == []
    assert anonymous_client.get("/api/v1/studies/?registry_id=NCT09999999").json()["results"] == []


def test_record_filters(anonymous_client, three_studies):
    study = three_studies["study"].pk
    outcomes = anonymous_client.get(
        f"/api/v1/outcomes/?study={study}&measure=sledai-2k&level=patient"
    ).json()["results"]
    assert len(outcomes) == 4 and {row["measure"] for row in outcomes} == {"sledai-2k"}
    arms_rows = anonymous_client.get(f"/api/v1/outcomes/?study={study}&level=arm").json()
    assert [row["measure"] for row in arms_rows["results"]] == ["doris"]
    patients = anonymous_client.get(f"/api/v1/patients/?study={study}").json()["results"]
    assert {row["label"] for row in patients} == {"Patient 1", "Patient 2"}
    publications = anonymous_client.get("/api/v1/publications/?year_min=2024").json()
    assert {row["year"] for row in publications["results"]} == {2024, 2025}


def test_a_bad_filter_value_is_a_400_naming_the_filter(anonymous_client, erlangen):
    response = anonymous_client.get("/api/v1/studies/?disease=no-such-disease")
    assert response.status_code == 400
    assert "disease" in response.json()
    assert anonymous_client.get("/api/v1/publications/?year_min=abc").status_code == 400


def test_csv_is_flat_with_lists_joined(anonymous_client, three_studies):
    response = anonymous_client.get("/api/v1/studies/?format=csv&page_size=2&ordering=id")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'rel="next"' in response["Link"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 2
    erlangen = next(row for row in rows if row["title"] == "Erlangen CD19 CAR-T in SLE")
    assert erlangen["registry_ids"] == "NCT05000001"
    assert erlangen["diseases"] == "sle"
    assert list(rows[0])[-2:] == ["created_at", "updated_at"]


def test_csv_errors_are_still_json(anonymous_client, erlangen):
    response = anonymous_client.get("/api/v1/studies/?format=csv&disease=nope")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_study_detail_nests_everything_with_sources(anonymous_client, erlangen):
    study = erlangen["study"]
    response = anonymous_client.get(f"/api/v1/studies/{study.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["reports"][0]["doi"] == "10.5555/erlangen.2022"
    assert [arm["label"] for arm in body["arms"]] == ["SLE"]
    assert body["arms"][0]["products"][0]["construct_name"] == "MB-CART19.1 (test)"
    assert [c["name"] for c in body["constructs"]] == ["MB-CART19.1 (test)"]
    assert [p["label"] for p in body["patients"]] == ["Patient 1", "Patient 2"]
    assert len(body["results"]) == 5 and len(body["adverse_events"]) == 3
    publication = erlangen["publication"].pk
    doris = next(r for r in body["results"] if r["measure"] == "doris")
    assert doris["source"] == {"publication": publication, "kind": "text", "label": "p. 3"}
    assert doris["n_events"] == 2 and doris["n_evaluable"] == 2


def test_study_detail_costs_a_fixed_number_of_queries(anonymous_client, three_studies):
    small = StudyFactory()
    ArmFactory(study=small)
    few = queries_for(anonymous_client, f"/api/v1/studies/{small.pk}/")
    many = queries_for(anonymous_client, f"/api/v1/studies/{three_studies['study'].pk}/")
    assert few == many


def test_vocabularies_are_looked_up_by_code(anonymous_client, db):
    body = anonymous_client.get("/api/v1/measures/sledai-2k/").json()
    assert body["min_value"] == 0 and body["max_value"] == 105
    assert anonymous_client.get("/api/v1/diseases/lupus-nephritis/").json()["parent"] == "sle"
    assert anonymous_client.get("/api/v1/antigens/nope/").status_code == 404


def test_unknown_paths_and_malformed_ids_are_json_404s(anonymous_client, db):
    for url in [
        "/api/v1/nothing-here/",
        "/api/v1/studies/abc/",
        "/api/v1/studies/-1/",
        "/api/v1/studies/99999999999999999999999/",
    ]:
        response = anonymous_client.get(url)
        assert response.status_code == 404, url
        assert response["Content-Type"] == "application/json"
    csrf_checking = APIClient(enforce_csrf_checks=True)
    response = csrf_checking.put("/api/v1/studies/1/nothing/", {}, format="json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_hidden_rows_never_leave_the_api(anonymous_client, three_studies, monkeypatch):
    """Every read goes through visibility.public(): narrowing it hides rows everywhere."""
    hidden = three_studies["study"]

    def public(queryset):
        if queryset.model is Study:
            return queryset.exclude(pk=hidden.pk)
        return queryset

    monkeypatch.setattr("studies.api.views.public", public)
    monkeypatch.setattr("studies.api.rows.public", public)
    ids = [row["id"] for row in anonymous_client.get("/api/v1/studies/").json()["results"]]
    assert hidden.pk not in ids and len(ids) == 2
    assert anonymous_client.get(f"/api/v1/studies/{hidden.pk}/").status_code == 404
    publication = anonymous_client.get(
        f"/api/v1/publications/{three_studies['publication'].pk}/"
    ).json()
    assert publication["studies"] == []


# Pooled summaries ------------------------------------------------------------------------------


def test_summaries_are_read_from_the_stored_tables_with_their_freshness(
    anonymous_client, erlangen
):
    full_rebuild()
    [row] = anonymous_client.get("/api/v1/summaries/?disease=sle&target=cd19").json()["results"]
    assert (row["studies"], row["patients"], row["stale"]) == (1, 2, False)
    assert row["crs_any"]["events"] == 2
    assert row["computed_at"]

    for patient in erlangen["patients"]:
        patient.follow_up_days = 300
        patient.save()
    row = anonymous_client.get("/api/v1/summaries/").json()["results"][0]
    assert row["stale"]  # the stored numbers stand until the refresh

    refresh_keys()
    [row] = anonymous_client.get("/api/v1/summaries/").json()["results"]
    assert (row["median_follow_up_days"], row["stale"]) == (300, False)
    assert anonymous_client.get("/api/v1/summaries/?target=bcma").json()["results"] == []


def test_a_summary_filter_with_a_nul_character_matches_nothing(anonymous_client, erlangen):
    full_rebuild()
    response = anonymous_client.get("/api/v1/summaries/?disease=sle%00&target=cd19")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_an_outcome_row_lists_every_value_column_of_a_result(anonymous_client, erlangen):
    """OutcomeResult.VALUE_FIELDS feeds the API's rows, its write serializer and the
    bundles: a value column added to the model and missing there would be lost."""
    subject_and_source = {"id", "patient", "arm", "measure", "source_publication",
                          "source_kind", "source_label", "created_by", "created_at",
                          "updated_at"}
    columns = {f.name for f in OutcomeResult._meta.concrete_fields} - subject_and_source
    assert set(OutcomeResult.VALUE_FIELDS) == columns

    row = anonymous_client.get("/api/v1/outcomes/").json()["results"][0]
    assert set(OutcomeResult.VALUE_FIELDS) <= row.keys()
