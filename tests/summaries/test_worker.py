"""With a real Celery worker on the real Redis and PostgreSQL: changes reach the stored
summaries, a worker killed mid-refresh loses nothing, a dead broker loses nothing.

The worker is a subprocess on the test database, so these tests commit
(transaction=True; serialized_rollback brings back the seeded vocabularies)."""

import copy
import math
import time
from unittest import mock

import psycopg2
import pytest
from django.db import connection, transaction

from carlit.celery import app
from studies.bundles import import_bundle
from studies.models import Arm, OutcomeResult
from studies.summary import pooled_summary
from summaries import services
from summaries.models import DiseaseTargetSummary, PendingRefresh, RefreshRun
from summaries.tasks import refresh_summaries
from tests.api.bundle_data import BUNDLE
from tests.factories import UserFactory

from .oracle import differences, expected_tables, stored_tables
from .workers import Worker, run_django, wait_for, worker_database_url

pytestmark = [
    pytest.mark.broker,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# A short lease, so that a new worker takes over a dead one's claim within the test.
LEASE_SECONDS = "3"


@pytest.fixture(autouse=True)
def empty_queues(transactional_db):
    """No task left in Redis by an earlier test, and no pending refresh (the restored
    migration data queues a first full build)."""
    app.control.purge()
    PendingRefresh.objects.all().delete()


@pytest.fixture
def worker(empty_queues):
    """One worker per test, so that the test knows which worker does the work."""
    started = Worker(SUMMARIES_CLAIM_LEASE_SECONDS=LEASE_SECONDS).wait_until_ready()
    yield started
    started.stop()


@pytest.fixture
def coalesce(settings):
    settings.SUMMARIES_COALESCE_SECONDS = 1
    return settings


def patients_of(disease: str, target: str) -> int | None:
    row = DiseaseTargetSummary.objects.filter(disease__code=disease, target_key=target).first()
    return row.patients if row else None


def nothing_pending() -> bool:
    return not PendingRefresh.objects.exists()


def imported_arm(user) -> Arm:
    import_bundle(copy.deepcopy(BUNDLE), user=user)
    return Arm.objects.get(label=BUNDLE["studies"][0]["arms"][0]["label"])


def test_an_accepted_import_and_an_edit_reach_the_summary(worker, coalesce):
    arm = imported_arm(UserFactory(username="reviewer"))
    target = pooled_summary("sle", "cd19")

    wait_for(nothing_pending, what="the worker to refresh the import")
    assert patients_of("sle", "cd19") == target.patients

    with transaction.atomic():
        arm.n_patients += 3
        arm.save()

    wait_for(lambda: patients_of("sle", "cd19") == pooled_summary("sle", "cd19").patients
             and nothing_pending(), what="the edit to reach the summary")
    assert differences(stored_tables(), expected_tables()) == []


def test_a_rolled_back_transaction_sends_nothing(worker, coalesce):
    arm = imported_arm(UserFactory(username="reviewer"))
    wait_for(nothing_pending, what="the import's refresh")
    runs = RefreshRun.objects.count()

    with mock.patch.object(refresh_summaries, "apply_async",
                           wraps=refresh_summaries.apply_async) as sent:
        with pytest.raises(RuntimeError), transaction.atomic():
            arm.n_patients = 40
            arm.save()
            raise RuntimeError("the reviewer's import failed")

    assert not sent.called
    assert not PendingRefresh.objects.exists()
    assert RefreshRun.objects.count() == runs
    assert patients_of("sle", "cd19") != 40


def test_fifty_edits_in_one_window_refresh_the_study_at_most_twice(worker, settings):
    """Arm sizes only: the arm's patient rows give its count, so nothing else moves."""
    settings.SUMMARIES_COALESCE_SECONDS = 3
    arm = imported_arm(UserFactory(username="reviewer"))
    wait_for(nothing_pending, timeout=30, what="the import's refresh")
    key = services.study_key(arm.study_id)
    before = RefreshRun.objects.count()

    started = time.monotonic()
    for size in range(1, 51):
        with transaction.atomic():
            arm.n_patients = size
            arm.save()
    # On a loaded machine the edits may outlast one window: one refresh per window
    # they spanned, and one for the window the last edit opened.
    windows = math.ceil((time.monotonic() - started) / settings.SUMMARIES_COALESCE_SECONDS)

    wait_for(nothing_pending, timeout=30, what=f"the edits to be refreshed\n{worker.output()}")
    assert differences(stored_tables(), expected_tables()) == []
    runs = [run for run in RefreshRun.objects.order_by("pk")[before:] if key in run.keys]
    assert 1 <= len(runs) <= max(2, windows + 1)


def test_a_worker_killed_mid_refresh_loses_nothing(worker, coalesce):
    arm = imported_arm(UserFactory(username="reviewer"))
    wait_for(nothing_pending, what="the import's refresh")
    before = responders()
    doris = OutcomeResult.objects.get(arm=arm, measure__code="doris")

    # Another session holds the summary table, so the refresh blocks halfway: after
    # writing the study's snapshot rows, before writing its summary row.
    blocker = psycopg2.connect(worker_database_url().replace("postgres://", "postgresql://"))
    with blocker.cursor() as cursor:
        cursor.execute("BEGIN; LOCK TABLE summaries_diseasetargetsummary IN EXCLUSIVE MODE")
    try:
        with transaction.atomic():
            doris.n_events = doris.n_evaluable - before[0] if before else 0
            doris.save()
        wait_for(lambda: _sessions_waiting_for_a_lock() > 0, what="the refresh to block")
        worker.kill()
    finally:
        blocker.rollback()
        blocker.close()

    pending = PendingRefresh.objects.get()
    assert pending.claimed_at is not None  # claimed by the dead worker
    assert responders() == before  # its half-done refresh was rolled back

    successor = Worker(SUMMARIES_CLAIM_LEASE_SECONDS=LEASE_SECONDS).wait_until_ready()
    try:
        time.sleep(float(LEASE_SECONDS) + 0.5)
        refresh_summaries.delay()  # the periodic sweep: it retries claims past the lease
        wait_for(nothing_pending, what="the new worker to take over the claim")
    finally:
        successor.stop()

    incremental = stored_tables()
    assert responders() != before
    assert differences(incremental, expected_tables()) == []
    services.full_rebuild()
    assert stored_tables() == incremental


def responders() -> tuple[int, int] | None:
    row = DiseaseTargetSummary.objects.get(disease__code="sle", target_key="cd19")
    rate = row.rate("response")
    return (rate.events, rate.evaluable) if rate else None


def _sessions_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def test_an_edit_while_the_broker_is_down_is_saved_and_refreshed_later(coalesce):
    """The web process cannot reach Redis (a dead port): the edit still saves, the
    refresh waits in the database, and the sweep does it once a worker runs."""
    arm = imported_arm(UserFactory(username="reviewer"))
    services.refresh_keys()  # no worker yet: refresh the import here

    doris = OutcomeResult.objects.get(arm=arm, measure__code="doris")
    assert responders() == (4, 4)

    run_django(
        f"from studies.models import OutcomeResult\n"
        f"doris = OutcomeResult.objects.get(pk={doris.pk})\n"
        f"doris.n_events = 1\n"
        f"doris.save()\n",
        CELERY_BROKER_URL="redis://127.0.0.1:1/0",  # nothing listens on port 1
    )

    doris.refresh_from_db()
    assert doris.n_events == 1  # the edit is saved
    pending = PendingRefresh.objects.get()
    assert pending.enqueued_at is None and pending.claimed_at is None
    assert responders() == (4, 4)

    restored = Worker().wait_until_ready()
    try:
        refresh_summaries.delay()  # the beat sweep, now that the broker answers
        wait_for(nothing_pending, what="the pending refresh to run")
    finally:
        restored.stop()
    assert responders() == (1, 4)
