"""Reads that span relations, prefetched so that a page costs a fixed number of queries
whatever the number of studies. Every read starts from studies.visibility.public()."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q, QuerySet

from . import catalogue_counts
from .choices import CellSource, Phase, StudyStatus, TimePoint
from .models import (
    AdverseEvent,
    Antigen,
    Arm,
    ArmProduct,
    CarConstruct,
    CostimulatoryDomain,
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
from .visibility import public


def public_studies() -> QuerySet[Study]:
    return public(Study.objects.all())


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

    rows: list[CatalogueRow]
    total: int

    @property
    def has_more(self) -> bool:
        return self.total > len(self.rows)


def _newest(studies: QuerySet[Study]) -> NewestStudies:
    """Rows for the first NEWEST_COUNT studies in the catalogue's default order (newest
    first, so the catalogue link continues the list): two queries plus a fixed number of
    prefetches, whatever the number of studies."""
    newest = with_row_prefetches(studies).order_by("-first_year", "title")[:NEWEST_COUNT]
    return NewestStudies(rows=catalogue_rows(newest), total=studies.count())


def home_studies() -> NewestStudies:
    """The newest public studies, for the landing page."""
    return _newest(public_studies())


# Facets ----------------------------------------------------------------------------------------


@dataclass
class FacetOption:
    value: str
    label: str
    count: int
    selected: bool


# Options a facet lists, the most frequent first (selected ones always): a catalogue of
# 100,000 studies has thousands of constructs, which no one ticks through.
FACET_OPTIONS_SHOWN = 30


@dataclass
class Facet:
    name: str
    label: str
    help_text: str
    options: list[FacetOption] = field(default_factory=list)
    more: int = 0  # options with fewer studies left out

    @property
    def selected_count(self) -> int:
        return sum(o.selected for o in self.options)


def _of_studies(rows: QuerySet, path: str, studies: QuerySet) -> QuerySet:
    """rows restricted to the studies (path leads from rows to their study). Left whole
    when ``studies`` has no filter at all (every study, public() being the identity):
    the unfiltered catalogue then counts without matching each row against the whole
    study table."""
    if not studies.query.has_filters():
        return rows
    return rows.filter(**{f"{path}__in": studies})


def _count_disease(studies: QuerySet) -> dict[str, int]:
    """Studies per disease, a broader disease counting its narrower ones' studies.

    One pass over the arms, with a distinct count per disease and its narrower ones
    (the vocabulary is small); nothing per study comes back to Python."""
    diseases = list(Disease.objects.values_list("pk", "code", "parent_id"))
    parents = {pk: parent for pk, _, parent in diseases}
    codes = {pk: code for pk, code, _ in diseases}
    narrower: dict[int, set[int]] = defaultdict(set)
    for pk in parents:
        node, seen = pk, set()
        while node is not None and node not in seen:  # itself and each broader disease
            seen.add(node)
            narrower[node].add(pk)
            node = parents.get(node)
    arms = _of_studies(public(Arm.objects.all()), "study", studies).order_by()
    counts = arms.aggregate(
        **{
            f"disease_{pk}": Count("study", distinct=True, filter=Q(disease__in=members))
            for pk, members in narrower.items()
        }
    )
    return {codes[int(key.removeprefix("disease_"))]: n for key, n in counts.items() if n}


# Product facets: the construct's fields they count.
PRODUCT_FACETS = {
    "target": "targets__code",
    "construct": "pk",
    "costim": "costimulatory_domains__code",
    "cell_source": "cell_source",
}


def _count_products(studies: QuerySet) -> dict[str, dict[str, int]]:
    """Studies per value of each product facet, from one read of the studies' products
    and one of their constructs (four COUNT(DISTINCT) queries would each match the
    products to the studies again)."""
    given = set(
        _of_studies(public(ArmProduct.objects.all()), "arm__study", studies)
        .order_by()
        .values_list("construct_id", "arm__study_id")
    )
    values: dict[str, dict[int, set[str]]] = {name: defaultdict(set) for name in PRODUCT_FACETS}
    constructs = public(CarConstruct.objects.filter(pk__in={c for c, _ in given})).order_by()
    for construct, *fields in constructs.values_list("pk", *PRODUCT_FACETS.values()):
        for name, value in zip(PRODUCT_FACETS, fields, strict=True):
            if value is not None:
                values[name][construct].add(str(value))
    counts = {}
    for name, by_construct in values.items():
        pairs = {(value, study) for construct, study in given for value in by_construct[construct]}
        counts[name] = dict(Counter(value for value, _ in pairs))
    return counts


def _counter(name: str) -> Callable[[QuerySet], dict[str, int]]:
    """Studies per value of one product facet."""
    return lambda studies: _count_products(studies)[name]


def _count_study_field(name: str) -> Callable[[QuerySet], dict[str, int]]:
    def count(studies: QuerySet) -> dict[str, int]:
        # Grouped straight from the matching studies, unless a search ranked them (the
        # rank would join the grouping): "id in (matching ids)" joins the table to itself.
        if studies.query.annotations:
            studies = _of_studies(public(Study.objects.all()), "pk", studies)
        rows = studies.exclude(**{name: ""}).order_by().values(name).annotate(n=Count("pk"))
        return {row[name]: row["n"] for row in rows}

    return count


def _count_country(studies: QuerySet) -> dict[str, int]:
    rows = (
        _of_studies(Study.countries.through.objects.all(), "study", studies)
        .order_by()
        .values("country__code")
        .annotate(n=Count("study", distinct=True))
    )
    return {row["country__code"]: row["n"] for row in rows}


def _vocabulary_labels(rows: Callable[[], QuerySet], key: str = "code", label: str = ""):
    def labels(values: set[str]) -> dict[str, str]:
        if key == "pk":
            values = {v for v in values if v.isdigit()}
        matching = rows().filter(**{f"{key}__in": values})
        if label:  # only the two columns (thousands of constructs at 100,000 studies)
            return {str(k): str(text) for k, text in matching.values_list(key, label)}
        return {str(getattr(row, key)): str(row) for row in matching}

    return labels


def _choice_labels(choices) -> Callable[[set[str]], dict[str, str]]:
    return lambda values: {value: label for value, label in choices if value in values}


# Facet name -> (counter, labeller, choices when options keep the choices' order).
FACET_SOURCES = {
    "disease": (_count_disease, _vocabulary_labels(Disease.objects.all, label="name"), None),
    "target": (
        _counter("target"),
        _vocabulary_labels(Antigen.objects.all),
        None,
    ),
    "construct": (
        _counter("construct"),
        _vocabulary_labels(lambda: public(CarConstruct.objects.all()), "pk", "name"),
        None,
    ),
    "costim": (
        _counter("costim"),
        _vocabulary_labels(CostimulatoryDomain.objects.all),
        None,
    ),
    "cell_source": (
        _counter("cell_source"),
        _choice_labels(CellSource.choices),
        CellSource.choices,
    ),
    "phase": (_count_study_field("phase"), _choice_labels(Phase.choices), Phase.choices),
    "status": (
        _count_study_field("status"),
        _choice_labels(StudyStatus.choices),
        StudyStatus.choices,
    ),
    "country": (_count_country, _vocabulary_labels(Country.objects.all), None),
}


def _count_every_facet() -> dict:
    """Each facet's counts over every public study, and their number under "total"
    (what catalogue_counts stores)."""
    studies = public_studies().values("pk")
    counts: dict = _count_products(studies)
    for name, (count, _, _) in FACET_SOURCES.items():
        if name not in PRODUCT_FACETS:
            counts[name] = count(studies)
    counts["total"] = public_studies().count()  # the unfiltered catalogue's length
    return counts


def unfiltered_facet_counts() -> dict:
    """Each facet's counts over every public study: stored, counted again only after
    the data changed (one query while they are current)."""
    return catalogue_counts.unfiltered_counts(_count_every_facet, [*FACET_SOURCES, "total"])


def catalogue_total(filterset) -> int | None:
    """How many studies the catalogue lists when nothing filters them (stored with
    the facet counts), else None: the filtered list is counted as usual."""
    if filterset.qs.query.has_filters():
        return None
    return unfiltered_facet_counts()["total"]


def _selected_values(filterset, name: str) -> set[str]:
    value = filterset.form.cleaned_data.get(name) or []
    key = "pk" if name == "construct" else "code"
    return {str(getattr(v, key, v)) for v in value}


def _most_frequent(counts: dict[str, int], selected: set[str]) -> set[str]:
    """The values that may be among a facet's FACET_OPTIONS_SHOWN most frequent (with
    every value tied with the last, as labels break ties) and the selected ones: only
    these need labels."""
    frequencies = sorted((n for n in counts.values() if n), reverse=True)
    least = frequencies[FACET_OPTIONS_SHOWN - 1] if len(frequencies) > FACET_OPTIONS_SHOWN else 1
    return {value for value, n in counts.items() if n and n >= least} | selected


def catalogue_facets(filterset) -> list[Facet]:
    """The catalogue's facets with their counts (a StudyFilterSet, validated).

    A facet's counts are taken under every other filter: the number next to a value
    is how many studies match the other filters and that value. Values within one
    facet combine with "or", so the other values of a facet stay visible."""
    facets = []
    unfiltered = None
    products: dict[tuple[str, str], dict] = {}  # product facets' counts, by their studies
    for name in filterset.FACETS:
        counter, labeller, choices = FACET_SOURCES[name]
        studies = filterset.filter_queryset_without(public_studies(), name).values("pk")
        if studies.query.has_filters() and name in PRODUCT_FACETS:
            # Product facets whose own filter is unused count over the same studies:
            # one read of their products serves them all.
            sql, params = studies.query.sql_with_params()
            if (sql, repr(params)) not in products:
                products[sql, repr(params)] = _count_products(studies)
            counts = products[sql, repr(params)][name]
        elif studies.query.has_filters():
            # Under filters, the counting is proportional to the studies they match.
            counts = counter(studies)
        else:
            if unfiltered is None:
                unfiltered = unfiltered_facet_counts()
            counts = unfiltered[name]
        selected = _selected_values(filterset, name)
        listed = {value for value, n in counts.items() if n} | selected
        labels = labeller(listed if choices else _most_frequent(counts, selected))
        options = [
            FacetOption(value, labels[value], counts.get(value, 0), value in selected)
            for value in labels
            if counts.get(value) or value in selected
        ]
        if choices:
            order = [value for value, _ in choices]
            options.sort(key=lambda o: order.index(o.value))
        else:
            options.sort(key=lambda o: (-o.count, o.label.lower()))
        shown = options[:FACET_OPTIONS_SHOWN]
        shown += [o for o in options[FACET_OPTIONS_SHOWN:] if o.selected]
        spec = filterset.filters[name]
        facets.append(
            Facet(
                name,
                spec.label,
                spec.extra.get("help_text", ""),
                shown,
                more=len(listed) - len(shown),
            )
        )
    return facets


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
    studies: list[CatalogueRow]


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
    studies = with_row_prefetches(
        public_studies().filter(
            pk__in=public(ArmProduct.objects.filter(construct=construct)).values("arm__study_id")
        )
    ).order_by("-first_year", "title")
    return ConstructDetail(construct, uses, catalogue_rows(studies))


def constructs_with_counts() -> QuerySet[CarConstruct]:
    return (
        public(CarConstruct.objects.all())
        .annotate(study_count=Count("arm_products__arm__study", distinct=True))
        .prefetch_related("targets", "costimulatory_domains")
        .order_by("name")
    )


def diseases_with_counts() -> list[Disease]:
    """Diseases that have studies, with their study counts (narrower ones included)."""
    counts = unfiltered_facet_counts()["disease"]
    diseases = list(Disease.objects.select_related("parent").order_by("name"))
    for disease in diseases:
        disease.study_count = counts.get(disease.code, 0)
    return [d for d in diseases if d.study_count]


def disease_studies(disease: Disease) -> NewestStudies:
    """The newest public studies of the disease or a narrower one (lupus nephritis
    under SLE), as the catalogue filtered by the disease lists them."""
    # Narrower diseases resolved to ids first (a small table), as the catalogue's disease
    # filter does: arms are then matched on their indexed disease column alone.
    diseases = Disease.objects.filter(
        Q(pk=disease.pk) | Q(parent=disease) | Q(parent__parent=disease)
    ).values_list("pk", flat=True)
    arms = public(Arm.objects.filter(disease__in=list(diseases)))
    return _newest(public_studies().filter(pk__in=arms.values("study_id")))
