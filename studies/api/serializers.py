"""Serializers of the REST API.

Two kinds, on purpose:

- ``*Row`` serializers describe the rows that list and detail endpoints send. The rows
  themselves come ready-made from SQL (rows.py); these classes are the schema's
  description of them and are never run over a page of rows.
- ``*Write`` serializers take input. They run the model's own ``full_clean()``, so the
  rules of studies/validation.py and the model constraints apply here exactly as in the
  admin and the bundle importer; the response to a write is the resource's row.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import serializers

from ..choices import (
    Administration,
    AdverseEventType,
    BinderOrigin,
    BinderType,
    CellSource,
    Domain,
    DoseUnit,
    GradingSystem,
    IdentityEvidence,
    MeasureKind,
    Phase,
    PublicationType,
    Registry,
    Sex,
    SourceKind,
    StudyDesign,
    StudyStatus,
    TimePoint,
    Vector,
)
from ..facet_values import refresh_facet_values
from ..models import (
    AdverseEvent,
    Antigen,
    Arm,
    ArmProduct,
    CarConstruct,
    ConstructAlias,
    CostimulatoryDomain,
    Country,
    Disease,
    LymphodepletionRegimen,
    OutcomeMeasure,
    OutcomeResult,
    Patient,
    Publication,
    RegistryId,
    Study,
    StudyReport,
    Therapy,
)
from ..search_documents import refresh_search_documents


def django_errors_to_drf(error: DjangoValidationError) -> dict | list:
    """Model validation messages keyed as DRF keys them ('__all__' is non-field)."""
    if not hasattr(error, "error_dict"):
        return {"non_field_errors": error.messages}
    errors = {}
    for field, messages in error.message_dict.items():
        key = "non_field_errors" if field == "__all__" else field
        errors.setdefault(key, []).extend(messages)
    return errors


# Rows: what the API sends ------------------------------------------------------------


def _text(**kwargs):
    return serializers.CharField(allow_blank=True, **kwargs)


def _choice(choices, **kwargs):
    return serializers.ChoiceField(choices=choices, **kwargs)


def _number(**kwargs):
    return serializers.FloatField(allow_null=True, **kwargs)


def _int(**kwargs):
    return serializers.IntegerField(allow_null=True, **kwargs)


def _codes(help_text: str):
    return serializers.ListField(child=serializers.CharField(), help_text=help_text)


def _ids(help_text: str):
    return serializers.ListField(child=serializers.IntegerField(), help_text=help_text)


class TimestampedRow(serializers.Serializer):
    created_at = serializers.DateTimeField(help_text="Set by the server.")
    updated_at = serializers.DateTimeField(help_text="Set by the server.")


class SourcedRow(TimestampedRow):
    source_publication = serializers.IntegerField(help_text="Id of the publication cited.")
    source_kind = _choice(SourceKind.choices)
    source_label = serializers.CharField(help_text="Where in the publication, e.g. 'Table 2'.")


class AuthorRow(serializers.Serializer):
    family_name = serializers.CharField()
    given_names = _text()


class PublicationRow(TimestampedRow):
    id = serializers.IntegerField()
    doi = serializers.CharField(allow_null=True, help_text="Lower case, without URL prefix.")
    pmid = _int()
    pmcid = serializers.CharField(allow_null=True)
    title = _text()
    journal = _text()
    year = serializers.IntegerField()
    volume = _text()
    issue = _text()
    pages = _text()
    publication_type = _choice(PublicationType.choices)
    abstract = _text()
    superseded_by = _int(help_text="Id of the fuller report that replaced this one.")
    authors = AuthorRow(many=True, help_text="In author order.")
    studies = _ids("Ids of the studies this publication reports.")


class StudyRow(TimestampedRow):
    id = serializers.IntegerField()
    title = serializers.CharField()
    short_name = _text()
    design = _choice(StudyDesign.choices)
    phase = _choice(Phase.choices, allow_blank=True)
    status = _choice(StudyStatus.choices, allow_blank=True)
    sponsor = _text()
    start_date = serializers.DateField(allow_null=True)
    completion_date = serializers.DateField(allow_null=True)
    countries = _codes("ISO 3166-1 alpha-2 codes.")
    registry_ids = _codes("Trial registry identifiers (NCT…, ChiCTR…, EudraCT).")
    publications = _ids("Ids of the publications reporting the study.")
    first_year = _int(help_text="Year of the first report.")
    diseases = _codes("Disease codes of the study's arms.")
    antigens = _codes("Antigen codes targeted by the study's constructs.")
    constructs = _codes("Names of the constructs given.")
    n_patients = _int(help_text="Patients treated, summed over the arms that report it.")


class ConstructRow(TimestampedRow):
    id = serializers.IntegerField()
    name = serializers.CharField()
    aliases = _codes("Other names and product codes.")
    targets = _codes("Antigen codes.")
    binder_type = _choice(BinderType.choices, allow_blank=True)
    binder_origin = _choice(BinderOrigin.choices, allow_blank=True)
    binder_name = _text()
    hinge = _choice(Domain.choices, allow_blank=True)
    transmembrane = _choice(Domain.choices, allow_blank=True)
    costimulatory_domains = _codes("Costimulatory domain codes.")
    vector = _choice(Vector.choices, allow_blank=True)
    cell_source = _choice(CellSource.choices, allow_blank=True)
    developer = _text()
    notes = _text()
    studies = _ids("Ids of the studies that gave this construct.")


class ProductRow(serializers.Serializer):
    construct = serializers.IntegerField()
    construct_name = serializers.CharField()
    order = serializers.IntegerField()
    administration = _choice(Administration.choices)
    dose_value = _number()
    dose_value_max = _number()
    dose_unit = _choice(DoseUnit.choices, allow_blank=True)


class ArmRow(SourcedRow):
    id = serializers.IntegerField()
    study = serializers.IntegerField()
    label = serializers.CharField()
    disease = serializers.CharField(help_text="Disease code.")
    lymphodepletion = serializers.CharField(allow_null=True, help_text="Regimen code.")
    n_patients = _int()
    products = ProductRow(many=True)


class PatientRow(SourcedRow):
    id = serializers.IntegerField()
    study = serializers.IntegerField()
    arm = serializers.IntegerField()
    label = serializers.CharField()
    age_years = _number()
    sex = _choice(Sex.choices, allow_blank=True)
    primary_disease = serializers.CharField(help_text="Disease code.")
    secondary_diseases = _codes("Disease codes.")
    disease_duration_months = _number()
    prior_therapies = _codes("Therapy codes.")
    follow_up_days = _int()
    person = _int(help_text="Shared by all reports of the same person.")
    person_evidence = _choice(IdentityEvidence.choices, allow_blank=True)


class OutcomeRow(SourcedRow):
    id = serializers.IntegerField()
    study = serializers.IntegerField()
    patient = _int()
    arm = _int()
    measure = serializers.CharField(help_text="Outcome measure code.")
    timepoint = _choice(TimePoint.choices)
    day = _int()
    value = _number()
    unit = _text()
    value_bool = serializers.BooleanField(allow_null=True)
    n_evaluable = _int()
    n_events = _int()
    median = _number()
    minimum = _number()
    maximum = _number()
    iqr_low = _number()
    iqr_high = _number()
    mean = _number()
    sd = _number()


class AdverseEventRow(SourcedRow):
    id = serializers.IntegerField()
    study = serializers.IntegerField()
    patient = _int()
    arm = _int()
    event_type = _choice(AdverseEventType.choices)
    term = _text()
    grading_system = _choice(GradingSystem.choices, allow_blank=True)
    grade = _int()
    onset_day = _int()
    duration_days = _int()
    n_affected = _int()
    n_evaluable = _int()


class DiseaseRow(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    abbreviation = _text()
    icd10 = _text()
    mondo = _text()
    parent = serializers.CharField(allow_null=True, help_text="Code of the broader disease.")
    main_outcome = serializers.CharField(allow_null=True, help_text="Measure code.")


class AntigenRow(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class MeasureRow(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    abbreviation = _text()
    kind = _choice(MeasureKind.choices)
    units = _codes("Accepted units, the usual one first; empty for unitless scores.")
    min_value = _number()
    max_value = _number()
    higher_is_better = serializers.BooleanField(allow_null=True)
    description = _text()
    diseases = _codes("Disease codes; empty: applies to all.")


# The study document ----------------------------------------------------------------


class SourceRow(serializers.Serializer):
    publication = serializers.IntegerField()
    kind = _choice(SourceKind.choices)
    label = serializers.CharField()


class ReportRow(serializers.Serializer):
    publication = serializers.IntegerField()
    data_cutoff = serializers.DateField(allow_null=True)
    doi = serializers.CharField(allow_null=True)
    pmid = _int()
    year = serializers.IntegerField()
    title = _text()
    publication_type = _choice(PublicationType.choices)


class RegistryIdRow(serializers.Serializer):
    registry = _choice(Registry.choices)
    identifier = serializers.CharField()


class StudyArmRow(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    n_patients = _int()
    disease = serializers.CharField()
    lymphodepletion = serializers.CharField(allow_null=True)
    products = ProductRow(many=True)
    source = SourceRow()


class StudyConstructRow(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    targets = _codes("Antigen codes.")
    costimulatory_domains = _codes("Costimulatory domain codes.")
    cell_source = _choice(CellSource.choices, allow_blank=True)
    vector = _choice(Vector.choices, allow_blank=True)


class StudyPatientRow(serializers.Serializer):
    id = serializers.IntegerField()
    arm = serializers.IntegerField()
    label = serializers.CharField()
    age_years = _number()
    sex = _choice(Sex.choices, allow_blank=True)
    primary_disease = serializers.CharField()
    secondary_diseases = _codes("Disease codes.")
    disease_duration_months = _number()
    follow_up_days = _int()
    person = _int()
    person_evidence = _choice(IdentityEvidence.choices, allow_blank=True)
    source = SourceRow()


class StudyResultRow(serializers.Serializer):
    id = serializers.IntegerField()
    patient = _int()
    arm = _int()
    measure = serializers.CharField()
    timepoint = _choice(TimePoint.choices)
    day = _int()
    value = _number()
    unit = _text()
    value_bool = serializers.BooleanField(allow_null=True)
    n_evaluable = _int()
    n_events = _int()
    median = _number()
    minimum = _number()
    maximum = _number()
    iqr_low = _number()
    iqr_high = _number()
    mean = _number()
    sd = _number()
    source = SourceRow()


class StudyAdverseEventRow(serializers.Serializer):
    id = serializers.IntegerField()
    patient = _int()
    arm = _int()
    event_type = _choice(AdverseEventType.choices)
    term = _text()
    grading_system = _choice(GradingSystem.choices, allow_blank=True)
    grade = _int()
    onset_day = _int()
    duration_days = _int()
    n_affected = _int()
    n_evaluable = _int()
    source = SourceRow()


class StudyDetail(StudyRow):
    """A study with everything reported about it."""

    reports = ReportRow(many=True)
    registry_ids = RegistryIdRow(many=True)
    arms = StudyArmRow(many=True)
    constructs = StudyConstructRow(many=True)
    patients = StudyPatientRow(many=True)
    results = StudyResultRow(many=True)
    adverse_events = StudyAdverseEventRow(many=True)


# Writes --------------------------------------------------------------------------------


def _code_field(model, **kwargs):
    return serializers.SlugRelatedField(slug_field="code", queryset=model.objects.all(), **kwargs)


class CleanedModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer that checks the would-be row with the model's full_clean().

    The row is built from the input (over the existing row on update), given its
    author on create, and validated as the admin would; model messages come back as
    field errors. Server-owned fields (author, timestamps) are never input."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model = self.Meta.model
        instance = self.instance if self.instance is not None else model()
        many = {f.name for f in model._meta.many_to_many}
        for name, value in attrs.items():
            if name not in many and name in self._model_fields():
                setattr(instance, name, value)
        if instance._state.adding and hasattr(instance, "created_by_id"):
            instance.created_by = self.context["request"].user
        try:
            instance.full_clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(django_errors_to_drf(error)) from error
        self._cleaned = instance
        return attrs

    def _model_fields(self) -> set[str]:
        return {f.name for f in self.Meta.model._meta.concrete_fields}

    def create(self, validated_data):
        many = {
            f.name: validated_data.pop(f.name)
            for f in self.Meta.model._meta.many_to_many
            if f.name in validated_data
        }
        instance = self._cleaned
        with transaction.atomic():
            instance.save()
            for name, values in many.items():
                getattr(instance, name).set(values)
        return instance


SOURCE_WRITE_FIELDS = ("source_publication", "source_kind", "source_label")


class PublicationWrite(CleanedModelSerializer):
    class Meta:
        model = Publication
        fields = [
            "doi",
            "pmid",
            "pmcid",
            "title",
            "journal",
            "year",
            "volume",
            "issue",
            "pages",
            "publication_type",
            "abstract",
            "superseded_by",
        ]


class ReportWrite(serializers.Serializer):
    publication = serializers.PrimaryKeyRelatedField(queryset=Publication.objects.all())
    data_cutoff = serializers.DateField(allow_null=True, required=False)


class RegistryIdWrite(serializers.Serializer):
    registry = _choice(Registry.choices)
    identifier = serializers.CharField(max_length=40)


class StudyWrite(CleanedModelSerializer):
    countries = serializers.SlugRelatedField(
        slug_field="code", queryset=Country.objects.all(), many=True, required=False
    )
    reports = ReportWrite(
        many=True,
        required=False,
        help_text="Publications reporting the study; replaces the current list.",
    )
    registry_ids = RegistryIdWrite(
        many=True, required=False, help_text="Registry ids; replaces the current list."
    )

    class Meta:
        model = Study
        fields = [
            "title",
            "short_name",
            "design",
            "phase",
            "status",
            "sponsor",
            "countries",
            "start_date",
            "completion_date",
            "reports",
            "registry_ids",
        ]

    def validate_reports(self, reports):
        publications = [report["publication"].pk for report in reports]
        if len(publications) != len(set(publications)):
            raise serializers.ValidationError("A publication is listed twice.")
        return reports

    def validate_registry_ids(self, registry_ids):
        errors, cleaned = [], []
        study = self.instance
        for entry in registry_ids:
            row = RegistryId(registry=entry["registry"], identifier=entry["identifier"])
            try:
                row.clean()
                taken = RegistryId.objects.filter(identifier=row.identifier)
                if study is not None:
                    taken = taken.exclude(study=study)
                if taken.exists():
                    raise DjangoValidationError(
                        {"identifier": f"{row.identifier} belongs to another study."}
                    )
                errors.append({})
            except DjangoValidationError as error:
                errors.append(django_errors_to_drf(error))
            cleaned.append({"registry": row.registry, "identifier": row.identifier})
        if any(errors):
            raise serializers.ValidationError(errors)
        return cleaned

    def create(self, validated_data):
        reports = validated_data.pop("reports", None)
        registry_ids = validated_data.pop("registry_ids", None)
        with transaction.atomic():
            study = super().create(validated_data)
            self._write_children(study, reports, registry_ids)
        return study

    def update(self, instance, validated_data):
        reports = validated_data.pop("reports", None)
        registry_ids = validated_data.pop("registry_ids", None)
        with transaction.atomic():
            study = super().update(instance, validated_data)
            self._write_children(study, reports, registry_ids)
        return study

    def _write_children(self, study, reports, registry_ids):
        user = self.context["request"].user
        if reports is not None:
            keep = []
            for report in reports:
                row, _ = StudyReport.objects.update_or_create(
                    study=study,
                    publication=report["publication"],
                    defaults={"data_cutoff": report.get("data_cutoff")},
                    create_defaults={
                        "data_cutoff": report.get("data_cutoff"),
                        "created_by": user,
                    },
                )
                keep.append(row.pk)
            study.reports.exclude(pk__in=keep).delete()
        if registry_ids is not None:
            identifiers = [entry["identifier"] for entry in registry_ids]
            study.registry_ids.exclude(identifier__in=identifiers).delete()
            for entry in registry_ids:
                RegistryId.objects.update_or_create(
                    identifier=entry["identifier"],
                    defaults={"study": study, "registry": entry["registry"]},
                    create_defaults={**entry, "study": study, "created_by": user},
                )


class ConstructWrite(CleanedModelSerializer):
    targets = serializers.SlugRelatedField(
        slug_field="code", queryset=Antigen.objects.all(), many=True
    )
    costimulatory_domains = serializers.SlugRelatedField(
        slug_field="code", queryset=CostimulatoryDomain.objects.all(), many=True, required=False
    )
    aliases = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        help_text="Other names and product codes; replaces the current list.",
    )

    class Meta:
        model = CarConstruct
        fields = [
            "name",
            "aliases",
            "targets",
            "binder_type",
            "binder_origin",
            "binder_name",
            "hinge",
            "transmembrane",
            "costimulatory_domains",
            "vector",
            "cell_source",
            "developer",
            "notes",
        ]

    def validate_aliases(self, aliases):
        errors = []
        for alias in aliases:
            taken = ConstructAlias.objects.filter(alias=alias)
            named = CarConstruct.objects.filter(name__iexact=alias)
            if self.instance is not None:
                taken = taken.exclude(construct=self.instance)
                named = named.exclude(pk=self.instance.pk)
            if taken.exists() or named.exists():
                errors.append(f"'{alias}' already names another construct.")
        if len(set(aliases)) != len(aliases):
            errors.append("An alias is listed twice.")
        if errors:
            raise serializers.ValidationError(errors)
        return aliases

    def create(self, validated_data):
        aliases = validated_data.pop("aliases", None)
        with transaction.atomic():
            construct = super().create(validated_data)
            self._write_aliases(construct, aliases)
        return construct

    def update(self, instance, validated_data):
        aliases = validated_data.pop("aliases", None)
        with transaction.atomic():
            construct = super().update(instance, validated_data)
            self._write_aliases(construct, aliases)
        return construct

    def _write_aliases(self, construct, aliases):
        if aliases is None:
            return
        construct.aliases.exclude(alias__in=aliases).delete()
        for alias in aliases:
            ConstructAlias.objects.get_or_create(construct=construct, alias=alias)


class ProductWrite(serializers.Serializer):
    construct = serializers.PrimaryKeyRelatedField(queryset=CarConstruct.objects.all())
    order = serializers.IntegerField(min_value=1, max_value=32767, default=1)
    administration = _choice(Administration.choices, default=Administration.SINGLE)
    dose_value = serializers.DecimalField(
        max_digits=20, decimal_places=2, allow_null=True, required=False
    )
    dose_value_max = serializers.DecimalField(
        max_digits=20, decimal_places=2, allow_null=True, required=False
    )
    dose_unit = _choice(DoseUnit.choices, allow_blank=True, required=False)


class ArmWrite(CleanedModelSerializer):
    disease = _code_field(Disease)
    lymphodepletion = _code_field(LymphodepletionRegimen, allow_null=True, required=False)
    products = ProductWrite(
        many=True,
        required=False,
        help_text="Products given, cited from the arm's source; replaces the current list.",
    )

    class Meta:
        model = Arm
        fields = [
            "study",
            "label",
            "disease",
            "lymphodepletion",
            "n_patients",
            "products",
            *SOURCE_WRITE_FIELDS,
        ]

    def validate(self, attrs):
        products = attrs.pop("products", None)
        attrs = super().validate(attrs)
        if products is not None:
            arm = self._cleaned
            errors = []
            orders = [product.get("order", 1) for product in products]
            for product in products:
                row = ArmProduct(
                    arm=arm,
                    created_by=self.context["request"].user,
                    source_publication=arm.source_publication,
                    source_kind=arm.source_kind,
                    source_label=arm.source_label,
                    **product,
                )
                try:
                    row.full_clean(exclude=["arm"], validate_unique=False)
                    errors.append({})
                except DjangoValidationError as error:
                    errors.append(django_errors_to_drf(error))
            if len(set(orders)) != len(orders):
                raise serializers.ValidationError(
                    {"products": ["Two products of an arm cannot share an order."]}
                )
            if any(errors):
                raise serializers.ValidationError({"products": errors})
            attrs["products"] = products
        return attrs

    def create(self, validated_data):
        products = validated_data.pop("products", None)
        with transaction.atomic():
            arm = super().create(validated_data)
            self._write_products(arm, products)
        return arm

    def update(self, instance, validated_data):
        products = validated_data.pop("products", None)
        with transaction.atomic():
            arm = super().update(instance, validated_data)
            self._write_products(arm, products)
        return arm

    def _write_products(self, arm, products):
        if products is None:
            return
        arm.products.all().delete()
        ArmProduct.objects.bulk_create(
            ArmProduct(
                arm=arm,
                created_by=self.context["request"].user,
                source_publication=arm.source_publication,
                source_kind=arm.source_kind,
                source_label=arm.source_label,
                **product,
            )
            for product in products
        )
        # bulk_create sends no signals: the study's search document names its products,
        # its facet values their targets and constructs.
        refresh_search_documents([arm.study_id])
        refresh_facet_values([arm.study_id])


class PatientWrite(CleanedModelSerializer):
    primary_disease = _code_field(Disease)
    secondary_diseases = _code_field(Disease, many=True, required=False)
    prior_therapies = _code_field(Therapy, many=True, required=False)

    class Meta:
        model = Patient
        fields = [
            "arm",
            "label",
            "age_years",
            "sex",
            "primary_disease",
            "secondary_diseases",
            "disease_duration_months",
            "prior_therapies",
            "follow_up_days",
            "person",
            "person_evidence",
            *SOURCE_WRITE_FIELDS,
        ]


class OutcomeWrite(CleanedModelSerializer):
    measure = _code_field(OutcomeMeasure)

    class Meta:
        model = OutcomeResult
        fields = [
            "patient",
            "arm",
            "measure",
            *OutcomeResult.VALUE_FIELDS,
            *SOURCE_WRITE_FIELDS,
        ]


class AdverseEventWrite(CleanedModelSerializer):
    class Meta:
        model = AdverseEvent
        fields = [
            "patient",
            "arm",
            "event_type",
            "term",
            "grading_system",
            "grade",
            "onset_day",
            "duration_days",
            "n_affected",
            "n_evaluable",
            *SOURCE_WRITE_FIELDS,
        ]


# Errors, for the schema ----------------------------------------------------------------


class ErrorDetail(serializers.Serializer):
    detail = serializers.CharField()


class ValidationErrors(serializers.Serializer):
    """Field name to messages; nested input reports nested errors."""

    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)
