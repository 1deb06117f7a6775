"""The pooling snapshot: what each study adds to the pooled numbers, by SQL.

:func:`rebuild` replaces the snapshot rows of a set of studies (or of every study). It
applies the rules of :mod:`studies.summary` (the reference implementation, in Python)
with queries over the live tables: correlated subqueries choose each study's counted
report per disease, a window function picks the row that counts for each linked
person, another picks each patient's latest value, and GROUP BY queries give each
contribution's events and evaluable. Python only maps the grouped rows to snapshot
rows (and derives target-set keys, with studies.summary.TargetSet, so that both
implementations name groups alike).

Callers hold the refresh lock and a transaction (see summaries.services).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import (
    Cast,
    Coalesce,
    ExtractDay,
    ExtractMonth,
    ExtractYear,
    RowNumber,
)

from studies.choices import AdverseEventType, TimePoint
from studies.models import (
    AdverseEvent,
    Antigen,
    Arm,
    ArmProduct,
    Disease,
    OutcomeMeasure,
    OutcomeResult,
    Patient,
    Publication,
    Study,
    StudyReport,
)
from studies.summary import (
    CRS_ANY,
    CRS_GRADE_2,
    DRUG_FREE_REMISSION_CODE,
    ICANS_ANY,
    TargetSet,
    public_main_outcome_ids,
)
from studies.visibility import public

from . import bulk, prepared
from .models import (
    SAFETY_METRICS,
    Contribution,
    ContributionRate,
    LatestValue,
    PooledArm,
    PooledArmConstruct,
    PooledDisease,
    PooledPatient,
    PooledReport,
    PooledSource,
    PooledStudy,
)

# A set of study ids, or None for every study.
Studies = Collection[int] | None

SAFETY_EVENTS = {
    CRS_ANY: (AdverseEventType.CRS, 1),
    CRS_GRADE_2: (AdverseEventType.CRS, 2),
    ICANS_ANY: (AdverseEventType.ICANS, 1),
}
SAFETY_TYPES = (AdverseEventType.CRS, AdverseEventType.ICANS)

# A report's place in time: its data cut-off as YYYYMMDD, or 1 January of its year.
REPORT_RANK = Coalesce(
    ExtractYear("data_cutoff") * 10000 + ExtractMonth("data_cutoff") * 100
    + ExtractDay("data_cutoff"),
    F("publication__year") * 10000 + 101,
    output_field=IntegerField(),
)
# A result's time point, latest last: baseline, then days after infusion, then last
# follow-up (whatever its day).
TIMEPOINT_ORDER = [
    Case(
        When(timepoint=TimePoint.LAST_FOLLOW_UP, then=2),
        When(timepoint=TimePoint.DAY, then=1),
        default=0,
        output_field=IntegerField(),
    ).desc(),
    Case(
        When(timepoint=TimePoint.LAST_FOLLOW_UP, then=0),
        default=Coalesce("day", 0),
        output_field=IntegerField(),
    ).desc(),
    F("pk").asc(),
]


# What the public sees (studies.visibility), as studies.summary loads it -------------------
# Each takes the studies being refreshed, so that the visibility subqueries stay as
# small as the refresh (an incremental refresh reads a few rows, not every table).


def scoped(queryset: QuerySet, path: str, studies: Studies) -> QuerySet:
    """Rows of these studies (None: all). One array parameter on PostgreSQL, so that a
    statement compiles once for any studies (summaries.prepared)."""
    return queryset.filter(prepared.any_of(path, studies))


def visible_studies(studies: Studies = None) -> QuerySet:
    return scoped(public(Study.objects.all()), "pk", studies)


def visible_arms(studies: Studies = None) -> QuerySet:
    arms = public(Arm.objects.filter(study__in=visible_studies(studies)))
    return scoped(arms, "study_id", studies)


def visible_patients(studies: Studies = None) -> QuerySet:
    patients = public(Patient.objects.filter(arm__in=visible_arms(studies)))
    return scoped(patients, "arm__study_id", studies)


def visible_reports(studies: Studies = None) -> QuerySet:
    reports = public(
        StudyReport.objects.filter(
            study__in=visible_studies(studies), publication__in=public(Publication.objects.all())
        )
    )
    return scoped(reports, "study_id", studies)


def arm_results(studies: Studies = None) -> QuerySet:
    results = public(OutcomeResult.objects.filter(arm__in=visible_arms(studies)))
    return scoped(results, "arm__study_id", studies)


def arm_events(studies: Studies = None) -> QuerySet:
    events = public(AdverseEvent.objects.filter(arm__in=visible_arms(studies)))
    return scoped(events, "arm__study_id", studies)


# Once the PooledArm rows of the studies are written they are their visible arms:
# later steps join them instead of deriving visibility again through study and arm
# (PostgreSQL planned those nested subqueries longer than it ran them).


def pooled_arm_ids(studies: Studies) -> QuerySet:
    return scoped(PooledArm.objects.all(), "study_id", studies).values("arm_id")


def pooled_arm_rows(model, studies: Studies) -> QuerySet:
    """The model's public rows about the studies' visible arms (results, events)."""
    return public(model.objects.filter(arm_id__in=pooled_arm_ids(studies)))


def pooled_patients(studies: Studies) -> QuerySet:
    """The studies' visible patient rows."""
    return public(Patient.objects.filter(arm_id__in=pooled_arm_ids(studies)))


# Vocabulary facts --------------------------------------------------------------------------


def drug_free_measure_id() -> int | None:
    found = prepared.rows(_drug_free_measure)
    return found[0][0] if found else None


def _drug_free_measure() -> QuerySet:
    return OutcomeMeasure.objects.filter(code=DRUG_FREE_REMISSION_CODE).order_by("pk") \
        .values_list("pk")[:1]


def main_outcomes() -> dict[int, int]:
    """Disease id -> its main outcome's id, or its parent's (lupus nephritis -> SLE)."""
    return dict(prepared.rows(_main_outcomes))


def _main_outcomes() -> QuerySet:
    rows = Disease.objects.annotate(
        outcome=Coalesce("main_outcome_id", "parent__main_outcome_id")
    ).filter(outcome__isnull=False)
    return rows.values_list("pk", "outcome")


def _pooled_outcomes() -> QuerySet:
    """The main outcomes of the diseases in the snapshot (PooledDisease)."""
    used = Disease.objects.filter(pk__in=PooledDisease.objects.values("disease_id"))
    return (
        used.annotate(outcome=Coalesce("main_outcome_id", "parent__main_outcome_id"))
        .filter(outcome__isnull=False)
        .values_list("outcome")
    )


def relevant_measure_ids(*, pooled: bool = False) -> list[int]:
    """Measures whose arm-level rows make a report count as giving data on an arm:
    drug-free remission and the main outcome of every disease in the public data.

    ``pooled`` reads the diseases from the snapshot (PooledDisease, an index lookup)
    instead of the live tables (a scan of the patients): the same answer once every
    study's snapshot is current."""
    if pooled:
        ids = {outcome for outcome, in prepared.rows(_pooled_outcomes)}
    else:
        ids = public_main_outcome_ids()
    if (drug_free := drug_free_measure_id()) is not None:
        ids.add(drug_free)
    return sorted(ids)


# Deleting ----------------------------------------------------------------------------------

SNAPSHOT_MODELS = (
    PooledStudy, PooledDisease, PooledReport, PooledSource, PooledArm, PooledArmConstruct,
    PooledPatient, LatestValue, Contribution, ContributionRate,
)
READ_BY_PAGES = (ContributionRate, Contribution)  # leaves first


def delete(studies: Studies) -> None:
    """Remove the snapshot rows of these studies, leaves first."""
    if studies is not None and connection.vendor == "postgresql":
        prepared.execute(_delete_statement, studies)
        return
    scoped(ContributionRate.objects.all(), "study_id", studies).delete()
    scoped(LatestValue.objects.all(), "study_id", studies).delete()
    scoped(Contribution.objects.all(), "study_id", studies).delete()
    scoped(PooledPatient.objects.all(), "study_id", studies).delete()
    scoped(PooledArmConstruct.objects.all(), "arm__study_id", studies).delete()
    scoped(PooledArm.objects.all(), "study_id", studies).delete()
    scoped(PooledSource.objects.all(), "study_id", studies).delete()
    scoped(PooledReport.objects.all(), "study_id", studies).delete()
    scoped(PooledDisease.objects.all(), "study_id", studies).delete()
    scoped(PooledStudy.objects.all(), "study_id", studies).delete()


def _delete_statement(studies: Studies) -> tuple[str, list]:
    """One DELETE of every snapshot table (data-modifying WITH clauses): the tables
    have no foreign-key constraints, and each clause sees the rows as they were."""
    quote = connection.ops.quote_name
    clauses, params = [], []
    for model in SNAPSHOT_MODELS:
        table = quote(model._meta.db_table)
        if model is PooledArmConstruct:
            clauses.append(
                f"DELETE FROM {table} WHERE arm_id IN (SELECT arm_id FROM "
                f"{quote(PooledArm._meta.db_table)} WHERE study_id = ANY(%s))"
            )
        else:
            clauses.append(f"DELETE FROM {table} WHERE study_id = ANY(%s)")
        params.append(prepared.ids(studies))
    *first, last = clauses
    with_clauses = ", ".join(f"d{index} AS ({clause})" for index, clause in enumerate(first))
    return f"WITH {with_clauses} {last}", params


# Building ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Vocabulary:
    relevant_measures: list[int]
    main_outcomes: dict[int, int]
    drug_free: int | None


def rebuild(studies: Studies, relevant_measures: list[int]) -> None:
    """Replace the snapshot rows of these studies (None: every study) with fresh ones.

    Rows of other studies are read (a person's other reports) but not written, except
    for the ``counted`` flag of patient rows of persons the studies share."""
    vocabulary = _Vocabulary(relevant_measures, main_outcomes(), drug_free_measure_id())
    if studies is None:
        # Pages read the contributions (summaries.selectors.response_points): their rows
        # are deleted, so that readers keep seeing the old ones until the rebuild
        # commits. No page reads the other tables: they are reloaded, faster but locked.
        for model in READ_BY_PAGES:
            model.objects.all().delete()
        with bulk.reloading(m for m in SNAPSHOT_MODELS if m not in READ_BY_PAGES):
            _build(None, vocabulary)
    else:
        delete(studies)
        _build(studies, vocabulary)


def _build(studies: Studies, vocabulary: _Vocabulary) -> None:
    reports = _pool_studies(studies)
    _pool_diseases(studies)
    arms = _pool_arms(studies, vocabulary, reports)
    _fresh_statistics(studies, PooledStudy, PooledReport, PooledDisease, PooledSource,
                      PooledArm, PooledArmConstruct)
    _pool_patients(studies)
    _choose_persons(studies)
    _fresh_statistics(studies, PooledPatient)
    _latest_values(studies)
    _contributions(studies, arms, vocabulary)
    _fresh_statistics(studies, LatestValue, Contribution, ContributionRate)


def _fresh_statistics(studies: Studies, *models) -> None:
    """After a full rebuild wrote these tables, ANALYZE them (it sees this transaction's
    rows) before the next steps join them: without statistics PostgreSQL guessed a
    tenth of PooledArm's rows and joined the patients by nested loops, and a first
    rebuild of 10,000 studies ran for many minutes instead of seconds. The last batch
    also plans the incremental refreshes that follow. Small incremental writes change
    no estimate that matters."""
    if studies is not None or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _pool_studies(studies: Studies) -> dict[tuple[int, int], tuple[int, int, bool]]:
    """PooledStudy and PooledReport rows; returns (study, publication) -> (rank, year,
    superseded) of every visible report."""
    first_years = dict(prepared.rows(_first_years, studies))
    study_ids = [pk for pk, in prepared.rows(_visible_study_ids, studies)]
    bulk.insert(
        PooledStudy, ["study_id", "first_year"], ((pk, first_years.get(pk)) for pk in study_ids)
    )
    rows = prepared.rows(_report_rows, studies)
    bulk.insert(
        PooledReport,
        ["study_id", "publication_id", "year"],
        ((study, publication, year) for study, publication, year, *_ in rows),
    )
    return {
        (study, publication): (rank, year, newer is not None)
        for study, publication, year, newer, rank in rows
    }


def _first_years(studies: Studies) -> QuerySet:
    return (
        visible_reports(studies).order_by()
        .values("study_id")
        .annotate(first=Min("publication__year"))
        .values_list("study_id", "first")
    )


def _visible_study_ids(studies: Studies) -> QuerySet:
    return visible_studies(studies).values_list("pk")


def _report_rows(studies: Studies) -> QuerySet:
    # Columns in SQL order (fields, then annotations): prepared.rows reads them so.
    return visible_reports(studies).annotate(rank=REPORT_RANK).values_list(
        "study_id", "publication_id", "publication__year", "publication__superseded_by",
        "rank",
    )


def _pool_diseases(studies: Studies) -> None:
    """The diseases of the studies' public arms and patient rows, by one INSERT ... SELECT."""
    prepared.execute(_insert_diseases, studies)


def _insert_diseases(studies: Studies) -> tuple[str, tuple]:
    arms = visible_arms(studies).order_by().values_list("study_id", "disease_id")
    patients = (
        visible_patients(studies)
        .filter(primary_disease__isnull=False)
        .order_by()
        .values_list("arm__study_id", "primary_disease_id")
    )
    return insert_select(PooledDisease, ["study", "disease"], arms.union(patients))


def insert_select(model, fields: list[str], rows: QuerySet) -> tuple[str, tuple]:
    """INSERT INTO model (fields) SELECT ...: rows computed and written by the database,
    never fetched. ``rows`` is a values_list in the order of ``fields``."""
    sql, params = rows.query.sql_with_params()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) {sql}", params


def _sources(studies: Studies, vocabulary: _Vocabulary) -> set[tuple[int, int]]:
    """(arm, publication) pairs: the publication gives data on the arm (the arm row, a
    patient row, an arm-level result of a pooled measure, an arm CRS/ICANS row)."""
    return set(prepared.rows(_source_rows, studies, vocabulary.relevant_measures))


def _source_rows(studies: Studies, relevant_measures: list[int]) -> QuerySet:
    def cited(rows: QuerySet, arm_field: str = "arm_id") -> QuerySet:
        return rows.order_by().values_list(arm_field, "source_publication_id")

    pooled_results = arm_results(studies).filter(
        measure_id__any=prepared.ids(relevant_measures)
    )
    safety_events = arm_events(studies).filter(event_type__in=SAFETY_TYPES)
    return (
        cited(visible_arms(studies), "pk")
        .union(cited(visible_patients(studies)))
        .union(cited(pooled_results))
        .union(cited(safety_events))
    )


# The PooledArm and Contribution rows of a rebuild (~13,000 each at 10,000 studies) are
# plain objects with the models' attribute names (summaries.bulk.insert_objects): model
# instances cost ten times as much to make.


@dataclass(slots=True)
class _PooledArm:
    arm_id: int
    study_id: int
    disease_id: int
    target_key: str
    target_label: str
    source_publication_id: int
    n_patients: int | None
    report_id: int | None
    report_rank: int | None
    report_year: int | None
    has_data: bool
    has_exclusions: bool


@dataclass(slots=True)
class _Contribution:
    study_id: int
    arm_id: int
    disease_id: int
    target_key: str
    target_label: str
    level: str
    report_id: int | None
    report_year: int | None
    patient_count: int | None
    id: int | None = None


@dataclass
class _Arm:
    pk: int
    study_id: int
    disease_id: int
    source_publication_id: int
    n_patients: int | None
    targets: TargetSet
    pooled: _PooledArm | None = None


def _pool_arms(studies: Studies, vocabulary: _Vocabulary, reports) -> dict[int, _Arm]:
    """PooledArm rows: each arm with the report its study is counted from for the arm's
    disease, chosen by a window function over the candidate reports."""
    constructs, targets = _arm_products(studies)
    arms = {
        pk: _Arm(pk, study_id, disease_id, source_id, n_patients,
                 targets.get(pk, TargetSet((), ())))
        for pk, study_id, disease_id, source_id, n_patients in prepared.rows(_arm_rows, studies)
    }
    sources = _sources(studies, vocabulary)
    candidates = []
    for arm_id, publication_id in sources:
        arm = arms[arm_id]
        if (report := reports.get((arm.study_id, publication_id))) is not None:
            rank, year, superseded = report
            candidates.append(
                (arm.study_id, arm_id, arm.disease_id, publication_id, rank, year, superseded)
            )
    bulk.insert(
        PooledSource,
        ["study_id", "arm_id", "disease_id", "publication_id", "report_rank", "report_year",
         "superseded"],
        candidates,
    )

    chosen = {
        (study, disease): rest
        for study, disease, *rest in prepared.rows(_latest_sources, studies)
    }
    counts = {
        (study, disease): n for study, disease, n in prepared.rows(_source_counts, studies)
    }

    pooled = []
    for arm in arms.values():
        report_id, rank, year = chosen.get((arm.study_id, arm.disease_id), (None, None, None))
        arm.pooled = _PooledArm(
            arm_id=arm.pk,
            study_id=arm.study_id,
            disease_id=arm.disease_id,
            target_key=arm.targets.key,
            target_label=arm.targets.label,
            source_publication_id=arm.source_publication_id,
            n_patients=arm.n_patients,
            report_id=report_id,
            report_rank=rank,
            report_year=year,
            has_data=(arm.pk, report_id) in sources,
            has_exclusions=counts.get((arm.study_id, arm.disease_id), 0) > (1 if report_id
                                                                           else 0),
        )
        pooled.append(arm.pooled)
    bulk.insert_objects(PooledArm, pooled)
    bulk.insert(
        PooledArmConstruct,
        ["arm_id", "construct_id"],
        (pair for pair in constructs if pair[0] in arms),
    )
    return arms


def _arm_rows(studies: Studies) -> QuerySet:
    return visible_arms(studies).values_list(
        "pk", "study_id", "disease_id", "source_publication_id", "n_patients"
    )


def _latest_sources(studies: Studies) -> QuerySet:
    """Per study and disease, the latest non-superseded report with data."""
    return (
        scoped(PooledSource.objects.filter(superseded=False), "study_id", studies)
        .annotate(
            place=Window(
                RowNumber(),
                partition_by=[F("study_id"), F("disease_id")],
                order_by=[F("report_rank").desc(), F("report_year").desc(),
                          F("publication_id").desc()],
            )
        )
        .filter(place=1)
        .values_list("study_id", "disease_id", "publication_id", "report_rank", "report_year")
    )


def _source_counts(studies: Studies) -> QuerySet:
    return (
        scoped(PooledSource.objects.all(), "study_id", studies)
        .values("study_id", "disease_id")
        .annotate(n=Count("publication_id", distinct=True))
        .values_list("study_id", "disease_id", "n")
    )


def _product_rows(studies: Studies) -> QuerySet:
    """(arm, construct, antigen) per visible product and target of its construct."""
    products = public(ArmProduct.objects.filter(arm__in=visible_arms(studies)))
    return scoped(products, "arm__study_id", studies).values_list(
        "arm_id", "construct_id", "construct__targets"
    )


def _arm_products(studies: Studies) -> tuple[set[tuple[int, int]], dict[int, TargetSet]]:
    """(arm, construct) pairs, and each arm's target set: the antigens of all its
    products' constructs together."""
    constructs = set()
    antigen_ids = defaultdict(set)
    for arm_id, construct_id, antigen_id in prepared.rows(_product_rows, studies):
        constructs.add((arm_id, construct_id))
        if antigen_id is not None:
            antigen_ids[arm_id].add(antigen_id)
    antigens = Antigen.objects.in_bulk({pk for ids in antigen_ids.values() for pk in ids})
    return constructs, {
        arm_id: TargetSet.of(antigens[pk] for pk in ids) for arm_id, ids in antigen_ids.items()
    }


def _pool_patients(studies: Studies) -> None:
    """Patient rows cited from their arm's counted report, with their safety outcomes:
    one INSERT ... SELECT joining the visible patients to their PooledArm."""
    prepared.execute(_insert_patients, studies)


def _insert_patients(studies: Studies) -> tuple[str, tuple]:
    patients = (
        pooled_patients(studies)
        .order_by()
        .annotate(
            p_id=F("pk"), p_arm=F("arm_id"), p_disease=F("primary_disease_id"),
            p_person=F("person_id"), p_follow_up=F("follow_up_days"),
            p_source=F("source_publication_id"),
        )
        .values_list("p_id", "p_arm", "p_disease", "p_person", "p_follow_up", "p_source")
    )
    safety = _patient_safety(studies)
    crs = safety.filter(event_type=AdverseEventType.CRS).values_list(
        "patient_id", "had_any", "had_grade2"
    )
    icans = safety.filter(event_type=AdverseEventType.ICANS).values_list(
        "patient_id", "had_any", "had_grade2"
    )
    (patients_sql, patients_params), (crs_sql, crs_params), (icans_sql, icans_params) = (
        rows.query.sql_with_params() for rows in (patients, crs, icans)
    )
    quote = connection.ops.quote_name
    fields = [
        "patient_id", "arm", "study", "disease", "target_key", "person_id", "follow_up_days",
        "follow_up_rank", "report_id", "report_rank", "report_year", "counted", CRS_ANY,
        CRS_GRADE_2, ICANS_ANY,
    ]
    columns = ", ".join(quote(PooledPatient._meta.get_field(name).column) for name in fields)
    return (
        f"INSERT INTO {quote(PooledPatient._meta.db_table)} ({columns}) "
        "SELECT v.p_id, v.p_arm, a.study_id, v.p_disease, a.target_key, v.p_person, "
        "v.p_follow_up, COALESCE(NULLIF(v.p_follow_up, 0), -1), a.report_id, "
        "a.report_rank, a.report_year, %s, crs.had_any, crs.had_grade2, icans.had_any "
        f"FROM ({patients_sql}) v "
        f"INNER JOIN {quote(PooledArm._meta.db_table)} a "
        "ON a.arm_id = v.p_arm AND a.report_id = v.p_source "
        f"LEFT JOIN ({crs_sql}) crs ON crs.patient_id = v.p_id "
        f"LEFT JOIN ({icans_sql}) icans ON icans.patient_id = v.p_id",
        (True, *patients_params, *crs_params, *icans_params),  # in placeholder order
    )


def _patient_safety(studies: Studies) -> QuerySet:
    """Per patient and event type (CRS, ICANS): had it (any grade, grade ≥ 2); None when
    unknown (only an ungraded row speaking to grade 2), as
    studies.summary._patient_event_outcome. No row at all is unknown too (a LEFT JOIN)."""
    ungraded = Count("pk", filter=Q(grade__isnull=True))
    events = public(AdverseEvent.objects.filter(patient__in=pooled_patients(studies)))
    return (
        events.filter(event_type__in=SAFETY_TYPES)
        .order_by()
        .values("patient_id", "event_type")
        .annotate(worst=Max("grade"), ungraded=ungraded)
        .annotate(
            had_any=Case(
                When(Q(worst__gte=1) | Q(ungraded__gt=0), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
            had_grade2=Case(
                When(worst__gte=2, then=Value(True)),
                When(ungraded__gt=0, then=Cast(Value(None), BooleanField())),
                default=Value(False),
                output_field=BooleanField(),
            ),
        )
    )


def _choose_persons(studies: Studies) -> None:
    """Among the counted-report rows of one person, count only the longest follow-up
    (then the latest report, then the newest row)."""
    others = [pk for pk, in prepared.rows(_persons_other_rows, studies)]
    prepared.execute(_count_persons_rows, studies)
    for start in range(0, len(others), 500):  # SQLite's limit on parameters
        prepared.execute(_uncount_rows, others[start : start + 500])


def _persons_rows(studies: Studies) -> QuerySet:
    """Every snapshot row of the persons these studies report (in any study)."""
    mine = scoped(PooledPatient.objects.filter(person_id__isnull=False), "study_id", studies)
    return PooledPatient.objects.filter(person_id__in=mine.values("person_id"))


def _set_counted(rows: QuerySet, counted: bool) -> tuple[str, list]:
    """UPDATE of these PooledPatient rows' ``counted`` flag, as SQL for prepared."""
    sql, params = rows.values("pk").query.sql_with_params()
    table = connection.ops.quote_name(PooledPatient._meta.db_table)
    return f"UPDATE {table} SET counted = %s WHERE patient_id IN ({sql})", [counted, *params]


def _count_persons_rows(studies: Studies) -> tuple[str, list]:
    return _set_counted(_persons_rows(studies).filter(counted=False), True)


def _uncount_rows(patient_ids: list[int]) -> tuple[str, list]:
    rows = PooledPatient.objects.filter(patient_id__any=prepared.ids(patient_ids))
    return _set_counted(rows, False)


def _persons_other_rows(studies: Studies) -> QuerySet:
    """The rows of those persons that are not counted: all but the best of each."""
    ranked = _persons_rows(studies).annotate(
        place=Window(
            RowNumber(),
            partition_by=[F("person_id")],
            order_by=[
                F("follow_up_rank").desc(),
                F("report_rank").desc(),
                F("report_year").desc(),
                F("report_id").desc(),
                F("patient_id").desc(),
            ],
        )
    )
    return ranked.filter(place__gt=1).values_list("patient_id")


def _latest_values(studies: Studies) -> None:
    """Each counted patient's latest yes/no and latest number per measure: chosen by a
    window function, joined to the counted patients and written by INSERT ... SELECT."""
    prepared.execute(_insert_latest_values, studies)


def _insert_latest_values(studies: Studies) -> tuple[str, tuple]:
    # Only counted patients' values are kept: read only theirs.
    counted = scoped(PooledPatient.objects.filter(counted=True), "study_id", studies)
    results = public(
        OutcomeResult.objects.filter(patient_id__in=counted.values("patient_id"))
    ).order_by()
    latest = Window(
        RowNumber(), partition_by=[F("patient_id"), F("measure_id")], order_by=TIMEPOINT_ORDER
    )
    # Typed NULLs: PostgreSQL takes a bare NULL parameter for text.
    no_answer = Cast(Value(None), BooleanField())
    no_number = Cast(Value(None), DecimalField(max_digits=14, decimal_places=4))
    answers = (
        results.filter(value_bool__isnull=False)
        .annotate(place=latest, answer=F("value_bool"), number=no_number)
        .filter(place=1)
        .values_list("patient_id", "measure_id", "answer", "number")
    )
    numbers = (
        results.filter(value__isnull=False)
        .annotate(place=latest, answer=no_answer, number=F("value"))
        .filter(place=1)
        .values_list("patient_id", "measure_id", "answer", "number")
    )
    quote = connection.ops.quote_name
    columns = ", ".join(
        quote(LatestValue._meta.get_field(name).column)
        for name in ["patient", "study", "disease", "target_key", "measure", "value_bool",
                     "value"]
    )
    (answers_sql, answers_params), (numbers_sql, numbers_params) = (
        rows.query.sql_with_params() for rows in (answers, numbers)
    )
    return (
        f"INSERT INTO {quote(LatestValue._meta.db_table)} ({columns}) "
        "SELECT p.patient_id, p.study_id, p.disease_id, p.target_key, "
        "r.measure_id, r.answer, r.number "
        f"FROM (SELECT * FROM ({answers_sql}) a UNION ALL SELECT * FROM ({numbers_sql}) n) r "
        f"INNER JOIN {quote(PooledPatient._meta.db_table)} p "
        "ON p.patient_id = r.patient_id WHERE p.counted",
        (*answers_params, *numbers_params),
    )


# Contributions -------------------------------------------------------------------------------


@dataclass
class _ArmPatients:
    reported: int = 0
    counted: dict[int, int] | None = None  # disease -> counted patients
    excluded: set[int] | None = None  # diseases of patients counted elsewhere

    @property
    def counted_total(self) -> int:
        return sum(self.counted.values())

    @property
    def single(self) -> bool:
        """One disease and nobody counted elsewhere: arm-level rows may fill gaps."""
        return len(self.counted) == 1 and self.counted_total == self.reported


def _arm_patients(studies: Studies) -> dict[int, _ArmPatients]:
    arms: dict[int, _ArmPatients] = defaultdict(lambda: _ArmPatients(0, {}, set()))
    for arm_id, disease_id, reported, counted in prepared.rows(_arm_patient_counts, studies):
        patients = arms[arm_id]
        patients.reported += reported
        if counted:
            patients.counted[disease_id] = counted
        if counted < reported:
            patients.excluded.add(disease_id)
    return arms


def _arm_patient_counts(studies: Studies) -> QuerySet:
    return (
        scoped(PooledPatient.objects.all(), "study_id", studies)
        .values("arm_id", "disease_id")
        .annotate(reported=Count("pk"), counted=Count("pk", filter=Q(counted=True)))
        .values_list("arm_id", "disease_id", "reported", "counted")
    )


def _contributions(studies: Studies, arms: dict[int, _Arm], vocabulary: _Vocabulary) -> None:
    patients = _arm_patients(studies)
    contributions: list[_Contribution] = []
    touched: dict[tuple[int, int, str], _Arm] = {}

    for arm in arms.values():
        pooled = arm.pooled
        if pooled.has_exclusions:
            touched[(arm.study_id, arm.disease_id, pooled.target_key)] = arm
        if not pooled.has_data:
            continue
        reported = patients.get(arm.pk)
        if reported is None:
            count = arm.n_patients if arm.source_publication_id == pooled.report_id else None
            contributions.append(_contribution(arm, arm.disease_id, Contribution.Level.ARM, count))
            continue
        for disease_id in reported.excluded:
            touched[(arm.study_id, disease_id, pooled.target_key)] = arm
        if not reported.counted:
            contributions.append(_contribution(arm, arm.disease_id, Contribution.Level.EMPTY))
        for disease_id, count in reported.counted.items():
            contributions.append(
                _contribution(arm, disease_id, Contribution.Level.PATIENT, count)
            )

    real = {(c.study_id, c.disease_id, c.target_key) for c in contributions}
    contributions.extend(
        _contribution(arm, disease_id, Contribution.Level.TOUCH)
        for (_, disease_id, target_key), arm in touched.items()
        if (arm.study_id, disease_id, target_key) not in real
    )
    rates = _rates(studies, contributions, patients, vocabulary)
    bulk.insert_objects(Contribution, contributions, with_ids=True)
    bulk.insert(ContributionRate, RATE_FIELDS, (rate.row() for rate in rates))


def _contribution(
    arm: _Arm, disease_id: int, level: str, count: int | None = 0
) -> _Contribution:
    pooled = arm.pooled
    return _Contribution(
        study_id=arm.study_id,
        arm_id=arm.pk,
        disease_id=disease_id,
        target_key=pooled.target_key,
        target_label=pooled.target_label,
        level=level,
        report_id=pooled.report_id,
        report_year=pooled.report_year,
        patient_count=count,
    )


# ContributionRate rows are many (~5 per arm): kept as plain tuples, not model instances.
RATE_FIELDS = ["contribution_id", "study_id", "disease_id", "target_key", "measure_id",
               "metric", "is_response", "is_drug_free", "level", "events", "evaluable"]


@dataclass(slots=True)
class _Rate:
    contribution: _Contribution
    measure_id: int | None
    metric: str
    is_response: bool
    is_drug_free: bool
    level: str
    events: int
    evaluable: int

    def row(self) -> tuple:
        c = self.contribution
        return (c.id, c.study_id, c.disease_id, c.target_key, self.measure_id, self.metric,
                self.is_response, self.is_drug_free, self.level, self.events, self.evaluable)


def _rates(
    studies, contributions, patients: dict[int, _ArmPatients], vocabulary
) -> list[_Rate]:
    """Each contribution's events over evaluable, per measure and per safety metric:
    from patient rows where the report has them, from arm aggregates otherwise. Also
    sets the patient count of arm-level contributions whose arm size is cited from
    another report."""
    patient_measures = _patient_measure_rates(studies)
    patient_safety = _patient_safety_rates(studies)
    arm_measures = _arm_measure_rates(studies)
    arm_safety = _arm_safety_rates(studies)
    rates: list[_Rate] = []

    for contribution in contributions:
        if contribution.level not in (Contribution.Level.PATIENT, Contribution.Level.ARM):
            continue
        arm_id, key = contribution.arm_id, (contribution.arm_id, contribution.disease_id)
        found: list[tuple[str, tuple[int, int], int | None, str]] = []
        if contribution.level == Contribution.Level.PATIENT:
            single = patients[arm_id].single
            by_patients = patient_measures.get(key, {})
            found += [("patient", rate, m, "") for m, rate in by_patients.items()]
            if single:
                found += [
                    ("arm", rate, m, "")
                    for m, rate in arm_measures.get(arm_id, {}).items()
                    if m not in by_patients
                ]
            for metric in SAFETY_METRICS:
                rate = patient_safety.get(key, {}).get(metric, (0, 0))
                if rate[1]:
                    found.append(("patient", rate, None, metric))
                elif single and (rate := arm_safety.get(arm_id, {}).get(metric)):
                    found.append(("arm", rate, None, metric))
        else:
            found += [("arm", rate, m, "") for m, rate in arm_measures.get(arm_id, {}).items()]
            found += [("arm", rate, None, metric)
                      for metric, rate in arm_safety.get(arm_id, {}).items()]
        response = vocabulary.main_outcomes.get(contribution.disease_id)
        new = [
            _Rate(contribution, measure_id, metric,
                  is_response=measure_id is not None and measure_id == response,
                  is_drug_free=measure_id is not None and measure_id == vocabulary.drug_free,
                  level=level, events=events, evaluable=evaluable)
            for level, (events, evaluable), measure_id, metric in found
        ]
        if contribution.patient_count is None:
            # The arm's size is cited from another report: the largest denominator this
            # report gives for the arm's pooled metrics stands in.
            sizes = [r.evaluable for r in new if r.metric or r.is_response or r.is_drug_free]
            contribution.patient_count = max(sizes, default=0)
        rates.extend(new)
    return rates


def _patient_measure_rates(studies) -> dict[tuple[int, int], dict[int, tuple[int, int]]]:
    rates = defaultdict(dict)
    for arm_id, disease_id, measure_id, events, evaluable in prepared.rows(
        _patient_measure_counts, studies
    ):
        rates[(arm_id, disease_id)][measure_id] = (events, evaluable)
    return rates


def _patient_measure_counts(studies: Studies) -> QuerySet:
    return (
        scoped(LatestValue.objects.filter(value_bool__isnull=False), "study_id", studies)
        .values("patient__arm_id", "disease_id", "measure_id")
        .annotate(events=Count("pk", filter=Q(value_bool=True)), evaluable=Count("pk"))
        .values_list("patient__arm_id", "disease_id", "measure_id", "events", "evaluable")
    )


def _patient_safety_counts(studies: Studies) -> QuerySet:
    counts = {}
    for metric in SAFETY_METRICS:
        counts[f"{metric}_events"] = Count("pk", filter=Q(**{metric: True}))
        counts[f"{metric}_evaluable"] = Count(metric)
    return (
        scoped(PooledPatient.objects.filter(counted=True), "study_id", studies)
        .values("arm_id", "disease_id")
        .annotate(**counts)
    )


def _patient_safety_rates(studies) -> dict[tuple[int, int], dict[str, tuple[int, int]]]:
    grouped = prepared.dicts(_patient_safety_counts, studies)
    return {
        (row["arm_id"], row["disease_id"]): {
            metric: (row[f"{metric}_events"], row[f"{metric}_evaluable"])
            for metric in SAFETY_METRICS
        }
        for row in grouped
    }


def _from_counted_report(rows: QuerySet) -> QuerySet:
    """Arm-level rows cited from the arm's counted report."""
    counted_report = PooledArm.objects.filter(
        has_data=True, arm_id=OuterRef("arm_id"), report_id=OuterRef("source_publication_id")
    )
    return rows.filter(Exists(counted_report))


def _arm_measure_rates(studies) -> dict[int, dict[int, tuple[int, int]]]:
    """Per arm and measure: n_events of n_evaluable at the latest time point."""
    rates = defaultdict(dict)
    for arm_id, measure_id, events, evaluable in prepared.rows(_latest_arm_results, studies):
        rates[arm_id][measure_id] = (events, evaluable)
    return rates


def _latest_arm_results(studies: Studies) -> QuerySet:
    rows = _from_counted_report(
        pooled_arm_rows(OutcomeResult, studies).filter(n_events__isnull=False, n_evaluable__gt=0)
    )
    return (
        rows.annotate(
            place=Window(
                RowNumber(),
                partition_by=[F("arm_id"), F("measure_id")],
                order_by=TIMEPOINT_ORDER,
            )
        )
        .filter(place=1)
        .values_list("arm_id", "measure_id", "n_events", "n_evaluable")
    )


def _arm_safety_rates(studies) -> dict[int, dict[str, tuple[int, int]]]:
    """Per arm: CRS and ICANS rates from its rows (one ungraded row, or one per grade;
    see studies.summary._arm_event_rate)."""
    by_type = defaultdict(dict)
    for row in prepared.dicts(_arm_safety_counts, studies):
        by_type[row["arm_id"]][row["event_type"]] = row
    rates = defaultdict(dict)
    for arm_id, types in by_type.items():
        for metric, (event_type, min_grade) in SAFETY_EVENTS.items():
            row = types.get(event_type)
            if row is None:
                continue
            evaluable = row["evaluable"]
            if min_grade <= 1 and row["ungraded"]:
                rates[arm_id][metric] = (row["ungraded_affected"], evaluable)
            elif row["graded"]:
                rates[arm_id][metric] = (row[f"grade_{min_grade}"], evaluable)
            elif row["ungraded"] and row["ungraded_affected"] == 0:
                rates[arm_id][metric] = (0, evaluable)  # "no CRS at all" settles every grade
    return rates


def _arm_safety_counts(studies: Studies) -> QuerySet:
    ungraded = Q(grade__isnull=True)
    return (
        _from_counted_report(
            pooled_arm_rows(AdverseEvent, studies).filter(
                event_type__in=SAFETY_TYPES, n_evaluable__gt=0
            )
        )
        .values("arm_id", "event_type")
        .annotate(
            evaluable=Max("n_evaluable"),
            ungraded=Count("pk", filter=ungraded),
            ungraded_affected=Max("n_affected", filter=ungraded),
            graded=Count("grade"),
            grade_1=Coalesce(Sum("n_affected", filter=Q(grade__gte=1)), 0),
            grade_2=Coalesce(Sum("n_affected", filter=Q(grade__gte=2)), 0),
        )
    )
