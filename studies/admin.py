"""The Django admin: the staff back office for every studies table.

Every curated table keeps its history (django-simple-history): each change page has a
"History" button listing who changed what; the curation area shows the same as diffs.
Changelists show plain columns with their relations joined in the queryset, so a page
costs the same number of queries for 1 row as for 100. Every foreign key to a large
table is an autocomplete, so change forms do not render whole tables as <select>s.
"""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .identifiers import normalize_doi
from .models import (
    AdverseEvent,
    Antigen,
    Arm,
    ArmProduct,
    CarConstruct,
    CatalogueCounts,
    ConstructAlias,
    CostimulatoryDomain,
    Country,
    Disease,
    FilteredCounts,
    LymphodepletionRegimen,
    OutcomeMeasure,
    OutcomeResult,
    Patient,
    Person,
    Publication,
    PublicationAuthor,
    RegistryId,
    Study,
    StudyFacets,
    StudyReport,
    Therapy,
)
from .models.base import Curated

CURATED_READONLY = ("created_by", "created_at", "updated_at")
SOURCE_FIELDS = ("source_publication", "source_kind", "source_label")


class CuratedAdminMixin:
    """Records who entered a row: the signed-in user, on the row and on its inline rows.

    created_by is read-only in forms; an existing author is never overwritten.

    Lists show the newest rows first, by primary key: the models' own orderings join
    and sort whole tables (outcome results by measure name: 2 s at 10,000 studies). A
    filtered list does not count the whole table a second time either."""

    ordering = ("-pk",)
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if issubclass(self.model, Curated):
            readonly += tuple(f for f in CURATED_READONLY if f not in readonly)
        return readonly

    def save_model(self, request, obj, form, change):
        if isinstance(obj, Curated) and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        rows = formset.save(commit=False)
        for row in formset.deleted_objects:
            row.delete()
        for row in rows:
            if isinstance(row, Curated) and row.created_by_id is None:
                row.created_by = request.user
            row.save()
        formset.save_m2m()


class CuratedInline:
    """Inline rows of Curated models show their author but never let it be edited."""

    extra = 0
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if issubclass(self.model, Curated):
            readonly += ("created_by",)
        return readonly

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if issubclass(self.model, Curated):
            queryset = queryset.select_related("created_by")
        return queryset


# Vocabularies -------------------------------------------------------------------------


class VocabularyAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")
    ordering = ("name",)


@admin.register(Disease)
class DiseaseAdmin(VocabularyAdmin):
    list_display = ("code", "name", "abbreviation", "icd10", "mondo", "parent")
    search_fields = ("code", "name", "abbreviation", "icd10", "mondo")
    list_select_related = ("parent",)
    autocomplete_fields = ("parent", "main_outcome")


@admin.register(Antigen)
class AntigenAdmin(VocabularyAdmin):
    pass


@admin.register(CostimulatoryDomain)
class CostimulatoryDomainAdmin(VocabularyAdmin):
    pass


@admin.register(Therapy)
class TherapyAdmin(VocabularyAdmin):
    pass


@admin.register(LymphodepletionRegimen)
class LymphodepletionRegimenAdmin(VocabularyAdmin):
    search_fields = ("code", "name", "description")


@admin.register(Country)
class CountryAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(OutcomeMeasure)
class OutcomeMeasureAdmin(VocabularyAdmin):
    list_display = ("code", "name", "abbreviation", "kind", "range_display", "higher_is_better")
    search_fields = ("code", "name", "abbreviation")
    list_filter = ("kind",)
    autocomplete_fields = ("diseases",)

    @admin.display(description="range")
    def range_display(self, measure):
        return measure.range_display


# Publications and studies ---------------------------------------------------------------


class PublicationAuthorInline(admin.TabularInline):
    model = PublicationAuthor
    extra = 0
    fields = ("position", "family_name", "given_names")


class PublicationReportInline(CuratedInline, admin.TabularInline):
    model = StudyReport
    fk_name = "publication"
    fields = ("study", "data_cutoff", "created_by")
    autocomplete_fields = ("study",)
    verbose_name = "study reported"
    verbose_name_plural = "studies reported"


@admin.register(Publication)
class PublicationAdmin(CuratedAdminMixin, SimpleHistoryAdmin):
    list_display = ("short_citation", "title", "journal", "year", "doi", "pmid", "publication_type")
    list_display_links = ("short_citation", "title")
    list_filter = ("publication_type", "year")
    search_fields = ("title", "journal", "doi", "pmid", "pmcid", "authors__family_name")
    autocomplete_fields = ("superseded_by",)
    inlines = (PublicationAuthorInline, PublicationReportInline)

    def get_queryset(self, request):
        # short_citation (the __str__ used by autocompletes too) reads the authors.
        return super().get_queryset(request).prefetch_related("authors")

    def get_search_results(self, request, queryset, search_term):
        # A pasted DOI link finds the stored bare DOI.
        if search_term.lower().startswith(("http://", "https://", "doi:")):
            search_term = normalize_doi(search_term) or ""
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="citation", ordering="year")
    def short_citation(self, publication):
        return publication.short_citation


@admin.register(PublicationAuthor)
class PublicationAuthorAdmin(SimpleHistoryAdmin):
    list_display = ("family_name", "given_names", "position", "publication")
    search_fields = ("family_name", "given_names", "publication__title", "publication__doi")
    autocomplete_fields = ("publication",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("publication__authors")


class RegistryIdInline(CuratedInline, admin.TabularInline):
    model = RegistryId
    fields = ("registry", "identifier", "created_by")


class StudyReportInline(CuratedInline, admin.TabularInline):
    model = StudyReport
    fk_name = "study"
    fields = ("publication", "data_cutoff", "created_by")
    autocomplete_fields = ("publication",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("publication__authors")


class ArmInline(CuratedInline, admin.StackedInline):
    model = Arm
    fields = ("label", "disease", "lymphodepletion", "n_patients", *SOURCE_FIELDS, "created_by")
    autocomplete_fields = ("disease", "lymphodepletion", "source_publication")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("disease", "lymphodepletion")


@admin.register(Study)
class StudyAdmin(CuratedAdminMixin, SimpleHistoryAdmin):
    list_display = ("title", "short_name", "design", "phase", "status", "registry_identifiers")
    list_filter = ("design", "phase", "status")
    search_fields = ("title", "short_name", "sponsor", "registry_ids__identifier")
    autocomplete_fields = ("countries",)
    inlines = (RegistryIdInline, StudyReportInline, ArmInline)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("registry_ids")

    @admin.display(description="registry ids")
    def registry_identifiers(self, study):
        return ", ".join(registry_id.identifier for registry_id in study.registry_ids.all())


@admin.register(StudyReport)
class StudyReportAdmin(CuratedAdminMixin, SimpleHistoryAdmin):
    list_display = ("study", "publication", "data_cutoff")
    list_select_related = ("study", "publication")
    search_fields = ("study__title", "study__short_name", "publication__title", "publication__doi")
    autocomplete_fields = ("study", "publication")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("publication__authors")


@admin.register(RegistryId)
class RegistryIdAdmin(CuratedAdminMixin, SimpleHistoryAdmin):
    list_display = ("identifier", "registry", "study")
    list_select_related = ("study",)
    list_filter = ("registry",)
    search_fields = ("identifier", "study__title", "study__short_name")
    autocomplete_fields = ("study",)


# Constructs ---------------------------------------------------------------------------------


class ConstructAliasInline(admin.TabularInline):
    model = ConstructAlias
    extra = 0


@admin.register(CarConstruct)
class CarConstructAdmin(CuratedAdminMixin, SimpleHistoryAdmin):
    list_display = ("name", "target_codes", "cell_source", "vector", "developer")
    list_filter = ("cell_source", "vector", "binder_origin", "targets")
    search_fields = ("name", "aliases__alias", "developer", "binder_name")
    autocomplete_fields = ("targets", "costimulatory_domains")
    inlines = (ConstructAliasInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("targets")

    @admin.display(description="targets")
    def target_codes(self, construct):
        return " + ".join(str(antigen) for antigen in construct.targets.all())


@admin.register(ConstructAlias)
class ConstructAliasAdmin(SimpleHistoryAdmin):
    list_display = ("alias", "construct")
    list_select_related = ("construct",)
    search_fields = ("alias", "construct__name")
    autocomplete_fields = ("construct",)


# Arms and patients ------------------------------------------------------------------------


class ArmProductInline(CuratedInline, admin.TabularInline):
    model = ArmProduct
    fields = (
        "order",
        "construct",
        "administration",
        "dose_value",
        "dose_value_max",
        "dose_unit",
        *SOURCE_FIELDS,
        "created_by",
    )
    autocomplete_fields = ("construct", "source_publication")


@admin.register(Arm)
class ArmAdmin(CuratedAdminMixin, SimpleHistoryAdmin):
    list_display = ("label", "study", "disease", "n_patients", "source_publication")
    list_select_related = ("study", "disease", "source_publication")
    list_filter = ("disease",)
    search_fields = ("label", "study__title", "study__short_name")
    autocomplete_fields = ("study", "disease", "lymphodepletion", "source_publication")
    inlines = (ArmProductInline,)

    def get_queryset(self, request):
        # Autocompletes show __str__, which reads the study. The changelist skips
        # list_select_related once the queryset has a select_related, so name it all here.
        queryset = super().get_queryset(request).select_related(*self.list_select_related)
        return queryset.prefetch_related("source_publication__authors")


@admin.register(ArmProduct)
class ArmProductAdmin(CuratedAdminMixin, SimpleHistoryAdmin):
    list_display = ("construct", "arm_label", "order", "administration", "dose_value", "dose_unit")
    list_select_related = ("construct", "arm__study")
    list_filter = ("administration", "dose_unit")
    search_fields = ("construct__name", "arm__label", "arm__study__title")
    autocomplete_fields = ("arm", "construct", "source_publication")

    @admin.display(description="arm", ordering="arm__label")
    def arm_label(self, product):
        return str(product.arm)


@admin.register(Person)
class PersonAdmin(CuratedAdminMixin, SimpleHistoryAdmin):
    list_display = ("__str__", "report_count", "note")
    search_fields = ("note", "reports__label")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("reports")

    @admin.display(description="patient reports")
    def report_count(self, person):
        return len(person.reports.all())


class PatientResultInline(CuratedInline, admin.TabularInline):
    model = OutcomeResult
    fk_name = "patient"
    fields = (
        "measure",
        "timepoint",
        "day",
        "value",
        "unit",
        "value_bool",
        *SOURCE_FIELDS,
        "created_by",
    )
    autocomplete_fields = ("measure", "source_publication")


class PatientAdverseEventInline(CuratedInline, admin.TabularInline):
    model = AdverseEvent
    fk_name = "patient"
    fields = (
        "event_type",
        "term",
        "grading_system",
        "grade",
        "onset_day",
        "duration_days",
        *SOURCE_FIELDS,
        "created_by",
    )
    autocomplete_fields = ("source_publication",)


@admin.register(Patient)
class PatientAdmin(CuratedAdminMixin, SimpleHistoryAdmin):
    list_display = ("label", "arm_label", "primary_disease", "age_years", "sex", "person", "source")
    list_select_related = ("arm__study", "primary_disease", "person", "source_publication")
    list_filter = ("primary_disease", "sex", "person_evidence")
    search_fields = ("label", "arm__label", "arm__study__title", "source_publication__title")
    autocomplete_fields = (
        "arm",
        "primary_disease",
        "secondary_diseases",
        "prior_therapies",
        "person",
        "source_publication",
    )
    inlines = (PatientResultInline, PatientAdverseEventInline)

    def get_inline_instances(self, request, obj=None):
        # Results and adverse events are validated against their saved patient (a
        # patient's result is a value, an arm's an aggregate): save the patient first.
        return super().get_inline_instances(request, obj) if obj else []

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("source_publication__authors")

    @admin.display(description="arm", ordering="arm__label")
    def arm_label(self, patient):
        return str(patient.arm)

    @admin.display(description="source")
    def source(self, patient):
        return patient.source_display


# Results ----------------------------------------------------------------------------------


class SubjectColumnsMixin:
    """The subject and source columns shared by results and adverse events.

    get_queryset joins what these columns and __str__ read, whether the subject is a
    patient or an arm."""

    list_select_related = (
        "patient__arm__study",
        "patient__source_publication",
        "arm__study",
        "source_publication",
    )
    search_fields = (
        "patient__label",
        "arm__label",
        "arm__study__title",
        "patient__arm__study__title",
        "source_publication__title",
        "source_publication__doi",
    )
    autocomplete_fields = ("patient", "arm", "source_publication")

    def get_queryset(self, request):
        # __str__ (the row's checkbox label) names a patient by label and publication.
        return (
            super()
            .get_queryset(request)
            .prefetch_related("source_publication__authors", "patient__source_publication__authors")
        )

    @admin.display(description="subject")
    def subject(self, row):
        if row.patient_id:
            return f"{row.patient.label} ({row.patient.arm})"
        return str(row.arm)

    @admin.display(description="source")
    def source(self, row):
        return row.source_display


@admin.register(OutcomeResult)
class OutcomeResultAdmin(SubjectColumnsMixin, CuratedAdminMixin, SimpleHistoryAdmin):
    list_display = (
        "measure",
        "subject",
        "timepoint",
        "day",
        "value",
        "unit",
        "value_bool",
        "n_events",
        "n_evaluable",
        "median",
        "source",
    )
    list_display_links = ("measure", "subject")
    list_select_related = (*SubjectColumnsMixin.list_select_related, "measure")
    list_filter = ("measure", "timepoint", "source_kind")
    search_fields = (*SubjectColumnsMixin.search_fields, "measure__code", "measure__name")
    autocomplete_fields = (*SubjectColumnsMixin.autocomplete_fields, "measure")


@admin.register(AdverseEvent)
class AdverseEventAdmin(SubjectColumnsMixin, CuratedAdminMixin, SimpleHistoryAdmin):
    list_display = (
        "event_type",
        "subject",
        "grading_system",
        "grade",
        "term",
        "n_affected",
        "n_evaluable",
        "source",
    )
    list_display_links = ("event_type", "subject")
    list_filter = ("event_type", "grading_system", "grade", "source_kind")
    search_fields = (*SubjectColumnsMixin.search_fields, "term")


@admin.register(CatalogueCounts)
class CatalogueCountsAdmin(admin.ModelAdmin):
    """Shown for inspection only: studies.catalogue_counts writes it."""

    list_display = ("pk", "version", "counted_version")
    readonly_fields = ("version", "counted_version", "counts")


@admin.register(StudyFacets)
class StudyFacetsAdmin(admin.ModelAdmin):
    """Shown for inspection only: studies.facet_values writes it."""

    list_display = ("study_id", "tags")
    list_select_related = False
    search_fields = ("study__title",)
    readonly_fields = ("tags",)


@admin.register(FilteredCounts)
class FilteredCountsAdmin(admin.ModelAdmin):
    """Shown for inspection only: studies.catalogue_counts writes it."""

    list_display = ("key", "version")
    search_fields = ("key",)
    readonly_fields = ("version", "counts")
