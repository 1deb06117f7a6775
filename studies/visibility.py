"""Which curated rows the public may see.

Every read path (catalogue, API, exports, summaries) filters through ``public()``, so
that what "public" means is decided in one place.

The live tables hold accepted data only. A curator's work in progress lives in the
curation app as an Extraction (a study bundle document, see curation/models.py) and
reaches these tables only when a reviewer accepts it, inside the same transaction as
the acceptance (curation.services.extraction_accept). Drafts, submissions waiting for
review and returned extractions therefore have no rows here at all, and an edit of an
accepted publication leaves the accepted rows untouched until the edit is accepted
in turn. So for the live tables the gate is the identity; it stays the one place to
narrow if a live row ever needs hiding (tests/curation/test_public_visibility.py
walks every public URL to check that unaccepted data never shows).
"""

from django.db.models import QuerySet

from .models import Study


def public(queryset: QuerySet) -> QuerySet:
    """Rows visible to anonymous users: every live row, since only accepted data is
    written to the live tables."""
    return queryset


def public_studies() -> QuerySet:
    return public(Study.objects.all())
