"""The safety net: every ORM save or delete of curated data marks its studies changed.

Write paths call :func:`summaries.services.mark_changed` themselves (the curation
workflow, the bundle importer); these receivers catch what no service wraps, such as
the admin, the shell and data loaders, so that no change to accepted data goes
unnoticed. ``queryset.update()`` and ``bulk_create()`` send no signals: code that
uses them must call mark_changed. Raw saves (``loaddata``) are skipped: run
``manage.py refresh_summaries --full`` after loading fixtures.

A row's foreign keys are remembered when it is loaded (post_init, no query), so that
moving a row to another arm or study refreshes the study it left as well.
"""

from django.db.models.signals import m2m_changed, post_delete, post_init, post_save

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
    Publication,
    Study,
    StudyReport,
)

from .services import ALL, mark_changed, studies_of, study_key

# Curated data, with the foreign keys that place a row in a study.
DATA = {
    Study: (),
    StudyReport: ("study_id",),
    Publication: (),
    Arm: ("study_id",),
    ArmProduct: ("arm_id",),
    Patient: ("arm_id",),
    OutcomeResult: ("arm_id", "patient_id"),
    AdverseEvent: ("arm_id", "patient_id"),
}
# Vocabulary fields that change pooled numbers or their labels when edited.
VOCABULARY = {
    Disease: ("main_outcome_id", "parent_id"),
    Antigen: ("code", "name"),
    OutcomeMeasure: ("code", "name", "abbreviation"),
}
ORIGIN = "_summaries_origin"


def remember_origin(sender, instance, **kwargs) -> None:
    fields = DATA.get(sender) or VOCABULARY.get(sender) or ()
    # __dict__, not getattr: a deferred field must not cost a query.
    setattr(instance, ORIGIN, {name: instance.__dict__.get(name) for name in fields})


def _moved_from(sender, instance) -> dict:
    """The foreign keys the row had when loaded, where they changed."""
    origin = getattr(instance, ORIGIN, None) or {}
    return {
        name: value
        for name, value in origin.items()
        if value is not None and value != getattr(instance, name)
    }


def data_saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    studies = studies_of(instance)
    if moved := _moved_from(sender, instance):
        studies |= studies_of(instance, **{name: moved.get(name) for name in DATA[sender]})
    mark_changed(study_key(pk) for pk in studies if pk is not None)
    remember_origin(sender, instance)


def data_deleted(sender, instance, **kwargs) -> None:
    mark_changed(study_key(pk) for pk in studies_of(instance) if pk is not None)


def vocabulary_saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw or created:
        return  # nothing refers to a new row yet
    origin = getattr(instance, ORIGIN, None) or {}
    if any(origin.get(name) != getattr(instance, name) for name in VOCABULARY[sender]):
        mark_changed(ALL)
    remember_origin(sender, instance)


def construct_targets_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """A construct's antigens changed: every arm given it moves to another target set."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        constructs = [instance.pk]
    elif action == "pre_clear":
        constructs = list(instance.constructs.values_list("pk", flat=True))
    else:
        constructs = list(pk_set or ())
    studies = ArmProduct.objects.filter(construct_id__in=constructs).values_list(
        "arm__study_id", flat=True
    )
    mark_changed(study_key(pk) for pk in set(studies))


def connect() -> None:
    for model, fields in DATA.items():
        if fields:  # each row loaded pays for it: exports load tens of thousands
            post_init.connect(remember_origin, sender=model, dispatch_uid=f"summaries-init-{model}")
        post_save.connect(data_saved, sender=model, dispatch_uid=f"summaries-save-{model}")
        post_delete.connect(data_deleted, sender=model, dispatch_uid=f"summaries-del-{model}")
    for model in VOCABULARY:
        post_init.connect(remember_origin, sender=model, dispatch_uid=f"summaries-init-{model}")
        post_save.connect(vocabulary_saved, sender=model, dispatch_uid=f"summaries-save-{model}")
    m2m_changed.connect(
        construct_targets_changed,
        sender=CarConstruct.targets.through,
        dispatch_uid="summaries-construct-targets",
    )
