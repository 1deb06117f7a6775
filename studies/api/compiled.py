"""Row columns compiled to SQL once per process.

A list row's related columns (the correlated subqueries of rows.py) are the same SQL
on every request, yet Django compiles them afresh each time: for the study list's
eight subqueries that cost as much Python time as the database took to run the page.
``compiled_columns`` compiles them once per database and returns RawSQL expressions,
which the ORM pastes into each request's statement as they are.
"""

from django.db.models import Expression, QuerySet
from django.db.models.expressions import RawSQL


def compiled_columns(queryset: QuerySet, columns: dict[str, Expression]) -> dict[str, RawSQL]:
    """``columns`` (annotations of queryset's model, which may refer to it with
    OuterRef("pk")) as SQL compiled against queryset's table.

    Use them only in a top-level query on that model, where the table goes by its own
    name, as it does in the compiled SQL."""
    # values() first: annotations may then take the names of model fields (countries).
    query = queryset.values("pk").annotate(**columns).query
    compiler = query.get_compiler(using=queryset.db)
    compiled = {}
    for name in columns:
        annotation = query.annotations[name]
        sql, params = compiler.compile(annotation)
        compiled[name] = RawSQL(sql, params, output_field=annotation.output_field)
    return compiled
