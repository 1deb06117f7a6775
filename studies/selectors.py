"""Reads that span relations, prefetched so that a page costs a fixed number of queries
whatever the number of studies. Every read starts from studies.visibility.public()."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q, QuerySet

from . import facets
from .choices import TimePoint
from .filtersets.codes import vocabulary_codes
from .listing import ListRow, list_rows
from .models import (
    AdverseEvent,
    Antigen,
    Arm,
    ArmProduct,
    CarConstruct,
    Country,
    Disease,
    OutcomeResult,
    Patient,
    Publication,
    PublicationAuthor,
    Study,
    StudyReport,
)
from .summary import antigen_order
from .visibility import public, public_studies

# Catalogue -----------------------------------------------------------------------------------


def _ordered_authors() -> Prefetch:
    return Prefetch("authors", queryset=PublicationAuthor.objects.order_by("position"))


def with_row_prefetches(queryset: QuerySet[Study]) -> QuerySet[Study]:
    """Prefetch what a catalogue row shows (a fixed number of queries per page)."""
    reports = public(StudyReport.objects.select_related("publication")).order_by(
        "publication__year", "publication_id"
    )
    products = public(ArmProduct.objects.select_related("construct")).order_by("order")
    return queryset.prefetch_related(
        Prefetch("reports", queryset=reports),
        Prefetch("reports__publication__authors", queryset=PublicationAuthor.objects.all()),
        Prefetch("arms", queryset=public(Arm.objects.select_related("disease"))),
        Prefetch("arms__products", queryset=products),
        "arms__products__construct__targets",
        "countries",
        "registry_ids",
    )


def _unique(items: Iterable) -> list:
    return list(dict.fromkeys(items))


@dataclass
class CatalogueRow:
    """What the catalogue, the exports and the listings show for one study."""

    study: Study
    publications: list[Publication]
    diseases: list[Disease]
    targets: list[Antigen]
    constructs: list[CarConstruct]
    countries: list[Country]
    registry_ids: list

    @property
    def first_publication(self) -> Publication | None:
        return self.publications[0] if self.publications else None

    @property
    def year(self) -> int | None:
        return self.study.first_year

    @property
    def patient_count(self) -> int | None:
        return self.study.patient_count


def catalogue_rows(studies: Iterable[Study]) -> list[CatalogueRow]:
    """Rows for studies fetched through with_row_prefetches (no further queries)."""
    rows = []
    for study in studies:
        arms = list(study.arms.all())
        products = [p for arm in arms for p in arm.products.all()]
        rows.append(
            CatalogueRow(
                study=study,
                publications=_unique(r.publication for r in study.reports.all()),
                diseases=sorted(_unique(a.disease for a in arms), key=str),
                targets=sorted(
                    _unique(t for p in products for t in p.construct.targets.all()),
                    key=antigen_order,
                ),
                constructs=_unique(p.construct for p in products),
                countries=list(study.countries.all()),
                registry_ids=list(study.registry_ids.all()),
            )
        )
    return rows


# How many studies the home page and a disease page list; the catalogue has the rest.
NEWEST_COUNT = 25


@dataclass
class NewestStudies:
    """The newest few of some studies as catalogue rows, with how many there are."""

    rows: list[ListRow]
    total: int

    @property
    def has_more(self) -> bool:
        return self.total > len(self.rows)


def _newest(studies: QuerySet[Study], total: int) -> NewestStudies:
    """Rows for the first NEWEST_COUNT studies in the catalogue's default order (newest
    first, so the catalogue link continues the list), and ``total``, how many there
    are, as the catalogue's stored counts give it (counting SLE's 30,000 studies of
    100,000 took 23 ms of a 42 ms page)."""
    newest = studies.order_by("-first_year", "title")[:NEWEST_COUNT]
    return NewestStudies(rows=list_rows(newest), total=total)


def home_studies() -> NewestStudies:
    """The newest public studies, for the landing page."""
    return _newest(public_studies(), facets.unfiltered_facet_part("total"))


# Study page ---------------------------------------------------------------------------------


def _timepoint_order(result: OutcomeResult) -> tuple:
    order = {TimePoint.BASELINE: 0, TimePoint.DAY: 1, TimePoint.LAST_FOLLOW_UP: 2}
    return (order.get(result.timepoint, 1), result.day or 0)


@dataclass
class PatientView:
    patient: Patient
    outcomes: list[tuple] = field(default_factory=list)  # (measure, [results by time])
    adverse_events: list[AdverseEvent] = field(default_factory=list)
    same_person: list[Patient] = field(default_factory=list)


@dataclass
class StudyDetail:
    study: Study
    reports: list[StudyReport]
    registry_ids: list
    arms: list[Arm]
    patients: list[PatientView]
    arm_results: list[OutcomeResult]
    arm_adverse_events: list[AdverseEvent]
    row: CatalogueRow

    @property
    def publications(self) -> list[Publication]:
        return [r.publication for r in self.reports]


def _attach_sources(rows: Iterable, publications: dict[int, Publication]) -> None:
    """Point each row's source at an already loaded publication (no query per row)."""
    for row in rows:
        if row.source_publication_id in publications:
            row.source_publication = publications[row.source_publication_id]


def study_detail(study_id: int) -> StudyDetail:
    """A public study with everything its page shows. Raises Study.DoesNotExist."""
    study = with_row_prefetches(public_studies()).get(pk=study_id)
    row = catalogue_rows([study])[0]
    reports = list(
        public(StudyReport.objects.filter(study=study))
        .select_related("publication__superseded_by")
        .prefetch_related(
            Prefetch("publication__authors", queryset=PublicationAuthor.objects.all()),
            # "Superseded by <first author> <year>" on the page, for each superseded report.
            Prefetch(
                "publication__superseded_by__authors", queryset=PublicationAuthor.objects.all()
            ),
        )
        .order_by("data_cutoff", "publication__year", "publication_id")
    )
    publications = {r.publication_id: r.publication for r in reports}
    products = public(ArmProduct.objects.select_related("construct")).prefetch_related(
        "construct__targets", "construct__costimulatory_domains"
    )
    arms = list(
        public(Arm.objects.filter(study=study))
        .select_related("disease", "lymphodepletion")
        .prefetch_related(Prefetch("products", queryset=products))
    )
    patients = list(
        public(Patient.objects.filter(arm__study=study))
        .select_related("primary_disease", "arm")
        .prefetch_related("secondary_diseases", "prior_therapies")
        .order_by("arm__label", "source_publication__year", "label")
    )
    # By the ids already loaded: PostgreSQL answers "arm in (...) or patient in (...)"
    # from two indexes, where the same condition through joins scans the whole table.
    in_study = Q(arm_id__in=[arm.pk for arm in arms]) | Q(
        patient_id__in=[patient.pk for patient in patients]
    )
    results = list(public(OutcomeResult.objects.filter(in_study)).select_related("measure"))
    events = list(public(AdverseEvent.objects.filter(in_study)))
    arms_by_id = {arm.pk: arm for arm in arms}
    for arm_row in [*results, *events]:
        if arm_row.arm_id:
            arm_row.arm = arms_by_id[arm_row.arm_id]
    same_person = list(
        public(Patient.objects.filter(person__in={p.person_id for p in patients if p.person_id}))
        .exclude(pk__in=[p.pk for p in patients])
        .select_related("arm__study", "source_publication")
        .prefetch_related(
            Prefetch("source_publication__authors", queryset=PublicationAuthor.objects.all())
        )
    )
    _attach_sources([*arms, *patients, *results, *events], publications)
    for arm in arms:
        _attach_sources(arm.products.all(), publications)

    views = {p.pk: PatientView(p) for p in patients}
    by_patient: dict[int, dict] = defaultdict(lambda: defaultdict(list))
    for result in results:
        if result.patient_id:
            by_patient[result.patient_id][result.measure].append(result)
    for patient_id, measures in by_patient.items():
        views[patient_id].outcomes = [
            (measure, sorted(rows, key=_timepoint_order))
            for measure, rows in sorted(measures.items(), key=lambda item: str(item[0]))
        ]
    for event in events:
        if event.patient_id:
            views[event.patient_id].adverse_events.append(event)
    for patient in patients:
        views[patient.pk].same_person = [
            other for other in same_person if other.person_id == patient.person_id
        ]
        # A patient reported twice in this study is also the same person.
        views[patient.pk].same_person += [
            other
            for other in patients
            if other.person_id and other.person_id == patient.person_id and other.pk != patient.pk
        ]
    return StudyDetail(
        study=study,
        reports=reports,
        registry_ids=row.registry_ids,
        arms=arms,
        patients=list(views.values()),
        arm_results=sorted(
            (r for r in results if r.arm_id),
            key=lambda r: (r.arm.label if r.arm else "", str(r.measure), _timepoint_order(r)),
        ),
        arm_adverse_events=[e for e in events if e.arm_id],
        row=row,
    )


# Construct and disease pages -----------------------------------------------------------------


@dataclass
class ConstructDetail:
    construct: CarConstruct
    uses: list[ArmProduct]
    studies: list[ListRow]


def construct_detail(construct_id: int) -> ConstructDetail:
    """A public construct, the arms that gave it and its studies. Raises DoesNotExist."""
    construct = (
        public(CarConstruct.objects.all())
        .prefetch_related("targets", "costimulatory_domains", "aliases")
        .get(pk=construct_id)
    )
    uses = list(
        public(ArmProduct.objects.filter(construct=construct))
        .select_related("arm__study", "arm__disease", "source_publication")
        .prefetch_related(
            Prefetch("source_publication__authors", queryset=PublicationAuthor.objects.all())
        )
        .order_by("arm__study__title", "arm__label")
    )
    studies = public_studies().filter(
        pk__in=public(ArmProduct.objects.filter(construct=construct)).values("arm__study_id")
    )
    return ConstructDetail(construct, uses, list_rows(studies.order_by("-first_year", "title")))


def constructs() -> QuerySet[CarConstruct]:
    """Public constructs by name, for the construct list (page it, then count the
    page's studies with :func:`with_study_counts`)."""
    return (
        public(CarConstruct.objects.all())
        .prefetch_related("targets", "costimulatory_domains")
        .order_by("name", "pk")
    )


def with_study_counts(constructs: Iterable[CarConstruct]) -> list[CarConstruct]:
    """These constructs, each with ``study_count``: the public studies giving it (those
    the catalogue lists under ``?construct=``), counted for these constructs only in
    one query (a GROUP BY over every arm product took most of the page at 10,000
    studies, and a count per row was computed for every row an OFFSET skipped)."""
    constructs = list(constructs)
    counts = dict(
        public(ArmProduct.objects.filter(construct__in=[c.pk for c in constructs]))
        .order_by()
        .values("construct")
        .annotate(n=Count("arm__study", distinct=True))
        .values_list("construct", "n")
    )
    for construct in constructs:
        construct.study_count = counts.get(construct.pk, 0)
    return constructs


def diseases_with_counts() -> list[Disease]:
    """Diseases that have studies, with their study counts (narrower ones included)."""
    counts = facets.unfiltered_facet_counts()["disease"]
    diseases = list(Disease.objects.select_related("parent").order_by("name"))
    for disease in diseases:
        disease.study_count = counts.get(disease.code, 0)
    return [d for d in diseases if d.study_count]


def disease_studies(disease: Disease) -> NewestStudies:
    """The newest public studies of the disease or a narrower one (lupus nephritis
    under SLE), as the catalogue filtered by the disease lists them."""
    # Narrower diseases resolved to ids first, as the catalogue's disease filter does:
    # arms are then matched on their indexed disease column alone.
    diseases = vocabulary_codes().narrower_diseases([disease.pk])
    arms = public(Arm.objects.filter(disease__in=diseases))
    # The catalogue's disease facet counts a disease's studies with the narrower ones'.
    total = facets.unfiltered_facet_part("disease").get(disease.code, 0)
    return _newest(public_studies().filter(pk__in=arms.values("study_id")), total)
