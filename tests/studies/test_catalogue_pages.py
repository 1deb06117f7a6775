"""Study, construct, disease and summary pages, the home page and the 404 page."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from studies.choices import TimePoint
from studies.models import Disease, OutcomeMeasure
from studies.selectors import NEWEST_COUNT
from summaries.services import full_rebuild
from tests.factories import (
    AntigenFactory,
    ArmFactory,
    ArmProductFactory,
    CarConstructFactory,
    ConstructAliasFactory,
    CostimulatoryDomainFactory,
    OutcomeResultFactory,
    PatientAdverseEventFactory,
    PatientFactory,
    PatientResultFactory,
    PersonFactory,
    PublicationFactory,
    RegistryIdFactory,
    StudyFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def reported_study(db):
    """A series whose first patient was also a case report in another study."""
    construct = CarConstructFactory(
        name="MB-CART19.1",
        targets=[AntigenFactory(code="cd19")],
        costimulatory_domains=[CostimulatoryDomainFactory(code="4-1bb")],
        developer="Miltenyi",
    )
    ConstructAliasFactory(construct=construct, alias="zamtocabtagene autoleucel")
    paper = PublicationFactory(
        title="CD19 CAR T-cell therapy in autoimmune disease: a case series with follow-up",
        journal="N Engl J Med",
        year=2024,
        doi="10.1056/nejmoa2308917",
        pmid=38381673,
        authors=["Müller"],
    )
    arm = ArmFactory(
        study=StudyFactory(title="Erlangen series", short_name="Erlangen"),
        label="SLE",
        source_publication=paper,
        n_patients=8,
        source_label="Table 1",
    )
    ArmProductFactory(arm=arm, construct=construct, source_label="Methods, p. 3")
    RegistryIdFactory(study=arm.study, identifier="NCT05930314")
    doris = OutcomeMeasure.objects.get(code="doris")
    OutcomeResultFactory(arm=arm, measure=doris, n_events=8, n_evaluable=8, source_label="Table 2")
    person = PersonFactory()
    patient = PatientFactory(
        arm=arm,
        label="Patient 1",
        person=person,
        person_evidence="confirmed",
        age_years=Decimal("20"),
        follow_up_days=700,
        source_label="Table S1",
    )
    sledai = OutcomeMeasure.objects.get(code="sledai-2k")
    PatientResultFactory(
        patient=patient,
        measure=sledai,
        value=Decimal("16"),
        timepoint=TimePoint.BASELINE,
        day=None,
        source_label="Table S2",
    )
    PatientResultFactory(
        patient=patient, measure=sledai, value=Decimal("0"), day=90, source_label="Table S2"
    )
    PatientAdverseEventFactory(patient=patient, grade=1, source_label="Table 3")

    case_paper = PublicationFactory(title="A case report", year=2021, authors=["Mougiakakos"])
    case_arm = ArmFactory(
        study=StudyFactory(title="First case"), source_publication=case_paper, n_patients=1
    )
    ArmProductFactory(arm=case_arm, construct=construct)
    case = PatientFactory(
        arm=case_arm,
        label="Patient 1",
        person=person,
        person_evidence="confirmed",
        follow_up_days=44,
    )
    return {"study": arm.study, "patient": patient, "case": case, "construct": construct}


def test_the_study_page_shows_publications_with_links(client, reported_study):
    html = client.get(f"/studies/{reported_study['study'].pk}/").content.decode()

    assert 'href="https://doi.org/10.1056/nejmoa2308917"' in html
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/38381673/"' in html
    assert 'href="https://clinicaltrials.gov/study/NCT05930314"' in html
    assert "MB-CART19.1" in html and "4-1BB (CD137)" in html
    assert "1 × 10⁶ CAR+ cells/kg" in html


def test_every_number_on_the_study_page_shows_its_source(client, reported_study):
    html = client.get(f"/studies/{reported_study['study'].pk}/").content.decode()

    def source_of(number: str) -> list[str]:
        return re.findall(
            rf'<span class="sourced" tabindex="0" data-source="([^"]+)">{re.escape(number)}<',
            html,
        )

    assert source_of("8") == ["Müller et al. 2024, Table 1"]  # patients treated
    assert "Müller et al. 2024, Methods, p. 3" in source_of("1 × 10⁶ CAR+ cells/kg")
    assert source_of("20") == ["Müller et al. 2024, Table S1"]  # age
    assert source_of("16") == ["Müller et al. 2024, Table S2"]  # baseline SLEDAI-2K
    assert source_of("8 of 8") == ["Müller et al. 2024, Table 2"]  # arm-level DORIS
    assert source_of("grade 1") == ["Müller et al. 2024, Table 3"]  # patient's CRS


def test_a_patient_reported_elsewhere_is_marked_and_linked(client, reported_study):
    case = reported_study["case"]
    html = client.get(f"/studies/{reported_study['study'].pk}/").content.decode()

    link = f'href="/studies/{case.arm.study_id}/#patient-{case.pk}"'
    assert link in html
    assert "Patient 1 in Mougiakakos et al. 2021 (First case)" in html
    assert "Confirmed by the paper" in html
    back = client.get(f"/studies/{case.arm.study_id}/").content.decode()
    assert f'#patient-{reported_study["patient"].pk}"' in back
    assert f'id="patient-{case.pk}"' in back


def test_an_unknown_study_is_a_404(client, db):
    assert client.get("/studies/999999/").status_code == 404


def test_the_construct_page_shows_its_design_and_every_study(client, reported_study):
    construct = reported_study["construct"]
    response = client.get(f"/constructs/{construct.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "zamtocabtagene autoleucel" in html
    assert "Miltenyi" in html
    assert "Erlangen series" in html and "First case" in html
    assert "Used in 2 studies" in html
    assert client.get("/constructs/").status_code == 200
    assert client.get("/constructs/999999/").status_code == 404


def test_the_construct_list_pages_by_fifty_with_each_constructs_study_count(client, db):
    shared = CarConstructFactory(name="AAA shared")
    for _ in range(3):  # three studies give it, one of them in two arms
        arm = ArmFactory()
        ArmProductFactory(arm=arm, construct=shared)
    ArmProductFactory(arm=ArmFactory(study=arm.study), construct=shared)
    for index in range(54):
        CarConstructFactory(name=f"Construct {index:02}")

    with CaptureQueriesContext(connection) as first_queries:
        first = client.get("/constructs/").content.decode()
    second = client.get("/constructs/?page=2").content.decode()

    row = re.search(r'<tr>\s*<td><a href="/constructs/\d+/">AAA shared</a>.*?</tr>', first, re.S)
    assert f'?construct={shared.pk}">3</a>' in row.group(0)
    assert "Page 1 of 2" in first and "Construct 48" in first
    assert "Construct 49" not in first and "Construct 49" in second
    for index in range(30):
        CarConstructFactory(name=f"More {index:02}")
    with CaptureQueriesContext(connection) as later_queries:
        client.get("/constructs/")
    assert len(later_queries) == len(first_queries)


def test_the_disease_page_shows_studies_and_pooled_numbers(client, reported_study):
    full_rebuild()  # stored summaries refresh after a commit, which a test never reaches
    response = client.get("/diseases/sle/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Erlangen series" in html and "First case" in html
    assert 'data-summary="sle/cd19"' in html
    assert client.get("/diseases/").status_code == 200
    assert client.get("/diseases/no-such-disease/").status_code == 404


def test_the_disease_page_of_a_broader_disease_includes_narrower_ones(client, db):
    ArmFactory(
        study=StudyFactory(title="Nephritis study"),
        disease=Disease.objects.get(code="lupus-nephritis"),
    )

    html = client.get("/diseases/sle/").content.decode()

    assert "Nephritis study" in html


def test_the_dashboard_draws_charts_without_scripts_and_with_tables(client, reported_study):
    full_rebuild()  # stored summaries refresh after a commit, which a test never reaches
    html = client.get("/summary/").content.decode()

    assert html.count("<svg") >= 2
    assert "kozea" not in html and "cdn" not in html.lower()
    assert "Response per study (table form of the plot)" in html
    assert 'href="/summary/sle/cd19/#patients"' in html
    assert "/summary/sle/cd19/" in re.search(r"<svg.*?</svg>", html, re.S).group(0)


def _charts(html: str) -> dict[str, str]:
    """The dashboard's SVG charts by their title, each with pygal's random chart id."""
    return {
        re.search(r"<title>(.*?)</title>", svg).group(1): svg
        for svg in re.findall(r"<svg.*?</svg>", html, re.S)
    }


def test_the_dashboard_redraws_a_chart_only_when_its_numbers_change(client, reported_study):
    full_rebuild()
    first = _charts(client.get("/summary/").content.decode())
    again = _charts(client.get("/summary/").content.decode())
    # pygal gives every drawing a new random id: the same id is the same drawing.
    assert again == first and len(first) == 2

    PatientFactory(arm=reported_study["patient"].arm, label="Patient 2")
    full_rebuild()
    changed = _charts(client.get("/summary/").content.decode())

    patients = "Unique patients by disease and target"
    assert changed[patients] != first[patients]
    assert "2 patients" in changed[patients] and "2 patients" not in first[patients]
    forest = "Response per study (main outcome), with 95% Wilson intervals"
    assert changed[forest] == first[forest]  # no response number moved


def test_the_summary_table_follows_new_numbers_and_renamed_diseases(client, reported_study):
    full_rebuild()

    def sle_row():
        html = client.get("/summary/").content.decode()
        row = re.search(r'<tr data-summary="sle/cd19">.*?</tr>', html, re.S).group(0)
        patients = re.search(r'data-metric="patients">(\d+)<', row).group(1)
        return row, int(patients)

    first, patients = sle_row()
    assert sle_row() == (first, patients)  # the same table served again

    # The stored numbers change only with a refresh; the disease's name at once.
    PatientFactory(arm=reported_study["patient"].arm, label="Patient 2")
    Disease.objects.filter(code="sle").update(name="Lupus (SLE)")
    renamed, unchanged = sle_row()
    assert 'title="Lupus (SLE)"' in renamed and unchanged == patients
    full_rebuild()
    assert sle_row()[1] == patients + 1


# The backend REDIS_CACHE_URL configures (tests/test_settings_and_services.py), at a
# Redis address where nothing listens: every cache call fails to connect.
UNREACHABLE_CACHE = {
    "default": {"BACKEND": "carlit.cache.TolerantRedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
}


def test_pages_and_vocabulary_edits_work_while_the_cache_is_unreachable(
    client, reported_study
):
    full_rebuild()
    with override_settings(CACHES=UNREACHABLE_CACHE):
        dashboard = client.get("/summary/").content.decode()
        disease = client.get("/diseases/sle/").content.decode()
        filtered = client.get("/studies/?disease=sle").content.decode()
        api = client.get("/api/v1/studies/?disease=sle").json()  # throttles let it through
        Disease.objects.get(code="sle").save()  # forgets the cached codes

    assert dashboard.count("<svg") == 2
    assert '<tr data-summary="sle/cd19">' in dashboard
    assert '<tr data-summary="sle/cd19">' in disease
    assert "Erlangen series" in filtered
    assert "Erlangen series" in {row["title"] for row in api["results"]}


def test_an_unknown_summary_group_is_a_404(client, db):
    assert client.get("/summary/sle/cd99/").status_code == 404


def test_the_home_page_lists_the_studies(client, reported_study):
    response = client.get("/")

    assert response.status_code == 200
    assert "Erlangen series" in response.content.decode()


def _listed(html: str) -> int:
    return html.count('class="study-link"')


@pytest.mark.parametrize(
    ("url", "catalogue"), [("/", "/studies/"), ("/diseases/sle/", "/studies/?disease=sle")]
)
def test_a_page_lists_the_newest_studies_and_links_to_all(client, db, url, catalogue):
    ArmFactory(study=StudyFactory(title="Oldest study"), source_publication__year=2015)
    ArmFactory.create_batch(NEWEST_COUNT + 5, source_publication__year=2020)
    ArmFactory(study=StudyFactory(title="Newest study"), source_publication__year=2025)
    total = NEWEST_COUNT + 7

    html = client.get(url).content.decode()

    assert _listed(html) == NEWEST_COUNT
    assert "Newest study" in html and "Oldest study" not in html
    assert f"{total} " in re.search(r"<h2>[^<]*studies</h2>", html).group(0)
    assert f'<a href="{catalogue}">See all {total} studies</a>' in html


@pytest.mark.parametrize("url", ["/", "/diseases/sle/"])
def test_a_page_costs_the_same_queries_whatever_the_number_of_studies(client, db, url):
    ArmFactory.create_batch(NEWEST_COUNT + 1)
    client.get(url)  # anything loaded once per process is loaded now
    with CaptureQueriesContext(connection) as fewer:
        client.get(url)
    ArmFactory.create_batch(2 * NEWEST_COUNT)

    with CaptureQueriesContext(connection) as more:
        html = client.get(url).content.decode()

    assert _listed(html) == NEWEST_COUNT
    assert len(more) == len(fewer)


@override_settings(DEBUG=False)
def test_the_404_page_helps_find_the_way(client, db):
    response = client.get("/no/such/page/")

    html = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in html
    assert "/no/such/page/" in html
    assert 'action="/studies/"' in html
    assert 'href="/summary/"' in html


def test_pages_are_labelled_and_navigable(client, reported_study):
    html = client.get("/studies/").content.decode()

    assert '<a class="skip-link" href="#main">' in html
    assert 'aria-current="page"' in html
    assert '<label for="q">' in html
    assert "htmx" in html and "django_htmx/htmx" in html  # served locally, not from a CDN


@pytest.mark.postgres
def test_pages_query_postgresql_without_jit_compilation(db):
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
