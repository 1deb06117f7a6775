"""DOIs, PMIDs, PMCIDs and registry ids: one spelling each, unique when present."""

from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from studies.choices import Registry
from studies.identifiers import detect_registry, normalize_doi, normalize_registry_id
from studies.models import Publication
from tests.factories import PublicationFactory, RegistryIdFactory, StudyFactory

pytestmark = pytest.mark.django_db

NEJM_DOI = "10.1056/nejmoa2308917"


@contextmanager
def violates_unique(column: str):
    """Expects the database to refuse a duplicate (SQLite and PostgreSQL both name the
    column), in a savepoint so that the test's transaction stays usable."""
    with pytest.raises(IntegrityError, match=column), transaction.atomic():
        yield


@pytest.mark.parametrize(
    "raw",
    [
        "https://doi.org/10.1056/NEJMoa2308917",
        "http://dx.doi.org/10.1056/NEJMoa2308917",
        "doi:10.1056/NEJMoa2308917",
        "DOI: 10.1056/NEJMoa2308917",
        "  10.1056/NEJMOA2308917 ",
    ],
)
def test_it_stores_a_doi_bare_and_lower_case(raw):
    publication = PublicationFactory(doi=raw)

    publication.refresh_from_db()
    assert publication.doi == NEJM_DOI
    assert publication.doi_url == f"https://doi.org/{NEJM_DOI}"


def test_it_finds_a_publication_by_the_url_form_of_its_doi():
    publication = PublicationFactory(doi="10.1056/NEJMoa2308917")

    assert Publication.objects.get(doi="https://doi.org/10.1056/NEJMoa2308917") == publication
    assert Publication.objects.filter(doi="doi:10.1056/NEJMOA2308917").exists()


def test_it_stores_an_empty_doi_as_null():
    publication = PublicationFactory(doi="")

    publication.refresh_from_db()
    assert publication.doi is None
    assert publication.doi_url == ""


def test_it_rejects_a_second_publication_with_the_same_doi_in_another_spelling():
    PublicationFactory(doi="10.1056/NEJMoa2308917")

    with violates_unique("doi"):
        PublicationFactory(doi="https://doi.org/10.1056/NEJMOA2308917")


def test_it_allows_many_publications_without_doi_or_pmid():
    PublicationFactory(doi=None, pmid=None)
    PublicationFactory(doi="", pmid=None)

    assert Publication.objects.filter(doi__isnull=True, pmid__isnull=True).count() == 2


def test_it_rejects_a_duplicate_pmid():
    PublicationFactory(pmid=37935126)

    with violates_unique("pmid"):
        PublicationFactory(pmid=37935126)


def test_it_rejects_a_text_that_is_not_a_doi_in_validation():
    publication = PublicationFactory.build(doi="not a doi")

    with pytest.raises(ValidationError) as error:
        publication.full_clean(exclude=["created_by"])

    assert "'not a doi' is not a DOI" in error.value.message_dict["doi"][0]


@pytest.mark.parametrize("raw", ["PMC10123456", "pmc10123456", " 10123456 "])
def test_it_stores_a_pmcid_with_its_upper_case_prefix(raw):
    publication = PublicationFactory(pmcid=raw)

    publication.refresh_from_db()
    assert publication.pmcid == "PMC10123456"


def test_it_rejects_a_duplicate_pmcid_in_another_spelling():
    PublicationFactory(pmcid="PMC10123456")

    with violates_unique("pmcid"):
        PublicationFactory(pmcid="10123456")


def test_it_allows_many_publications_without_pmcid():
    PublicationFactory(pmcid="")
    PublicationFactory(pmcid=None)

    assert Publication.objects.filter(pmcid__isnull=True).count() == 2


def test_normalize_doi_leaves_nothing_for_an_empty_value():
    assert normalize_doi(None) is None
    assert normalize_doi("   ") is None
    assert normalize_doi("https://doi.org/") is None


# Registry ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registry", "raw", "stored"),
    [
        (Registry.NCT, "NCT05030779", "NCT05030779"),
        (Registry.NCT, "nct 05030779", "NCT05030779"),
        (Registry.CHICTR, "ChiCTR2000032567", "ChiCTR2000032567"),
        (Registry.CHICTR, "chictr-onc-17013145", "ChiCTR-ONC-17013145"),
        (Registry.EUDRACT, "2022-001366-38", "2022-001366-38"),
        (Registry.CTIS, "2023-503658-18-00", "2023-503658-18-00"),
    ],
)
def test_it_accepts_and_normalises_a_registry_id(registry, raw, stored):
    registry_id = RegistryIdFactory.build(study=StudyFactory(), registry=registry, identifier=raw)

    registry_id.full_clean(exclude=["created_by"])

    assert registry_id.identifier == stored
    assert detect_registry(stored) == registry


@pytest.mark.parametrize(
    ("registry", "raw"),
    [
        (Registry.NCT, "NCT0503077"),  # seven digits
        (Registry.NCT, "ChiCTR2000032567"),  # another registry's id
        (Registry.CHICTR, "ChiCTR20000"),
        (Registry.EUDRACT, "2022-1366-38"),
        (Registry.EUDRACT, "NCT05030779"),
    ],
)
def test_it_rejects_a_registry_id_in_the_wrong_format(registry, raw):
    registry_id = RegistryIdFactory.build(study=StudyFactory(), registry=registry, identifier=raw)

    with pytest.raises(ValidationError) as error:
        registry_id.full_clean(exclude=["created_by"])

    assert "is not a valid" in error.value.message_dict["identifier"][0]


def test_it_rejects_a_registry_id_already_given_to_a_study():
    RegistryIdFactory(identifier="NCT05030779")

    with violates_unique("identifier"):
        RegistryIdFactory(identifier="NCT05030779")


def test_it_reports_a_duplicate_registry_id_as_a_validation_error():
    RegistryIdFactory(identifier="NCT05030779")
    duplicate = RegistryIdFactory.build(study=StudyFactory(), identifier="nct05030779")

    with pytest.raises(ValidationError) as error:
        duplicate.full_clean(exclude=["created_by"])

    assert "identifier" in error.value.message_dict


def test_normalize_registry_id_keeps_eu_numbers_as_given():
    assert normalize_registry_id(" 2022-001366-38 ") == "2022-001366-38"
    assert detect_registry("ISRCTN12345678") is None
