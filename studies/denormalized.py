"""Values stored on the study that the catalogue could compute from other rows, kept
so that its newest-first order and its "most patients" sort read an index instead of
a subquery for every study:

- ``first_year``: the year of the study's earliest publication (its reports' lowest
  publication year), NULL without reports;
- ``patient_count``: ``n_patients`` summed over the study's arms, NULL without arms or
  when no arm reports its size.

:func:`refresh_study_counts` recomputes them with one UPDATE. The receivers below
call it for every ORM save or delete that can change them (reports, arms, a
publication's year, the study itself, whose save writes the values it had in
memory), so the admin, the bundle importer, curation and the demo loader keep them
without knowing. Writers that bypass signals (``bulk_create``, COPY,
``queryset.update()``) call it themselves, as studies.synthetic does. Within
studies.study_refresh.deferred() the receivers' refreshes wait for the block's end.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Min, OuterRef, Subquery, Sum
from django.db.models.signals import post_delete, post_save

from . import stored_values, study_refresh
from .models import Arm, Publication, Study, StudyReport
from .visibility import public


def refresh_study_counts(study_ids: Iterable[int] | None = None) -> int:
    """Recompute first_year and patient_count of these studies (None: every study)
    in one UPDATE; return how many studies were updated."""
    years = (
        public(StudyReport.objects.filter(study=OuterRef("pk")))
        .order_by()
        .values("study")
        .annotate(year=Min("publication__year"))
        .values("year")
    )
    sizes = (
        public(Arm.objects.filter(study=OuterRef("pk")))
        .order_by()
        .values("study")
        .annotate(total=Sum("n_patients"))
        .values("total")
    )
    studies = Study.objects.all()
    if study_ids is not None:
        ids = {pk for pk in study_ids if pk is not None}
        if not ids:
            return 0
        studies = studies.filter(pk__in=ids)
    return studies.update(first_year=Subquery(years), patient_count=Subquery(sizes))


def _refresh(study_ids) -> None:
    study_refresh.refresh(refresh_study_counts, study_ids)


def study_row_saved(sender, instance, raw=False, **kwargs) -> None:
    if raw:
        return
    # A save that moves the row to another study changes the study it left too.
    _refresh({instance.study_id, stored_values.before(instance, "study_id")})


def study_row_deleted(sender, instance, **kwargs) -> None:
    _refresh([instance.study_id])


def publication_saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw or created or not stored_values.changed(instance, "year"):
        return  # a new publication reports no study yet; only the year counts here
    _refresh(
        StudyReport.objects.filter(publication_id=instance.pk).values_list("study_id", flat=True)
    )


def study_saved(sender, instance, raw=False, **kwargs) -> None:
    if not raw:
        _refresh([instance.pk])


def connect() -> None:
    for model in (StudyReport, Arm):
        label = model._meta.label_lower
        stored_values.watch(model, "study_id")
        post_save.connect(study_row_saved, sender=model, dispatch_uid=f"counts-save-{label}")
        post_delete.connect(study_row_deleted, sender=model, dispatch_uid=f"counts-del-{label}")
    stored_values.watch(Publication, "year")
    post_save.connect(publication_saved, sender=Publication, dispatch_uid="counts-publication")
    post_save.connect(study_saved, sender=Study, dispatch_uid="counts-study")
