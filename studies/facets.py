"""The catalogue's facets: for each filter, its values and how many studies each has
under the other filters.

Counts over every public study (a facet whose filter is the only one in use, or the
unfiltered page) are stored with the labels of the values they show
(catalogue_counts.py): the unfiltered catalogue then reads one row. On PostgreSQL
the facet values of each study are kept as a list of "facet:value" tags
(models.StudyFacets, kept by facet_values.py), and the database itself keeps how
many studies carry each pair of tags (models.FacetPairCounts, migration 0011): the
counts over every study, and under one value of one facet, are read from those pairs
whatever the number of studies, even right after a change. Under other combinations
of filters PostgreSQL counts the tags of the matching studies, filtered through
their GIN index, in one statement for all the facets that share the same other
filters, once per data version and combination (stored as the unfiltered counts
are). Other databases count from the arms, products and countries of the matching
studies.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.db import connections
from django.db.models import Count, Q, QuerySet

from . import catalogue_counts, facet_values
from .choices import CellSource, Phase, StudyStatus
from .disease_tree import DiseaseTree
from .models import (
    Antigen,
    Arm,
    ArmProduct,
    CarConstruct,
    CostimulatoryDomain,
    Country,
    Disease,
    FacetPairCounts,
    Study,
)
from .visibility import public, public_studies


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
    # Read here, not from the codes' cache: these counts are stored per data version.
    diseases = list(Disease.objects.values_list("pk", "code", "parent_id"))
    codes = {pk: code for pk, code, _ in diseases}
    narrower = DiseaseTree({pk: parent for pk, _, parent in diseases}).below
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


def _most_frequent(counts: dict[str, int], selected: set[str]) -> set[str]:
    """The values that may be among a facet's FACET_OPTIONS_SHOWN most frequent (with
    every value tied with the last, as labels break ties) and the selected ones: only
    these need labels."""
    frequencies = sorted((n for n in counts.values() if n), reverse=True)
    least = frequencies[FACET_OPTIONS_SHOWN - 1] if len(frequencies) > FACET_OPTIONS_SHOWN else 1
    return {value for value, n in counts.items() if n and n >= least} | selected


def _labels_needed(name: str, counts: dict[str, int], selected: set[str]) -> set[str]:
    """The values of a facet that may be shown: all of a short list of choices (kept in
    the choices' order), else the most frequent and the selected ones."""
    if FACET_SOURCES[name][2]:
        return {value for value, n in counts.items() if n} | selected
    return _most_frequent(counts, selected)


def _count_every_facet() -> dict:
    """Each facet's counts over every public study, the labels of the values the
    unfiltered facets show under "labels", and the number of public studies under
    "total" (what catalogue_counts stores)."""
    if _pairs_kept(public_studies().db):
        counts = _pair_counts(public_studies().db, "", list(FACET_SOURCES))
        total = counts.pop(MATCHED)
    else:
        studies = public_studies().values("pk")
        counts = _count_products(studies)
        for name, (count, _, _) in FACET_SOURCES.items():
            if name not in PRODUCT_FACETS:
                counts[name] = count(studies)
        total = public_studies().count()
    counts["labels"] = {
        name: labeller(_labels_needed(name, counts[name], set()))
        for name, (_, labeller, _) in FACET_SOURCES.items()
    }
    counts["total"] = total  # the unfiltered catalogue's length
    return counts


# What _count_every_facet returns, stored.
STORED_KEYS = [*FACET_SOURCES, "labels", "total"]


def unfiltered_facet_counts() -> dict:
    """Each facet's counts over every public study: stored, counted again only after
    the data changed (one query while they are current)."""
    return catalogue_counts.unfiltered_counts(_count_every_facet, STORED_KEYS)


def unfiltered_facet_part(part: str):
    """One part of :func:`unfiltered_facet_counts` ("total", "disease", ...), read
    alone while the stored counts are current (they hold every construct's count,
    which a page that shows one number does not need), else counted with the rest."""
    stored = catalogue_counts.stored_part(part)
    return stored if stored is not None else unfiltered_facet_counts()[part]


def unfiltered_facet_labels() -> dict:
    """The labels stored with the unfiltered counts, read without the counts, by
    facet; none while those counts are stale (the labels shown are looked up)."""
    return catalogue_counts.stored_part("labels") or {}


def _selected_values(filterset, name: str) -> set[str]:
    value = filterset.form.cleaned_data.get(name) or []
    key = "pk" if name == "construct" else "code"
    return {str(getattr(v, key, v)) for v in value}


# Counting from the stored facet values (PostgreSQL) -------------------------------------

# Filters that are no facet: applied through the study table.
OTHER_FILTERS = ("q", "year_min", "year_max", "min_patients")


def _uses_stored_values(filterset) -> bool:
    return connections[filterset.queryset.db].vendor == "postgresql"


def _pairs_kept(db: str) -> bool:
    """Whether the database keeps models.FacetPairCounts (PostgreSQL's triggers do),
    which count every study: right while every study is public."""
    return connections[db].vendor == "postgresql" and not public_studies().query.has_filters()


def _in_use(filterset, without: str | None) -> tuple[list[tuple[str, list[str]]], dict]:
    """The filters in use but ``without``'s: each facet's chosen values (sorted, in
    the facets' order) and the other filters' values by name."""
    chosen = [
        (name, sorted(values))
        for name in filterset.FACETS
        if name != without and (values := _selected_values(filterset, name))
    ]
    cleaned = filterset.form.cleaned_data
    others = {name: cleaned[name] for name in OTHER_FILTERS if cleaned.get(name) not in (None, "")}
    return chosen, others


def _conditions(filterset, without: str | None) -> tuple[list[str], list]:
    """SQL conditions on studies_studyfacets (alias f) for every filter in use but
    ``without``, with their parameters: a study has one of a facet's chosen tags."""
    chosen, others = _in_use(filterset, without)
    sql = ["f.tags && %s::text[]" for _ in chosen]
    params: list = [[facet_values.tag(name, value) for value in values] for name, values in chosen]
    studies = public_studies()
    for name, value in others.items():
        studies = filterset.filters[name].filter(studies, value)
    if studies.query.has_filters():
        subquery, subquery_params = studies.order_by().values("pk").query.sql_with_params()
        sql.append(f"f.study_id IN ({subquery})")
        params.extend(subquery_params)
    return sql, params


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


# The keys under which _stored_counts returns how many studies it counted over, and
# how many values of each facet have a study among them.
MATCHED = "matched"
LISTED = "listed"


def _stored_counts(filterset, names: list[str], without: str | None) -> dict[str, dict]:
    """Studies per value of each facet in ``names``, under every filter but
    ``without``'s, and their number under MATCHED: one pass over the matching rows
    of the facet table. Every tag of those rows is counted (an empty one per row
    gives their number); the facets not asked for are dropped here, and of those
    asked for, the values the page cannot show (see _shown_part)."""
    conditions, params = _conditions(filterset, without)
    sql = (
        "SELECT tag, count(*) FROM (SELECT unnest(array_prepend('', f.tags)) AS tag "
        f"FROM studies_studyfacets f {_where(conditions)}) t GROUP BY tag"
    )
    with connections[filterset.queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        counts = _by_facet(cursor.fetchall(), names)
    return _shown_part(counts, {name: _selected_values(filterset, name) for name in names})


def _shown_part(counts: dict[str, dict], selected: dict[str, set[str]]) -> dict[str, dict]:
    """Of each facet's counts, those of the values a page may show (_labels_needed:
    the selected ones, at 0 if no study has them), with how many values have a study
    under LISTED. Under a few filters at 100,000 studies most of the thousands of
    constructs still have one, and storing, reading and sorting counts no page shows
    took longer than counting them."""
    listed = {}
    for name, chosen in selected.items():
        values = counts[name]
        listed[name] = sum(1 for n in values.values() if n)
        shown = _labels_needed(name, values, chosen)
        counts[name] = {value: values.get(value, 0) for value in shown}
    counts[LISTED] = listed
    return counts


def _by_facet(rows, names: list[str]) -> dict[str, dict]:
    """(tag, studies) rows as studies per value of each facet in ``names``, those of
    the empty tag (every study counted) under MATCHED; other facets are dropped."""
    counts: dict[str, dict] = {name: {} for name in names}
    counts[MATCHED] = 0
    for tag, n in rows:
        if not tag:
            counts[MATCHED] = n
            continue
        facet, value = tag.split(":", 1)
        if facet in counts:
            counts[facet][value] = n
    return counts


def _filters_key(filterset, without: str | None) -> str | None:
    """The filters in use but ``without``'s, as one key ("disease=sle,ssc&phase=1"):
    the facets in their order with their values sorted, then the year and size bounds.
    None under a search, whose words are too many to store counts for."""
    chosen, others = _in_use(filterset, without)
    if (others.get("q") or "").strip():
        return None
    parts = [f"{name}={','.join(values)}" for name, values in chosen]
    parts += [f"{name}={value}" for name, value in others.items() if name != "q"]
    return "&".join(parts)


def _pair_counts(db: str, tag: str, names: list[str]) -> dict[str, dict]:
    """Studies per value of each facet in ``names`` among the studies with ``tag``
    ("" for every study), and their number under MATCHED: one index range of the
    pair counts the database keeps (models.FacetPairCounts)."""
    pairs = FacetPairCounts.objects.using(db).filter(tag=tag, studies__gt=0)
    if set(names) != set(FACET_SOURCES):  # leave the thousands of constructs in the table
        pairs = pairs.filter(
            reduce(or_, (Q(other__startswith=f"{name}:") for name in names), Q(other=""))
        )
    return _by_facet(pairs.values_list("other", "studies"), names)


def _only_tag(filterset, without: str | None) -> str | None:
    """The one tag the filters in use but ``without``'s ask for, when that is all
    they ask (one value of one facet): its counts are kept per pair of tags."""
    chosen, others = _in_use(filterset, without)
    if others or len(chosen) != 1 or len(chosen[0][1]) != 1:
        return None
    ((name, (value,)),) = chosen
    return facet_values.tag(name, value)


def _counts_over(filterset, names: list[str], without: str | None) -> dict[str, dict]:
    """_stored_counts under the filters but ``without``'s. Under one value of one
    facet, read from the pair counts the database keeps; under other combinations
    but a search, stored per data version under the filters' key: a catalogue page
    whose filters were asked for before since the data last changed reads its
    counts in one row, as the unfiltered page does."""
    tag = _only_tag(filterset, without)
    if tag is not None and _pairs_kept(filterset.queryset.db):
        return _pair_counts(filterset.queryset.db, tag, names)
    key = _filters_key(filterset, without)
    if key is None:
        return _stored_counts(filterset, names, without)
    # Counts stored under the same filters by a page that selected other values of
    # ``without``'s facet may lack those selected here.
    wanted = {name: _selected_values(filterset, name) for name in names}
    # The entries keep the values a page shows (_shown_part): how many depends on
    # FACET_OPTIONS_SHOWN.
    return catalogue_counts.counts_under(
        key,
        wanted,
        lambda missing: _stored_counts(filterset, missing, without),
        shape=FACET_OPTIONS_SHOWN,
    )


def _filtered_counts(filterset) -> dict[str, dict]:
    """Each facet's counts under the other filters, for the facets whose studies
    are filtered at all (the others read the stored unfiltered counts), and under
    MATCHED how many studies match every filter."""
    active = [name for name in filterset.FACETS if _selected_values(filterset, name)]
    if not _conditions(filterset, None)[0]:
        return {}
    # The facets without a value chosen share every filter (and MATCHED).
    shared = [name for name in filterset.FACETS if name not in active]
    counts = dict(_counts_over(filterset, shared, None))
    counts[LISTED] = dict(counts.get(LISTED, {}))
    for name in active:
        if _conditions(filterset, name)[0]:  # filters other than its own
            own = _counts_over(filterset, [name], name)
            counts[name] = own[name]
            if name in own.get(LISTED, {}):
                counts[LISTED][name] = own[LISTED][name]
    return counts


@dataclass
class CatalogueFacets:
    facets: list[Facet]
    # How many studies the catalogue lists: stored with the counts when nothing
    # filters them, counted from the facet table under filters on PostgreSQL, else
    # None (the paginator counts the list).
    total: int | None


class _Stored:
    """The stored unfiltered counts, read on first use only (filtered pages whose
    every facet is filtered do not need them), and only their labels while nothing
    else is asked for (filtered pages need no other part)."""

    def __init__(self):
        self._counts = None
        self._labels = None

    def __getitem__(self, key: str):
        if self._counts is None and key == "labels":
            if self._labels is None:
                self._labels = unfiltered_facet_labels()
            return self._labels
        if self._counts is None:
            self._counts = unfiltered_facet_counts()
        return self._counts[key]


def _labels(name: str, values: set[str], stored: _Stored) -> dict[str, str]:
    """Labels of these values of a facet: those of the values the unfiltered facet
    shows are stored with its counts; others are looked up (the values of a short
    list of choices need no query)."""
    labeller, choices = FACET_SOURCES[name][1:]
    if choices:
        return labeller(values)
    known = stored["labels"].get(name, {})
    labels = {value: label for value, label in known.items() if value in values}
    if missing := values - labels.keys():
        labels.update(labeller(missing))
    return labels


def _options(name: str, counts: dict[str, int], labels: dict[str, str], selected: set[str]):
    options = [
        FacetOption(value, labels[value], counts.get(value, 0), value in selected)
        for value in labels
        if counts.get(value) or value in selected
    ]
    choices = FACET_SOURCES[name][2]
    if choices:
        order = [value for value, _ in choices]
        options.sort(key=lambda o: order.index(o.value))
    else:
        options.sort(key=lambda o: (-o.count, o.label.lower()))
    return options


def _listed(name: str, counts: dict[str, int], selected: set[str], by_table) -> int:
    """How many values a facet lists: those with a study and the selected ones."""
    unmatched = sum(1 for value in selected if not counts.get(value))
    if by_table and name in by_table.get(LISTED, {}):  # counts of the shown values only
        return by_table[LISTED][name] + unmatched
    return sum(1 for n in counts.values() if n) + unmatched


def catalogue_facets(filterset) -> CatalogueFacets:
    """The catalogue's facets with their counts (a StudyFilterSet, validated).

    A facet's counts are taken under every other filter: the number next to a value
    is how many studies match the other filters and that value. Values within one
    facet combine with "or", so the other values of a facet stay visible."""
    facets = []
    stored = _Stored()
    products: dict[tuple[str, str], dict] = {}  # product facets' counts, by their studies
    by_table = _filtered_counts(filterset) if _uses_stored_values(filterset) else None
    for name in filterset.FACETS:
        counter = FACET_SOURCES[name][0]
        studies = filterset.filter_queryset_without(public_studies(), name).values("pk")
        selected = _selected_values(filterset, name)
        if by_table is not None and name in by_table:
            counts = by_table[name]
        elif not studies.query.has_filters():
            counts = stored[name]
        elif name in PRODUCT_FACETS:
            # Product facets whose own filter is unused count over the same studies:
            # one read of their products serves them all.
            sql, params = studies.query.sql_with_params()
            if (sql, repr(params)) not in products:
                products[sql, repr(params)] = _count_products(studies)
            counts = products[sql, repr(params)][name]
        else:
            counts = counter(studies)
        labels = _labels(name, _labels_needed(name, counts, selected), stored)
        options = _options(name, counts, labels, selected)
        shown = options[:FACET_OPTIONS_SHOWN]
        shown += [o for o in options[FACET_OPTIONS_SHOWN:] if o.selected]
        listed = _listed(name, counts, selected, by_table)
        spec = filterset.filters[name]
        facets.append(
            Facet(
                name,
                spec.label,
                spec.extra.get("help_text", ""),
                shown,
                more=listed - len(shown),
            )
        )
    if not filterset.qs.query.has_filters():
        total = stored["total"]
    elif by_table:
        total = by_table[MATCHED]
    else:
        total = None
    return CatalogueFacets(facets, total)
