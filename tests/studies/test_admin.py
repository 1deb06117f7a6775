"""The admin back office: every studies table opens, lists cheaply and records its author."""

from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from studies.choices import IdentityEvidence, PublicationType, StudyDesign
from studies.models import FilteredCounts, Patient, Person, Publication, RegistryId, Study
from tests.factories import (
    AdverseEventFactory,
    ArmProductFactory,
    ConstructAliasFactory,
    CostimulatoryDomainFactory,
    CountryFactory,
    LymphodepletionRegimenFactory,
    OutcomeResultFactory,
    PatientAdverseEventFactory,
    PatientFactory,
    PatientResultFactory,
    PersonFactory,
    PublicationAuthorFactory,
    RegistryIdFactory,
    TherapyFactory,
)

pytestmark = pytest.mark.django_db

# Without django-simple-history's Historical* tables (shown through each model's
# "History" page, not as changelists of their own).
# FacetPairCounts is kept by PostgreSQL triggers alone, and Django's admin does not
# handle its composite primary key: inspected with SQL, not here.
STUDIES_MODELS = [
    model for model in apps.get_app_config("studies").get_models()
    if not model.__name__.startswith("Historical") and model.__name__ != "FacetPairCounts"
]


def admin_url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def add_to_catalogue(measure):
    """A patient of an arm with a row in every studies table hanging off them."""
    patient = PatientFactory(person=PersonFactory(), person_evidence=IdentityEvidence.CONFIRMED)
    arm = patient.arm
    arm.lymphodepletion = LymphodepletionRegimenFactory()
    arm.save()
    arm.study.countries.add(CountryFactory())
    patient.prior_therapies.add(TherapyFactory())
    product = ArmProductFactory(arm=arm)
    product.construct.costimulatory_domains.add(CostimulatoryDomainFactory())
    ConstructAliasFactory(construct=product.construct)
    PublicationAuthorFactory(publication=arm.source_publication, family_name="Mackensen")
    RegistryIdFactory(study=arm.study)
    PatientResultFactory(patient=patient, measure=measure, value=Decimal("2"))
    OutcomeResultFactory(arm=arm)
    PatientAdverseEventFactory(patient=patient)
    AdverseEventFactory(arm=arm)
    # The catalogue stores these on reading a page filtered by several values.
    FilteredCounts.objects.update_or_create(
        key="phase=1&status=recruiting", defaults={"version": 0}
    )
    return patient


@pytest.fixture
def catalogue(sledai):
    return add_to_catalogue(sledai)


def test_every_studies_model_is_in_the_admin():
    assert [model for model in STUDIES_MODELS if not admin.site.is_registered(model)] == []


@pytest.mark.parametrize("model", STUDIES_MODELS, ids=lambda model: model._meta.model_name)
def test_a_superuser_opens_the_changelist_add_and_change_pages(superuser_client, catalogue, model):
    row = model.objects.first()
    assert row is not None, f"the catalogue fixture has no {model.__name__}"

    for url in (
        admin_url(model, "changelist"),
        admin_url(model, "add"),
        admin_url(model, "change", row.pk),
    ):
        response = superuser_client.get(url)
        assert response.status_code == 200, url


@pytest.mark.parametrize("model", STUDIES_MODELS, ids=lambda model: model._meta.model_name)
def test_a_superuser_can_search_every_changelist(superuser_client, catalogue, model):
    response = superuser_client.get(admin_url(model, "changelist"), {"q": "a"})

    assert response.status_code == 200


def test_it_keeps_the_cost_of_the_results_changelist_flat(superuser_client, sledai):
    url = admin_url(PatientResultFactory._meta.model, "changelist")
    PatientResultFactory(measure=sledai)
    with CaptureQueriesContext(connection) as one_row:
        assert superuser_client.get(url).status_code == 200

    for _ in range(8):
        PatientResultFactory(measure=sledai)
    for _ in range(11):
        OutcomeResultFactory()
    with CaptureQueriesContext(connection) as twenty_rows:
        response = superuser_client.get(url)

    assert response.context["cl"].result_count == 20
    for q in twenty_rows.captured_queries:
        print(q["sql"][:300])
    assert len(twenty_rows) == len(one_row)


def test_the_results_changelist_lists_the_newest_rows_first_without_sorting_the_table(
    superuser_client, sledai
):
    """By primary key, which an index serves: the model's own order (measure name, time
    point) joined and sorted every result, 2 s at 10,000 studies."""
    older = PatientResultFactory(measure=sledai, day=30)
    newer = OutcomeResultFactory(day=7)
    url = admin_url(PatientResultFactory._meta.model, "changelist")

    with CaptureQueriesContext(connection) as queries:
        rows = list(superuser_client.get(url).context["cl"].result_list)

    assert rows == [newer, older]
    page = next(q["sql"] for q in queries.captured_queries
                if q["sql"].startswith('SELECT "studies_outcomeresult"."id"'))
    assert 'ORDER BY "studies_outcomeresult"."id" DESC' in page


@pytest.mark.parametrize("model", STUDIES_MODELS, ids=lambda model: model._meta.model_name)
def test_it_keeps_the_cost_of_every_changelist_flat(superuser_client, sledai, model):
    url = admin_url(model, "changelist")
    add_to_catalogue(sledai)
    with CaptureQueriesContext(connection) as one_catalogue:
        superuser_client.get(url)

    add_to_catalogue(sledai)
    add_to_catalogue(sledai)
    with CaptureQueriesContext(connection) as three_catalogues:
        superuser_client.get(url)

    assert len(three_catalogues) == len(one_catalogue)


def test_it_records_the_signed_in_user_as_the_author_of_a_new_publication(
    superuser_client, superuser
):
    response = superuser_client.post(
        admin_url(Publication, "add"),
        {
            "title": "CD19 CAR T cell therapy in refractory SLE",
            "journal": "Nat Med",
            "year": "2022",
            "doi": "https://doi.org/10.1038/S41591-022-02017-5",
            "publication_type": PublicationType.ARTICLE,
            "authors-TOTAL_FORMS": "1",
            "authors-INITIAL_FORMS": "0",
            "authors-0-position": "1",
            "authors-0-family_name": "Mackensen",
            "reports-TOTAL_FORMS": "0",
            "reports-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.context["errors"]
    publication = Publication.objects.get(doi="10.1038/s41591-022-02017-5")
    assert publication.created_by == superuser
    assert publication.short_citation == "Mackensen et al. 2022"


def test_it_records_the_signed_in_user_on_inline_rows(superuser_client, superuser):
    response = superuser_client.post(
        admin_url(Study, "add"),
        {
            "title": "CD19 CAR T cells in autoimmune disease",
            "design": StudyDesign.TRIAL,
            "registry_ids-TOTAL_FORMS": "1",
            "registry_ids-INITIAL_FORMS": "0",
            "registry_ids-0-registry": "nct",
            "registry_ids-0-identifier": "nct 06347718",
            "reports-TOTAL_FORMS": "0",
            "reports-INITIAL_FORMS": "0",
            "arms-TOTAL_FORMS": "0",
            "arms-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.context["errors"]
    registry_id = RegistryId.objects.get()
    assert registry_id.identifier == "NCT06347718"
    assert registry_id.created_by == superuser
    assert registry_id.study.created_by == superuser


def patient_form_with_a_new_result(patient, measure, value: str) -> dict:
    """The patient's change form as posted, with one new result in its inline."""
    return {
        "arm": patient.arm_id,
        "label": patient.label,
        "primary_disease": patient.primary_disease_id,
        "source_publication": patient.source_publication_id,
        "source_kind": patient.source_kind,
        "source_label": patient.source_label,
        "results-TOTAL_FORMS": "1",
        "results-INITIAL_FORMS": "0",
        "results-0-measure": measure.pk,
        "results-0-timepoint": "baseline",
        "results-0-value": value,
        "results-0-source_publication": patient.source_publication_id,
        "results-0-source_kind": "table",
        "results-0-source_label": "Table 2",
        "adverse_events-TOTAL_FORMS": "0",
        "adverse_events-INITIAL_FORMS": "0",
    }


def test_it_records_the_signed_in_user_on_a_result_added_to_a_patient(
    superuser_client, superuser, curator, sledai
):
    patient = PatientFactory(created_by=curator)

    response = superuser_client.post(
        admin_url(Patient, "change", patient.pk),
        patient_form_with_a_new_result(patient, sledai, "12"),
    )

    assert response.status_code == 302, response.context["errors"]
    result = patient.results.get()
    assert (result.value, result.created_by) == (Decimal("12"), superuser)
    patient.refresh_from_db()
    assert patient.created_by == curator


def test_it_shows_the_measure_range_on_a_patients_result_out_of_range(superuser_client, sledai):
    patient = PatientFactory()

    response = superuser_client.post(
        admin_url(Patient, "change", patient.pk),
        patient_form_with_a_new_result(patient, sledai, "120"),
    )

    assert response.status_code == 200
    assert "120 is outside SLEDAI-2K&#x27;s range 0–105" in response.content.decode()
    assert not patient.results.exists()


def test_it_keeps_the_original_author_when_someone_else_edits(superuser_client, curator):
    person = PersonFactory(created_by=curator)

    response = superuser_client.post(
        admin_url(Person, "change", person.pk),
        {"note": "Same initials and infusion date.", "created_by": "ignored"},
    )

    assert response.status_code == 302
    person.refresh_from_db()
    assert person.note == "Same initials and infusion date."
    assert person.created_by == curator


def test_it_finds_a_publication_by_its_doi_link(superuser_client, catalogue):
    publication = catalogue.source_publication

    response = superuser_client.get(
        admin_url(Publication, "changelist"), {"q": f"https://doi.org/{publication.doi.upper()}"}
    )

    assert list(response.context["cl"].result_list) == [publication]


def test_it_offers_publications_by_title_in_autocompletes(superuser_client, catalogue):
    publication = catalogue.source_publication

    response = superuser_client.get(
        reverse("admin:autocomplete"),
        {
            "term": publication.title[:20],
            "app_label": "studies",
            "model_name": "arm",
            "field_name": "source_publication",
        },
    )

    assert response.status_code == 200
    assert {"id": str(publication.pk), "text": str(publication)} in response.json()["results"]


def test_it_sends_a_user_who_is_not_staff_to_the_login_page(client, outsider):
    client.force_login(outsider)

    response = client.get(admin_url(Publication, "changelist"))

    assert response.status_code == 302
