"""What a row held in the database before the save under way, for receivers that
must know whether a save moved the row (an arm to another study) or changed a text
(a publication's title).

Each receiver module asks for the fields it needs with :func:`watch`; one pre_save
receiver per model then reads all of them in a single query, whoever asked, and
:func:`before` answers from it. New rows have nothing stored (None)."""

from __future__ import annotations

from collections import defaultdict

from django.db.models.signals import pre_save

ATTRIBUTE = "_stored_values"
_watched: dict[type, set[str]] = defaultdict(set)


def watch(model, *fields: str) -> None:
    _watched[model].update(fields)
    pre_save.connect(_read, sender=model, dispatch_uid=f"stored-values-{model._meta.label_lower}")


def _read(sender, instance, raw=False, **kwargs) -> None:
    values = None
    if not raw and instance.pk is not None and not instance._state.adding:
        values = (
            sender._base_manager.filter(pk=instance.pk)
            .values(*sorted(_watched[sender]))
            .first()
        )
    setattr(instance, ATTRIBUTE, values)


def before(instance, field: str):
    """The field's value in the database before this save (None for a new row)."""
    values = getattr(instance, ATTRIBUTE, None)
    return None if values is None else values[field]


def changed(instance, *fields: str) -> bool:
    """Whether this save changes any of these fields; True when nothing was read (a
    row saved with a primary key it was built with): better a needless refresh."""
    values = getattr(instance, ATTRIBUTE, None)
    return values is None or any(values[f] != getattr(instance, f) for f in fields)
