"""The search document stored on each study (studies.search_documents): after ORM
edits of the rows a study's text comes from, search finds the study by the new words
and no longer by the removed ones, and on PostgreSQL the stored document is the one
the migration and a full refresh compute."""

import importlib

import pytest
from django.db import connection

from studies.models import Study
from studies.search import search_studies
from studies.search_documents import refresh_search_documents, search_codes, search_vector
from tests.factories import (
    ArmFactory,
    ArmProductFactory,
    CarConstructFactory,
    ConstructAliasFactory,
    PublicationFactory,
    RegistryIdFactory,
    StudyFactory,
    StudyReportFactory,
)

pytestmark = pytest.mark.django_db
TITLE = "Anti-CD19 cell therapy in autoimmunity"


def found(text: str) -> list[str]:
    return sorted(study.title for study in search_studies(Study.objects.all(), text))


@pytest.fixture
def study():
    """A study with an abstract about myositis, a product aliased ZX-100 and the
    registry id NCT01234567, next to another study that shares none of them."""
    study = StudyFactory(title=TITLE)
    publication = PublicationFactory(abstract="Drug-free remission in refractory myositis.")
    StudyReportFactory(study=study, publication=publication)
    construct = CarConstructFactory(name="QX-CAR19")
    ArmProductFactory(
        arm=ArmFactory(study=study, source_publication=publication), construct=construct
    )
    ConstructAliasFactory(construct=construct, alias="ZX-100")
    RegistryIdFactory(study=study, identifier="NCT01234567")
    StudyFactory(title="An unrelated cohort")
    return study


def test_search_follows_edits_of_an_abstract_an_alias_and_a_registry_id(study):
    assert found("myositis") == found("ZX-100") == found("NCT01234567") == [TITLE]

    publication = study.publications.get()
    publication.abstract = "Durable responses in ANCA vasculitis."
    publication.save()
    alias = study.arms.get().products.get().construct.aliases.get()
    alias.alias = "YW-200"
    alias.save()
    registry_id = study.registry_ids.get()
    registry_id.identifier = "NCT07654321"
    registry_id.save()

    assert found("vasculitis") == found("YW-200") == found("NCT07654321") == [TITLE]
    assert found("myositis") == found("ZX-100") == found("NCT01234567") == []
    # Substring match on codes still applies to the new ones.
    assert found("W-20") == found("7654321") == [TITLE]


def test_search_follows_rows_added_moved_and_deleted(study):
    other = Study.objects.get(title="An unrelated cohort")
    report = study.reports.get()
    product = study.arms.get().products.get()

    report.study = other
    report.save()
    assert found("myositis") == ["An unrelated cohort"]

    construct = product.construct
    construct.name = "RENAMED-CAR7"
    construct.save()
    assert found("RENAMED-CAR7") == [TITLE]
    assert found("QX-CAR19") == []

    product.delete()
    assert found("RENAMED-CAR7") == found("ZX-100") == []

    study.title = "A renamed study"
    study.save()
    assert found("renamed") == ["A renamed study"]


def stored_and_fresh() -> tuple[list, list]:
    studies = Study.objects.order_by("pk")
    stored = list(studies.values_list("search_vector", "search_codes"))
    fresh = list(
        studies.annotate(vector=search_vector(), codes=search_codes()).values_list(
            "vector", "codes"
        )
    )
    return stored, fresh


@pytest.mark.postgres
def test_stored_documents_are_what_a_refresh_and_the_migration_compute(study):
    second = StudyFactory(title="A second study")
    StudyReportFactory(study=second, publication=study.publications.get())
    ArmProductFactory(arm=ArmFactory(study=second), construct=CarConstructFactory(name="B-CAR"))
    ConstructAliasFactory(construct=study.arms.get().products.get().construct, alias="ZX-101")

    stored, fresh = stored_and_fresh()
    assert stored == fresh
    assert "ZX-101" in stored[0][1].split("\n")

    Study.objects.update(search_vector=None, search_codes="")
    refresh_search_documents()
    assert stored_and_fresh()[0] == stored

    migration = importlib.import_module("studies.migrations.0007_study_search_document")
    Study.objects.update(search_vector=None, search_codes="")
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL)
    assert stored_and_fresh()[0] == stored


@pytest.mark.postgres
def test_a_search_reads_the_stored_document_only(study):
    # Emptied behind the signals' back, the document no longer finds the study:
    # search does not rebuild it from the related rows.
    Study.objects.update(search_vector=None, search_codes="")

    assert found("myositis") == found("ZX-100") == []
