"""Flat CSV for pandas and R: one line per row, related values joined by '; '."""

import csv
import io
import json
from decimal import Decimal

from rest_framework.renderers import BaseRenderer

LIST_SEPARATOR = "; "


def flat_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, list):
        if all(not isinstance(item, (dict, list)) for item in value):
            return LIST_SEPARATOR.join(str(flat_value(item)) for item in value)
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class CSVRenderer(BaseRenderer):
    """A page of rows as CSV; the next page's URL is in the Link header."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        rows = data.get("results", data) if isinstance(data, dict) else data
        if isinstance(rows, dict):
            rows = [rows]
        rows = [flat_row(row) for row in rows]
        declared = list((renderer_context or {}).get("csv_columns") or [])
        columns: list[str] = []
        for name in declared:
            if any(name in row for row in rows) or not rows:
                columns.append(name)
            for row in rows:
                columns.extend(
                    key for key in row if key.startswith(name + ".") and key not in columns
                )
        for row in rows:
            columns.extend(key for key in row if key not in columns)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([flat_value(row.get(column)) for column in columns])
        return out.getvalue().encode(self.charset)


def flat_row(row: dict) -> dict:
    """Nested objects become dotted columns: {"response": {"events": 3}} gives
    "response.events"; an object that is null leaves its columns empty."""
    flat = {}
    for key, value in row.items():
        if isinstance(value, dict):
            for sub_key, sub_value in flat_row(value).items():
                flat[f"{key}.{sub_key}"] = sub_value
        else:
            flat[key] = value
    return flat
