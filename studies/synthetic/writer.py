"""Writing plain rows fast: COPY on PostgreSQL, bulk_create elsewhere.

Rows are dicts keyed by the model's attribute names (``study_id``); a value that is
itself a row dict stands for that row's id. Ids of rows that others refer to are
drawn from the table's own sequence before writing (so concurrent writers never
collide), which lets a whole chunk of related rows be sent without a round trip
per row. Fields a row leaves out get the model's default; ``created_at`` and
``updated_at`` get the time of the run.

Model-level validation is not run here: the generator keeps to the rules, and
tests/studies/test_synthetic.py runs ``full_clean()`` over a sample of what it wrote.
"""

from __future__ import annotations

import io
from datetime import date, datetime

from django.db import connections
from django.db.models import Max, Model
from django.utils import timezone

BATCH_SIZE = 2000


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_TEXT = {
    type(None): lambda value: r"\N",
    bool: lambda value: "t" if value else "f",
    str: lambda value: value.translate(_ESCAPES),
    date: date.isoformat,
    datetime: datetime.isoformat,
}


def _copy_text(value) -> str:
    """A value in PostgreSQL's COPY text format."""
    convert = _COPY_TEXT.get(type(value))
    return convert(value) if convert else str(value)


class RowWriter:
    def __init__(self, using: str = "default"):
        self.using = using
        self.connection = connections[using]
        self.postgres = self.connection.vendor == "postgresql"
        self.now = timezone.now()
        self._columns: dict[type[Model], list] = {}

    def allocate_ids(self, model: type[Model], rows: list[dict]) -> None:
        """Give each row an id of its own, taken from the table's sequence."""
        if not rows:
            return
        if self.postgres:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [model._meta.db_table, model._meta.pk.column, len(rows)],
                )
                ids = [row[0] for row in cursor.fetchall()]
        else:
            start = (model.objects.using(self.using).aggregate(top=Max("pk"))["top"] or 0) + 1
            ids = range(start, start + len(rows))
        for row, pk in zip(rows, ids, strict=True):
            row["id"] = pk

    def columns(self, model: type[Model]) -> list:
        """(column, attribute name, default) of every concrete field but the id."""
        if model not in self._columns:
            columns = []
            for field in model._meta.concrete_fields:
                if field.primary_key:
                    continue
                if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                    default = self.now
                else:
                    default = field.get_default()
                columns.append((field.column, field.attname, default))
            self._columns[model] = columns
        return self._columns[model]

    def write(self, model: type[Model], rows: list[dict]) -> int:
        """Insert rows (with their ids when allocate_ids gave them some)."""
        if not rows:
            return 0
        columns = self.columns(model)
        with_ids = "id" in rows[0]
        if with_ids:
            columns = [(model._meta.pk.column, "id", None), *columns]
        values = [
            [
                ref["id"] if isinstance(ref := row.get(name, default), dict) else ref
                for _, name, default in columns
            ]
            for row in rows
        ]
        if self.postgres:
            self._copy(model, [column for column, _, _ in columns], values)
        else:
            names = [name for _, name, _ in columns]
            model.objects.using(self.using).bulk_create(
                [model(**dict(zip(names, row, strict=True))) for row in values],
                batch_size=BATCH_SIZE,
            )
        return len(rows)

    def _copy(self, model: type[Model], columns: list[str], values: list[list]) -> None:
        quote = self.connection.ops.quote_name
        buffer = io.StringIO()
        for row in values:
            buffer.write("\t".join(map(_copy_text, row)))
            buffer.write("\n")
        buffer.seek(0)
        sql = f"COPY {quote(model._meta.db_table)} ({', '.join(map(quote, columns))}) FROM STDIN"
        with self.connection.cursor() as cursor:
            cursor.copy_expert(sql, buffer)

    def relax_durability(self) -> None:
        """Inside a transaction: commit without waiting for the WAL flush. A crash may
        lose the last chunks written, never corrupt them; for generated data that can be
        made again, the wait is not worth it."""
        if self.postgres:
            with self.connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")

    def analyze(self, models) -> None:
        """Refresh the planner's statistics: tables just filled by COPY have none until
        autovacuum comes round, and the plans made without them can be disastrous."""
        if self.postgres:
            quote = self.connection.ops.quote_name
            tables = ", ".join(dict.fromkeys(quote(m._meta.db_table) for m in models))
            with self.connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {tables}")
