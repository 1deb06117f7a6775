"""Recording who changed curated data, and reading that history back as diffs.

django-simple-history takes the user from the request; services that write outside
a request, or on behalf of someone else (an accepted extraction writes the curator's
rows), say who and why with ``recorded_as``.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import models
from simple_history.signals import pre_create_historical_record

_acting: ContextVar[tuple | None] = ContextVar("curation_acting", default=None)


@contextmanager
def recorded_as(user, reason: str = ""):
    """History rows written inside this block name ``user`` and ``reason``."""
    token = _acting.set((user, reason))
    try:
        yield
    finally:
        _acting.reset(token)


def _fill_history_row(sender, history_instance, **kwargs) -> None:
    acting = _acting.get()
    if acting is None:
        return
    user, reason = acting
    if user is not None:
        history_instance.history_user = user
    if reason and not history_instance.history_change_reason:
        history_instance.history_change_reason = reason[:100]


pre_create_historical_record.connect(_fill_history_row, dispatch_uid="curation_recorded_as")


# Diffs of bundle documents -----------------------------------------------------------------


def flatten_document(value, path: str = "") -> dict[str, object]:
    """{"a": {"b": [1]}} -> {"a.b[0]": 1}: one entry per leaf, for line-by-line diffs."""
    if isinstance(value, dict):
        if not value:
            return {path: {}} if path else {}
        items = {}
        for key, item in value.items():
            items.update(flatten_document(item, f"{path}.{key}" if path else str(key)))
        return items
    if isinstance(value, list):
        if not value:
            return {path: []}
        items = {}
        for index, item in enumerate(value):
            items.update(flatten_document(item, f"{path}[{index}]"))
        return items
    return {path: value}


@dataclass(frozen=True)
class Change:
    path: str
    old: object
    new: object

    @property
    def kind(self) -> str:
        if self.old is _MISSING:
            return "added"
        if self.new is _MISSING:
            return "removed"
        return "changed"

    @property
    def old_display(self) -> str:
        return _display(self.old)

    @property
    def new_display(self) -> str:
        return _display(self.new)


class _Missing:
    def __repr__(self) -> str:
        return "—"


_MISSING = _Missing()


def _display(value) -> str:
    if value is _MISSING:
        return ""
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value or '""'
    return json.dumps(value, ensure_ascii=False)


def document_changes(old: dict | None, new: dict | None) -> list[Change]:
    """Leaf-by-leaf differences between two bundle documents, in document order. A
    field left out and the same field given empty mean the same: not a change."""
    before = flatten_document(old or {})
    after = flatten_document(new or {})
    changes = []
    for path in dict.fromkeys([*after, *before]):
        old_value = before.get(path, _MISSING)
        new_value = after.get(path, _MISSING)
        if old_value != new_value or type(old_value) is not type(new_value):
            if _same_number(old_value, new_value) or (_blank(old_value) and _blank(new_value)):
                continue
            changes.append(Change(path, old_value, new_value))
    return changes


def _blank(value) -> bool:
    return value is _MISSING or value is None or value == "" or value == [] or value == {}


def _same_number(a, b) -> bool:
    numbers = (int, float)
    return (
        isinstance(a, numbers) and isinstance(b, numbers)
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b
    )


# History of live records -----------------------------------------------------------------

# Fields every curated row has that say nothing about its content.
BOOKKEEPING_FIELDS = {"created_at", "updated_at", "created_by"}


@dataclass
class FieldChange:
    name: str
    label: str
    old: str
    new: str


@dataclass
class HistoryEntry:
    record: models.Model  # a historical row
    changes: list[FieldChange]

    @property
    def kind(self) -> str:
        return {"+": "created", "~": "changed", "-": "deleted"}[self.record.history_type]


def _value_display(model, name: str, value, labels: dict) -> str:
    if value is None or value == "":
        return "(empty)"
    field = model._meta.get_field(name)
    if isinstance(field, models.ForeignKey):
        return labels.get((field.related_model, value), f"#{value}")
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, list):  # many-to-many: ids of the related rows
        related = field.related_model
        return ", ".join(sorted(labels.get((related, pk), f"#{pk}") for pk in value)) or "(none)"
    return str(value)


def record_history(instance: models.Model) -> list[HistoryEntry]:
    """Every recorded version of a live row, newest first, each with what it changed."""
    model = type(instance)
    records = list(
        instance.history.select_related("history_user").order_by("-history_date", "-history_id")
    )
    m2m_names = [field.name for field in model.history.model._history_m2m_fields]
    pairs = []
    for index, record in enumerate(records):
        previous = records[index + 1] if index + 1 < len(records) else None
        if previous is None:  # the oldest version: show what it was created with
            names = [
                f.name for f in record.tracked_fields
                if f.editable and f.name not in BOOKKEEPING_FIELDS
            ]
            raw = [(name, None, getattr(record, record._meta.get_field(name).attname))
                   for name in names]
            raw += [(name, None, _m2m_ids(model, name, getattr(record, name).values(
                model._meta.get_field(name).m2m_reverse_field_name()))) for name in m2m_names]
            raw = [item for item in raw if item[2] not in (None, "", [])]
        else:
            delta = record.diff_against(previous)
            raw = [
                (change.field, change.old, change.new)
                if change.field not in m2m_names
                else (change.field, _m2m_ids(model, change.field, change.old),
                      _m2m_ids(model, change.field, change.new))
                for change in delta.changes
                if change.field not in BOOKKEEPING_FIELDS
            ]
        pairs.append((record, raw))
    labels = _labels_for(model, [item for _, raw in pairs for item in raw])
    entries = []
    for record, raw in pairs:
        changes = [
            FieldChange(
                name=name,
                label=str(model._meta.get_field(name).verbose_name),
                old="" if old is None and record.history_type == "+" else
                _value_display(model, name, old, labels),
                new=_value_display(model, name, new, labels),
            )
            for name, old, new in raw
        ]
        entries.append(HistoryEntry(record, changes))
    return entries


def _m2m_ids(model, name: str, rows) -> list:
    """Ids of the related rows, from historical through rows given as dicts."""
    target = model._meta.get_field(name).m2m_reverse_field_name()
    return sorted(row[target] for row in rows if row.get(target) is not None)


def _labels_for(model, raw_changes) -> dict:
    wanted: dict[type, set] = {}
    for name, old, new in raw_changes:
        field = model._meta.get_field(name)
        if not field.is_relation:
            continue
        for value in (old, new):
            values = value if isinstance(value, list) else [value]
            for pk in values:
                if pk not in (None, ""):
                    wanted.setdefault(field.related_model, set()).add(pk)
    labels = {}
    for related, pks in wanted.items():
        for row in related._default_manager.filter(pk__in=pks):
            labels[(related, row.pk)] = str(row)
    return labels
