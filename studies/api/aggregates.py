"""Lists of related values gathered in SQL, so that a list page is one query.

``JSONList`` turns a correlated subquery into a JSON array column: PostgreSQL's
jsonb_agg and SQLite's json_group_array do the gathering, and each row arrives
with its related codes, ids or small objects already attached.
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
        return value


class JSONList(Subquery):
    """The rows of a correlated subquery as a JSON array, in the subquery's order.

    ``JSONList(Antigen.objects.filter(constructs=OuterRef("pk")), "code")`` gives a
    list of codes; ``fields={"id": "pk", "name": "name"}`` gives a list of objects.
    ``distinct=True`` drops repeated values (lists of single values only). NULL
    values are left out of single-value lists.
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
        super().__init__(queryset, output_field=JSONListField())

    def as_sql(self, compiler, connection, template=None, **extra_context):
        subquery_sql, params = super().as_sql(compiler, connection, template, **extra_context)
        postgres = connection.vendor == "postgresql"
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
