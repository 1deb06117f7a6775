"""Filters of the publication list (API and catalogue)."""

import django_filters
from django import forms
from django.db.models import Q

from ..choices import PublicationType
from ..identifiers import normalize_doi, normalize_pmcid, normalize_registry_id
from ..models import Antigen, Arm, ArmProduct, Disease, Publication, RegistryId, StudyReport
from ..visibility import public
from .records import CodesFilter

YEAR_BOUNDS = {"min_value": 1950, "max_value": 2100}


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class PublicationFilterSet(django_filters.FilterSet):
    year_min = IntegerFilter(field_name="year", lookup_expr="gte", **YEAR_BOUNDS)
    year_max = IntegerFilter(field_name="year", lookup_expr="lte", **YEAR_BOUNDS)
    doi = django_filters.CharFilter(method="filter_doi", label="DOI (any spelling)")
    pmid = IntegerFilter(field_name="pmid", min_value=1, max_value=2_147_483_647)
    pmcid = django_filters.CharFilter(method="filter_pmcid", label="PMCID")
    publication_type = django_filters.MultipleChoiceFilter(choices=PublicationType.choices)
    journal = django_filters.CharFilter(lookup_expr="icontains")
    study = IntegerFilter(method="filter_study", min_value=1, label="Reports this study (id)")
    registry_id = django_filters.CharFilter(
        method="filter_registry_id", label="Reports the study with this registry id"
    )
    disease = CodesFilter(
        queryset=Disease.objects.all(),
        to_field_name="code",
        method="filter_disease",
        help_text="Reports a study with an arm of this disease (or a narrower one).",
    )
    target = CodesFilter(
        queryset=Antigen.objects.all(),
        to_field_name="code",
        method="filter_target",
        help_text="Reports a study giving a construct with this target.",
    )
    superseded = django_filters.BooleanFilter(
        field_name="superseded_by",
        lookup_expr="isnull",
        exclude=True,
        help_text="true: only superseded reports; false: only current ones.",
    )

    class Meta:
        model = Publication
        fields: list[str] = []

    def filter_doi(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(doi=normalize_doi(value))

    def filter_pmcid(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(pmcid=normalize_pmcid(value))

    def _reporting(self, queryset, studies):
        reports = public(StudyReport.objects.filter(study__in=studies))
        return queryset.filter(pk__in=reports.values("publication_id"))

    def filter_study(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(
            pk__in=public(StudyReport.objects.filter(study_id=value)).values("publication_id")
        )

    def filter_registry_id(self, queryset, name, value):
        if not value:
            return queryset
        ids = RegistryId.objects.filter(identifier__iexact=normalize_registry_id(value))
        return self._reporting(queryset, ids.values("study_id"))

    def filter_disease(self, queryset, name, value):
        if not value:
            return queryset
        arms = public(Arm.objects.filter(Q(disease__in=value) | Q(disease__parent__in=value)))
        return self._reporting(queryset, arms.values("study_id"))

    def filter_target(self, queryset, name, value):
        if not value:
            return queryset
        products = public(ArmProduct.objects.filter(construct__targets__in=value))
        return self._reporting(queryset, products.values("arm__study_id"))
