"""Named API clients (anonymous, curator, staff) and a small sourced data set.

"curator" is a signed-in user without staff status: until the curation workflow
lands, the API lets only staff write. Tokens are sent as ``Authorization: Token``."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from studies.choices import GradingSystem, SourceKind, TimePoint
from studies.models import Antigen, Disease, OutcomeMeasure
from tests.factories import (
    AdverseEventFactory,
    ArmFactory,
    ArmProductFactory,
    CarConstructFactory,
    OutcomeResultFactory,
    PatientAdverseEventFactory,
    PatientFactory,
    PatientResultFactory,
    PublicationFactory,
    RegistryIdFactory,
    StudyFactory,
    UserFactory,
)

UNLIMITED = {"anon": "100000/minute", "user": "100000/minute"}


@pytest.fixture(autouse=True)
def _fresh_throttle(settings):
    """Each test starts with empty rate-limit counters and generous limits."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": UNLIMITED}
    cache.clear()
    yield
    cache.clear()


def token_client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def staff(db):
    return UserFactory(username="staff-api", is_staff=True)


@pytest.fixture
def curator(db):
    return UserFactory(username="curator-api")


@pytest.fixture
def anonymous_client():
    return APIClient()


@pytest.fixture
def curator_client(curator):
    return token_client(curator)


@pytest.fixture
def staff_client(staff):
    return token_client(staff)


@pytest.fixture
def sle(db):
    return Disease.objects.get(code="sle")


@pytest.fixture
def cd19(db):
    return Antigen.objects.get(code="cd19")


@pytest.fixture
def sledai(db):
    return OutcomeMeasure.objects.get(code="sledai-2k")


@pytest.fixture
def doris(db):
    return OutcomeMeasure.objects.get(code="doris")


@pytest.fixture
def erlangen(db, sle, cd19, sledai, doris):
    """An SLE study reported by one paper: an arm with a CD19 product, two patients
    with SLEDAI-2K scores and CRS, and the arm's DORIS count."""
    publication = PublicationFactory(
        title="CD19 CAR T-cell therapy in refractory SLE",
        journal="Test Medicine",
        year=2022,
        doi="10.5555/erlangen.2022",
        pmid=35000001,
        authors=["Mackensen", "Müller"],
    )
    study = StudyFactory(title="Erlangen CD19 CAR-T in SLE", short_name="Erlangen SLE")
    RegistryIdFactory(study=study, identifier="NCT05000001")
    construct = CarConstructFactory(name="MB-CART19.1 (test)", targets=[cd19])
    arm = ArmFactory(
        study=study, label="SLE", disease=sle, n_patients=2, source_publication=publication
    )
    ArmProductFactory(arm=arm, construct=construct)
    patients = [PatientFactory(arm=arm, label=f"Patient {n}", primary_disease=sle) for n in (1, 2)]
    for patient, (before, after) in zip(patients, [(16, 0), (8, 2)], strict=True):
        PatientResultFactory(
            patient=patient,
            measure=sledai,
            timepoint=TimePoint.BASELINE,
            day=None,
            value=Decimal(before),
        )
        PatientResultFactory(
            patient=patient, measure=sledai, timepoint=TimePoint.DAY, day=90, value=Decimal(after)
        )
        PatientAdverseEventFactory(patient=patient, grading_system=GradingSystem.ASTCT, grade=1)
    OutcomeResultFactory(
        arm=arm,
        measure=doris,
        n_evaluable=2,
        n_events=2,
        source_kind=SourceKind.TEXT,
        source_label="p. 3",
    )
    AdverseEventFactory(arm=arm, n_affected=2, n_evaluable=2, grade=1)
    return {
        "publication": publication,
        "study": study,
        "arm": arm,
        "construct": construct,
        "patients": patients,
    }
