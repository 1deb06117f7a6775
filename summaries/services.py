"""Keeping the summary tables fresh: record changes, refresh what they touch.

Write paths call :func:`mark_changed` inside their transaction (the receivers in
summaries.signals do it for every save through the ORM as a safety net). It appends
``PendingRefresh`` rows, which commit or roll back with the change, and after the
commit asks Celery for a refresh a few seconds later, unless one is already waiting
for those keys: many changes in one window make one refresh.

A refresh (:func:`refresh_keys`, :func:`full_rebuild`) claims pending rows with a
conditional UPDATE, recomputes the affected studies' snapshot and the summary rows
they feed in one transaction under a lock, and deletes the rows it claimed. Running
it twice is harmless: the second run finds nothing to claim, and recomputing from the
same data gives the same rows. A worker that dies mid-refresh leaves its rows claimed;
they are claimed again once the lease expires (the periodic sweep does it).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from studies.models import (
    AdverseEvent,
    Antigen,
    Arm,
    ArmProduct,
    CarConstruct,
    Disease,
    OutcomeMeasure,
    OutcomeResult,
    Patient,
    Person,
    Publication,
    Study,
    StudyReport,
)

from . import aggregation, prepared, snapshot
from .models import PendingRefresh, PooledPatient, RefreshRun, RefreshState

logger = logging.getLogger(__name__)

ALL = "all"
STUDY_PREFIX = "study:"
# Sending a task when the broker is down must not hold up the request that saved data.
SEND_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                     "interval_max": 0.2}


# The refresh log is pruned at each full rebuild (nightly).
RUN_LOG_KEPT = timedelta(days=30)


def coalesce_seconds() -> float:
    return float(getattr(settings, "SUMMARIES_COALESCE_SECONDS", 5))


def claim_lease() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "SUMMARIES_CLAIM_LEASE_SECONDS", 600)))


def study_key(study_id: int) -> str:
    return f"{STUDY_PREFIX}{study_id}"


# Which keys a row touches ------------------------------------------------------------------


def _studies_of_arms(arm_ids: Iterable[int | None]) -> set[int]:
    ids = {pk for pk in arm_ids if pk is not None}
    return set(Arm.objects.filter(pk__in=ids).values_list("study_id", flat=True)) if ids else set()


def _studies_of_patients(patient_ids: Iterable[int | None]) -> set[int]:
    ids = {pk for pk in patient_ids if pk is not None}
    if not ids:
        return set()
    return set(Patient.objects.filter(pk__in=ids).values_list("arm__study_id", flat=True))


def _held_study(row: models.Model, name: str) -> int | None:
    """The study of the arm (or the patient's arm) that a row holds in memory, found
    without a query; None when that object is not loaded."""
    held = row
    for relation in ("arm",) if name == "arm" else ("patient", "arm"):
        field = held._meta.get_field(relation)
        parent = field.get_cached_value(held, default=None) if field.is_cached(held) else None
        if parent is None or parent.pk != getattr(held, field.attname):
            return None
        held = parent
    return held.study_id


def _studies_via(row: models.Model, name: str, ids: dict) -> set[int]:
    """Studies of a row's arm or patient: from the object the row holds (an import
    builds rows from the arm it has just saved), else by a query."""
    column = f"{name}_id"
    pk = ids[column] if column in ids else getattr(row, column)
    if pk is None:
        return set()
    if column not in ids and (study := _held_study(row, name)) is not None:
        return {study}
    return _studies_of_arms([pk]) if name == "arm" else _studies_of_patients([pk])


def studies_of(row: models.Model, **ids) -> set[int]:
    """The studies whose pooled numbers a row feeds. ``ids`` overrides the row's own
    foreign keys (the receivers pass the values a row had before it was edited)."""

    def get(name):
        return ids[name] if name in ids else getattr(row, name)

    if isinstance(row, Study):
        return {row.pk}
    if isinstance(row, (StudyReport, Arm)):
        return {get("study_id")}
    if isinstance(row, (ArmProduct, Patient)):
        return _studies_via(row, "arm", ids)
    if isinstance(row, (OutcomeResult, AdverseEvent)):
        return _studies_via(row, "arm", ids) | _studies_via(row, "patient", ids)
    if isinstance(row, Publication):
        return set(StudyReport.objects.filter(publication_id=row.pk).values_list("study_id",
                                                                                  flat=True))
    if isinstance(row, CarConstruct):
        return set(
            ArmProduct.objects.filter(construct_id=row.pk).values_list("arm__study_id", flat=True)
        )
    if isinstance(row, Person):
        return set(Patient.objects.filter(person_id=row.pk).values_list("arm__study_id",
                                                                        flat=True))
    return set()


def keys_for(row: models.Model) -> set[str]:
    """Pending keys for a changed row: its studies, or everything for a vocabulary row
    (a disease's main outcome, an antigen's code, a measure's name)."""
    if isinstance(row, (Disease, Antigen, OutcomeMeasure)):
        return {ALL}
    return {study_key(pk) for pk in studies_of(row) if pk is not None}


# Recording changes ----------------------------------------------------------------------------


def mark_changed(items: str | models.Model | Iterable[str | models.Model]) -> set[str]:
    """Record that data behind these keys (``study:<id>``, ``all``) or rows changed.

    Call it inside the transaction that writes the change: the pending rows commit or
    roll back with it, and a refresh is requested only after the commit, once per
    transaction for all the keys it marked (an import saving 300 rows sends one task)."""
    if isinstance(items, (str, models.Model)):
        items = [items]
    keys: set[str] = set()
    for item in items:
        keys |= {item} if isinstance(item, str) else keys_for(item)
    if not keys:
        return keys
    batch = _Batch.current()
    new = batch.unrecorded(keys)
    if new:
        now = timezone.now()
        PendingRefresh.objects.bulk_create(
            PendingRefresh(key=key, requested_at=now) for key in sorted(new)
        )
        batch.recorded(new)
    return keys


class _Batch:
    """The keys one transaction marked, sent by a single on_commit callback.

    Kept on the connection. A batch whose callback Django dropped (its savepoint or
    transaction rolled back) is replaced by a new one. A key is written to
    PendingRefresh once per batch, unless the savepoint that wrote it rolled back."""

    ATTRIBUTE = "_summaries_batch"

    def __init__(self, connection):
        self.connection = connection
        self.keys: set[str] = set()
        self.written: dict[str, frozenset[str]] = {}  # key -> savepoints open at its insert

    @classmethod
    def current(cls) -> _Batch:
        connection = transaction.get_connection()
        batch = getattr(connection, cls.ATTRIBUTE, None)
        # run_on_commit holds (savepoint ids, callback, robust) of the open transaction.
        if batch is None or not any(
            entry[1] == batch.flush for entry in connection.run_on_commit
        ):
            batch = cls(connection)
            setattr(connection, cls.ATTRIBUTE, batch)
            if connection.in_atomic_block:
                transaction.on_commit(batch.flush, robust=True)
        return batch

    def unrecorded(self, keys: set[str]) -> set[str]:
        """Keys without a pending row from this transaction that still stands."""
        open_savepoints = set(self.connection.savepoint_ids)
        return {
            key for key in keys
            if key not in self.written or not self.written[key] <= open_savepoints
        }

    def recorded(self, keys: set[str]) -> None:
        self.keys |= keys
        if not self.connection.in_atomic_block:  # autocommit: the change is saved already
            self.flush()
            return
        savepoints = frozenset(self.connection.savepoint_ids)
        self.written.update(dict.fromkeys(keys, savepoints))

    @classmethod
    def detach(cls) -> None:
        """A refresh in this transaction consumed its pending rows: later changes start a
        new batch (the old callback then finds nothing left to send)."""
        connection = transaction.get_connection()
        if hasattr(connection, cls.ATTRIBUTE):
            delattr(connection, cls.ATTRIBUTE)

    def flush(self) -> None:
        if getattr(self.connection, self.ATTRIBUTE, None) is self:
            delattr(self.connection, self.ATTRIBUTE)
        enqueue_refresh(sorted(self.keys))


def enqueue_refresh(keys: list[str]) -> bool:
    """Ask a worker to refresh these keys in a few seconds, unless a request for them
    is already waiting. Keys without unclaimed pending rows (a rolled-back savepoint's)
    are left out. Never raises: without a broker the rows wait for the sweep."""
    from .tasks import refresh_summaries

    window = coalesce_seconds()
    now = timezone.now()
    unclaimed = PendingRefresh.objects.filter(key__in=keys, claimed_at__isnull=True)
    waiting = Q(enqueued_at__gte=now - timedelta(seconds=window))
    found = unclaimed.values("key").annotate(
        waiting=Count("pk", filter=waiting), unsent=Count("pk", filter=Q(enqueued_at=None))
    )
    todo = sorted(row["key"] for row in found if row["unsent"] and not row["waiting"])
    if not todo:
        return False
    PendingRefresh.objects.filter(
        key__in=todo, claimed_at__isnull=True, enqueued_at__isnull=True
    ).update(enqueued_at=now)
    try:
        refresh_summaries.apply_async(
            kwargs={"keys": todo}, countdown=window, retry=True, retry_policy=SEND_RETRY_POLICY
        )
    except Exception:  # the broker is down (or, in eager mode, the refresh failed)
        logger.warning("Summary refresh of %s not sent; it stays pending.", todo, exc_info=True)
        PendingRefresh.objects.filter(key__in=todo, enqueued_at=now).update(enqueued_at=None)
        return False
    return True


# Refreshing -------------------------------------------------------------------------------------


@dataclass
class RefreshResult:
    kind: str = ""
    keys: list[str] = field(default_factory=list)  # pending keys consumed
    studies: int = 0
    summary_rows: int = 0
    summary_keys: list[str] = field(default_factory=list)  # incremental runs only
    seconds: float = 0.0

    @property
    def ran(self) -> bool:
        return bool(self.kind)

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "keys": self.keys,
            "studies": self.studies,
            "summary_rows": self.summary_rows,
            "summary_keys": self.summary_keys,
            "seconds": round(self.seconds, 3),
        }


def refresh_keys(keys: Iterable[str] | None = None) -> RefreshResult:
    """Refresh the pending keys given (None: every pending key). Keys that nothing
    changed since their last refresh, or that another worker is refreshing now, are
    skipped; a refresh with nothing to claim does nothing."""
    return _claim_and_run(keys, full=False)


def full_rebuild() -> RefreshResult:
    """Recompute every snapshot and summary row, consuming every pending key."""
    return _claim_and_run(None, full=True)


def _claim_and_run(keys: Iterable[str] | None, *, full: bool) -> RefreshResult:
    token, now = uuid.uuid4(), timezone.now()
    due = PendingRefresh.objects.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - claim_lease())
    )
    if keys is not None:
        # A pending full rebuild subsumes any keys: whoever refreshes next does it.
        due = due.filter(key__in=[*keys, ALL])
    claimed_rows = due.update(claimed_at=now, claim_token=token, attempts=F("attempts") + 1)
    if not claimed_rows and not full:
        return RefreshResult()
    claimed = sorted(
        set(PendingRefresh.objects.filter(claim_token=token).values_list("key", flat=True))
    )
    try:
        with transaction.atomic():
            state = _lock()
            if full or ALL in claimed:
                result = _rebuild_everything(state)
            else:
                result = _refresh_studies(state, _study_ids(claimed))
            result.keys = claimed
            _log(result, now)
            PendingRefresh.objects.filter(claim_token=token).delete()
            _Batch.detach()
    except BaseException:
        PendingRefresh.objects.filter(claim_token=token).update(claimed_at=None, claim_token=None)
        raise
    return result


def _study_ids(keys: Iterable[str]) -> set[int]:
    ids = set()
    for key in keys:
        if key.startswith(STUDY_PREFIX) and key[len(STUDY_PREFIX):].isdigit():
            ids.add(int(key[len(STUDY_PREFIX):]))
    return ids


def _lock() -> RefreshState:
    """Serialise refreshes: the state row, locked until the transaction ends."""
    try:
        return RefreshState.objects.select_for_update().get(pk=1)
    except RefreshState.DoesNotExist:
        RefreshState.objects.get_or_create(pk=1)
        return RefreshState.objects.select_for_update().get(pk=1)


def _refresh_studies(state: RefreshState, study_ids: set[int]) -> RefreshResult:
    started = time.perf_counter()
    studies = sorted(_with_shared_persons(study_ids))
    before = aggregation.footprint(studies)
    snapshot.rebuild(studies, state.relevant_measures)
    if snapshot.relevant_measure_ids(pooled=True) != state.relevant_measures:
        # Which reports count for an arm depends on this set (a disease entered or left
        # the public data): every study may move.
        return _rebuild_everything(state)
    keys = aggregation.changed(before, aggregation.footprint(studies))
    return RefreshResult(
        kind=RefreshRun.Kind.INCREMENTAL.value,
        studies=len(studies),
        summary_rows=aggregation.refresh(keys),
        summary_keys=keys.labels(),
        seconds=time.perf_counter() - started,
    )


def _with_shared_persons(study_ids: set[int]) -> set[int]:
    """The studies plus those reporting a person they report (now or at the last
    refresh): which row counts for a person depends on all of that person's rows."""
    linked = prepared.rows(_sharing_persons, study_ids)
    return set(study_ids) | {study for study, in linked}


def _sharing_persons(studies) -> tuple[str, list]:
    """The studies reporting, now or at the last refresh, a person these studies report.
    The persons first (a WITH clause): one IN over them plans as index lookups, where an
    OR of two IN subqueries read every patient row."""
    ids = prepared.ids(studies)
    now = Patient.objects.filter(arm__study_id__any=ids, person__isnull=False).order_by() \
        .values_list("person_id")
    before = PooledPatient.objects.filter(study_id__any=ids, person_id__isnull=False) \
        .order_by().values_list("person_id")
    (now_sql, now_params), (before_sql, before_params) = (
        rows.query.sql_with_params() for rows in (now, before)
    )
    quote = connection.ops.quote_name
    patient, arm, pooled = (
        quote(model._meta.db_table) for model in (Patient, Arm, PooledPatient)
    )
    return (
        f"WITH persons AS ({now_sql} UNION {before_sql}) "
        f"SELECT a.study_id FROM {patient} p INNER JOIN {arm} a ON a.id = p.arm_id "
        "WHERE p.person_id IN (SELECT person_id FROM persons) "
        f"UNION SELECT study_id FROM {pooled} "
        "WHERE person_id IN (SELECT person_id FROM persons)",
        [*now_params, *before_params],
    )


def _rebuild_everything(state: RefreshState, relevant: list[int] | None = None) -> RefreshResult:
    started = time.perf_counter()
    relevant = snapshot.relevant_measure_ids() if relevant is None else relevant
    snapshot.rebuild(None, relevant)
    rows = aggregation.refresh(aggregation.Keys.everything())
    state.relevant_measures = relevant
    state.last_full_rebuild_at = timezone.now()
    state.save()
    RefreshRun.objects.filter(finished_at__lt=timezone.now() - RUN_LOG_KEPT).delete()
    return RefreshResult(
        kind=RefreshRun.Kind.FULL.value,
        studies=snapshot.visible_studies().count(),
        summary_rows=rows,
        seconds=time.perf_counter() - started,
    )


def _log(result: RefreshResult, started_at) -> None:
    RefreshRun.objects.create(
        kind=result.kind,
        started_at=started_at,
        finished_at=timezone.now(),
        keys=result.keys,
        studies=result.studies,
        summary_rows=result.summary_rows,
    )
