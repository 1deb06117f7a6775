"""The rules the studies models keep: database constraints (IntegrityError), model
validation (full_clean, as forms, serializers and imports run it), identity links,
protected deletes and supersession."""

from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, ProtectedError

from studies.choices import GradingSystem, IdentityEvidence
from studies.models import (
    AdverseEvent,
    Arm,
    ArmProduct,
    CarConstruct,
    OutcomeMeasure,
    OutcomeResult,
    Patient,
    Publication,
)
from tests.factories import (
    AdverseEventFactory,
    ArmFactory,
    ArmProductFactory,
    OutcomeResultFactory,
    PatientAdverseEventFactory,
    PatientFactory,
    PatientResultFactory,
    PersonFactory,
    PublicationFactory,
)

pytestmark = pytest.mark.django_db


@contextmanager
def violates(constraint: str):
    """Expects the database to refuse a write by the named constraint, in a savepoint so
    that the test's transaction stays usable."""
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        yield


def messages(error: ValidationError) -> list[str]:
    return [message for field in error.message_dict.values() for message in field]


# Results: database constraints --------------------------------------------------------------


def test_it_rejects_a_result_with_both_a_patient_and_an_arm():
    patient = PatientFactory()

    with violates("result_exactly_one_subject"):
        OutcomeResultFactory(arm=patient.arm, patient=patient)


def test_it_rejects_a_result_without_a_subject():
    with violates("result_exactly_one_subject"):
        OutcomeResultFactory(arm=None, source_publication=PublicationFactory())


def test_it_rejects_a_negative_number_of_evaluable_patients():
    with violates("result_n_evaluable_not_negative"):
        OutcomeResultFactory(n_evaluable=-1, n_events=None)


def test_it_rejects_more_events_than_evaluable_patients():
    with violates("result_events_within_evaluable"):
        OutcomeResultFactory(n_evaluable=5, n_events=6)


@pytest.mark.parametrize(
    "aggregate", [{"n_evaluable": 1}, {"n_events": 1}, {"median": Decimal("3")}, {"sd": 1}]
)
def test_it_rejects_an_aggregate_on_a_patient_result(aggregate):
    with violates("result_patient_has_no_aggregate"):
        PatientResultFactory(**aggregate)


def test_it_rejects_a_result_without_its_place_in_the_publication():
    with violates("studies_outcomeresult_source_label_required"):
        OutcomeResultFactory(source_label="")


def test_it_rejects_a_blank_source_label_on_every_sourced_row():
    for factory in (ArmFactory, PatientFactory, ArmProductFactory, AdverseEventFactory):
        with violates("source_label_required"):
            factory(source_label="")


def test_it_accepts_valid_arm_and_patient_results():
    OutcomeResultFactory()
    PatientResultFactory()

    assert OutcomeResult.objects.filter(arm__isnull=False).count() == 1
    assert OutcomeResult.objects.filter(patient__isnull=False).count() == 1


# Adverse events: database constraints --------------------------------------------------


def test_it_rejects_astct_grade_5():
    with violates("adverse_event_grade_in_system_range"):
        AdverseEventFactory(grading_system=GradingSystem.ASTCT, grade=5)


def test_it_rejects_a_grade_without_its_grading_system():
    with violates("adverse_event_grade_in_system_range"):
        AdverseEventFactory(grading_system="", grade=2)


def test_it_accepts_astct_grade_0_and_ctcae_grade_5():
    AdverseEventFactory(grading_system=GradingSystem.ASTCT, grade=0)
    PatientAdverseEventFactory(grading_system=GradingSystem.CTCAE, grade=5)

    assert AdverseEvent.objects.count() == 2


def test_it_rejects_an_arm_adverse_event_without_the_number_affected():
    with violates("adverse_event_arm_row_has_count"):
        AdverseEventFactory(n_affected=None)


def test_it_rejects_patient_counts_on_a_patient_adverse_event():
    with violates("adverse_event_patient_row_has_no_count"):
        PatientAdverseEventFactory(n_affected=1, n_evaluable=1)


def test_it_rejects_more_affected_than_evaluable_patients():
    with violates("adverse_event_affected_within_evaluable"):
        AdverseEventFactory(n_affected=6, n_evaluable=5)


# Results: model validation ----------------------------------------------------------------


def patient_result(patient, measure, **values) -> OutcomeResult:
    """An unsaved result for full_clean(), as a form or import would have it."""
    return PatientResultFactory.build(
        patient=patient, measure=measure, created_by=patient.created_by, **values
    )


def test_it_refuses_a_sledai_value_above_its_range(sledai):
    result = patient_result(PatientFactory(), sledai, value=Decimal("120"))

    with pytest.raises(ValidationError) as error:
        result.full_clean()

    assert error.value.message_dict["value"] == ["120 is outside SLEDAI-2K's range 0–105"]


def test_it_accepts_a_sledai_value_within_its_range(sledai):
    result = patient_result(PatientFactory(), sledai, value=Decimal("105"))

    result.full_clean()


def test_it_refuses_a_value_in_a_unit_the_measure_does_not_use(anti_dsdna):
    result = patient_result(PatientFactory(), anti_dsdna, value=Decimal("250"), unit="mg/dL")

    with pytest.raises(ValidationError) as error:
        result.full_clean()

    assert error.value.message_dict["unit"] == [
        "'mg/dL' is not a unit of anti-dsDNA; use one of: IU/mL"
    ]


def test_it_refuses_a_number_for_a_yes_no_measure(doris):
    result = patient_result(PatientFactory(), doris, value=Decimal("1"))

    with pytest.raises(ValidationError) as error:
        result.full_clean()

    assert error.value.message_dict["value"] == [
        "DORIS is yes/no: record yes/no or events, not a number."
    ]
    assert "value_bool" in error.value.message_dict


def test_it_accepts_yes_for_a_patient_and_events_for_an_arm(doris):
    patient = PatientFactory()
    patient_result(patient, doris, value=None, value_bool=True).full_clean()

    arm_result = OutcomeResultFactory.build(
        arm=patient.arm, measure=doris, created_by=patient.created_by, n_evaluable=8, n_events=8
    )
    arm_result.full_clean()


def test_it_refuses_an_arm_result_without_its_denominator(doris):
    arm = ArmFactory()
    result = OutcomeResultFactory.build(
        arm=arm, measure=doris, created_by=arm.created_by, n_evaluable=None, n_events=3
    )

    with pytest.raises(ValidationError) as error:
        result.full_clean()

    assert "n_evaluable" in error.value.message_dict


def test_it_explains_events_above_the_denominator_in_validation(doris):
    arm = ArmFactory()
    result = OutcomeResultFactory.build(
        arm=arm, measure=doris, created_by=arm.created_by, n_evaluable=5, n_events=6
    )

    with pytest.raises(ValidationError) as error:
        result.full_clean()

    assert "Events cannot exceed the evaluable patients." in messages(error.value)


def test_it_refuses_an_astct_grade_5_in_validation():
    arm = ArmFactory()
    event = AdverseEventFactory.build(arm=arm, created_by=arm.created_by, grade=5)

    with pytest.raises(ValidationError) as error:
        event.full_clean()

    assert error.value.message_dict["grade"] == ["Grade 5 is outside ASTCT grades 0-4"]


# Patients and identity links ---------------------------------------------------------------


def test_it_counts_two_linked_reports_of_one_person_once():
    person = PersonFactory()
    case_report = PatientFactory(person=person, person_evidence=IdentityEvidence.CONFIRMED)
    series = PatientFactory(person=person, person_evidence=IdentityEvidence.PROBABLE)

    assert case_report.source_publication != series.source_publication
    assert set(person.reports.all()) == {case_report, series}
    distinct = Patient.objects.aggregate(people=Count("person", distinct=True))
    assert distinct["people"] == 1


def test_it_rejects_an_identity_link_without_evidence():
    with violates("patient_identity_link_has_evidence"):
        PatientFactory(person=PersonFactory(), person_evidence="")


def test_it_rejects_identity_evidence_without_a_person():
    with violates("patient_identity_link_has_evidence"):
        PatientFactory(person=None, person_evidence=IdentityEvidence.CONFIRMED)


def test_it_asks_for_the_evidence_of_an_identity_link_in_validation():
    patient = PatientFactory()
    patient.person = PersonFactory()

    with pytest.raises(ValidationError) as error:
        patient.full_clean()

    assert error.value.message_dict["person_evidence"] == [
        "Say whether the identity link is confirmed or probable."
    ]


def test_it_refuses_a_patient_cited_from_a_publication_that_does_not_report_the_study():
    arm = ArmFactory()
    patient = PatientFactory.build(
        arm=arm, source_publication=PublicationFactory(), created_by=arm.created_by
    )

    with pytest.raises(ValidationError) as error:
        patient.full_clean()

    assert "source_publication" in error.value.message_dict


# Protected deletes -------------------------------------------------------------------------


@pytest.fixture
def curated_graph(sledai):
    """An arm with a product, a patient, results for both and an adverse event."""
    patient = PatientFactory()
    arm = patient.arm
    ArmProductFactory(arm=arm)
    PatientResultFactory(patient=patient, measure=sledai, value=Decimal("2"))
    OutcomeResultFactory(arm=arm, measure=sledai, median=Decimal("2"), n_events=None)
    PatientAdverseEventFactory(patient=patient)
    return patient


def row_counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            Publication,
            OutcomeMeasure,
            Arm,
            ArmProduct,
            Patient,
            CarConstruct,
            OutcomeResult,
            AdverseEvent,
        )
    }


@pytest.mark.parametrize(
    "target",
    [
        lambda patient: patient.source_publication,
        lambda patient: patient.results.get().measure,
        lambda patient: patient.arm,
        lambda patient: patient,
        lambda patient: patient.arm.products.get().construct,
    ],
    ids=["publication", "measure", "arm", "patient", "construct"],
)
def test_it_refuses_to_delete_a_row_that_curated_results_depend_on(curated_graph, target):
    before = row_counts()

    with pytest.raises(ProtectedError):
        target(curated_graph).delete()

    assert row_counts() == before


# Supersession ----------------------------------------------------------------------------


def test_it_refuses_a_publication_superseding_itself():
    publication = PublicationFactory()
    publication.superseded_by = publication

    with pytest.raises(ValidationError) as error:
        publication.full_clean()
    assert "A publication cannot supersede itself." in messages(error.value)

    with violates("publication_not_superseded_by_itself"):
        publication.save()


def test_it_refuses_a_cycle_of_supersession():
    abstract = PublicationFactory()
    article = PublicationFactory()
    update = PublicationFactory(superseded_by=article)
    abstract.superseded_by = update
    abstract.save()
    article.superseded_by = abstract

    with pytest.raises(ValidationError) as error:
        article.full_clean()

    assert error.value.message_dict["superseded_by"] == ["This would make a cycle of supersession."]


def test_it_accepts_a_chain_of_supersession():
    article = PublicationFactory()
    abstract = PublicationFactory.build(
        superseded_by=PublicationFactory(superseded_by=article), created_by=article.created_by
    )

    abstract.full_clean()
