"""Fixtures for the stored summaries: seeded measures, a CD19 product, a clean queue."""

import pytest

from studies.models import OutcomeMeasure
from summaries.models import PendingRefresh
from tests.factories import AntigenFactory, CarConstructFactory


@pytest.fixture
def empty_queue(db):
    """No pending refresh (the migration queues a first full build)."""
    PendingRefresh.objects.all().delete()


@pytest.fixture
def doris(db):
    return OutcomeMeasure.objects.get(code="doris")


@pytest.fixture
def cd19_product(db):
    return CarConstructFactory(name="TEST-CD19", targets=[AntigenFactory(code="cd19")])
