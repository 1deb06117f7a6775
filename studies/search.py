"""Free-text search over studies.

A study matches on its title and short name, its publications' titles and abstracts,
the names and aliases of the products its arms used, and its registry ids. On
PostgreSQL this is ranked full-text search (titles, product names and registry ids
weigh most, abstracts least) plus a substring match on product names and registry
ids, both read from the document stored on each study (studies.search_documents),
so that a partial code like "CART19" still finds "MB-CART19.1". Other databases
(SQLite in development) get a fallback that requires every word to appear somewhere
and ranks by where it appears.
"""

import re

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connections
from django.db.models import Case, Exists, F, FloatField, Q, QuerySet, Value, When
from django.db.models.functions import Upper

from .models import Study
from .search_documents import aliases, products, registry_ids, reports

RANK = "search_rank"
MAX_TERMS = 8
_TERM = re.compile(r"[^\s\"']+")


def search_studies(queryset: QuerySet[Study], text: str) -> QuerySet[Study]:
    """The studies of queryset that match text, annotated with ``search_rank``
    (higher is more relevant). An empty text returns the queryset unchanged."""
    text = " ".join(text.split())
    if not text:
        return queryset
    if connections[queryset.db].vendor == "postgresql":
        return _postgres_search(queryset, text)
    return _fallback_search(queryset, text)


# PostgreSQL ---------------------------------------------------------------------------------


def _postgres_search(queryset: QuerySet[Study], text: str) -> QuerySet[Study]:
    """Match and rank with the document stored on each study (studies.search_documents)."""
    # Stemmed English words match titles and abstracts; the 'simple' form keeps codes
    # and names that English stemming would change.
    query = SearchQuery(text, search_type="websearch", config="english") | SearchQuery(
        text, search_type="websearch", config="simple"
    )
    # search_codes is upper-cased, so a plain LIKE needs no UPPER() per row.
    return queryset.filter(
        Q(search_vector=query) | Q(search_codes__contains=Upper(Value(text)))
    ).annotate(**{RANK: SearchRank(F("search_vector"), query)})


# Fallback ------------------------------------------------------------------------------------


def _fallback_search(queryset: QuerySet[Study], text: str) -> QuerySet[Study]:
    terms = _TERM.findall(text)[:MAX_TERMS] or [text]
    rank = Value(0.0, output_field=FloatField())
    for term in terms:
        in_title = Q(title__icontains=term) | Q(short_name__icontains=term)
        in_identifiers = _identifier_match(term)
        in_publication_title = Q(Exists(reports().filter(publication__title__icontains=term)))
        in_abstract = Q(Exists(reports().filter(publication__abstract__icontains=term)))
        queryset = queryset.filter(in_title | in_identifiers | in_publication_title | in_abstract)
        for condition, weight in [
            (in_title, 1.0),
            (in_identifiers, 1.0),
            (in_publication_title, 0.4),
            (in_abstract, 0.2),
        ]:
            rank = rank + Case(
                When(condition, then=Value(weight)),
                default=Value(0.0),
                output_field=FloatField(),
            )
    return queryset.annotate(**{RANK: rank})


def _identifier_match(text: str) -> Q:
    """Substring match on product names, aliases and registry ids."""
    return (
        Q(Exists(products().filter(construct__name__icontains=text)))
        | Q(Exists(aliases().filter(alias__icontains=text)))
        | Q(Exists(registry_ids().filter(identifier__icontains=text)))
    )
