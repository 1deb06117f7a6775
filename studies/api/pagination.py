"""Cursor pagination: stable pages under concurrent writes, opaque next links."""

from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

MAX_PAGE_SIZE = 500


class RowCursorPagination(CursorPagination):
    """Pages of rows in the requested order, ties broken by id.

    The next page's URL is in the body (``next``) and in a ``Link: <...>; rel="next"``
    header, so that CSV clients can page too."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = "id"

    def get_ordering(self, request, queryset, view):
        ordering = tuple(super().get_ordering(request, queryset, view))
        names = {field.lstrip("-") for field in ordering}
        if "id" not in names:
            ordering += ("-id" if ordering[0].startswith("-") else "id",)
        return ordering

    def get_paginated_response(self, data):
        response = Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )
        links = []
        if response.data["next"]:
            links.append(f'<{response.data["next"]}>; rel="next"')
        if response.data["previous"]:
            links.append(f'<{response.data["previous"]}>; rel="prev"')
        if links:
            response["Link"] = ", ".join(links)
        return response

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["required"] = ["next", "previous", "results"]
        return schema
