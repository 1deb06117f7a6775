"""Filters of the controlled vocabularies."""

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from ..choices import MeasureKind
from ..models import Antigen, Disease, OutcomeMeasure


@extend_schema_field(OpenApiTypes.STR)
class CodeFilter(django_filters.ModelChoiceFilter):
    """A vocabulary row by code."""


class DiseaseFilterSet(django_filters.FilterSet):
    parent = django_filters.ModelChoiceFilter(
        queryset=Disease.objects.all(), to_field_name="code", help_text="Broader disease code."
    )

    class Meta:
        model = Disease
        fields: list[str] = []


class AntigenFilterSet(django_filters.FilterSet):
    class Meta:
        model = Antigen
        fields: list[str] = []


class OutcomeMeasureFilterSet(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=MeasureKind.choices)
    disease = CodeFilter(
        queryset=Disease.objects.all(),
        to_field_name="code",
        method="filter_disease",
        help_text="Measures used for this disease (including measures for all diseases).",
    )

    class Meta:
        model = OutcomeMeasure
        fields: list[str] = []

    def filter_disease(self, queryset, name, value):
        if not value:
            return queryset
        applies = OutcomeMeasure.diseases.through.objects.filter(disease=value)
        general = OutcomeMeasure.objects.filter(diseases__isnull=True)
        return queryset.filter(pk__in=applies.values("outcomemeasure_id")) | queryset.filter(
            pk__in=general.values("pk")
        )
