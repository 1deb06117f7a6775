"""A group's drill-down page keeps the drawing of its rows in the cache, under the
committed data's version (summaries_tags.group_rows).

These tests commit (transaction=True): the version moves when a change commits."""

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from studies import rendered
from studies.choices import TimePoint
from summaries import drilldown
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
from tests.studies.test_catalogue_pages import UNREACHABLE_CACHE

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

URL = "/summary/sle/cd19/"
# The live rows the page pools; a page drawn from the cache reads none of them.
LIVE_TABLES = ("studies_patient", "studies_outcomeresult", "studies_adverseevent")


def _study_in_group(title: str, doris, product):
    """An SLE × CD19 study with one patient who reached DORIS; returns the patient."""
    study = StudyFactory(title=title)
    paper = PublicationFactory(year=2024)
    StudyReportFactory(study=study, publication=paper)
    arm = ArmFactory(study=study, source_publication=paper, n_patients=1)
    ArmProductFactory(arm=arm, construct=product)
    patient = PatientFactory(arm=arm, label="Patient 1", source_publication=paper)
    PatientResultFactory(patient=patient, measure=doris, value=None, value_bool=True,
                         timepoint=TimePoint.DAY, day=180)
    return patient


@pytest.fixture
def patient(doris, cd19_product):
    """One SLE × CD19 study with one patient who reached DORIS, refreshed."""
    patient = _study_in_group("Erlangen series", doris, cd19_product)
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


def test_the_groups_size_is_counted_once_per_refresh(
    client, patient, doris, cd19_product, monkeypatch
):
    monkeypatch.setattr(drilldown, "STUDIES_PER_PAGE", 1)
    _study_in_group("Zurich series", doris, cd19_product)
    full_rebuild()

    def counts_the_group(queries) -> bool:
        return any("DISTINCT" in q["sql"] and "summaries_contribution" in q["sql"]
                   for q in queries)

    with CaptureQueriesContext(connection) as first:
        html = client.get(URL).content.decode()
    with CaptureQueriesContext(connection) as again:
        client.get(URL)
    assert "studies 1–1 of 2 (by title)" in html
    assert counts_the_group(first) and not counts_the_group(again)

    # A study added counts once a refresh has put it in the snapshot (in these tests
    # Celery runs the refresh as each change commits; the rebuild makes sure of it).
    _study_in_group("Berlin series", doris, cd19_product)
    full_rebuild()
    assert "studies 1–1 of 3 (by title)" in client.get(URL).content.decode()


def test_the_page_is_drawn_while_the_cache_is_unreachable(client, patient):
    with override_settings(CACHES=UNREACHABLE_CACHE):
        first = client.get(URL)
        again = client.get(URL)

    assert first.status_code == again.status_code == 200
    assert "Patient 1" in first.content.decode() and "Patient 1" in again.content.decode()
