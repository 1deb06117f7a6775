"""Named users and vocabulary rows reused across the studies tests."""

from decimal import Decimal

import pytest

from studies.choices import MeasureKind
from tests.factories import (
    AntigenFactory,
    OutcomeMeasureFactory,
    SuperuserFactory,
    UserFactory,
    sle,
)


@pytest.fixture
def curator(db):
    """Staff member who enters data."""
    return UserFactory(username="curator", is_staff=True)


@pytest.fixture
def reviewer(db):
    """Staff member who checks what curators entered."""
    return UserFactory(username="reviewer", is_staff=True)


@pytest.fixture
def outsider(db):
    """Signed-in user with no staff role."""
    return UserFactory(username="outsider")


@pytest.fixture
def superuser(db):
    return SuperuserFactory(username="admin")


@pytest.fixture
def superuser_client(client, superuser):
    """A client signed in as a superuser (without pytest-django's password hashing)."""
    client.force_login(superuser)
    return client


@pytest.fixture
def sle_disease(db):
    return sle()


@pytest.fixture
def sledai(db, sle_disease):
    """SLEDAI-2K, a unitless score from 0 to 105."""
    measure = OutcomeMeasureFactory(
        code="sledai-2k",
        name="SLE Disease Activity Index 2000",
        abbreviation="SLEDAI-2K",
        kind=MeasureKind.SCORE,
        min_value=Decimal("0"),
        max_value=Decimal("105"),
        higher_is_better=False,
    )
    measure.diseases.add(sle_disease)
    return measure


@pytest.fixture
def doris(db):
    """DORIS remission, a yes/no outcome."""
    return OutcomeMeasureFactory(
        code="doris", name="DORIS remission", abbreviation="DORIS", binary=True
    )


@pytest.fixture
def anti_dsdna(db):
    """Anti-dsDNA antibodies, a lab value in IU/mL."""
    return OutcomeMeasureFactory(
        code="anti-dsdna",
        name="Anti-dsDNA antibodies",
        abbreviation="anti-dsDNA",
        kind=MeasureKind.LAB,
        units=["IU/mL"],
        min_value=Decimal("0"),
        max_value=None,
    )


@pytest.fixture
def cd19(db):
    return AntigenFactory(code="cd19", name="CD19")
