"""The stored facet counts of the catalogue: unfiltered (models.CatalogueCounts) and
under each combination of filters asked for (models.FilteredCounts).

Counting studies per disease, target, construct... without a filter reads every arm
and product: seconds at 100,000 studies, for numbers that change only when curated
data does. So they are counted once per change and stored:

- every ORM save, delete or many-to-many change of a studies model marks the
  catalogue changed; after the transaction commits, ``version`` is incremented once
  (bulk writers that send no signals call :func:`catalogue_changed` themselves);
- :func:`unfiltered_counts` returns the stored counts while they were counted at the
  current version, and otherwise counts again and stores the result, unless the
  version moved meanwhile (then the next reader counts again); :func:`stored_part`
  reads one part of them while current, counting nothing; :func:`counts_under`
  does the same for the counts under a combination of filters, one row each.

The version is read before counting, so counts stored under a version never miss a
change committed before it. A transaction that changed data and has not committed
yet counts live (others must not be shown what it has not committed). If a process
dies between a commit and its increment, the counts stay behind until the next
change; ``manage.py refresh_summaries`` does not cover it, any save does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping

from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.fields.json import KeyTransform
from django.db.models.signals import m2m_changed, post_delete, post_save

from . import models

ROW = 1


def _increment() -> None:
    models.CatalogueCounts.objects.filter(pk=ROW).update(version=F("version") + 1)


def _uncommitted_change(connection) -> bool:
    """True when this connection's open transaction changed catalogue data."""
    # run_on_commit holds (savepoint ids, callback, robust); Django drops the entries
    # of a savepoint that rolls back, so a change undone that way no longer counts.
    return connection.in_atomic_block and any(
        entry[1] is _increment for entry in connection.run_on_commit
    )


def catalogue_changed() -> None:
    """Record that catalogue data changed in the current transaction (or just now)."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _increment()
    elif not _uncommitted_change(connection):
        transaction.on_commit(_increment, robust=True)


def current_version() -> int | None:
    """The committed data's version, to key what is computed from curated rows (as
    the drill-down pages' rows are); None while this connection's transaction holds
    a change it has not committed (such a reader must compute live, and store
    nothing), or before the row exists."""
    if _uncommitted_change(transaction.get_connection()):
        return None
    return models.CatalogueCounts.objects.filter(pk=ROW).values_list("version", flat=True).first()


def unfiltered_counts(count: Callable[[], dict], keys: Iterable[str] = ()) -> dict:
    """The unfiltered catalogue's counts: stored ones while current and holding every
    one of ``keys`` (stored by an older version of the code, they may lack some), else
    ``count()``, whose result (a JSON-able dict) is stored for the next requests."""
    connection = transaction.get_connection()
    if _uncommitted_change(connection):
        return count()
    row = (
        models.CatalogueCounts.objects.filter(pk=ROW)
        .values_list("version", "counted_version", "counts")
        .first()
    )
    if row is None:  # a flushed database: make the row, count without storing
        models.CatalogueCounts.objects.get_or_create(pk=ROW)
        return count()
    version, counted_version, counts = row
    if counted_version == version and set(keys) <= counts.keys():
        return counts
    counts = count()
    models.CatalogueCounts.objects.filter(pk=ROW, version=version).update(
        counts=counts, counted_version=version
    )
    return counts


def stored_part(part: str):
    """One entry of the stored unfiltered counts, read alone, while they are current;
    else None. The labels a filtered page needs are a small part of counts that hold
    every construct (~30 kB at 100,000 studies), and after a change that page looks
    up the few labels it shows rather than counting every facet again."""
    if _uncommitted_change(transaction.get_connection()):
        return None
    return (
        models.CatalogueCounts.objects.filter(pk=ROW, counted_version=F("version"))
        .values_list(KeyTransform(part, "counts"), flat=True)
        .first()
    )


# Filter combinations whose counts are stored at one data version, at most: the keys
# are whatever visitors ask for, and an entry holds the counts of every value shown
# under its filters (~20 kB with the thousands of constructs of 100,000 studies).
MAX_FILTERED = 2000
_KEY_LENGTH = models.FilteredCounts._meta.get_field("key").max_length  # longer: not stored


# Where an entry records its shape (see counts_under).
SHAPE = "shape"


def counts_under(
    key: str,
    wanted: Mapping[str, Collection[str]],
    count: Callable[[list[str]], dict],
    shape: int | str | None = None,
) -> dict:
    """Counts under the filters ``key`` names, for the facets ``wanted`` names, each
    with the values its counts must hold (as a page needs the count of a value it
    has selected, even a rare one): those stored at the current version, and
    ``count(missing names)`` for the others, which are stored with them for the next
    requests (as :func:`unfiltered_counts` does) while fewer than MAX_FILTERED keys
    are stored at this version. Storing drops the entries of older versions, which
    no one reads again.

    ``shape`` names what ``count`` keeps of the counts (how many values per facet):
    an entry stored with another shape, by code before a deploy, is counted again
    rather than read, though the data did not change."""
    connection = transaction.get_connection()
    if _uncommitted_change(connection) or len(key) > _KEY_LENGTH:
        return count(list(wanted))
    row = (
        models.CatalogueCounts.objects.filter(pk=ROW)
        .annotate(
            stored=Subquery(
                models.FilteredCounts.objects.filter(key=key, version=OuterRef("version")).values(
                    "counts"
                )
            )
        )
        .values_list("version", "stored")
        .first()
    )
    if row is None:  # a flushed database: count without storing
        return count(list(wanted))
    version, stored = row
    if not stored or stored.get(SHAPE) != shape:
        stored = {}
    missing = [
        name
        for name, values in wanted.items()
        if name not in stored or not set(values) <= stored[name].keys()
    ]
    if not missing:
        return stored
    counts = {**_merged(stored, count(missing)), SHAPE: shape}
    entries = models.FilteredCounts.objects
    entries.filter(version__lt=version).delete()
    if stored or entries.count() < MAX_FILTERED:
        # Stored under the version read before counting: a change committed meanwhile
        # makes them stale at once rather than hiding that change.
        # One upsert: two requests storing the same key at once both succeed.
        entries.bulk_create(
            [models.FilteredCounts(key=key, version=version, counts=counts)],
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=["version", "counts"],
        )
    return counts


def _merged(stored: dict, counted: dict) -> dict:
    """Stored counts with those just counted at the same version: a facet's values
    counted now join those stored (both are right at this version)."""
    merged = dict(stored)
    for name, value in counted.items():
        before = merged.get(name)
        merged[name] = {**before, **value} if isinstance(before, dict) else value
    return merged


def _model_changed(sender, raw=False, **kwargs) -> None:
    if not raw:
        catalogue_changed()


def _relation_changed(sender, action, **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        catalogue_changed()


def connect() -> None:
    """Watch every curated and vocabulary model of the app and their many-to-many
    tables (history rows and the stored counts and facets excepted)."""
    for name in models.__all__:
        model = getattr(models, name)
        if model in (
            models.CatalogueCounts,
            models.FacetPairCounts,
            models.FilteredCounts,
            models.StudyFacets,
        ):
            continue
        uid = f"catalogue-counts-{model._meta.label_lower}"
        post_save.connect(_model_changed, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(_model_changed, sender=model, dispatch_uid=f"{uid}-delete")
        for relation in model._meta.local_many_to_many:
            through = relation.remote_field.through
            if through._meta.auto_created:
                m2m_changed.connect(
                    _relation_changed,
                    sender=through,
                    dispatch_uid=f"catalogue-counts-{through._meta.label_lower}",
                )
