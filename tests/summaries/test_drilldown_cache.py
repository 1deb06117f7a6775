"""A group's drill-down page keeps the drawing of its rows in the cache, under the
committed data's version (summaries_tags.group_rows).

These tests commit (transaction=True): the version moves when a change commits."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from studies import rendered
from studies.choices import TimePoint
from summaries.services import full_rebuild
from tests.factories import (
    ArmFactory,
    ArmProductFactory,
    PatientFactory,
    PatientResultFactory,
    PublicationFactory,
    StudyFactory,
    StudyReportFactory,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

URL = "/summary/sle/cd19/"
# The live rows the page pools; a page drawn from the cache reads none of them.
LIVE_TABLES = ("studies_patient", "studies_outcomeresult", "studies_adverseevent")


@pytest.fixture
def patient(doris, cd19_product):
    """One SLE × CD19 study with one patient who reached DORIS, refreshed."""
    study = StudyFactory(title="Erlangen series")
    paper = PublicationFactory(year=2024)
    StudyReportFactory(study=study, publication=paper)
    arm = ArmFactory(study=study, source_publication=paper, n_patients=1)
    ArmProductFactory(arm=arm, construct=cd19_product)
    patient = PatientFactory(arm=arm, label="Patient 1", source_publication=paper)
    PatientResultFactory(patient=patient, measure=doris, value=None, value_bool=True,
                         timepoint=TimePoint.DAY, day=180)
    full_rebuild()
    return patient


def _reads_live_rows(queries: CaptureQueriesContext) -> bool:
    return any(table in query["sql"] for query in queries for table in LIVE_TABLES)


def test_the_rows_are_drawn_once_and_again_after_a_committed_change(client, patient):
    with CaptureQueriesContext(connection) as first:
        html = client.get(URL).content.decode()
    with CaptureQueriesContext(connection) as again:
        same = client.get(URL).content.decode()

    assert "Patient 1" in html and "DORIS: yes (day 180)" in html
    assert same == html
    assert _reads_live_rows(first) and not _reads_live_rows(again)

    # The rows are live: a committed edit shows at once, before any summary refresh.
    patient.label = "Patient 1 (renamed)"
    patient.save()
    with CaptureQueriesContext(connection) as changed:
        renamed = client.get(URL).content.decode()

    assert _reads_live_rows(changed)
    assert "Patient 1 (renamed)" in renamed
    assert client.get(URL).content.decode() == renamed


def test_a_reader_with_uncommitted_changes_sees_them_and_keeps_nothing(client, patient):
    assert "Patient 1" in client.get(URL).content.decode()  # drawn and kept

    with pytest.raises(RuntimeError), transaction.atomic():
        patient.label = "Not committed"
        patient.save()
        # The transaction that made the change sees it, drawn anew.
        assert "Not committed" in client.get(URL).content.decode()
        raise RuntimeError("roll back")

    after = client.get(URL).content.decode()
    assert "Not committed" not in after and "Patient 1" in after


def test_drawn_anew_pools_the_rows_again_and_keeps_the_new_drawing(client, patient):
    kept = client.get(URL).content.decode()
    with rendered.drawn_anew(), CaptureQueriesContext(connection) as anew:
        again = client.get(URL).content.decode()
    with CaptureQueriesContext(connection) as after:
        client.get(URL)

    assert again == kept
    assert _reads_live_rows(anew) and not _reads_live_rows(after)
