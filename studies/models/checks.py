"""Model validation without a query per rule.

Django checks each CheckConstraint in ``full_clean()`` by asking the database
(``SELECT 1 WHERE <condition>`` in a savepoint): for a bundle of a hundred results
with ten rules each that is two thousand queries. Our constraints are plain
comparisons of a row's own fields, so :func:`evaluate` decides them in Python with the
database's three-valued logic (a comparison with NULL is unknown, and an unknown CHECK
passes). Anything it cannot read (a join, a function) returns UNKNOWN and is left to
Django's own check, so a new kind of rule is never skipped.
"""

from __future__ import annotations

import operator

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import CheckConstraint, F, Model, Q

UNKNOWN = object()  # the condition cannot be evaluated here: ask the database

COMPARISONS = {
    "exact": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


class _Unreadable(Exception):
    pass


class _Excluded(Exception):
    """The condition reads a field left out of validation (it failed its own checks)."""


def validate(constraint, model, instance, exclude, using) -> None:
    """constraint.validate(), deciding plain CHECK rules in Python."""
    if isinstance(constraint, CheckConstraint):
        try:
            outcome = evaluate(constraint.condition, instance, exclude)
        except _Excluded:
            return  # as Django: a rule on a field that failed is not checked
        if outcome is not UNKNOWN:
            if outcome is False:
                raise ValidationError(
                    constraint.get_violation_error_message(),
                    code=constraint.violation_error_code,
                )
            return
    constraint.validate(model, instance, exclude=exclude, using=using)


def evaluate(condition: Q, instance, exclude=()) -> bool | None | object:
    """True, False, None (SQL NULL: the CHECK passes) or UNKNOWN."""
    try:
        return _node(condition, instance, exclude or ())
    except _Unreadable:
        return UNKNOWN


def _node(node: Q, instance, exclude) -> bool | None:
    values = [
        _node(child, instance, exclude)
        if isinstance(child, Q)
        else _lookup(*child, instance, exclude)
        for child in node.children
    ]
    if node.connector == Q.AND:
        result = False if False in values else (None if None in values else True)
    elif node.connector == Q.OR:
        result = True if True in values else (None if None in values else False)
    else:
        raise _Unreadable
    if node.negated:
        return None if result is None else not result
    return result


def _lookup(path: str, expected, instance, exclude) -> bool | None:
    name, _, lookup = path.partition("__")
    value = _field_value(instance, name, exclude)
    lookup = lookup or "exact"
    if lookup == "isnull":
        return (value is None) == bool(expected)
    if isinstance(expected, F):
        expected = _field_value(instance, expected.name, exclude)
    elif hasattr(expected, "resolve_expression") or isinstance(expected, Model):
        raise _Unreadable
    if lookup == "in":
        return None if value is None else value in expected
    if lookup not in COMPARISONS:
        raise _Unreadable
    if value is None or expected is None:
        return None
    return COMPARISONS[lookup](value, expected)


def _field_value(instance, name: str, exclude):
    if "__" in name:
        raise _Unreadable  # a lookup through a relation needs a join
    try:
        field = instance._meta.get_field(name)
    except FieldDoesNotExist as missing:
        raise _Unreadable from missing
    if not getattr(field, "concrete", False) or field.many_to_many:
        raise _Unreadable
    if field.name in exclude:
        raise _Excluded
    return getattr(instance, field.attname)
