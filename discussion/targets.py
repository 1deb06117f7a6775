"""The records a comment can point at: finding them by label and id, and the
publications they come from (whose accepting curator is "the record's curator")."""

from __future__ import annotations

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import models

from .models import COMMENTABLE


def label_of(model_or_instance) -> str:
    return model_or_instance._meta.label_lower


def model_for(target_type: str) -> type[models.Model] | None:
    if target_type not in COMMENTABLE:
        return None
    return apps.get_model(target_type)


def content_type_for(target_type: str) -> ContentType:
    return ContentType.objects.get_for_model(apps.get_model(target_type))


def find(target_type: str, object_id) -> models.Model | None:
    """The record, or None when the type is not commentable or no such row exists."""
    model = model_for(target_type)
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
        return None
    if model is None:
        return None
    return model._default_manager.filter(pk=object_id).first()


def describe(target, *, full: bool = True) -> str:
    """What the record is, for a reader: "Arm 3: Study X: SLE cohort". ``full=False``
    gives "Arm 3" for live rows, whose text may need more queries (lists of many)."""
    name = f"{target._meta.verbose_name.capitalize()} {target.pk}"
    if label_of(target) == "curation.extraction":
        return f"{name}: {target.citation}"
    return f"{name}: {target}" if full else name


def publication_ids(target) -> set[int]:
    """The live publications a record was accepted from (empty for an extraction,
    whose curator is named on it, and for records shared by many papers)."""
    if label_of(target) == "studies.publication":
        return {target.pk}
    if hasattr(target, "source_publication_id"):
        return {target.source_publication_id}
    if hasattr(target, "publication_id") and label_of(target) != "curation.extraction":
        return {target.publication_id}
    study_id = target.pk if label_of(target) == "studies.study" else getattr(
        target, "study_id", None)
    if study_id is not None:
        report = apps.get_model("studies.StudyReport")
        return set(report.objects.filter(study_id=study_id).values_list("publication_id",
                                                                        flat=True))
    return set()
