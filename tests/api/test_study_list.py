"""The study list as scripts page through it: the same rows however they are filtered,
codes checked against vocabularies that may change, one query a page."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer

from studies.api.rows import study_rows
from studies.models import CostimulatoryDomain, Country, Disease, Study
from tests.factories import (
    ArmFactory,
    ArmProductFactory,
    CarConstructFactory,
    PublicationFactory,
    StudyFactory,
)

FILTERED = "disease=sle&target=cd19&country=DE&costim=4-1bb&phase=1&status=recruiting"
# The fields of a study row in the order the API has always sent them.
ROW_FIELDS = [
    "id",
    "title",
    "short_name",
    "design",
    "phase",
    "status",
    "sponsor",
    "start_date",
    "completion_date",
    "created_at",
    "updated_at",
    "countries",
    "registry_ids",
    "publications",
    "first_year",
    "diseases",
    "antigens",
    "constructs",
    "n_patients",
]


@pytest.fixture
def two_studies(erlangen, sle, cd19):
    """The Erlangen study, run in Germany with a 4-1BB construct, and another SLE study."""
    erlangen["study"].countries.add(Country.objects.get(code="DE"))
    erlangen["construct"].costimulatory_domains.add(CostimulatoryDomain.objects.get(code="4-1bb"))
    publication = PublicationFactory(year=2024)
    arm = ArmFactory(
        study=StudyFactory(), disease=sle, n_patients=5, source_publication=publication
    )
    ArmProductFactory(arm=arm, construct=CarConstructFactory(targets=[cd19]))
    return erlangen


def results(client, url) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_the_list_sends_the_rows_of_the_study_document(anonymous_client, two_studies):
    listed = results(anonymous_client, "/api/v1/studies/?page_size=100&ordering=id")
    expected = json.loads(JSONRenderer().render(list(study_rows(Study.objects.order_by("id")))))
    assert listed == expected
    erlangen = next(row for row in listed if row["id"] == two_studies["study"].pk)
    assert erlangen["registry_ids"] == ["NCT05000001"]
    assert (erlangen["diseases"], erlangen["antigens"]) == (["sle"], ["cd19"])
    assert erlangen["publications"] == [two_studies["publication"].pk]
    assert (erlangen["first_year"], erlangen["n_patients"]) == (2022, 2)


def test_filters_keep_the_rows_and_their_field_order(anonymous_client, two_studies):
    plain = results(anonymous_client, "/api/v1/studies/?page_size=100")
    fields = list(plain[0])
    assert fields == ROW_FIELDS
    # year and size filters and search annotate the filtered studies with columns of
    # their own; none of them may show or move a field.
    for query in ["year_min=2022&year_max=2030", "min_patients=1", "search=erlangen", FILTERED]:
        filtered = results(anonymous_client, f"/api/v1/studies/?page_size=100&{query}")
        assert filtered, query
        assert all(list(row) == fields for row in filtered), query
        assert all(row in plain for row in filtered), query


def test_a_filtered_page_is_one_query_once_the_codes_are_known(anonymous_client, two_studies):
    url = f"/api/v1/studies/?page_size=100&{FILTERED}"
    assert results(anonymous_client, url)
    with CaptureQueriesContext(connection) as captured:
        assert results(anonymous_client, url)
    assert len(captured.captured_queries) == 1


def test_a_disease_added_after_codes_were_cached_is_found(anonymous_client, two_studies, sle):
    assert results(anonymous_client, "/api/v1/studies/?disease=sle")  # the codes are cached now
    flare = Disease.objects.create(
        code="sle-test-flare", name="Test SLE flare", icd10="M32.8", parent=sle
    )
    study = StudyFactory()
    ArmFactory(study=study, disease=flare)

    found = results(anonymous_client, "/api/v1/studies/?disease=sle-test-flare")
    assert [row["id"] for row in found] == [study.pk]
    under_sle = results(anonymous_client, "/api/v1/studies/?disease=sle&page_size=100")
    assert study.pk in [row["id"] for row in under_sle]


def test_a_deleted_code_is_refused_at_once(anonymous_client, db):
    unused = Disease.objects.create(code="test-unused", name="Test unused", icd10="M35.8")
    assert anonymous_client.get("/api/v1/studies/?disease=test-unused").status_code == 200
    unused.delete()
    response = anonymous_client.get("/api/v1/studies/?disease=test-unused")
    assert response.status_code == 400
    assert "test-unused" in response.json()["disease"][0]
