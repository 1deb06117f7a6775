"""`manage.py rebuild_catalogue` mends the values the catalogue stores after data was
written around the receivers and triggers that keep them (a restore, a raw SQL load)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from studies.facet_values import refresh_facet_values
from studies.models import Study, StudyFacets
from studies.search import search_studies
from tests.factories import ArmFactory, ArmProductFactory, DiseaseFactory, StudyFactory
from tests.studies.test_facet_values import kept_pairs, recounted_pairs

pytestmark = pytest.mark.django_db


def rebuild() -> str:
    out = StringIO()
    call_command("rebuild_catalogue", stdout=out)
    return out.getvalue()


@pytest.fixture
def studies():
    sle = DiseaseFactory(code="sle")
    arms = [ArmProductFactory(arm=ArmFactory(disease=sle, n_patients=n)).arm for n in (3, 5)]
    return [arm.study for arm in arms]


def test_the_stored_years_totals_and_facet_values_come_back_from_the_live_rows(studies):
    first, second = studies
    expected = {s.pk: (s.first_year, s.patient_count) for s in Study.objects.all()}
    tags = dict(StudyFacets.objects.values_list("study", "tags"))
    assert expected[first.pk][1] == 3 and "disease:sle" in tags[first.pk]
    # A raw load: nothing told the catalogue.
    Study.objects.update(first_year=None, patient_count=None)
    StudyFacets.objects.filter(study=first).update(tags=["phase:9"])
    StudyFacets.objects.filter(study=second).delete()

    output = rebuild()

    assert {s.pk: (s.first_year, s.patient_count) for s in Study.objects.all()} == expected
    assert dict(StudyFacets.objects.values_list("study", "tags")) == tags
    assert "Facet values: 2 studies" in output
    if connection.vendor != "postgresql":
        assert "Pair counts: none kept on this database" in output


@pytest.mark.postgres
def test_pair_counts_that_drifted_are_counted_again_from_the_facet_values(studies):
    StudyFactory(phase="2")
    assert kept_pairs() == recounted_pairs()
    with connection.cursor() as cursor:  # as a restore with triggers off would leave them
        cursor.execute("SET LOCAL session_replication_role = replica")
        StudyFacets.objects.filter(study=studies[0]).delete()
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    refresh_facet_values()  # rewriting the facet rows does not mend the pairs
    assert kept_pairs() != recounted_pairs()

    output = rebuild()

    assert kept_pairs() == recounted_pairs()
    assert kept_pairs()[("", "disease:sle")] == 2
    assert f"Pair counts: {len(kept_pairs())} pairs" in output


@pytest.mark.postgres
def test_search_documents_come_back_and_a_search_finds_the_study_again(studies):
    ArmProductFactory(arm__study=studies[0], construct__name="KYV-101")
    Study.objects.update(search_vector=None, search_codes="")
    assert not search_studies(Study.objects.all(), "KYV-101").exists()

    rebuild()

    assert list(search_studies(Study.objects.all(), "KYV-101")) == [studies[0]]
