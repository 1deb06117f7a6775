"""The API's rows: one SQL query per list page, returning plain dicts.

Each ``*_rows`` function takes a queryset of the model (already filtered and limited
to public rows) and returns a values() queryset whose dicts are the JSON objects the
API sends: related codes and ids come as lists built in SQL (see aggregates.py),
so no row triggers another query. ``study_detail`` builds the nested study document
with one query per kind of child row.
"""

import functools

from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

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
    OutcomeMeasure,
    OutcomeResult,
    Patient,
    Publication,
    PublicationAuthor,
    RegistryId,
    Study,
    StudyReport,
)
from ..visibility import public
from .aggregates import JSONList
from .compiled import compiled_columns

TIMESTAMPS = ("created_at", "updated_at")
SOURCE_FIELDS = ("source_publication", "source_kind", "source_label")


def _outer(**lookups):
    return {name: OuterRef(path) for name, path in lookups.items()}


# Publications -------------------------------------------------------------------------

PUBLICATION_FIELDS = (
    "id",
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
)


def publication_rows(queryset: QuerySet[Publication]) -> QuerySet:
    authors = PublicationAuthor.objects.filter(publication=OuterRef("pk"))
    studies = public(Study.objects.filter(reports__publication=OuterRef("pk")))
    return queryset.values(*PUBLICATION_FIELDS, *TIMESTAMPS).annotate(
        authors=JSONList(
            authors,
            fields={"family_name": "family_name", "given_names": "given_names"},
            order_by=["position"],
        ),
        studies=JSONList(studies, "pk", distinct=True),
    )


# Studies ------------------------------------------------------------------------------

STUDY_FIELDS = (
    "id",
    "title",
    "short_name",
    "design",
    "phase",
    "status",
    "sponsor",
    "start_date",
    "completion_date",
)


def _study_columns() -> dict:
    """The study row's columns that are not plain fields, in the row's order."""
    arms = public(Arm.objects.filter(study=OuterRef("pk")))
    # Products of the study's arms, each through public(): correlated with the study,
    # where "arm in (all public arms)" would make every list read the whole arm table.
    products = public(ArmProduct.objects.filter(arm__study=OuterRef("pk")))
    # The targets of those products' constructs, by construct id: the path through the
    # construct table (one join more) took PostgreSQL twice as long to plan.
    constructs = public(ArmProduct.objects.filter(arm__study=OuterRef(OuterRef("pk"))))
    targets = Antigen.objects.filter(constructs__in=constructs.values("construct_id"))
    n_patients = arms.order_by().values("study").annotate(total=Sum("n_patients"))
    return {
        "countries": JSONList(Country.objects.filter(studies=OuterRef("pk")), "code"),
        "registry_ids": JSONList(RegistryId.objects.filter(study=OuterRef("pk")), "identifier"),
        "publications": JSONList(
            public(Publication.objects.filter(reports__study=OuterRef("pk"))),
            "pk",
            distinct=True,
        ),
        # Stored on the study (studies/denormalized.py); named here, after the lists
        # above, so that the row's fields keep the order they always had.
        "first_year": F("first_year"),
        "diseases": JSONList(arms, "disease__code", distinct=True),
        "antigens": JSONList(targets, "code", distinct=True),
        "constructs": JSONList(products, "construct__name", distinct=True),
        "n_patients": Subquery(n_patients.values("total")[:1]),
    }


def study_rows(queryset: QuerySet[Study]) -> QuerySet:
    return queryset.values(*STUDY_FIELDS, *TIMESTAMPS).annotate(**_study_columns())


@functools.cache
def _compiled_study_columns(using: str) -> dict:
    return compiled_columns(public(Study.objects.using(using)), _study_columns())


def study_list_rows(queryset: QuerySet[Study]) -> QuerySet:
    """The rows of study_rows(queryset), with the related columns compiled to SQL once
    per process (see compiled.py). queryset is the list's own, filtered directly: it
    must not join other tables (a study would come once per joined row)."""
    columns = _compiled_study_columns(queryset.db)
    return queryset.values(*STUDY_FIELDS, *TIMESTAMPS).annotate(**columns)


# Constructs ---------------------------------------------------------------------------

CONSTRUCT_FIELDS = (
    "id",
    "name",
    "binder_type",
    "binder_origin",
    "binder_name",
    "hinge",
    "transmembrane",
    "vector",
    "cell_source",
    "developer",
    "notes",
)


def construct_rows(queryset: QuerySet[CarConstruct]) -> QuerySet:
    studies = public(
        Study.objects.filter(
            arms__products__construct=OuterRef("pk"), arms__in=public(Arm.objects.all())
        )
    )
    return queryset.values(*CONSTRUCT_FIELDS, *TIMESTAMPS).annotate(
        aliases=JSONList(ConstructAlias.objects.filter(construct=OuterRef("pk")), "alias"),
        targets=JSONList(Antigen.objects.filter(constructs=OuterRef("pk")), "code"),
        costimulatory_domains=JSONList(
            CostimulatoryDomain.objects.filter(constructs=OuterRef("pk")), "code"
        ),
        studies=JSONList(studies, "pk", distinct=True),
    )


# Arms, patients and results -----------------------------------------------------------

PRODUCT_FIELDS = {
    "construct": "construct_id",
    "construct_name": "construct__name",
    "order": "order",
    "administration": "administration",
    "dose_value": "dose_value",
    "dose_value_max": "dose_value_max",
    "dose_unit": "dose_unit",
}


def arm_rows(queryset: QuerySet[Arm]) -> QuerySet:
    products = public(ArmProduct.objects.filter(arm=OuterRef("pk")))
    return queryset.values(
        "id", "study", "label", "n_patients", *SOURCE_FIELDS, *TIMESTAMPS
    ).annotate(
        disease=F("disease__code"),
        lymphodepletion=F("lymphodepletion__code"),
        products=JSONList(products, fields=PRODUCT_FIELDS, order_by=["order"]),
    )


PATIENT_FIELDS = (
    "id",
    "arm",
    "label",
    "age_years",
    "sex",
    "disease_duration_months",
    "follow_up_days",
    "person",
    "person_evidence",
)


def patient_rows(queryset: QuerySet[Patient]) -> QuerySet:
    return queryset.values(*PATIENT_FIELDS, *SOURCE_FIELDS, *TIMESTAMPS).annotate(
        study=F("arm__study"),
        primary_disease=F("primary_disease__code"),
        secondary_diseases=JSONList(
            Disease.objects.filter(secondary_patients=OuterRef("pk")), "code"
        ),
        prior_therapies=JSONList(
            Patient.prior_therapies.through.objects.filter(patient=OuterRef("pk")),
            "therapy__code",
        ),
    )


RESULT_FIELDS = ("id", "patient", "arm", *OutcomeResult.VALUE_FIELDS)


def outcome_rows(queryset: QuerySet[OutcomeResult]) -> QuerySet:
    return queryset.values(*RESULT_FIELDS, *SOURCE_FIELDS, *TIMESTAMPS).annotate(
        study=Coalesce("arm__study", "patient__arm__study"),
        measure=F("measure__code"),
    )


ADVERSE_EVENT_FIELDS = (
    "id",
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
)


def adverse_event_rows(queryset: QuerySet[AdverseEvent]) -> QuerySet:
    return queryset.values(*ADVERSE_EVENT_FIELDS, *SOURCE_FIELDS, *TIMESTAMPS).annotate(
        study=Coalesce("arm__study", "patient__arm__study"),
    )


# Vocabularies -------------------------------------------------------------------------


def disease_rows(queryset: QuerySet[Disease]) -> QuerySet:
    return queryset.values("id", "code", "name", "abbreviation", "icd10", "mondo").annotate(
        parent=F("parent__code"), main_outcome=F("main_outcome__code")
    )


def antigen_rows(queryset: QuerySet[Antigen]) -> QuerySet:
    return queryset.values("id", "code", "name")


def measure_rows(queryset: QuerySet[OutcomeMeasure]) -> QuerySet:
    return queryset.values(
        "id",
        "code",
        "name",
        "abbreviation",
        "kind",
        "units",
        "min_value",
        "max_value",
        "higher_is_better",
        "description",
    ).annotate(diseases=JSONList(Disease.objects.filter(measures=OuterRef("pk")), "code"))


# The study document -------------------------------------------------------------------


def _source(row: dict) -> dict:
    return {
        "publication": row.pop("source_publication"),
        "kind": row.pop("source_kind"),
        "label": row.pop("source_label"),
    }


def _with_source(rows) -> list[dict]:
    result = []
    for row in rows:
        row = dict(row)
        row["source"] = _source(row)
        result.append(row)
    return result


def study_detail(study_id: int) -> dict | None:
    """The study with its reports, arms, constructs, patients, results and adverse
    events, each number with its source: a fixed number of queries."""
    row = study_rows(public(Study.objects.filter(pk=study_id))).first()
    if row is None:
        return None
    arms = public(Arm.objects.filter(study_id=study_id))
    patients = public(Patient.objects.filter(arm__in=arms))
    # Ids first: "arm in (...) or patient in (...)" over subqueries makes PostgreSQL scan
    # every result; over two lists of ids it reads two indexes.
    subject = Q(arm_id__in=list(arms.values_list("pk", flat=True))) | Q(
        patient_id__in=list(patients.values_list("pk", flat=True))
    )

    reports = public(StudyReport.objects.filter(study_id=study_id)).order_by(
        "publication__year", "publication_id"
    )
    row["reports"] = list(
        reports.values("publication", "data_cutoff").annotate(
            doi=F("publication__doi"),
            pmid=F("publication__pmid"),
            year=F("publication__year"),
            title=F("publication__title"),
            publication_type=F("publication__publication_type"),
        )
    )
    row["registry_ids"] = list(
        RegistryId.objects.filter(study_id=study_id).values("registry", "identifier")
    )
    row["arms"] = _with_source(
        arm_rows(arms).values(
            "id", "label", "n_patients", "disease", "lymphodepletion", "products", *SOURCE_FIELDS
        )
    )
    row["constructs"] = list(
        construct_rows(
            public(
                CarConstruct.objects.filter(
                    pk__in=ArmProduct.objects.filter(arm__in=arms).values("construct")
                )
            )
        ).values("id", "name", "targets", "costimulatory_domains", "cell_source", "vector")
    )
    row["patients"] = _with_source(
        patient_rows(patients)
        .values(
            "id",
            "arm",
            "label",
            "age_years",
            "sex",
            "primary_disease",
            "secondary_diseases",
            "disease_duration_months",
            "follow_up_days",
            "person",
            "person_evidence",
            *SOURCE_FIELDS,
        )
        .order_by("arm", "label", "pk")
    )
    row["results"] = _with_source(
        outcome_rows(public(OutcomeResult.objects.filter(subject)))
        .values(*RESULT_FIELDS, "measure", *SOURCE_FIELDS)
        .order_by("pk")
    )
    row["adverse_events"] = _with_source(
        adverse_event_rows(public(AdverseEvent.objects.filter(subject)))
        .values(*ADVERSE_EVENT_FIELDS, *SOURCE_FIELDS)
        .order_by("pk")
    )
    return row
