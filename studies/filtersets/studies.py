"""The study catalogue's filters, shared by the HTML catalogue, the exports and the API.

Filters that take several values (``?disease=sle&disease=ssc``) match any of them;
different filters must all match. Filters on related rows select study ids with a
subquery, so a study never appears twice and counts stay exact.
"""

import functools

import django_filters
from django import forms
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from ..choices import CellSource, Phase, StudyStatus
from ..forms import StudyFilterForm
from ..models import (
    Antigen,
    Arm,
    ArmProduct,
    CarConstruct,
    CostimulatoryDomain,
    Country,
    Disease,
    Study,
)
from ..search import RANK, search_studies
from ..visibility import public
from .codes import vocabulary_codes

YEAR_BOUNDS = {"min_value": 1950, "max_value": 2100}

# Sort keys in the URL and the columns they order by; "relevance" needs a search.
SORTS = {
    "relevance": ["-" + RANK, "title"],
    "-year": ["-first_year", "title"],
    "year": ["first_year", "title"],
    "-size": ["-patient_count", "title"],
    "size": ["patient_count", "title"],
    "title": ["title"],
    "-title": ["-title"],
}
SORT_CHOICES = [
    ("relevance", "Relevance (search)"),
    ("-year", "Newest first"),
    ("year", "Oldest first"),
    ("-size", "Most patients"),
    ("size", "Fewest patients"),
    ("title", "Title A–Z"),
    ("-title", "Title Z–A"),
]


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


def _studies_of_products(products: QuerySet) -> QuerySet:
    return public(products).values("arm__study_id")


def _unless_empty(method):
    """Skip a multiple-choice filter method when nothing is chosen: an empty queryset
    is not one of django-filter's empty values, so the method would filter out all."""

    @functools.wraps(method)
    def wrapper(self, queryset, name, value):
        # Nothing chosen is None, an empty list or (from a model choice field) a
        # queryset.none(), asked without len(), which would compile its SQL to find nothing.
        if value.query.is_empty() if isinstance(value, QuerySet) else not value:
            return queryset
        return method(self, queryset, name, value)

    return wrapper


class StudyFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search")
    disease = django_filters.ModelMultipleChoiceFilter(
        queryset=Disease.objects.all(),
        to_field_name="code",
        method="filter_disease",
        label="Disease",
        help_text="Includes narrower diseases (lupus nephritis under SLE).",
    )
    target = django_filters.ModelMultipleChoiceFilter(
        queryset=Antigen.objects.all(),
        to_field_name="code",
        method="filter_target",
        label="Target antigen",
        help_text="Dual-target products count for each of their targets.",
    )
    construct = django_filters.ModelMultipleChoiceFilter(
        queryset=lambda request: public(CarConstruct.objects.all()),
        method="filter_construct",
        label="Construct",
    )
    costim = django_filters.ModelMultipleChoiceFilter(
        queryset=CostimulatoryDomain.objects.all(),
        to_field_name="code",
        method="filter_costim",
        label="Costimulatory domain",
    )
    cell_source = django_filters.MultipleChoiceFilter(
        choices=CellSource.choices, method="filter_cell_source", label="Cell source"
    )
    phase = django_filters.MultipleChoiceFilter(
        choices=Phase.choices, method="filter_phase", label="Phase"
    )
    status = django_filters.MultipleChoiceFilter(
        choices=StudyStatus.choices, method="filter_status", label="Status"
    )
    country = django_filters.ModelMultipleChoiceFilter(
        queryset=Country.objects.all(),
        to_field_name="code",
        method="filter_country",
        label="Country",
    )
    year_min = IntegerFilter(method="filter_year_min", label="First published from", **YEAR_BOUNDS)
    year_max = IntegerFilter(method="filter_year_max", label="First published until", **YEAR_BOUNDS)
    min_patients = IntegerFilter(
        method="filter_min_patients", label="Minimum patients", min_value=0
    )
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES, method="filter_sort", label="Sort by", empty_label=None
    )

    class Meta:
        model = Study
        form = StudyFilterForm
        fields: list[str] = []

    # Facets of the catalogue: filters whose values are counted under the others.
    FACETS = (
        "disease",
        "target",
        "construct",
        "costim",
        "cell_source",
        "phase",
        "status",
        "country",
    )

    def filter_queryset(self, queryset: QuerySet[Study]) -> QuerySet[Study]:
        queryset = super().filter_queryset(queryset)
        return queryset.order_by(*SORTS[self.sort_key])

    def filter_queryset_without(self, queryset: QuerySet[Study], name: str) -> QuerySet[Study]:
        """The queryset filtered by every valid value except filter ``name``'s: the
        studies a facet's counts are taken over. Call is_valid() first."""
        for other, value in self._cleaned().items():
            if other not in (name, "sort"):
                queryset = self.filters[other].filter(queryset, value)
        return queryset

    def _cleaned(self) -> dict:
        """The valid values (validating on first use); empty when unbound."""
        return self.form.cleaned_data if self.is_bound and self.form.errors is not None else {}

    @property
    def search_text(self) -> str:
        return (self._cleaned().get("q") or "").strip()

    @property
    def sort_key(self) -> str:
        """The requested sort, or the default: relevance when searching, else newest."""
        chosen = self._cleaned().get("sort")
        if chosen == "relevance" and not self.search_text:
            chosen = ""
        return chosen or ("relevance" if self.search_text else "-year")

    # Filter methods --------------------------------------------------------------------

    def filter_search(self, queryset, name, value):
        return search_studies(queryset, value)

    @_unless_empty
    @extend_schema_field(OpenApiTypes.STR)
    def filter_disease(self, queryset, name, value):
        # The chosen diseases and their narrower ones first (a small table), as ids: arms
        # are then matched on their indexed disease column alone, and the planner sees
        # values it has statistics for.
        diseases = vocabulary_codes().narrower_diseases(disease.pk for disease in value)
        arms = public(Arm.objects.filter(disease__in=diseases))
        return queryset.filter(pk__in=arms.values("study_id"))

    @_unless_empty
    @extend_schema_field(OpenApiTypes.STR)
    def filter_target(self, queryset, name, value):
        products = ArmProduct.objects.filter(construct__targets__in=value)
        return queryset.filter(pk__in=_studies_of_products(products))

    @_unless_empty
    @extend_schema_field(OpenApiTypes.STR)
    def filter_construct(self, queryset, name, value):
        products = ArmProduct.objects.filter(construct__in=value)
        return queryset.filter(pk__in=_studies_of_products(products))

    @_unless_empty
    @extend_schema_field(OpenApiTypes.STR)
    def filter_costim(self, queryset, name, value):
        products = ArmProduct.objects.filter(construct__costimulatory_domains__in=value)
        return queryset.filter(pk__in=_studies_of_products(products))

    @_unless_empty
    def filter_cell_source(self, queryset, name, value):
        products = ArmProduct.objects.filter(construct__cell_source__in=value)
        return queryset.filter(pk__in=_studies_of_products(products))

    @_unless_empty
    def filter_phase(self, queryset, name, value):
        return queryset.filter(phase__in=value)

    @_unless_empty
    def filter_status(self, queryset, name, value):
        return queryset.filter(status__in=value)

    @_unless_empty
    @extend_schema_field(OpenApiTypes.STR)
    def filter_country(self, queryset, name, value):
        links = Study.countries.through.objects.filter(country__in=value)
        return queryset.filter(pk__in=links.values("study_id"))

    def filter_year_min(self, queryset, name, value):
        return queryset.filter(first_year__gte=value)

    def filter_year_max(self, queryset, name, value):
        return queryset.filter(first_year__lte=value)

    def filter_min_patients(self, queryset, name, value):
        return queryset.filter(patient_count__gte=value)

    def filter_sort(self, queryset, name, value):
        return queryset  # applied last, in filter_queryset, so that it sees the search
