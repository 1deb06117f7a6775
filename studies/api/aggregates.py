"""Lists of related values gathered in SQL, so that a list page is one query.

``JSONList`` turns a correlated subquery into a list column, and each row arrives
with its related codes, ids or small objects already attached. On PostgreSQL a list
of single values is an array (``ARRAY(subquery)``), which psycopg2 decodes in C, and
a list of objects is jsonb_agg; SQLite gathers both with json_group_array.
"""

import json

from django.db.models import F, JSONField, QuerySet, Subquery

ITEM = "json_item"


class JSONListField(JSONField):
    """Reads a JSON array whether the driver hands over text or decoded values."""

    def from_db_value(self, value, expression, connection):
        if value is None:
            return []
        if isinstance(value, (bytes, str)):
            return json.loads(value)
        return value  # decoded by the driver


class ValueListField(JSONListField):
    """A list of single values: a PostgreSQL array, which psycopg2 decodes itself, so
    no converter runs for each value (six a row on the study list); JSON elsewhere."""

    def get_db_converters(self, connection):
        if connection.vendor == "postgresql":
            return []
        return super().get_db_converters(connection)


class JSONList(Subquery):
    """The rows of a correlated subquery as a list, in the subquery's order.

    ``JSONList(Antigen.objects.filter(constructs=OuterRef("pk")), "code")`` gives a
    list of codes; ``fields={"id": "pk", "name": "name"}`` gives a list of objects.
    ``distinct=True`` drops repeated values (lists of single values only). NULL
    values are left out of single-value lists, whose values should be text or
    integers (what JSON and a PostgreSQL array give back alike).
    """

    def __init__(
        self,
        queryset: QuerySet,
        value: str | None = None,
        *,
        fields=None,
        order_by=None,
        distinct: bool = False,
    ):
        if (value is None) == (fields is None):
            raise ValueError("Give either one value path or a dict of fields.")
        self.keys = None if fields is None else list(fields)
        # An array takes a subquery of one column; DISTINCT with another order would
        # add the ordering column to the subquery's select.
        self.as_array = fields is None and not (distinct and order_by)
        if fields is None:
            queryset = queryset.values(**{ITEM: F(value)}).filter(**{f"{ITEM}__isnull": False})
            if distinct:
                queryset = queryset.distinct()
            queryset = queryset.order_by(*(order_by or [ITEM]))
        else:
            if distinct:
                raise ValueError("distinct applies to single-value lists only.")
            queryset = queryset.values(**{f"json_{key}": F(path) for key, path in fields.items()})
            queryset = queryset.order_by(*(order_by or ["pk"]))
        super().__init__(
            queryset, output_field=ValueListField() if self.as_array else JSONListField()
        )

    def as_sql(self, compiler, connection, template=None, **extra_context):
        subquery_sql, params = super().as_sql(compiler, connection, template, **extra_context)
        postgres = connection.vendor == "postgresql"
        if postgres and self.as_array:
            return f"ARRAY{subquery_sql}", params
        if self.keys is None:
            element = f"_j.{ITEM}"
        else:
            pairs = ", ".join(f"'{key}', _j.json_{key}" for key in self.keys)
            element = f"jsonb_build_object({pairs})" if postgres else f"json_object({pairs})"
        if postgres:
            sql = f"(SELECT COALESCE(jsonb_agg({element}), '[]'::jsonb) FROM {subquery_sql} _j)"
        else:
            sql = f"(SELECT json_group_array({element}) FROM {subquery_sql} _j)"
        return sql, params
