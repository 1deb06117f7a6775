"""Filters of the extracted records: constructs, arms, patients, results, adverse events.

Names match the study catalogue's filters (disease and target take codes and may be
repeated; construct takes an id)."""

import django_filters
from django import forms
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from ..choices import (
    AdverseEventType,
    CellSource,
    GradingSystem,
    IdentityEvidence,
    Sex,
    TimePoint,
    Vector,
)
from ..models import (
    AdverseEvent,
    Antigen,
    Arm,
    ArmProduct,
    CarConstruct,
    CostimulatoryDomain,
    Disease,
    OutcomeMeasure,
    OutcomeResult,
    Patient,
)
from ..visibility import public


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


def _id_filter(**kwargs):
    return IntegerFilter(min_value=1, max_value=2**63 - 1, **kwargs)


@extend_schema_field(OpenApiTypes.STR)
class CodesFilter(django_filters.ModelMultipleChoiceFilter):
    """Vocabulary rows by code; repeat the parameter to match any of several."""


def _disease_filter(**kwargs):
    return CodesFilter(
        queryset=Disease.objects.all(),
        to_field_name="code",
        help_text="Disease code; includes narrower diseases (lupus nephritis under SLE).",
        **kwargs,
    )


def _target_filter(**kwargs):
    return CodesFilter(
        queryset=Antigen.objects.all(), to_field_name="code", help_text="Antigen code.", **kwargs
    )


def _disease_q(path: str, diseases) -> Q:
    return Q(**{f"{path}__in": diseases}) | Q(**{f"{path}__parent__in": diseases})


class CarConstructFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(method="filter_name", label="Name or alias (exact)")
    target = _target_filter(method="filter_target")
    costim = CodesFilter(
        queryset=CostimulatoryDomain.objects.all(),
        to_field_name="code",
        method="filter_costim",
        label="Costimulatory domain",
    )
    cell_source = django_filters.MultipleChoiceFilter(choices=CellSource.choices)
    vector = django_filters.MultipleChoiceFilter(choices=Vector.choices)
    disease = _disease_filter(method="filter_disease", label="Given in an arm of this disease")

    class Meta:
        model = CarConstruct
        fields: list[str] = []

    def filter_name(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(Q(name__iexact=value) | Q(aliases__alias__iexact=value)).distinct()

    def filter_target(self, queryset, name, value):
        if not value:
            return queryset
        links = CarConstruct.targets.through.objects.filter(antigen__in=value)
        return queryset.filter(pk__in=links.values("carconstruct_id"))

    def filter_costim(self, queryset, name, value):
        if not value:
            return queryset
        links = CarConstruct.costimulatory_domains.through.objects.filter(
            costimulatorydomain__in=value
        )
        return queryset.filter(pk__in=links.values("carconstruct_id"))

    def filter_disease(self, queryset, name, value):
        if not value:
            return queryset
        products = public(ArmProduct.objects.filter(_disease_q("arm__disease", value)))
        return queryset.filter(pk__in=products.values("construct_id"))


class SourcedFilterSet(django_filters.FilterSet):
    """Filters every extracted record has: its study and its cited publication."""

    study = _id_filter(method="filter_study", label="Study id")
    source_publication = _id_filter(field_name="source_publication")

    study_path = "study"

    def filter_study(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(**{self.study_path: value})


class ArmFilterSet(SourcedFilterSet):
    disease = _disease_filter(method="filter_disease")
    target = _target_filter(method="filter_target")
    construct = _id_filter(method="filter_construct", label="Construct id")

    class Meta:
        model = Arm
        fields: list[str] = []

    def filter_disease(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(_disease_q("disease", value))

    def filter_target(self, queryset, name, value):
        if not value:
            return queryset
        products = ArmProduct.objects.filter(construct__targets__in=value)
        return queryset.filter(pk__in=products.values("arm_id"))

    def filter_construct(self, queryset, name, value):
        if not value:
            return queryset
        products = ArmProduct.objects.filter(construct_id=value)
        return queryset.filter(pk__in=products.values("arm_id"))


class PatientFilterSet(SourcedFilterSet):
    study_path = "arm__study"

    arm = _id_filter(field_name="arm")
    disease = _disease_filter(method="filter_disease", label="Primary disease")
    target = _target_filter(method="filter_target")
    sex = django_filters.ChoiceFilter(choices=Sex.choices)
    person = _id_filter(field_name="person", label="Person id (all reports of one person)")
    person_evidence = django_filters.ChoiceFilter(choices=IdentityEvidence.choices)

    class Meta:
        model = Patient
        fields: list[str] = []

    def filter_disease(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(_disease_q("primary_disease", value))

    def filter_target(self, queryset, name, value):
        if not value:
            return queryset
        products = ArmProduct.objects.filter(construct__targets__in=value)
        return queryset.filter(arm__in=products.values("arm_id"))


class _SubjectFilterSet(SourcedFilterSet):
    """Records about a patient or an arm."""

    arm = _id_filter(method="filter_arm", label="Arm id (its own rows and its patients')")
    patient = _id_filter(field_name="patient")
    level = django_filters.ChoiceFilter(
        choices=[("arm", "Arm-level aggregates"), ("patient", "Patient-level values")],
        method="filter_level",
    )
    disease = _disease_filter(method="filter_disease")
    target = _target_filter(method="filter_target")

    def filter_study(self, queryset, name, value):
        if not value:
            return queryset
        return self._of_arms(queryset, Arm.objects.filter(study=value).values("pk"))

    def filter_arm(self, queryset, name, value):
        if not value:
            return queryset
        return self._of_arms(queryset, [value])

    def _of_arms(self, queryset, arms):
        """Rows about these arms or their patients. A union of two index look-ups: the
        same condition written with "or" makes PostgreSQL scan the whole table."""
        rows = queryset.model.objects
        of_arms = rows.filter(arm__in=arms).order_by().values("pk")
        of_patients = rows.filter(patient__arm__in=arms).order_by().values("pk")
        return queryset.filter(pk__in=of_arms.union(of_patients))

    def filter_level(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(**{f"{value}__isnull": False})

    def filter_disease(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(
            _disease_q("arm__disease", value) | _disease_q("patient__primary_disease", value)
        )

    def filter_target(self, queryset, name, value):
        if not value:
            return queryset
        arms = ArmProduct.objects.filter(construct__targets__in=value).values("arm_id")
        return queryset.filter(Q(arm__in=arms) | Q(patient__arm__in=arms))


@extend_schema_field(OpenApiTypes.STR)
class _CodeChoiceFilter(django_filters.ModelMultipleChoiceFilter):
    """Chooses vocabulary rows by code (documented as a string in the schema)."""


class OutcomeResultFilterSet(_SubjectFilterSet):
    measure = _CodeChoiceFilter(
        field_name="measure__code",
        queryset=OutcomeMeasure.objects.all(),
        to_field_name="code",
        help_text="Measure code.",
    )
    timepoint = django_filters.ChoiceFilter(choices=TimePoint.choices)
    day_min = IntegerFilter(field_name="day", lookup_expr="gte", min_value=-36500, max_value=36500)
    day_max = IntegerFilter(field_name="day", lookup_expr="lte", min_value=-36500, max_value=36500)

    class Meta:
        model = OutcomeResult
        fields: list[str] = []


class AdverseEventFilterSet(_SubjectFilterSet):
    event_type = django_filters.MultipleChoiceFilter(choices=AdverseEventType.choices)
    grading_system = django_filters.ChoiceFilter(choices=GradingSystem.choices)
    grade_min = IntegerFilter(field_name="grade", lookup_expr="gte", min_value=0, max_value=5)

    class Meta:
        model = AdverseEvent
        fields: list[str] = []
