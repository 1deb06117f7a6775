"""Refreshing the values stored per study (studies.denormalized, search_documents and
facet_values): at once, or once at the end of a :func:`deferred` block.

Their receivers hand each refresh to :func:`refresh` with the studies a save
changed. Outside a deferred block it runs at once. Inside one, the study ids are
collected per refresh function and each function runs once when the block ends
without an error: a bundle import saves dozens of rows of one study and would
otherwise refresh it after every save, three times over.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterable, Iterator

ALL = "all"  # every study

# Within deferred(): refresh function -> the ids of the studies it must refresh, or ALL.
_pending: contextvars.ContextVar[dict[Callable, set[int] | str] | None] = contextvars.ContextVar(
    "study_refresh", default=None
)


def refresh(function: Callable, study_ids: Iterable[int] | None) -> None:
    """Call ``function(study_ids)`` now, or at the end of the deferred block around
    this call. ``study_ids`` may be a queryset of ids; None means every study."""
    pending = _pending.get()
    if pending is None:
        function(study_ids)
        return
    ids = pending.setdefault(function, set())
    if study_ids is None or ids is ALL:
        pending[function] = ALL
    else:
        # Read now: the rows a queryset selects may be gone by the end of the block.
        ids.update(pk for pk in study_ids if pk is not None)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Run the refreshes the receivers ask for once each, when the block ends without
    an error. Use it inside the transaction: the refreshes then commit with the rows.
    Blocks nest; the outermost one refreshes."""
    if _pending.get() is not None:
        yield
        return
    token = _pending.set({})
    try:
        yield
        pending = _pending.get()
    finally:
        _pending.reset(token)
    for function, ids in pending.items():
        function(None if ids is ALL else ids)
