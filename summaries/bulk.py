"""Writing many snapshot rows at once.

Django's bulk_create sends one placeholder per value (~640,000 for the contribution
rates of 10,000 studies): building and binding them, and PostgreSQL parsing them,
took a third of a full rebuild. On PostgreSQL :func:`insert` streams the rows with
COPY instead (53,634 rates: ~0.5 s against ~2.4 s). The snapshot models hold plain
values (numbers, text, booleans), so the attributes are written as they are, without
each field's own conversion; a field of another kind is refused (:func:`_check_plain`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from operator import attrgetter

from django.db import connection, models

# COPY's text format: these characters in a value would end the value or the row.
ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# Fields whose Python values str() writes as PostgreSQL reads them.
PLAIN_FIELDS = {
    "AutoField", "BigAutoField", "BigIntegerField", "BooleanField", "CharField",
    "DecimalField", "ForeignKey", "IntegerField", "PositiveIntegerField",
    "PositiveSmallIntegerField", "SmallIntegerField", "TextField",
}


def insert(model: type[models.Model], fields: list[str], rows: Iterable[tuple]) -> None:
    """Insert rows given as tuples of values for these fields (their attribute names)."""
    _check_plain(model)
    rows = list(rows)
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(model(**dict(zip(fields, row, strict=True))) for row in rows)
        return
    meta = model._meta
    # COPY knows no Django defaults: fields left out get theirs, as bulk_create gives.
    defaults = [f for f in meta.concrete_fields
                if f.attname not in fields and f.has_default() and not f.primary_key]
    fields = [*fields, *(f.attname for f in defaults)]
    tail = "".join("\t" + _text(f.get_default()) for f in defaults)
    data = io.StringIO()
    for row in rows:
        # Most values are integers: str() them without a call to _text (half the time).
        data.write("\t".join([str(v) if type(v) is int else _text(v) for v in row]))
        data.write(tail + "\n")
    data.seek(0)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in fields)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN", data)


def insert_objects(model: type[models.Model], objects: Iterable, *,
                   with_ids: bool = False) -> None:
    """Insert these objects: unsaved model instances, or plain objects with an attribute
    for each of the model's fields, named as its attribute (``study_id``). ``with_ids``
    gives each its primary key first (rows of other models refer to them)."""
    objects = list(objects)
    if not objects:
        return
    meta = model._meta
    pk = meta.pk.attname
    fields = [f.attname for f in meta.concrete_fields
              if with_ids or not (f.primary_key and f.auto_created)]
    if connection.vendor != "postgresql":
        fields = [name for name in fields if name != pk or not with_ids]
        instances = [model(**{name: getattr(row, name) for name in fields}) for row in objects]
        model.objects.bulk_create(instances)  # sets the new ids where the database returns them
        if with_ids:
            for row, instance in zip(objects, instances, strict=True):
                setattr(row, pk, instance.pk)
        return
    if with_ids:
        for row, value in zip(objects, _next_ids(model, len(objects)), strict=True):
            setattr(row, pk, value)
    values = attrgetter(*fields)  # a tuple of values, unless there is one field
    rows = map(values, objects) if len(fields) > 1 else ((values(row),) for row in objects)
    insert(model, fields, rows)


@contextmanager
def reloading(tables: Iterable[type[models.Model]]) -> Iterator[None]:
    """Empty these tables for the block to fill them again, in the caller's
    transaction. On PostgreSQL they are truncated and their secondary indexes dropped
    until the block ends, then built again: one sorted pass per index instead of an
    insertion per row (at 10,000 studies ~1.5 s of a full rebuild). Both take an
    exclusive lock until the transaction ends, so only tables no page reads belong here;
    should the block fail, rolling the transaction back restores rows and indexes."""
    tables = list(tables)
    if connection.vendor != "postgresql":
        for model in reversed(tables):
            model.objects.all().delete()
        yield
        return
    assert connection.in_atomic_block, "reloading() needs a transaction to roll back to"
    names = [model._meta.db_table for model in tables]
    with connection.cursor() as cursor:
        # Indexes that no constraint owns (the primary keys and unique constraints stay).
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = ANY(%s::regclass[]) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint WHERE conindid = indexrelid) ORDER BY 1",
            [names],
        )
        indexes = cursor.fetchall()
        cursor.execute(f"TRUNCATE {', '.join(map(connection.ops.quote_name, names))}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")  # regclass text: quoted where needed
    yield
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)


def _check_plain(model: type[models.Model]) -> None:
    """Refuse models with fields whose values need Django's conversion (dates, JSON):
    written as str() they would be wrong, on PostgreSQL only."""
    for field in model._meta.concrete_fields:
        if field.get_internal_type() not in PLAIN_FIELDS:
            raise TypeError(
                f"summaries.bulk writes plain values only: {model.__name__}.{field.name} is a "
                f"{field.get_internal_type()}"
            )


def _text(value) -> str:
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    return str(value).translate(ESCAPES)


def _next_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` values of the model's primary-key sequence."""
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, count],
        )
        return [pk for pk, in cursor.fetchall()]
