"""Celery tasks: thin wrappers around summaries.services.

Acknowledged late (a worker that dies mid-refresh leaves the message to be delivered
again), retried with exponential backoff on database errors, and safe to run twice:
a run claims pending rows with a conditional UPDATE and does nothing when there is
nothing left to claim.
"""

from celery import shared_task
from django.db import DatabaseError

from . import services

RETRY = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="summaries.refresh", **RETRY)
def refresh_summaries(keys: list[str] | None = None) -> dict:
    """Refresh these pending keys (None: every pending key; the periodic sweep)."""
    return services.refresh_keys(keys).as_dict()


@shared_task(name="summaries.rebuild", **RETRY)
def rebuild_summaries() -> dict:
    """Recompute every summary table (nightly)."""
    return services.full_rebuild().as_dict()
