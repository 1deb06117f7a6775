"""Reads that span relations, prefetched so that a page costs a fixed number of queries."""

from django.db.models import Min, Prefetch, QuerySet

from .models import Publication, PublicationAuthor, Study
from .visibility import public


def home_studies() -> QuerySet[Study]:
    """Public studies with their first report's year and authors, diseases and targets."""
    authors = Prefetch("authors", queryset=PublicationAuthor.objects.order_by("position"))
    publications = Prefetch(
        "publications",
        queryset=Publication.objects.order_by("year", "pk").prefetch_related(authors),
    )
    studies = public(Study.objects.all()).annotate(first_year=Min("publications__year"))
    return (
        studies.prefetch_related(publications, "arms__disease", "arms__constructs__targets")
        .order_by("-first_year", "title")
    )
