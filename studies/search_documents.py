"""The search document stored on each study (PostgreSQL only), so that free-text
search reads one indexed column instead of building every study's text from its
publications, products, aliases and registry ids on each request:

- ``search_vector``: the weighted tsvector studies.search matches and ranks with
  (title and short name, product names, aliases and registry ids weigh A,
  publication titles B, abstracts C);
- ``search_codes``: product names, aliases and registry ids, upper-cased, one per
  line, for the substring match that lets "CART19" find "MB-CART19.1".

:func:`refresh_search_documents` recomputes them with one UPDATE. The receivers
below call it after every ORM save or delete that changes a study's text (the study
itself, its reports, a reported publication, its arms' products, a used construct's
name or aliases, its registry ids), as studies.denormalized does for its columns.
Writers that bypass signals (``bulk_create``, COPY, ``queryset.update()``) call it
themselves, as studies.synthetic does. Within studies.study_refresh.deferred()
the receivers' refreshes wait for the block's end. Other databases keep the columns
empty: search there uses the fallback in studies.search.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.search import SearchVector
from django.db import connections, router
from django.db.models import OuterRef, QuerySet, Subquery, TextField, Value
from django.db.models.functions import Coalesce, Concat, Upper
from django.db.models.signals import post_delete, post_save

from . import stored_values, study_refresh
from .models import (
    Arm,
    ArmProduct,
    CarConstruct,
    ConstructAlias,
    Publication,
    RegistryId,
    Study,
    StudyReport,
)
from .visibility import public

# Between codes in search_codes: search text never holds one (it is joined by spaces),
# so a substring match cannot span two codes.
CODE_SEPARATOR = "\n"


# Related rows of the study in the outer query ------------------------------------------


def reports() -> QuerySet:
    return public(StudyReport.objects.filter(study=OuterRef("pk")))


def products() -> QuerySet:
    return public(ArmProduct.objects.filter(arm__study=OuterRef("pk")))


def aliases() -> QuerySet:
    return public(ConstructAlias.objects.filter(construct__arm_products__arm__study=OuterRef("pk")))


def registry_ids() -> QuerySet:
    return public(RegistryId.objects.filter(study=OuterRef("pk")))


def _joined(rows: QuerySet, group_by: str, text_field: str, delimiter: str = " "):
    """The text_field values of rows joined by delimiter, as a subquery per study."""
    joined = (
        rows.order_by()
        .values(group_by)
        .annotate(text=StringAgg(text_field, delimiter=delimiter))
        .values("text")
    )
    return Coalesce(Subquery(joined), Value(""), output_field=TextField())


def search_vector():
    """The weighted document of the study in the outer query."""
    return (
        SearchVector("title", "short_name", weight="A", config="english")
        + SearchVector(
            _joined(products(), "arm__study", "construct__name"), weight="A", config="simple"
        )
        + SearchVector(
            _joined(aliases(), "construct__arm_products__arm__study", "alias"),
            weight="A",
            config="simple",
        )
        + SearchVector(_joined(registry_ids(), "study", "identifier"), weight="A", config="simple")
        + SearchVector(
            _joined(reports(), "study", "publication__title"), weight="B", config="english"
        )
        + SearchVector(
            _joined(reports(), "study", "publication__abstract"), weight="C", config="english"
        )
    )


def search_codes():
    """Product names, aliases and registry ids of the study in the outer query."""
    sep = CODE_SEPARATOR
    return Upper(
        Concat(
            _joined(products(), "arm__study", "construct__name", sep),
            Value(sep),
            _joined(aliases(), "construct__arm_products__arm__study", "alias", sep),
            Value(sep),
            _joined(registry_ids(), "study", "identifier", sep),
            output_field=TextField(),
        )
    )


def refresh_search_documents(study_ids: Iterable[int] | QuerySet | None = None) -> int:
    """Recompute the search document of these studies (None: every study; a queryset
    of ids is used as a subquery) in one UPDATE; return how many were updated. Does
    nothing on databases other than PostgreSQL."""
    if connections[router.db_for_write(Study)].vendor != "postgresql":
        return 0
    studies = Study.objects.all()
    if isinstance(study_ids, QuerySet):
        studies = studies.filter(pk__in=study_ids)
    elif study_ids is not None:
        ids = {pk for pk in study_ids if pk is not None}
        if not ids:
            return 0
        studies = studies.filter(pk__in=ids)
    return studies.update(search_vector=search_vector(), search_codes=search_codes())


# Which studies a changed row belongs to -------------------------------------------------

# Saves of these models change a study's text only when these fields change (a
# construct's notes or a publication's year do not).
TEXT_FIELDS = {Publication: ("title", "abstract"), CarConstruct: ("name",)}


def _studies_of(sender, instance) -> set[int] | QuerySet:
    """The ids of the studies whose text includes instance (a set, or a queryset of
    ids when there may be many)."""
    if sender is Study:
        return {instance.pk}
    if sender in (StudyReport, RegistryId, Arm):
        return {instance.study_id}
    if sender is ArmProduct:
        return set(Arm.objects.filter(pk=instance.arm_id).values_list("study_id", flat=True))
    if sender is Publication:
        return StudyReport.objects.filter(publication_id=instance.pk).values_list(
            "study_id", flat=True
        )
    construct_id = instance.pk if sender is CarConstruct else instance.construct_id
    return ArmProduct.objects.filter(construct_id=construct_id).values_list(
        "arm__study_id", flat=True
    )


# The foreign key that ties each row to its studies.
OWNER = {
    StudyReport: "study_id",
    RegistryId: "study_id",
    Arm: "study_id",
    ArmProduct: "arm_id",
    ConstructAlias: "construct_id",
}


def _refresh(study_ids) -> None:
    study_refresh.refresh(refresh_search_documents, study_ids)


def row_saved(sender, instance, raw=False, **kwargs) -> None:
    if raw:
        return
    _refresh(_studies_of(sender, instance))
    owner = OWNER.get(sender)
    old = stored_values.before(instance, owner) if owner else None
    if old is not None and old != getattr(instance, owner):
        # Moved (a report to another study, an alias to another construct): the
        # studies it left lose its text.
        _refresh(_studies_of(sender, sender(**{owner: old})))


def row_deleted(sender, instance, **kwargs) -> None:
    _refresh(_studies_of(sender, instance))


def text_saved(sender, instance, created, raw=False, **kwargs) -> None:
    """A publication or construct saved: its studies are refreshed if its text
    changed (a new one belongs to no study yet)."""
    if not raw and not created and stored_values.changed(instance, *TEXT_FIELDS[sender]):
        _refresh(_studies_of(sender, instance))


def connect() -> None:
    # A study's own save writes back the document it had in memory: refresh after it.
    post_save.connect(row_saved, sender=Study, dispatch_uid="search-study")
    for model in TEXT_FIELDS:
        label = model._meta.label_lower
        stored_values.watch(model, *TEXT_FIELDS[model])
        post_save.connect(text_saved, sender=model, dispatch_uid=f"search-save-{label}")
    for model in OWNER:
        label = model._meta.label_lower
        stored_values.watch(model, OWNER[model])
        post_save.connect(row_saved, sender=model, dispatch_uid=f"search-save-{label}")
        post_delete.connect(row_deleted, sender=model, dispatch_uid=f"search-del-{label}")
