"""Refresh statements compiled once per process and reused for any studies or keys.

An incremental refresh runs about fifty small statements over the snapshot of a few
studies and the summary rows they feed. Their SQL runs in ~20 ms, yet building and
compiling them with the ORM took as long again at every refresh (issue 8: an
incremental refresh within 1% of a full rebuild). On PostgreSQL the values a statement
is about (study ids, summary keys) go to the database as arrays, one parameter each
(``study_id = ANY(%s)``: the ``__any`` lookup; ``(disease_id, target_key) IN (SELECT *
FROM unnest(%s, %s))``: :class:`KeysIn`), so its SQL is the same whatever the values:
it is built and compiled on first use with markers in their place, and reused with the
values put where the markers were.

Elsewhere (SQLite, where only the tests run) and when a slot is None (a full rebuild:
every row) each statement is built and compiled afresh, as any queryset.

A statement is named by the function that builds it: ``build(*slots)``, which must use
each slot only as a value of ``__any`` (through :func:`ids`) or :class:`KeysIn`, and
return a QuerySet, or SQL and parameters made from querysets.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from functools import reduce
from operator import or_

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BooleanField,
    Expression,
    F,
    Field,
    ForeignObject,
    Lookup,
    Q,
    QuerySet,
)
from django.db.models.query import ValuesListIterable
from django.db.models.sql import DeleteQuery


class _Marker(list):
    """Stands for a slot's values in a statement compiled once (an empty list). The
    slot is the class's: Django copies list lookup values as type(value)(items)."""

    slot = 0


_MARKERS = [type(f"_Marker{slot}", (_Marker,), {"slot": slot}) for slot in range(8)]


class AnyOf(Lookup):
    """``field__any=values``: ``field = ANY(%s)`` with the values as one array on
    PostgreSQL, so that the statement's SQL does not depend on them; ``IN`` elsewhere."""

    lookup_name = "any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        values = self.rhs
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*params, values]
        if not values:
            raise EmptyResultSet
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*params, *values]


# Foreign keys take only the lookups registered on ForeignObject and its subclasses.
Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)


def ids(values: Collection) -> list:
    """Values for ``__any``: a marker as it is, any collection as a list. (A list of a
    marker's type survives Django's copy of lookup values.)"""
    return values if isinstance(values, _Marker) else list(values)


def any_of(path: str, values: Collection | None) -> Q:
    """Rows whose ``path`` holds one of the values (None: every row)."""
    return Q() if values is None else Q(**{f"{path}__any": ids(values)})


class KeysIn(Expression):
    """PostgreSQL: ``(a, b) IN (SELECT * FROM unnest(%s::t1[], %s::t2[]))``, the keys
    as one array per column (parallel lists), which plans as a join on the index."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, columns: Sequence[str], arrays: Sequence[list], types: Sequence[str]):
        super().__init__()
        self.columns = [F(column) for column in columns]
        self.arrays, self.types = list(arrays), list(types)

    def get_source_expressions(self):
        return self.columns

    def set_source_expressions(self, expressions):
        self.columns = list(expressions)

    def as_sql(self, compiler, connection):
        compiled = [compiler.compile(column) for column in self.columns]
        columns = ", ".join(sql for sql, _ in compiled)
        arrays = ", ".join(f"%s::{kind}[]" for kind in self.types)
        params = [p for _, column_params in compiled for p in column_params]
        return f"({columns}) IN (SELECT * FROM unnest({arrays}))", [*params, *self.arrays]


def keys_q(columns: Sequence[str], arrays: Sequence[list | None], types: Sequence[str]) -> Q:
    """Rows whose columns hold one of the keys (arrays: one list per column, None:
    every row): :class:`KeysIn` on PostgreSQL, an OR of ANDs elsewhere."""
    if arrays[0] is None:
        return Q()
    if connection.vendor == "postgresql":
        return Q(KeysIn(columns, arrays, types))
    keys = list(zip(*arrays, strict=True))
    if not keys:
        return Q(pk__in=[])
    return reduce(or_, (Q(**dict(zip(columns, key, strict=True))) for key in keys))


def key_arrays(keys: Collection[tuple] | None, width: int) -> tuple[list | None, ...]:
    """Keys (tuples) as one list per column, in the same order; None stays None."""
    if keys is None:
        return (None,) * width
    ordered = sorted(keys)
    return tuple([key[column] for key in ordered] for column in range(width))


_compiled: dict[tuple, tuple[str, tuple, list[str] | None]] = {}


def _compile(build: Callable, slots: Sequence) -> tuple[str, tuple, list | None]:
    made = build(*slots)
    if not isinstance(made, QuerySet):
        sql, params = made
        return sql, tuple(params), None
    sql, params = made.query.sql_with_params()
    return sql, params, _names(made)


def _names(queryset: QuerySet) -> list[str]:
    """The columns of the statement, in the order of its SQL."""
    query = queryset.query
    names = [*query.extra_select, *query.values_select, *query.annotation_select]
    if queryset._iterable_class is ValuesListIterable and list(queryset._fields) != names:
        # Django reorders values_list rows to the order asked for; raw rows are not.
        raise ValueError(f"list the fields before the annotations: {queryset._fields}")
    return names


def _cached(slots: Sequence) -> bool:
    return connection.vendor == "postgresql" and all(slot is not None for slot in slots)


def statement(build: Callable, *slots, name=None) -> tuple[str, list, list | None]:
    """SQL, parameters and column names of ``build(*slots)``. ``name`` names the
    statement where ``build`` is not enough (one builder wrapped in several ways)."""
    if not _cached(slots):
        sql, params, names = _compile(build, slots)
        return sql, list(params), names
    key = (name or (build.__module__, build.__qualname__), connection.alias)
    if (found := _compiled.get(key)) is None:
        found = _compiled[key] = _compile(build, [_MARKERS[i]() for i in range(len(slots))])
    sql, params, names = found
    values = [list(slot) for slot in slots]
    return sql, [values[p.slot] if isinstance(p, _Marker) else p for p in params], names


def rows(build: Callable, *slots, name=None) -> list[tuple]:
    """The rows of the statement, as tuples in its columns' order."""
    return _fetch(build, slots, name)[1]


def dicts(build: Callable, *slots, name=None) -> list[dict]:
    """The rows of the statement as dicts by column name."""
    names, found = _fetch(build, slots, name)
    return [dict(zip(names, row, strict=True)) for row in found]


def _fetch(build: Callable, slots: Sequence, name) -> tuple[list[str] | None, list[tuple]]:
    if _cached(slots):
        sql, params, names = statement(build, *slots, name=name)
    else:
        made = build(*slots)
        if isinstance(made, QuerySet):
            return _fresh(made)
        (sql, params), names = made, None
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return names, cursor.fetchall()


def execute(build: Callable, *slots, name=None) -> None:
    """Run a statement that returns no rows (INSERT ... SELECT, UPDATE, DELETE)."""
    sql, params, _ = statement(build, *slots, name=name)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def delete_sql(queryset: QuerySet) -> tuple[str, tuple]:
    """DELETE of the queryset's rows, for :func:`execute` (a model no rows refer to)."""
    query = queryset.query.chain(DeleteQuery)
    return query.get_compiler(queryset.db).as_sql()


def _fresh(queryset: QuerySet) -> tuple[list[str], list[tuple]]:
    """Columns and rows through Django's own iteration, which applies the backend's
    converters (SQLite's decimals and booleans)."""
    names = _names(queryset)
    return names, [
        tuple(row[name] for name in names) if isinstance(row, dict) else tuple(row)
        for row in queryset
    ]
