"""Which curated rows the public may see.

Every read path (catalogue, API, exports, summaries) filters through here, so that
the curation workflow can narrow "public" to accepted data in one place.
"""

from django.db.models import QuerySet


def public(queryset: QuerySet) -> QuerySet:
    """Rows visible to anonymous users. Until the review workflow exists, all
    loaded data counts as accepted."""
    return queryset
