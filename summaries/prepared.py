"""Snapshot statements compiled once per process and reused for any set of studies.

An incremental refresh runs about sixty small statements over the snapshot of a few
studies. Their SQL runs in ~20 ms, yet building and compiling them with the ORM took
as long again at every refresh (issue 8: an incremental refresh within 1% of a full
rebuild). On PostgreSQL the studies go to the database as one array parameter
(``study_id = ANY(%s)``, the ``__any`` lookup below), so a statement's SQL is the same
whichever studies it is about: it is built and compiled on first use with a marker in
place of the studies, and reused with the study ids put where the marker was.

Elsewhere (SQLite, where only the tests run) and in a full rebuild (``studies`` is
None) each statement is built and compiled afresh, as any queryset.

A statement is named by the function that builds it: ``build(studies, *args)``, which
must use ``studies`` only as a lookup value (through ``scoped``/``__any``) and return
a QuerySet, or SQL and parameters made from querysets. ``args`` are hashable and
part of the statement's name (a vocabulary that rarely changes).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Field, ForeignObject, Lookup, QuerySet
from django.db.models.query import ValuesListIterable

Studies = Collection[int] | None


class _Marker(list):
    """Stands for the studies in a statement compiled once (an empty list of ids)."""


class AnyOf(Lookup):
    """``field__any=ids``: ``field = ANY(%s)`` with the ids as one array on PostgreSQL,
    so that the statement's SQL does not depend on them; ``IN (...)`` elsewhere."""

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


def ids(studies: Collection[int]) -> list[int]:
    """Study ids as an ``__any`` value: the marker as it is, any collection as a list."""
    return studies if isinstance(studies, _Marker) else sorted(studies)


_compiled: dict[tuple, tuple[str, tuple, list[str] | None]] = {}


def _compile(build: Callable, studies: Studies, args: tuple) -> tuple[str, tuple, list | None]:
    made = build(studies, *args)
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


def statement(build: Callable, studies: Studies, *args) -> tuple[str, list, list | None]:
    """SQL, parameters and column names of ``build(studies, *args)``."""
    if studies is None or connection.vendor != "postgresql":
        sql, params, names = _compile(build, studies, args)
        return sql, list(params), names
    key = (build.__module__, build.__qualname__, connection.alias, args)
    if (found := _compiled.get(key)) is None:
        found = _compiled[key] = _compile(build, _Marker(), args)
    sql, params, names = found
    values = sorted(studies)
    return sql, [values if isinstance(p, _Marker) else p for p in params], names


def rows(build: Callable, studies: Studies, *args) -> list[tuple]:
    """The rows of the statement, as tuples in its columns' order."""
    if studies is None or connection.vendor != "postgresql":
        return _fresh(build(studies, *args))[1]
    sql, params, _ = statement(build, studies, *args)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fixed_rows(build: Callable[[Studies], QuerySet]) -> list[tuple]:
    """The rows of a statement about no studies in particular (a vocabulary lookup):
    ``build`` ignores its argument."""
    return rows(build, ())


def dicts(build: Callable, studies: Studies, *args) -> list[dict]:
    """The rows of the statement as dicts by column name."""
    if studies is None or connection.vendor != "postgresql":
        names, found = _fresh(build(studies, *args))
    else:
        sql, params, names = statement(build, studies, *args)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
    return [dict(zip(names, row, strict=True)) for row in found]


def execute(build: Callable, studies: Studies, *args) -> None:
    """Run a statement that returns no rows (INSERT ... SELECT, UPDATE, DELETE)."""
    sql, params, _ = statement(build, studies, *args)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _fresh(queryset: QuerySet) -> tuple[list[str], list[tuple]]:
    """Columns and rows through Django's own iteration, which applies the backend's
    converters (SQLite's decimals and booleans)."""
    names = _names(queryset)
    return names, [
        tuple(row[name] for name in names) if isinstance(row, dict) else tuple(row)
        for row in queryset
    ]
