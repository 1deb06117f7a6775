"""Pooled disease × target numbers (studies.summary) against hand-computed fixtures."""

import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from studies.choices import AdverseEventType, PublicationType, TimePoint
from studies.models import Disease, OutcomeMeasure
from studies.summary import (
    CRS_ANY,
    CRS_GRADE_2,
    ICANS_ANY,
    RESPONSE,
    Rate,
    pooled_studies,
    pooled_summaries,
    pooled_summary,
    wilson_interval,
)
from summaries import drilldown
from summaries.services import full_rebuild
from tests.factories import (
    AdverseEventFactory,
    AntigenFactory,
    ArmFactory,
    ArmProductFactory,
    CarConstructFactory,
    OutcomeResultFactory,
    PatientAdverseEventFactory,
    PatientFactory,
    PatientResultFactory,
    PersonFactory,
    PublicationFactory,
    StudyFactory,
    StudyReportFactory,
    sle,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def doris(db):
    return OutcomeMeasure.objects.get(code="doris")


@pytest.fixture
def cd19_product(db):
    return CarConstructFactory(name="TEST-CD19", targets=[AntigenFactory(code="cd19")])


def cd19_arm(study, publication, n_patients, product):
    arm = ArmFactory(study=study, source_publication=publication, n_patients=n_patients)
    ArmProductFactory(arm=arm, construct=product)
    return arm


def patient_doris(patient, doris, achieved: bool, day: int = 180):
    return PatientResultFactory(
        patient=patient,
        measure=doris,
        value=None,
        value_bool=achieved,
        timepoint=TimePoint.DAY,
        day=day,
    )


# Wilson intervals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "evaluable", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (1, 2, 0.0945, 0.9055),
        (8, 8, 0.6756, 1.0),
        (7, 8, 0.5291, 0.9776),
    ],
)
def test_wilson_interval_matches_published_values(events, evaluable, low, high):
    got_low, got_high = wilson_interval(events, evaluable)
    assert got_low == pytest.approx(low, abs=5e-4)
    assert got_high == pytest.approx(high, abs=5e-4)


def test_wilson_interval_refuses_an_empty_denominator():
    with pytest.raises(ValueError):
        wilson_interval(0, 0)
    assert Rate(0, 0).interval is None


# The acceptance fixture -------------------------------------------------------------------------


@pytest.fixture
def linked_person_fixture(doris, cd19_product):
    """SLE × CD19, computed by hand:

    Study A, a case report (2022): Patient 1 = person X, follow-up 90 days, DORIS yes,
    CRS grade 1.
    Study B, a series, three publications: an early report (cut-off 2022-06-30) with an
    arm-level DORIS 2 of 2; a conference abstract superseded by the full paper, with
    DORIS 5 of 5; and the full paper (cut-off 2024-01-31) with three patients:
    P1 = person X (follow-up 400 days, DORIS yes, CRS grade 2), P2 (DORIS no, no CRS:
    grade 0) and P3 (nothing reported).

    Pooled: 2 studies, 4 publications, 3 unique patients (person X once, from study B
    with the longer follow-up); DORIS 1 of 2 evaluable (P3 unknown, case report's
    patient counted in B); CRS any 1 of 2, grade ≥ 2 1 of 2; ICANS not reported.
    """
    person = PersonFactory()
    study_a = StudyFactory(title="Case report A")
    case_paper = PublicationFactory(year=2022, publication_type=PublicationType.CASE_REPORT)
    arm_a = cd19_arm(study_a, case_paper, 1, cd19_product)
    case = PatientFactory(
        arm=arm_a,
        label="Patient 1",
        person=person,
        person_evidence="confirmed",
        follow_up_days=90,
    )
    patient_doris(case, doris, True, day=90)
    PatientAdverseEventFactory(patient=case, grade=1)

    study_b = StudyFactory(title="Series B")
    early = PublicationFactory(year=2022)
    paper = PublicationFactory(year=2024)
    abstract = PublicationFactory(
        year=2023,
        publication_type=PublicationType.CONFERENCE_ABSTRACT,
        superseded_by=paper,
    )
    StudyReportFactory(study=study_b, publication=early, data_cutoff=date(2022, 6, 30))
    StudyReportFactory(study=study_b, publication=abstract, data_cutoff=date(2023, 9, 1))
    StudyReportFactory(study=study_b, publication=paper, data_cutoff=date(2024, 1, 31))
    arm_b = cd19_arm(study_b, paper, 3, cd19_product)
    OutcomeResultFactory(
        arm=arm_b, measure=doris, n_events=2, n_evaluable=2, source_publication=early
    )
    OutcomeResultFactory(
        arm=arm_b, measure=doris, n_events=5, n_evaluable=5, source_publication=abstract
    )
    p1 = PatientFactory(
        arm=arm_b, label="P1", person=person, person_evidence="confirmed", follow_up_days=400
    )
    p2 = PatientFactory(arm=arm_b, label="P2", follow_up_days=365)
    PatientFactory(arm=arm_b, label="P3")
    patient_doris(p1, doris, True)
    patient_doris(p2, doris, False)
    PatientAdverseEventFactory(patient=p1, grade=2)
    PatientAdverseEventFactory(patient=p2, grade=0)
    return {"person": person, "case": case, "p1": p1}


def test_two_publications_reporting_one_person_count_that_person_once(linked_person_fixture):
    pooled = pooled_summary("sle", "cd19")

    assert pooled.studies == 2
    assert pooled.publications == 4
    assert pooled.patients == 3
    assert pooled.rate(RESPONSE) == Rate(1, 2)
    assert pooled.rate(CRS_ANY) == Rate(1, 2)
    assert pooled.rate(CRS_GRADE_2) == Rate(1, 2)
    assert pooled.rate(ICANS_ANY) is None
    reasons = " ".join(e.reason for e in pooled.exclusions)
    assert "same person as P1 in Series B" in reasons
    assert "superseded" in reasons
    assert "earlier report" in reasons


def test_without_the_identity_link_the_person_would_count_twice(linked_person_fixture):
    case = linked_person_fixture["case"]
    case.person, case.person_evidence = None, ""
    case.save()

    pooled = pooled_summary("sle", "cd19")

    assert pooled.patients == 4
    assert pooled.rate(RESPONSE) == Rate(2, 3)


def test_dashboard_shows_the_hand_computed_numbers(client, linked_person_fixture):
    full_rebuild()  # the dashboard reads stored summaries, refreshed after a commit
    response = client.get("/summary/")

    assert response.status_code == 200
    html = response.content.decode()
    row = re.search(r'<tr data-summary="sle/cd19">(.*?)</tr>', html, re.S).group(1)
    cells = [
        re.sub(r"<[^>]+>|\s+", " ", cell).split()
        for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
    ]
    # disease, target, studies, publications, patients, response, drug-free, CRS, CRS≥2, ICANS
    assert cells[2][0] == "2"
    assert cells[3][0] == "4"
    assert cells[4][0] == "3"
    assert cells[5][:2] == ["1/2", "50%"]
    assert cells[5][2] == "(9–91%)"
    assert cells[6] == ["n.r."]
    assert cells[7][0] == "1/2"
    assert cells[8][0] == "1/2"
    assert cells[9] == ["n.r."]


def test_drill_down_lists_the_rows_behind_each_number(client, linked_person_fixture):
    full_rebuild()  # the page reads the group's totals and studies from the snapshot
    response = client.get("/summary/sle/cd19/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="patients"' in html and 'id="response"' in html
    assert "P1" in html and "P2" in html and "P3" in html
    assert "DORIS: yes (day 180)" in html
    assert "Table 1" in html  # the source location of every row
    assert "same person as P1" in html


def _section(html: str, section: str) -> str:
    return re.search(rf'<section id="{section}".*?</section>', html, re.S).group(0)


def test_drill_down_pages_through_the_studies_with_the_groups_totals(
    client, linked_person_fixture, monkeypatch
):
    """One study per page: each page lists its own study's rows, by title, under the
    whole group's totals; the person counted in Series B is excluded on page 1 even
    though Series B's rows are on page 2."""
    monkeypatch.setattr(drilldown, "STUDIES_PER_PAGE", 1)
    full_rebuild()

    first = client.get("/summary/sle/cd19/").content.decode()
    second = client.get("/summary/sle/cd19/?page=2").content.decode()

    for html in (first, second):
        assert "Unique patients: 3</h2>" in html
        assert "2 studies, 4 publications</h2>" in html
        assert "Responders (main outcome): 1 of 2 evaluable" in html
    assert "studies 1–1 of 2 (by title)" in first and "Page 1 of 2" in first
    assert "Case report A" in _section(first, "studies")
    assert "Series B" not in _section(first, "studies")
    assert "same person as P1 in Series B" in _section(first, "excluded")
    assert "superseded" not in _section(first, "excluded")

    assert "Series B" in _section(second, "studies")
    assert "Case report A" not in _section(second, "studies")
    patients = _section(second, "patients")
    assert "P1" in patients and "P2" in patients and "P3" in patients
    assert "superseded" in _section(second, "excluded")
    assert 'rel="prev" href="?page=1"' in second


def _linked_series(count: int, doris, product) -> None:
    """``count`` studies of two patients each; each study's first patient is the same
    person as the previous study's second one."""
    previous = None
    for index in range(count):
        study = StudyFactory(title=f"Series {index:03}")
        paper = PublicationFactory(year=2024)
        StudyReportFactory(study=study, publication=paper)
        arm = cd19_arm(study, paper, 2, product)
        first = PatientFactory(arm=arm, source_publication=paper, follow_up_days=100 + index,
                               person=previous, person_evidence="confirmed" if previous else "")
        second = PatientFactory(arm=arm, source_publication=paper, person=PersonFactory(),
                                person_evidence="confirmed")
        patient_doris(first, doris, True)
        PatientAdverseEventFactory(patient=second, grade=1)
        previous = second.person


def test_drill_down_queries_do_not_grow_with_the_group(client, doris, cd19_product):
    _linked_series(3, doris, cd19_product)
    full_rebuild()
    with CaptureQueriesContext(connection) as small:
        assert client.get("/summary/sle/cd19/").status_code == 200

    _linked_series(40, doris, cd19_product)  # more than a page
    full_rebuild()
    with CaptureQueriesContext(connection) as large:
        html = client.get("/summary/sle/cd19/?page=2").content.decode()

    assert "Page 2 of 2" in html
    assert len(large) == len(small)


def test_drill_down_of_a_group_without_stored_numbers_is_a_404(client, linked_person_fixture):
    # Before the first refresh no stored row exists: the page says so rather than pool.
    assert client.get("/summary/sle/cd19/").status_code == 404


# Latest report, superseded reports ----------------------------------------------------------------


def test_a_study_counts_once_from_its_latest_report(doris, cd19_product):
    """Mackensen 2022 (5 patients) inside Müller 2024 (8 patients): 8, not 13."""
    study = StudyFactory(title="Erlangen")
    first = PublicationFactory(year=2022, authors=["Mackensen"])
    update = PublicationFactory(year=2024, authors=["Müller"])
    StudyReportFactory(study=study, publication=first, data_cutoff=date(2022, 3, 1))
    StudyReportFactory(study=study, publication=update, data_cutoff=date(2023, 8, 1))
    old_arm = cd19_arm(study, first, 5, cd19_product)
    OutcomeResultFactory(arm=old_arm, measure=doris, n_events=5, n_evaluable=5)
    arm = ArmFactory(study=study, label="SLE", source_publication=update, n_patients=8)
    ArmProductFactory(arm=arm, construct=cd19_product)
    OutcomeResultFactory(arm=arm, measure=doris, n_events=8, n_evaluable=8)

    pooled = pooled_summary("sle", "cd19")

    assert pooled.studies == 1
    assert pooled.publications == 2
    assert pooled.patients == 8
    assert pooled.rate(RESPONSE) == Rate(8, 8)
    assert pooled.contributions[0].report == update


def test_a_page_of_studies_counts_the_report_that_pooling_everything_counts(
    doris, cd19_product
):
    """Which reports give data on an arm depends on the main outcomes of every disease
    in the data: an SSc series' update with only a DORIS row counts because an SLE study
    exists elsewhere, on the drill-down's page of that one study too."""
    cd19_arm(StudyFactory(title="SLE elsewhere"), PublicationFactory(year=2021), 3,
             cd19_product)
    series = StudyFactory(title="SSc series")
    first, update = PublicationFactory(year=2022), PublicationFactory(year=2024)
    StudyReportFactory(study=series, publication=first, data_cutoff=date(2022, 3, 1))
    StudyReportFactory(study=series, publication=update, data_cutoff=date(2024, 3, 1))
    arm = cd19_arm(series, first, 4, cd19_product)
    arm.disease = Disease.objects.get(code="ssc")
    arm.save()
    OutcomeResultFactory(arm=arm, measure=doris, n_events=1, n_evaluable=4,
                         source_publication=update)

    everything = pooled_summary("ssc", "cd19")
    page = pooled_studies("ssc", "cd19", [series.pk])

    assert [c.report for c in everything.contributions] == [update]
    assert [c.report for c in page.contributions] == [update]


def test_a_superseded_abstract_is_not_pooled_even_with_a_later_cutoff(doris, cd19_product):
    study = StudyFactory()
    paper = PublicationFactory(year=2024)
    abstract = PublicationFactory(
        year=2024, publication_type=PublicationType.CONFERENCE_ABSTRACT, superseded_by=paper
    )
    StudyReportFactory(study=study, publication=paper, data_cutoff=date(2024, 5, 1))
    StudyReportFactory(study=study, publication=abstract, data_cutoff=date(2024, 9, 1))
    arm = cd19_arm(study, paper, 6, cd19_product)
    OutcomeResultFactory(arm=arm, measure=doris, n_events=4, n_evaluable=6)
    OutcomeResultFactory(
        arm=arm, measure=doris, n_events=6, n_evaluable=6, source_publication=abstract
    )

    pooled = pooled_summary("sle", "cd19")

    assert pooled.rate(RESPONSE) == Rate(4, 6)
    assert pooled.patients == 6


def test_a_study_known_only_from_a_superseded_abstract_adds_nothing(doris, cd19_product):
    elsewhere = PublicationFactory(year=2025)
    abstract = PublicationFactory(
        year=2024, publication_type=PublicationType.CONFERENCE_ABSTRACT, superseded_by=elsewhere
    )
    arm = cd19_arm(StudyFactory(), abstract, 6, cd19_product)
    OutcomeResultFactory(arm=arm, measure=doris, n_events=6, n_evaluable=6)

    assert pooled_summary("sle", "cd19") is None


# Targets, arm-level safety, unknown is not zero ---------------------------------------------------


def test_dual_target_products_form_their_own_group(doris, cd19_product):
    bcma = AntigenFactory(code="bcma")
    dual = CarConstructFactory(name="TEST-CD19-BCMA", targets=[bcma, AntigenFactory(code="cd19")])
    arm = ArmFactory(n_patients=3)
    ArmProductFactory(arm=arm, construct=dual)
    cd19_arm(StudyFactory(), PublicationFactory(), 2, cd19_product)

    keys = [s.key for s in pooled_summaries()]

    assert ("sle", "cd19+bcma") in keys
    assert ("sle", "cd19") in keys
    assert pooled_summary("sle", "cd19+bcma").targets.label == "CD19+BCMA"
    assert pooled_summary("sle", "cd19+bcma").patients == 3


def test_arm_level_crs_by_grade_is_pooled_as_worst_grade(cd19_product):
    arm = cd19_arm(StudyFactory(), PublicationFactory(), 5, cd19_product)
    AdverseEventFactory(arm=arm, grade=1, n_affected=3, n_evaluable=5)
    AdverseEventFactory(arm=arm, grade=2, n_affected=1, n_evaluable=5)
    AdverseEventFactory(
        arm=arm,
        event_type=AdverseEventType.ICANS,
        grade=None,
        grading_system="",
        n_affected=0,
        n_evaluable=5,
    )

    pooled = pooled_summary("sle", "cd19")

    assert pooled.rate(CRS_ANY) == Rate(4, 5)
    assert pooled.rate(CRS_GRADE_2) == Rate(1, 5)
    assert pooled.rate(ICANS_ANY) == Rate(0, 5)


def test_a_study_that_does_not_report_a_measure_adds_nothing_to_its_denominator(
    doris, cd19_product
):
    reporting = cd19_arm(StudyFactory(), PublicationFactory(), 4, cd19_product)
    OutcomeResultFactory(arm=reporting, measure=doris, n_events=3, n_evaluable=4)
    cd19_arm(StudyFactory(), PublicationFactory(), 10, cd19_product)  # says nothing

    pooled = pooled_summary("sle", "cd19")

    assert pooled.patients == 14
    assert pooled.rate(RESPONSE) == Rate(3, 4)
    assert pooled.rate(CRS_ANY) is None
    missing = [c.study for c in pooled.breakdown[0].not_reported]
    assert len(missing) == 1


def test_summaries_take_a_fixed_number_of_queries(django_assert_max_num_queries, cd19_product):
    for _ in range(5):
        cd19_arm(StudyFactory(), PublicationFactory(), 2, cd19_product)
    with django_assert_max_num_queries(15):
        pooled_summaries()


def test_as_dict_gives_plain_numbers_for_the_api(doris, cd19_product):
    arm = cd19_arm(StudyFactory(), PublicationFactory(), 4, cd19_product)
    OutcomeResultFactory(arm=arm, measure=doris, n_events=3, n_evaluable=4)

    data = pooled_summary("sle", "cd19").as_dict()

    assert data["disease"] == "sle"
    assert data["targets"] == ["cd19"]
    assert data["patients"] == 4
    assert data["response"]["events"] == 3
    assert data["response"]["evaluable"] == 4
    assert data["response"]["ci_low"] == pytest.approx(wilson_interval(3, 4)[0])
    assert data["crs_any"] is None
    assert sle().code == data["disease"]
