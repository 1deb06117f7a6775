"""Free-text search over studies.

A study matches on its title and short name, its publications' titles and abstracts,
the names and aliases of the products its arms used, and its registry ids. On
PostgreSQL this is ranked full-text search (titles, product names and registry ids
weigh most, abstracts least) plus a substring match on product names and registry
ids, so that a partial code like "CART19" still finds "MB-CART19.1". Other databases
(SQLite in development) get a fallback that requires every word to appear somewhere
and ranks by where it appears.
"""

import re

from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connections
from django.db.models import (
    Case,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from .models import ArmProduct, ConstructAlias, RegistryId, Study, StudyReport
from .visibility import public

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


# Related text, per study -----------------------------------------------------------------


def _reports():
    return public(StudyReport.objects.filter(study=OuterRef("pk")))


def _products():
    return public(ArmProduct.objects.filter(arm__study=OuterRef("pk")))


def _aliases():
    return public(ConstructAlias.objects.filter(construct__arm_products__arm__study=OuterRef("pk")))


def _registry_ids():
    return public(RegistryId.objects.filter(study=OuterRef("pk")))


def _joined(rows: QuerySet, group_by: str, text_field: str):
    """The text_field values of rows joined by spaces, as a subquery per study."""
    joined = (
        rows.order_by()
        .values(group_by)
        .annotate(text=StringAgg(text_field, delimiter=" "))
        .values("text")
    )
    return Coalesce(Subquery(joined), Value(""), output_field=TextField())


def _identifier_match(text: str) -> Q:
    """Substring match on product names, aliases and registry ids."""
    return (
        Q(Exists(_products().filter(construct__name__icontains=text)))
        | Q(Exists(_aliases().filter(alias__icontains=text)))
        | Q(Exists(_registry_ids().filter(identifier__icontains=text)))
    )


# PostgreSQL ---------------------------------------------------------------------------------


def _postgres_search(queryset: QuerySet[Study], text: str) -> QuerySet[Study]:
    document = (
        SearchVector("title", "short_name", weight="A", config="english")
        + SearchVector(
            _joined(_products(), "arm__study", "construct__name"), weight="A", config="simple"
        )
        + SearchVector(
            _joined(_aliases(), "construct__arm_products__arm__study", "alias"),
            weight="A",
            config="simple",
        )
        + SearchVector(_joined(_registry_ids(), "study", "identifier"), weight="A", config="simple")
        + SearchVector(
            _joined(_reports(), "study", "publication__title"), weight="B", config="english"
        )
        + SearchVector(
            _joined(_reports(), "study", "publication__abstract"), weight="C", config="english"
        )
    )
    # Stemmed English words match titles and abstracts; the 'simple' form keeps codes
    # and names that English stemming would change.
    query = SearchQuery(text, search_type="websearch", config="english") | SearchQuery(
        text, search_type="websearch", config="simple"
    )
    return (
        queryset.annotate(search_document=document)
        .filter(Q(search_document=query) | _identifier_match(text))
        .annotate(**{RANK: SearchRank(F("search_document"), query)})
    )


# Fallback ------------------------------------------------------------------------------------


def _fallback_search(queryset: QuerySet[Study], text: str) -> QuerySet[Study]:
    terms = _TERM.findall(text)[:MAX_TERMS] or [text]
    rank = Value(0.0, output_field=FloatField())
    for term in terms:
        in_title = Q(title__icontains=term) | Q(short_name__icontains=term)
        in_identifiers = _identifier_match(term)
        in_publication_title = Q(Exists(_reports().filter(publication__title__icontains=term)))
        in_abstract = Q(Exists(_reports().filter(publication__abstract__icontains=term)))
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
