"""The summary tables: GROUP BY over the pooling snapshot, one family of keys at a time.

:func:`footprint` says which summary rows a set of studies feeds; :func:`refresh`
recomputes exactly those rows (or every row) from the snapshot. Medians come from
window functions (row number and count per group), so the same SQL runs on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    F,
    FloatField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from . import prepared
from .models import (
    SAFETY_METRICS,
    ConstructSummary,
    Contribution,
    ContributionRate,
    DiseaseTargetMeasureSummary,
    DiseaseTargetSummary,
    LatestValue,
    PooledArmConstruct,
    PooledPatient,
    PooledReport,
    PooledStudy,
    YearSummary,
)

TOUCH = Contribution.Level.TOUCH


@dataclass
class Keys:
    """Summary rows by key; None in a field means every row of that table."""

    groups: set[tuple[int, str]] | None = field(default_factory=set)  # (disease, target)
    constructs: set[int] | None = field(default_factory=set)
    years: set[int] | None = field(default_factory=set)
    # (disease, target, measure): the measure rows to recompute (a group's other
    # measures keep their rows: a study moves only the measures it reports).
    measures: set[tuple[int, str, int]] | None = field(default_factory=set)

    @classmethod
    def everything(cls) -> Keys:
        return cls(None, None, None, None)

    def __or__(self, other: Keys) -> Keys:
        def union(a, b):
            return None if a is None or b is None else a | b

        return Keys(
            union(self.groups, other.groups),
            union(self.constructs, other.constructs),
            union(self.years, other.years),
            union(self.measures, other.measures),
        )

    def __len__(self) -> int:
        return sum(len(keys or ()) for keys in (self.groups, self.constructs, self.years))

    def labels(self) -> list[str]:
        """Readable keys, e.g. 'group:3/cd19', 'construct:7', 'year:2024'."""
        return sorted(
            [f"group:{d}/{t}" for d, t in self.groups or ()]
            + [f"construct:{c}" for c in self.constructs or ()]
            + [f"year:{y}" for y in self.years or ()]
        )


def footprint(studies: Collection[int]) -> dict[tuple, Counter]:
    """Per summary key these studies feed, the snapshot rows (natural ids, no surrogate
    ones) that key is computed from. Two footprints, taken before and after the
    studies' snapshot is rebuilt, tell which keys moved (:func:`changed`): an edit that
    changes no pooled number (an arm size where patient rows count, a note) refreshes
    nothing, and a changed value refreshes its measure only."""
    rows: dict[tuple, Counter] = defaultdict(Counter)

    def feed(keys: Iterable[tuple], row: tuple) -> None:
        for key in keys:
            rows[key][row] += 1

    publications = defaultdict(set)  # study -> its reports (counted by group and construct)
    for study, publication, year in prepared.rows(_footprint_reports, studies):
        publications[study].add(publication)
        feed([("year", year)], ("report", study, publication))
    for study, year in prepared.rows(_footprint_first_years, studies):
        feed([("year", year)], ("first", study))
    constructs = defaultdict(list)  # arm -> its constructs
    for arm, construct in prepared.rows(_footprint_constructs, studies):
        constructs[arm].append(("construct", construct))
        feed([("construct", construct)], ("arm", arm))

    labels = defaultdict(set)  # (disease, target) -> labels, shown on its measure rows
    for study, arm, disease, target, *rest in prepared.rows(_footprint_contributions, studies):
        labels[(disease, target)].add(rest[0])
        report_year = rest[2]
        years = [("year", report_year)] if report_year is not None else []
        row = ("contribution", study, arm, disease, target, *rest,
               frozenset(publications[study]))
        feed([("group", disease, target), *constructs[arm], *years], row)
    for study, arm, disease, target, measure, *rest in prepared.rows(_footprint_rates, studies):
        measures = [("measure", disease, target, measure)] if measure is not None else []
        row = ("rate", study, arm, disease, target, measure, *rest)
        feed([("group", disease, target), *constructs[arm], *measures], row)
    for study, disease, target, measure, *rest in prepared.rows(_footprint_values, studies):
        feed([("measure", disease, target, measure)], ("value", study, *rest))
    for arm, disease, target, *rest in prepared.rows(_footprint_patients, studies):
        feed([("group", disease, target), *constructs[arm]], ("patient", arm, *rest))
    for key in rows:
        if key[0] == "measure":
            rows[key][("label", frozenset(labels[key[1:3]]))] += 1
    return dict(rows)


# The snapshot rows a footprint reads, by study (statements compiled once: prepared).


def _of(model, studies, path: str = "study_id") -> QuerySet:
    return model.objects.filter(prepared.any_of(path, studies))


def _footprint_reports(studies) -> QuerySet:
    return _of(PooledReport, studies).values_list("study_id", "publication_id", "year")


def _footprint_first_years(studies) -> QuerySet:
    return _of(PooledStudy, studies).filter(first_year__isnull=False).values_list(
        "study_id", "first_year"
    )


def _footprint_constructs(studies) -> QuerySet:
    return _of(PooledArmConstruct, studies, "arm__study_id").values_list(
        "arm_id", "construct_id"
    )


def _footprint_contributions(studies) -> QuerySet:
    return _of(Contribution, studies).values_list(
        "study_id", "arm_id", "disease_id", "target_key", "target_label", "level",
        "report_year", "patient_count",
    )


def _footprint_rates(studies) -> QuerySet:
    return _of(ContributionRate, studies).values_list(
        "study_id", "contribution__arm_id", "disease_id", "target_key", "measure_id",
        "metric", "is_response", "is_drug_free", "level", "events", "evaluable",
    )


def _footprint_values(studies) -> QuerySet:
    return _of(LatestValue, studies).values_list(
        "study_id", "disease_id", "target_key", "measure_id", "patient_id", "value_bool",
        "value",
    )


def _footprint_patients(studies) -> QuerySet:
    return _of(PooledPatient, studies).values_list(
        "arm_id", "disease_id", "target_key", "patient_id", "counted", "follow_up_days"
    )


def changed(before: dict[tuple, Counter], after: dict[tuple, Counter]) -> Keys:
    """The summary keys whose rows differ between two footprints."""
    keys = Keys()
    families = {"group": keys.groups, "measure": keys.measures, "construct": keys.constructs,
                "year": keys.years}
    for key in before.keys() | after.keys():
        if before.get(key) != after.get(key):
            kind, *rest = key
            families[kind].add(tuple(rest) if len(rest) > 1 else rest[0])
    return keys


def refresh(keys: Keys) -> int:
    """Recompute these summary rows from the snapshot; returns how many keys.

    The keys go to each statement as arrays, one per key column (summaries.prepared):
    an incremental refresh reuses statements compiled once; None is every row."""
    now = timezone.now()
    if keys.groups is None or keys.groups:
        _refresh_groups(prepared.key_arrays(keys.groups, 2), now)
    if keys.measures is None or keys.measures:
        _refresh_measures(prepared.key_arrays(keys.measures, 3), now)
    if keys.constructs is None or keys.constructs:
        _refresh_constructs(_values(keys.constructs), now)
    if keys.years is None or keys.years:
        _refresh_years(_values(keys.years), now)
    if None in (keys.groups, keys.constructs, keys.years):
        return (
            DiseaseTargetSummary.objects.count()
            + ConstructSummary.objects.count()
            + YearSummary.objects.count()
        )
    return len(keys)


# Helpers -------------------------------------------------------------------------------------

GROUP = ["disease_id", "target_key"]
MEASURE = [*GROUP, "measure_id"]


def _values(keys: set | None) -> list | None:
    return None if keys is None else list(keys)


def _groups_q(diseases: list | None, targets: list | None, prefix: str = "") -> Q:
    """(disease, target) keys, as parallel lists (None: every row)."""
    return prepared.keys_q(
        [f"{prefix}disease_id", f"{prefix}target_key"], [diseases, targets], ["bigint", "text"]
    )


def _measures_q(diseases: list | None, targets: list | None, measures: list | None) -> Q:
    """(disease, target, measure) keys, as parallel lists (None: every row)."""
    return prepared.keys_q(MEASURE, [diseases, targets, measures], ["bigint", "text", "bigint"])


class _Median(Aggregate):
    """PostgreSQL's median: the middle value, or the mean of the two middle values."""

    function = "percentile_cont"
    template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def medians(build, slots: list, group_by: list[str], value: str) -> dict[tuple, Decimal]:
    """The median of ``value`` per group over the rows ``build(*slots)`` gives: the
    middle row (or the mean of the two middle rows). PostgreSQL has an aggregate for
    it; elsewhere the middle rows are found by row number within the group (window
    functions)."""

    def median_rows(*values) -> QuerySet:
        return _median_rows(build(*values), group_by, value)

    found = prepared.rows(
        median_rows, *slots, name=(build.__module__, build.__qualname__, "median", value)
    )
    if connection.vendor == "postgresql":
        # The mean of two numbers of 4 decimals has at most 5: the float rounds back exactly.
        return {tuple(key): round(Decimal(repr(number)), 5) for *key, number in found}
    middle = defaultdict(list)
    for *key, number in found:
        middle[tuple(key)].append(Decimal(number))
    return {key: sum(numbers) / len(numbers) for key, numbers in middle.items()}


def _median_rows(queryset: QuerySet, group_by: list[str], value: str) -> QuerySet:
    """PostgreSQL: (group..., median) per group; elsewhere (group..., value) of each
    group's middle row or two."""
    queryset = queryset.filter(**{f"{value}__isnull": False})
    if connection.vendor == "postgresql":
        return (
            queryset.values(*group_by)
            .annotate(_median=_Median(value))
            .values_list(*group_by, "_median")
        )
    partition = [F(name) for name in group_by]
    ranked = queryset.annotate(
        _place=Window(RowNumber(), partition_by=partition, order_by=F(value).asc()),
        _size=Window(Count("pk"), partition_by=partition),
    )
    return ranked.filter(
        Q(_place=(F("_size") + 1) / 2) | Q(_place=(F("_size") + 2) / 2)
    ).values_list(*group_by, value)


def _rate_sums(prefix: str, rates: dict[str, Q]) -> dict:
    sums = {}
    for name, condition in rates.items():
        sums[f"{name}_events"] = Sum(f"{prefix}events", filter=condition)
        sums[f"{name}_evaluable"] = Sum(f"{prefix}evaluable", filter=condition)
    return sums


def _rate_values(row: dict, names: Iterable[str]) -> dict:
    """<name>_events and <name>_evaluable, both empty when nothing was evaluable."""
    values = {}
    for name in names:
        evaluable = row.get(f"{name}_evaluable") or 0
        values[f"{name}_events"] = row.get(f"{name}_events") if evaluable else None
        values[f"{name}_evaluable"] = evaluable or None
    return values


GROUP_RATES = {
    "response": Q(is_response=True),
    "drug_free": Q(is_drug_free=True),
    **{metric: Q(metric=metric) for metric in SAFETY_METRICS},
}


# Disease × target ----------------------------------------------------------------------------


def _refresh_groups(keys: tuple, now) -> None:
    counts = prepared.dicts(_group_counts, *keys)
    publications = {(d, t): n for d, t, n in prepared.rows(_group_publications, *keys)}
    rates = {
        (row["disease_id"], row["target_key"]): row
        for row in prepared.dicts(_group_rates, *keys)
    }
    measures = defaultdict(set)
    for disease_id, target_key, abbreviation, name in prepared.rows(_group_measures, *keys):
        measures[(disease_id, target_key)].add(abbreviation or name)
    follow_up = medians(_group_patients, keys, GROUP, "follow_up_days")
    rows = []
    for row in counts:
        group = (row["disease_id"], row["target_key"])
        rows.append(
            DiseaseTargetSummary(
                disease_id=row["disease_id"],
                target_key=row["target_key"],
                target_label=row["target_label"],
                studies=row["studies"],
                publications=publications.get(group, 0),
                patients=row["patients"] or 0,
                response_measures=sorted(measures.get(group, ())),
                median_follow_up_days=follow_up.get(group),
                computed_at=now,
                **_rate_values(rates.get(group, {}), GROUP_RATES),
            )
        )
    prepared.execute(_delete_groups, *keys)
    DiseaseTargetSummary.objects.bulk_create(rows)


def _group_counts(diseases, targets) -> QuerySet:
    return (
        Contribution.objects.filter(_groups_q(diseases, targets))
        .exclude(level=TOUCH)
        .values(*GROUP)
        .annotate(
            target_label=Max("target_label"),
            studies=Count("study_id", distinct=True),
            patients=Sum("patient_count"),
        )
    )


def _group_publications(diseases, targets) -> QuerySet:
    return (
        Contribution.objects.filter(_groups_q(diseases, targets))
        .values(*GROUP)
        .annotate(n=Count("study__reports__publication_id", distinct=True))
        .values_list(*GROUP, "n")
    )


def _group_rates(diseases, targets) -> QuerySet:
    return (
        ContributionRate.objects.filter(_groups_q(diseases, targets))
        .values(*GROUP)
        .annotate(**_rate_sums("", GROUP_RATES))
    )


def _group_measures(diseases, targets) -> QuerySet:
    return (
        ContributionRate.objects.filter(_groups_q(diseases, targets), is_response=True)
        .values_list(*GROUP, "measure__abbreviation", "measure__name")
        .distinct()
    )


def _group_patients(diseases, targets) -> QuerySet:
    return PooledPatient.objects.filter(_groups_q(diseases, targets), counted=True)


def _delete_groups(diseases, targets) -> tuple[str, tuple]:
    return prepared.delete_sql(
        DiseaseTargetSummary.objects.filter(_groups_q(diseases, targets))
    )


def _refresh_measures(keys: tuple, now) -> None:
    rates = prepared.dicts(_measure_rates, *keys)
    numbers = prepared.dicts(_measure_numbers, *keys)
    middle = medians(_measure_values, keys, MEASURE, "value")
    studies = {(d, t, m): n for d, t, m, n in prepared.rows(_measure_studies, *keys)}
    labels = {(d, t): label for d, t, label in prepared.rows(_measure_labels, *keys)}

    rows: dict[tuple, DiseaseTargetMeasureSummary] = {}

    def row(disease_id, target_key, measure_id) -> DiseaseTargetMeasureSummary:
        measure_key = (disease_id, target_key, measure_id)
        if measure_key not in rows:
            rows[measure_key] = DiseaseTargetMeasureSummary(
                disease_id=disease_id,
                target_key=target_key,
                target_label=labels.get((disease_id, target_key), ""),
                measure_id=measure_id,
                studies=studies.get(measure_key, 0),
                computed_at=now,
            )
        return rows[measure_key]

    for rate in rates:
        summary = row(*(rate[name] for name in MEASURE))
        summary.events, summary.evaluable = rate["events"], rate["evaluable"]
    for number in numbers:
        measure_key = tuple(number[name] for name in MEASURE)
        summary = row(*measure_key)
        summary.value_count = number["n"]
        summary.minimum, summary.maximum = number["low"], number["high"]
        summary.median = middle.get(measure_key)
    prepared.execute(_delete_measures, *keys)
    DiseaseTargetMeasureSummary.objects.bulk_create(rows.values())


def _measure_rates(diseases, targets, measures) -> QuerySet:
    return (
        ContributionRate.objects.filter(
            _measures_q(diseases, targets, measures), measure__isnull=False
        )
        .values(*MEASURE)
        .annotate(events=Sum("events"), evaluable=Sum("evaluable"))
    )


def _measure_values(diseases, targets, measures) -> QuerySet:
    return LatestValue.objects.filter(
        _measures_q(diseases, targets, measures), value__isnull=False
    )


def _measure_numbers(diseases, targets, measures) -> QuerySet:
    return (
        _measure_values(diseases, targets, measures)
        .values(*MEASURE)
        .annotate(n=Count("pk"), low=Min("value"), high=Max("value"))
    )


def _measure_studies(diseases, targets, measures) -> tuple[str, tuple]:
    """Studies per key: those with a rate or a value, counted in SQL (a UNION drops the
    studies found twice) rather than fetched."""
    rated = (
        ContributionRate.objects.filter(
            _measures_q(diseases, targets, measures), measure__isnull=False
        )
        .order_by()
        .values_list(*MEASURE, "study_id")
    )
    valued = _measure_values(diseases, targets, measures).order_by().values_list(
        *MEASURE, "study_id"
    )
    sql, params = rated.union(valued).query.sql_with_params()
    return (
        f"SELECT disease_id, target_key, measure_id, COUNT(*) FROM ({sql}) found "
        "GROUP BY disease_id, target_key, measure_id",
        params,
    )


def _measure_labels(diseases, targets, measures) -> QuerySet:
    return (
        Contribution.objects.filter(_groups_q(diseases, targets))
        .values_list(*GROUP, "target_label")
        .distinct()
    )


def _delete_measures(diseases, targets, measures) -> tuple[str, tuple]:
    return prepared.delete_sql(
        DiseaseTargetMeasureSummary.objects.filter(_measures_q(diseases, targets, measures))
    )


# Constructs and years ----------------------------------------------------------------------

_COUNTED_LEVELS = [level for level in Contribution.Level.values if level != TOUCH]


def _refresh_constructs(constructs: list | None, now) -> None:
    counts = prepared.dicts(_construct_counts, constructs)
    publications = dict(prepared.rows(_construct_publications, constructs))
    rates = {row["construct_id"]: row for row in prepared.dicts(_construct_rates, constructs)}
    follow_up = medians(_construct_patients, [constructs], ["construct_id"], "days")
    rows = [
        ConstructSummary(
            construct_id=row["construct_id"],
            studies=row["studies"],
            publications=publications.get(row["construct_id"], 0),
            patients=row["patients"] or 0,
            diseases=row["diseases"],
            median_follow_up_days=follow_up.get((row["construct_id"],)),
            computed_at=now,
            **_rate_values(rates.get(row["construct_id"], {}), SAFETY_METRICS),
        )
        for row in counts
        if row["studies"]
    ]
    prepared.execute(_delete_constructs, constructs)
    ConstructSummary.objects.bulk_create(rows)


def _construct_counts(constructs) -> QuerySet:
    counted = Q(arm__contributions__level__in=_COUNTED_LEVELS)
    return (
        PooledArmConstruct.objects.filter(prepared.any_of("construct_id", constructs))
        .values("construct_id")
        .annotate(
            studies=Count("arm__contributions__study_id", distinct=True, filter=counted),
            patients=Sum("arm__contributions__patient_count", filter=counted),
            diseases=Count("arm__contributions__disease_id", distinct=True, filter=counted),
        )
    )


def _construct_publications(constructs) -> QuerySet:
    # One filter() call: the level and the construct apply to the same joined rows.
    return (
        Contribution.objects.filter(
            prepared.any_of("arm__constructs__construct_id", constructs), level__in=_COUNTED_LEVELS
        )
        .values("arm__constructs__construct_id")
        .annotate(n=Count("study__reports__publication_id", distinct=True))
        .values_list("arm__constructs__construct_id", "n")
    )


def _construct_rates(constructs) -> QuerySet:
    safety = {
        metric: Q(arm__contributions__rates__metric=metric) for metric in SAFETY_METRICS
    }
    return (
        PooledArmConstruct.objects.filter(prepared.any_of("construct_id", constructs))
        .values("construct_id")
        .annotate(**_rate_sums("arm__contributions__rates__", safety))
    )


def _construct_patients(constructs) -> QuerySet:
    return PooledArmConstruct.objects.filter(
        prepared.any_of("construct_id", constructs), arm__patients__counted=True
    ).annotate(days=F("arm__patients__follow_up_days"))


def _delete_constructs(constructs) -> tuple[str, tuple]:
    return prepared.delete_sql(
        ConstructSummary.objects.filter(prepared.any_of("construct_id", constructs))
    )


def _refresh_years(years: list | None, now) -> None:
    publications = dict(prepared.rows(_year_publications, years))
    first = dict(prepared.rows(_year_first_reports, years))
    pooled = {row["report_year"]: row for row in prepared.dicts(_year_pooled, years)}
    found = sorted({*publications, *first, *(y for y in pooled if y is not None)})
    rows = [
        YearSummary(
            year=year,
            publications=publications.get(year, 0),
            studies_first_reported=first.get(year, 0),
            studies_pooled=pooled.get(year, {}).get("studies", 0),
            patients=pooled.get(year, {}).get("patients") or 0,
            computed_at=now,
        )
        for year in found
    ]
    prepared.execute(_delete_years, years)
    YearSummary.objects.bulk_create(rows)


def _year_publications(years) -> QuerySet:
    return (
        PooledReport.objects.filter(prepared.any_of("year", years))
        .values("year")
        .annotate(n=Count("publication_id", distinct=True))
        .values_list("year", "n")
    )


def _year_first_reports(years) -> QuerySet:
    return (
        PooledStudy.objects.filter(prepared.any_of("first_year", years), first_year__isnull=False)
        .values("first_year")
        .annotate(n=Count("pk"))
        .values_list("first_year", "n")
    )


def _year_pooled(years) -> QuerySet:
    return (
        Contribution.objects.filter(prepared.any_of("report_year", years))
        .exclude(level=TOUCH)
        .values("report_year")
        .annotate(studies=Count("study_id", distinct=True), patients=Sum("patient_count"))
    )


def _delete_years(years) -> tuple[str, tuple]:
    return prepared.delete_sql(YearSummary.objects.filter(prepared.any_of("year", years)))
