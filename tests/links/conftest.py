"""A small catalogue for the links tests (the named people are in tests/conftest.py):
one SLE × CD19 study reported twice, and a case report whose patient is later
re-reported in another study's series."""

from decimal import Decimal

import pytest

from studies.models import OutcomeMeasure
from summaries.models import PendingRefresh
from tests.factories import (
    AntigenFactory,
    ArmFactory,
    ArmProductFactory,
    CarConstructFactory,
    PatientFactory,
    PatientResultFactory,
    PublicationFactory,
)


@pytest.fixture
def empty_queue(db):
    PendingRefresh.objects.all().delete()


@pytest.fixture
def doris(db):
    return OutcomeMeasure.objects.get(code="doris")


@pytest.fixture
def cd19_product(db):
    return CarConstructFactory(name="TEST-CD19", targets=[AntigenFactory(code="cd19")])


def arm_with(product, *, n_patients, **kwargs):
    arm = ArmFactory(n_patients=n_patients, **kwargs)
    ArmProductFactory(arm=arm, construct=product)
    return arm


@pytest.fixture
def reports(empty_queue, doris, cd19_product):
    """A case report (90 days, DORIS yes) and, in another study, a series of two: the
    same woman at 400 days (DORIS no) and another patient at 200 days (DORIS yes)."""
    case_paper = PublicationFactory(authors=["Casewriter"], year=2022,
                                    publication_type="case_report")
    series_paper = PublicationFactory(authors=["Serieslead"], year=2024)
    case = PatientFactory(
        arm=arm_with(cd19_product, n_patients=1, source_publication=case_paper),
        label="Patient 1", age_years=Decimal("24"), follow_up_days=90,
    )
    series = arm_with(cd19_product, n_patients=2, source_publication=series_paper)
    later = PatientFactory(arm=series, label="Patient 3", age_years=Decimal("25"),
                           follow_up_days=400)
    other = PatientFactory(arm=series, label="Patient 4", age_years=Decimal("41"),
                           follow_up_days=200)
    for patient, remission in ((case, True), (later, False), (other, True)):
        PatientResultFactory(patient=patient, measure=doris, value=None, value_bool=remission)
    return {"case": case, "later": later, "other": other}
