"""Viewsets of the REST API: each names its model, rows, serializers and FilterSet.

Lists and details send rows built in SQL (rows.py); writes go through the ``*Write``
serializers, which run the model's own validation, and answer with the fresh row
and its ETag. Every read goes through ``visibility.public()``.
"""

import functools

import django_filters
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, QuerySet, RestrictedError
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import APIException, NotFound
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from summaries import selectors as stored_summaries

from ..filtersets import (
    AdverseEventFilterSet,
    AntigenFilterSet,
    ArmFilterSet,
    CarConstructFilterSet,
    DiseaseFilterSet,
    OutcomeMeasureFilterSet,
    OutcomeResultFilterSet,
    PatientFilterSet,
    PublicationFilterSet,
    StudyFilterSet,
)
from ..filtersets.codes import CodesFilter, vocabulary_codes
from ..identifiers import normalize_doi, normalize_registry_id
from ..models import (
    AdverseEvent,
    Antigen,
    Arm,
    CarConstruct,
    Disease,
    OutcomeMeasure,
    OutcomeResult,
    Patient,
    Publication,
    RegistryId,
    Study,
    StudyReport,
)
from ..visibility import public
from . import rows
from . import serializers as api
from .conditional import check_if_match, etag_for, if_none_match
from .pagination import RowCursorPagination
from .permissions import CuratedDataPermission
from .renderers import CSVRenderer
from .schema import CarlitAutoSchema

MAX_ID = 2**63 - 1


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Other rows still refer to this one."
    default_code = "conflict"


# Provenance and bookkeeping columns go last in CSV, after the data.
TRAILING_COLUMNS = ("source_publication", "source_kind", "source_label", "created_at", "updated_at")


@functools.cache
def csv_columns(serializer_class) -> tuple[str, ...]:
    """The columns of a row serializer, once per class (building its fields costs
    about a millisecond, on every list page)."""
    names = list(serializer_class().fields)
    return tuple(n for n in names if n not in TRAILING_COLUMNS) + tuple(
        n for n in TRAILING_COLUMNS if n in names
    )


class CsvErrorsAsJson:
    """Errors are sent as JSON even when the client asked for CSV."""

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400 and isinstance(
            getattr(request, "accepted_renderer", None), CSVRenderer
        ):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class FilterSetBackend(DjangoFilterBackend):
    """DjangoFilterBackend that leaves the queryset alone when no parameter names one
    of the FilterSet's filters: setting up a FilterSet (a deep copy of every filter
    and a form) costs about as much as a plain list page's query."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class and not request.query_params.keys() & filterset_class.base_filters:
            return queryset
        return super().filter_queryset(request, queryset, view)


class RowReadViewSet(
    CsvErrorsAsJson, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Read endpoints over rows built in SQL.

    Subclasses set ``model``, ``row_function`` (from rows.py), ``row_serializer_class``
    (the schema of a row), ``filterset_class``, ``search_fields`` and ``ordering_fields``.
    """

    model = None
    row_function = None
    row_serializer_class = None
    detail_serializer_class = None
    write_serializer_class = None
    permission_classes = [CuratedDataPermission]
    pagination_class = RowCursorPagination
    renderer_classes = [JSONRenderer, CSVRenderer]
    filter_backends = [FilterSetBackend, SearchFilter, OrderingFilter]
    schema = CarlitAutoSchema()
    ordering = ("id",)
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return public(self.model.objects.all())

    def get_serializer_class(self):
        return self.write_serializer_class or self.row_serializer_class

    def rows_of(self, queryset):
        return type(self).row_function(queryset)

    @classmethod
    def all_rows(cls) -> QuerySet:
        """The rows of every public object, as a fresh clone of a queryset built once per
        class: resolving the row annotations costs as much as running a page's query.
        Like DRF's class-level ``queryset`` (which ``get_queryset`` also clones), the
        shared one is never filtered or evaluated, so no request sees another's rows."""
        if "_all_rows" not in cls.__dict__:
            cls._all_rows = cls.row_function(public(cls.model.objects.all()))
        return cls._all_rows.all()

    def lookup_filter(self) -> dict:
        """The URL's lookup as a filter; malformed ids are simply not found."""
        value = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        if self.lookup_field == "pk":
            if not (value.isascii() and value.isdigit()) or int(value) > MAX_ID:
                raise NotFound()
            value = int(value)
        return {self.lookup_field: value}

    def representation(self, queryset) -> dict | None:
        """What the detail endpoint sends for the (one) row of queryset."""
        return self.rows_of(queryset).first()

    def current_representation(self) -> dict:
        data = self.representation(self.get_queryset().filter(**self.lookup_filter()))
        if data is None:
            raise NotFound()
        return data

    def list_rows(self, matched: QuerySet) -> QuerySet:
        """The rows of the objects matched by the request's filters."""
        rows = self.all_rows()
        if matched.query.has_filters():
            # Selected by id: filters may join related rows, and each row goes once.
            rows = rows.filter(pk__in=matched.values("pk"))
        return rows

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.list_rows(self.filter_queryset(self.get_queryset())))
        return self.get_paginated_response(list(page))

    def retrieve(self, request, *args, **kwargs):
        data = self.current_representation()
        etag = etag_for(data)
        if if_none_match(request, etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(data, headers={"ETag": etag})

    def get_renderer_context(self):
        context = super().get_renderer_context()
        if self.row_serializer_class is not None and getattr(self, "action", "") == "list":
            context["csv_columns"] = csv_columns(self.row_serializer_class)
        return context


class RowViewSet(
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    RowReadViewSet,
):
    """Read and write endpoints. Writes check If-Match against the current ETag inside
    the transaction that writes, with the row locked."""

    def locked_object(self):
        queryset = self.get_queryset().select_for_update(of=("self",))
        try:
            instance = queryset.get(**self.lookup_filter())
        except self.model.DoesNotExist as error:
            raise NotFound() from error
        self.check_object_permissions(self.request, instance)
        return instance

    def respond_with_row(self, pk: int, status_code=status.HTTP_200_OK) -> Response:
        data = self.representation(self.get_queryset().filter(pk=pk))
        return Response(data, status=status_code, headers={"ETag": etag_for(data)})

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _conflicts_as_409():
            instance = serializer.save()
        response = self.respond_with_row(instance.pk, status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(f"{instance.pk}/")
        return response

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        with transaction.atomic():
            instance = self.locked_object()
            check_if_match(request, etag_for(self.current_representation()))
            serializer = self.get_serializer(instance, data=request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            with _conflicts_as_409():
                serializer.save()
        return self.respond_with_row(instance.pk)

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            instance = self.locked_object()
            check_if_match(request, etag_for(self.current_representation()))
            with _conflicts_as_409():
                instance.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class _conflicts_as_409:
    """Rows still referred to (PROTECT) or a unique key taken meanwhile: 409."""

    def __enter__(self):
        self.savepoint = transaction.atomic()
        self.savepoint.__enter__()

    def __exit__(self, kind, error, traceback):
        self.savepoint.__exit__(kind, error, traceback)
        if isinstance(error, (ProtectedError, RestrictedError)):
            raise Conflict(
                "Other rows still refer to this one; delete or move them first."
            ) from error
        if isinstance(error, IntegrityError):
            raise Conflict(f"The change conflicts with existing data: {error}") from error
        return False


# Resources -----------------------------------------------------------------------------


class PublicationViewSet(RowViewSet):
    """Publications (articles, letters, abstracts, preprints) and the studies they report."""

    model = Publication
    row_function = rows.publication_rows
    row_serializer_class = api.PublicationRow
    write_serializer_class = api.PublicationWrite
    filterset_class = PublicationFilterSet
    search_fields = ["title", "journal", "doi", "authors__family_name"]
    ordering_fields = ["id", "year", "title", "created_at", "updated_at"]
    ordering = ("-year", "id")


class StudyApiFilterSet(StudyFilterSet):
    """The catalogue's study filters, with identifier lookups for scripts; the API's
    own `search` and `ordering` parameters replace the catalogue's `q` and `sort`."""

    q = None
    sort = None
    search = django_filters.CharFilter(method="filter_search", label="Search")
    # Codes checked against the cached vocabularies (filtersets/codes.py), not a query
    # each; the methods get ids, which the catalogue's methods take as well.
    disease = CodesFilter(
        vocabulary="disease",
        method="filter_disease",
        label="Disease",
        help_text=StudyFilterSet.base_filters["disease"].extra["help_text"],
    )
    target = CodesFilter(
        vocabulary="antigen",
        method="filter_target",
        label="Target antigen",
        help_text=StudyFilterSet.base_filters["target"].extra["help_text"],
    )
    costim = CodesFilter(vocabulary="costim", method="filter_costim", label="Costimulatory domain")
    country = CodesFilter(vocabulary="country", method="filter_country", label="Country")
    registry_id = django_filters.CharFilter(
        method="filter_registry_id", label="Registry id (NCT…, ChiCTR…)"
    )
    doi = django_filters.CharFilter(
        method="filter_doi", label="Reported by the publication with this DOI"
    )
    pmid = django_filters.NumberFilter(
        method="filter_pmid",
        label="Reported by the publication with this PMID",
        min_value=1,
        max_value=2_147_483_647,
    )

    def __init__(self, data=None, *args, **kwargs):
        if data is not None:
            # Only the filters the request names: django-filter deep-copies every filter
            # and builds a form field for each, about a millisecond for all of them.
            self.base_filters = {
                name: filter_ for name, filter_ in self.base_filters.items() if name in data
            }
        super().__init__(data, *args, **kwargs)

    def filter_queryset(self, queryset):
        # The API pages in its own order (``ordering``), so the catalogue's sort and the
        # columns it sorts by are skipped; the filters that need those columns add them.
        return django_filters.FilterSet.filter_queryset(self, queryset)

    @extend_schema_field(OpenApiTypes.STR)
    def filter_disease(self, queryset, name, value):
        diseases = vocabulary_codes().narrower_diseases(value)
        arms = public(Arm.objects.filter(disease__in=diseases))
        return queryset.filter(pk__in=arms.values("study_id"))

    def filter_registry_id(self, queryset, name, value):
        ids = RegistryId.objects.filter(identifier__iexact=normalize_registry_id(value))
        return queryset.filter(pk__in=ids.values("study_id"))

    def _reported_by(self, queryset, publications):
        reports = public(StudyReport.objects.filter(publication__in=public(publications)))
        return queryset.filter(pk__in=reports.values("study_id"))

    def filter_doi(self, queryset, name, value):
        return self._reported_by(queryset, Publication.objects.filter(doi=normalize_doi(value)))

    def filter_pmid(self, queryset, name, value):
        return self._reported_by(queryset, Publication.objects.filter(pmid=value))


class StudyViewSet(RowViewSet):
    """Studies: trials, cohorts and single cases. The detail nests the study's arms,
    constructs, patients, results and adverse events, each with its source."""

    model = Study
    row_function = rows.study_rows
    row_serializer_class = api.StudyRow
    detail_serializer_class = api.StudyDetail
    write_serializer_class = api.StudyWrite
    filterset_class = StudyApiFilterSet
    filter_backends = [FilterSetBackend, OrderingFilter]
    ordering_fields = ["id", "title", "created_at", "updated_at"]
    ordering = ("title", "id")

    def list_rows(self, matched):
        # The study filters select ids in subqueries and never join, so the rows are
        # built on the filtered queryset itself rather than on "id in (...)" of it.
        if len(matched.query.alias_map) > 1:
            return super().list_rows(matched)
        return rows.study_list_rows(matched)

    def representation(self, queryset):
        study = queryset.values_list("pk", flat=True).first()
        return rows.study_detail(study) if study is not None else None


class ConstructViewSet(RowViewSet):
    """CAR (and CAAR) T-cell constructs, with their targets and aliases."""

    model = CarConstruct
    row_function = rows.construct_rows
    row_serializer_class = api.ConstructRow
    write_serializer_class = api.ConstructWrite
    filterset_class = CarConstructFilterSet
    search_fields = ["name", "aliases__alias", "developer", "binder_name"]
    ordering_fields = ["id", "name", "created_at", "updated_at"]
    ordering = ("name", "id")


class ArmViewSet(RowViewSet):
    """Study arms: patients treated alike, with the products they were given."""

    model = Arm
    row_function = rows.arm_rows
    row_serializer_class = api.ArmRow
    write_serializer_class = api.ArmWrite
    filterset_class = ArmFilterSet
    search_fields = ["label", "study__title", "study__short_name"]
    ordering_fields = ["id", "label", "created_at", "updated_at"]


class PatientViewSet(RowViewSet):
    """Patients as each publication reports them; reports of one person share `person`."""

    model = Patient
    row_function = rows.patient_rows
    row_serializer_class = api.PatientRow
    write_serializer_class = api.PatientWrite
    filterset_class = PatientFilterSet
    search_fields = ["label", "arm__label", "arm__study__title"]
    ordering_fields = ["id", "label", "created_at", "updated_at"]


class OutcomeViewSet(RowViewSet):
    """Reported outcome numbers: a patient's value or an arm's aggregate, with source."""

    model = OutcomeResult
    row_function = rows.outcome_rows
    row_serializer_class = api.OutcomeRow
    write_serializer_class = api.OutcomeWrite
    filterset_class = OutcomeResultFilterSet
    search_fields = ["measure__name", "measure__abbreviation", "measure__code"]
    ordering_fields = ["id", "timepoint", "created_at", "updated_at"]


class AdverseEventViewSet(RowViewSet):
    """Adverse events (CRS, ICANS, infections, ...) of a patient or an arm, with source."""

    model = AdverseEvent
    row_function = rows.adverse_event_rows
    row_serializer_class = api.AdverseEventRow
    write_serializer_class = api.AdverseEventWrite
    filterset_class = AdverseEventFilterSet
    search_fields = ["term"]
    ordering_fields = ["id", "event_type", "created_at", "updated_at"]


class VocabularyViewSet(RowReadViewSet):
    """Controlled vocabularies are read-only here (they change through migrations and
    the admin); rows are looked up by code."""

    lookup_field = "code"
    search_fields = ["code", "name"]
    ordering_fields = ["id", "code", "name"]
    ordering = ("name", "id")


class DiseaseViewSet(VocabularyViewSet):
    """Diseases, with ICD-10/MONDO codes and the broader disease they belong to."""

    model = Disease
    row_function = rows.disease_rows
    row_serializer_class = api.DiseaseRow
    filterset_class = DiseaseFilterSet
    search_fields = ["code", "name", "abbreviation"]


class AntigenViewSet(VocabularyViewSet):
    """Target antigens of CAR constructs."""

    model = Antigen
    row_function = rows.antigen_rows
    row_serializer_class = api.AntigenRow
    filterset_class = AntigenFilterSet


class MeasureViewSet(VocabularyViewSet):
    """Outcome measures with their kind, units and valid range."""

    model = OutcomeMeasure
    row_function = rows.measure_rows
    row_serializer_class = api.MeasureRow
    filterset_class = OutcomeMeasureFilterSet
    search_fields = ["code", "name", "abbreviation"]


# Pooled summaries --------------------------------------------------------------------------


def _rate_serializer(name: str):
    return inline_serializer(
        name=name,
        fields={
            "events": serializers.IntegerField(),
            "evaluable": serializers.IntegerField(),
            "proportion": serializers.FloatField(),
            "ci_low": serializers.FloatField(help_text="Wilson 95% interval, lower bound."),
            "ci_high": serializers.FloatField(help_text="Wilson 95% interval, upper bound."),
        },
        allow_null=True,
    )


class SummaryRow(serializers.Serializer):
    disease = serializers.CharField()
    disease_name = serializers.CharField()
    targets = serializers.ListField(child=serializers.CharField())
    target_key = serializers.CharField(help_text="Targets joined by '+', e.g. 'cd19+bcma'.")
    target_label = serializers.CharField()
    studies = serializers.IntegerField()
    publications = serializers.IntegerField()
    patients = serializers.IntegerField(help_text="Each person once, at the latest follow-up.")
    response_measures = serializers.ListField(child=serializers.CharField())
    response = _rate_serializer("ResponseRate")
    drug_free = _rate_serializer("DrugFreeRate")
    crs_any = _rate_serializer("CrsAnyRate")
    crs_grade2 = _rate_serializer("CrsGrade2Rate")
    icans_any = _rate_serializer("IcansAnyRate")
    median_follow_up_days = serializers.FloatField(
        allow_null=True, help_text="Median follow-up of the counted patients who report one."
    )
    computed_at = serializers.DateTimeField(help_text="When this row was last computed.")
    stale = serializers.BooleanField(
        help_text="Changes to the catalogue wait for a refresh of the stored summaries "
        "(they may or may not touch this row); false when every change is counted."
    )


class SummaryPage(serializers.Serializer):
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = SummaryRow(many=True)


class SummaryListView(CsvErrorsAsJson, APIView):
    """Pooled disease × target summaries, read from the stored summary tables (kept
    fresh by Celery, see docs/summaries.md): events over evaluable, each study once from
    its latest report and each person once, with when each row was computed."""

    permission_classes = [CuratedDataPermission]
    renderer_classes = [JSONRenderer, CSVRenderer]
    schema = CarlitAutoSchema()

    @extend_schema(
        operation_id="summaries_list",
        description=(
            "Pooled numbers per disease × target set, read from the stored summary tables "
            "that workers refresh a few seconds after curated data changes. Each row says "
            "when it was computed (`computed_at`); `stale` is true while changes wait for "
            "that refresh."
        ),
        parameters=[
            OpenApiParameter("disease", OpenApiTypes.STR, description="Disease code."),
            OpenApiParameter("target", OpenApiTypes.STR, description="Target key, e.g. cd19."),
        ],
        responses={200: SummaryPage},
    )
    def get(self, request):
        disease = request.query_params.get("disease")
        target = request.query_params.get("target")
        stale = stored_summaries.freshness().stale
        # No code contains a NUL character, and PostgreSQL refuses one in a query: such a
        # value matches nothing, like any other unknown code.
        if "\x00" in f"{disease or ''}{target or ''}":
            found = []
        else:
            found = stored_summaries.disease_target_summaries(
                disease_code=disease, target_key=target
            )
        summaries = [{**summary.as_dict(), "stale": stale} for summary in found]
        results = SummaryRow(summaries, many=True).data
        return Response({"next": None, "previous": None, "results": results})

    def get_renderer_context(self):
        context = super().get_renderer_context()
        context["csv_columns"] = list(SummaryRow().fields)
        return context
