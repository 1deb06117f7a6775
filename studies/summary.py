"""Pooled disease × target summaries: the one place where the pooling rules live.

The stored summary tables (summaries.snapshot) apply the same rules in SQL and are
tested against :func:`pooled_summaries`; a group's drill-down page applies them here to
one page of its studies (:func:`pooled_studies`). The rules, from DOMAIN.md:

1. **Superseded publications are not pooled.** A report whose publication has
   ``superseded_by`` set (an abstract replaced by the full paper) contributes nothing.
2. **Each study once, from its latest report.** For every study and arm disease, only
   the rows (arm sizes, patients, arm-level results and adverse events) cited from the
   latest non-superseded report that gives any data for that disease are used.
   "Latest" is by data cut-off; a report without a cut-off is placed at 1 January of
   its publication year.
3. **Each person once, at the latest follow-up.** Patient rows linked to one
   :class:`~studies.models.Person` are counted in one place only: the row with the
   longest follow-up (then the latest report). The person's other rows are dropped
   from their groups and listed as exclusions.
4. **Rates are events over evaluable.** Not reported is unknown, never zero: a patient
   or an arm without a row for a measure adds nothing to its numerator or denominator.
   Patient-level rows are used where the report has them, arm-level aggregates
   otherwise. Intervals are Wilson score 95% intervals.

The group's *target* is the set of antigens that the arm's products target together
(``CD19``, ``BCMA``, ``CD19+BCMA``); a patient's disease is their primary disease.

Everything is computed from a fixed number of queries over the public data
(:func:`studies.visibility.public`), whatever the number of studies.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Exists, OuterRef, Prefetch, Q
from django.db.models.functions import Coalesce

from .choices import AdverseEventType, TimePoint
from .models import (
    AdverseEvent,
    Antigen,
    Arm,
    ArmProduct,
    Disease,
    OutcomeMeasure,
    OutcomeResult,
    Patient,
    Publication,
    PublicationAuthor,
    Study,
    StudyReport,
)
from .visibility import public

# The outcome pooled for every disease next to the disease's own main outcome.
DRUG_FREE_REMISSION_CODE = "drug-free-remission"
Z_95 = 1.959963984540054

# Metric keys, in the order the dashboard shows them, with their column labels.
RESPONSE = "response"
DRUG_FREE = "drug_free"
CRS_ANY = "crs_any"
CRS_GRADE_2 = "crs_grade2"
ICANS_ANY = "icans_any"
METRICS: dict[str, str] = {
    RESPONSE: "Responders (main outcome)",
    DRUG_FREE: "Drug-free remission",
    CRS_ANY: "CRS any grade",
    CRS_GRADE_2: "CRS grade ≥ 2",
    ICANS_ANY: "ICANS any grade",
}


# Small value types ----------------------------------------------------------------------


def wilson_interval(events: int, evaluable: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion, as fractions in [0, 1]."""
    if evaluable <= 0:
        raise ValueError("A proportion needs at least one evaluable patient.")
    if not 0 <= events <= evaluable:
        raise ValueError("Events must lie between 0 and the number evaluable.")
    p = events / evaluable
    z2 = z * z
    centre = (p + z2 / (2 * evaluable)) / (1 + z2 / evaluable)
    half = z / (1 + z2 / evaluable) * math.sqrt(p * (1 - p) / evaluable + z2 / (4 * evaluable**2))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    """Events over the patients evaluable for them."""

    events: int
    evaluable: int

    def __add__(self, other: Rate) -> Rate:
        return Rate(self.events + other.events, self.evaluable + other.evaluable)

    @property
    def proportion(self) -> float | None:
        return self.events / self.evaluable if self.evaluable else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.events, self.evaluable) if self.evaluable else None

    @property
    def percent(self) -> str:
        return f"{100 * self.proportion:.0f}%" if self.evaluable else "–"

    @property
    def interval_display(self) -> str:
        if not self.evaluable:
            return ""
        low, high = self.interval
        return f"{100 * low:.0f}–{100 * high:.0f}%"

    def __str__(self) -> str:
        return f"{self.events}/{self.evaluable}"

    def as_dict(self) -> dict:
        low, high = self.interval or (None, None)
        return {
            "events": self.events,
            "evaluable": self.evaluable,
            "proportion": self.proportion,
            "ci_low": low,
            "ci_high": high,
        }


@dataclass(frozen=True)
class TargetSet:
    """The antigens targeted together, in a stable order: CD antigens by number first."""

    codes: tuple[str, ...]
    names: tuple[str, ...]

    @classmethod
    def of(cls, antigens: Iterable[Antigen]) -> TargetSet:
        ordered = sorted({a.code: a for a in antigens}.values(), key=antigen_order)
        return cls(tuple(a.code for a in ordered), tuple(str(a) for a in ordered))

    @property
    def key(self) -> str:
        """URL-safe identifier, e.g. 'cd19+bcma'; 'none' for a construct without targets."""
        return "+".join(self.codes) or "none"

    @property
    def label(self) -> str:
        return "+".join(self.names) or "No target recorded"

    def __str__(self) -> str:
        return self.label


def antigen_order(antigen: Antigen) -> tuple:
    """Sort key: CD antigens by number (CD7, CD19, CD20), then the others by code."""
    code = antigen.code.lower()
    if code.startswith("cd") and code[2:].isdigit():
        return (0, int(code[2:]), code)
    return (1, 0, code)


@dataclass(frozen=True)
class Evidence:
    """One row behind a pooled number: who it is about, what it says, and where from."""

    subject: str
    statement: str
    source: str
    study_id: int
    patient_id: int | None = None


@dataclass
class MetricResult:
    """A metric of one contribution: its rate and the rows it was computed from."""

    rate: Rate | None = None
    level: str = ""  # "patient" or "arm": which rows the rate came from
    measure: str = ""  # the outcome measure's name, for response metrics
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class Contribution:
    """What one arm of one study adds to a disease × target group.

    Only rows cited from ``report`` (the study's latest report for the disease) count."""

    study: Study
    arm: Arm
    disease: Disease
    targets: TargetSet
    report: Publication
    report_cutoff: date | None
    patient_count: int
    patient_evidence: list[Evidence] = field(default_factory=list)
    metrics: dict[str, MetricResult] = field(default_factory=dict)

    def rate(self, metric: str) -> Rate | None:
        result = self.metrics.get(metric)
        return result.rate if result else None


@dataclass(frozen=True)
class Exclusion:
    """A report or patient row deliberately left out of the pooled numbers, and why."""

    study: Study
    subject: str
    reason: str
    source: str


@dataclass
class MetricBreakdown:
    metric: str
    label: str
    rate: Rate | None
    contributing: list[tuple[Contribution, MetricResult]]
    not_reported: list[Contribution]


@dataclass
class PooledSummary:
    """Pooled numbers for one disease × target group."""

    disease: Disease
    targets: TargetSet
    contributions: list[Contribution] = field(default_factory=list)
    exclusions: list[Exclusion] = field(default_factory=list)
    publication_ids: set[int] = field(default_factory=set)

    @property
    def key(self) -> tuple[str, str]:
        return (self.disease.code, self.targets.key)

    @property
    def studies(self) -> int:
        return len({c.study.pk for c in self.contributions})

    @property
    def publications(self) -> int:
        """Publications reporting the group's studies (all reports, pooled or not)."""
        return len(self.publication_ids)

    @property
    def patients(self) -> int:
        return sum(c.patient_count for c in self.contributions)

    def rate(self, metric: str) -> Rate | None:
        rates = [c.rate(metric) for c in self.contributions if c.rate(metric) is not None]
        if not rates:
            return None
        total = rates[0]
        for rate in rates[1:]:
            total = total + rate
        return total

    @property
    def rates(self) -> list[tuple[str, str, Rate | None]]:
        """(metric key, label, pooled rate) for every metric, in display order."""
        return [(metric, label, self.rate(metric)) for metric, label in METRICS.items()]

    @property
    def breakdown(self) -> list[MetricBreakdown]:
        """Each metric with the contributions behind it, for drill-down pages."""
        return [
            MetricBreakdown(
                metric,
                label,
                self.rate(metric),
                [(c, c.metrics[metric]) for c in self.contributions if metric in c.metrics],
                [c for c in self.contributions if metric not in c.metrics],
            )
            for metric, label in METRICS.items()
        ]

    @property
    def response_measures(self) -> list[str]:
        return sorted(
            {
                c.metrics[RESPONSE].measure
                for c in self.contributions
                if RESPONSE in c.metrics and c.metrics[RESPONSE].measure
            }
        )

    def as_dict(self) -> dict:
        """Plain data for the API and for stored summary tables."""
        return {
            "disease": self.disease.code,
            "disease_name": self.disease.name,
            "targets": list(self.targets.codes),
            "target_key": self.targets.key,
            "target_label": self.targets.label,
            "studies": self.studies,
            "publications": self.publications,
            "patients": self.patients,
            "response_measures": self.response_measures,
            **{
                metric: (rate.as_dict() if (rate := self.rate(metric)) else None)
                for metric in METRICS
            },
        }


# Loading -----------------------------------------------------------------------------------


@dataclass
class _Data:
    studies: dict[int, Study]
    reports: dict[int, list[StudyReport]]  # by study, oldest first
    publications: dict[int, Publication]
    arms: list[Arm]
    patients: list[Patient]
    results: list[OutcomeResult]
    adverse_events: list[AdverseEvent]
    drug_free: OutcomeMeasure | None


def _load(study_ids: Collection[int] | None = None) -> _Data:
    """All public rows the summaries need, in a fixed number of queries: of every study,
    or of these studies and of the studies that report one of their people (whose rows
    decide where that person is counted)."""
    authors = Prefetch("authors", queryset=PublicationAuthor.objects.order_by("position"))
    public_studies = public(Study.objects.all())
    if study_ids is not None:
        public_studies = public_studies.filter(pk__in=_with_linked_studies(study_ids))
    studies = {s.pk: s for s in public_studies}
    if study_ids is not None:
        public_studies = list(studies)  # a few ids: cheaper to plan than the subquery
    publications = {
        p.pk: p
        for p in public(Publication.objects.filter(reports__study__in=public_studies))
        .distinct()
        .prefetch_related(authors)
    }
    reports: dict[int, list[StudyReport]] = defaultdict(list)
    report_rows = public(StudyReport.objects.filter(study__in=public_studies))
    for report in report_rows.order_by("study_id", "pk"):
        if report.publication_id in publications:
            report.publication = publications[report.publication_id]
            reports[report.study_id].append(report)
    products = Prefetch(
        "products",
        queryset=public(ArmProduct.objects.select_related("construct")).prefetch_related(
            "construct__targets"
        ),
    )
    # Diseases and measures are few: loaded once and shared by every row that names
    # one, rather than joined to each row (at 25 studies of 10,000 that made about 3,400
    # model instances, and building them was most of a drill-down page's time).
    diseases = Disease.objects.select_related(
        "main_outcome", "parent__main_outcome", "parent__parent"
    ).in_bulk()
    measures = OutcomeMeasure.objects.in_bulk()
    public_arms = public(Arm.objects.filter(study__in=public_studies))
    arms = list(public_arms.prefetch_related(products))
    for arm in arms:
        arm.disease = diseases[arm.disease_id]
    if study_ids is not None:
        public_arms = [arm.pk for arm in arms]
    public_patients = public(Patient.objects.filter(arm__in=public_arms))
    patients = list(public_patients)
    for patient in patients:
        patient.primary_disease = diseases[patient.primary_disease_id]
    drug_free = next(
        (m for m in measures.values() if m.code == DRUG_FREE_REMISSION_CODE), None
    )
    measure_ids = {m.pk for m in [drug_free] if m}
    if study_ids is None:
        for disease in [a.disease for a in arms] + [p.primary_disease for p in patients]:
            if main := _main_outcome(disease):
                measure_ids.add(main.pk)
    else:
        # Which reports count depends on every disease in the public data, not only on
        # those of the studies loaded: pooled alone, they must count as in the whole.
        measure_ids |= public_main_outcome_ids()
    if study_ids is None:
        by_subject = [Q(arm__in=public_arms) | Q(patient__in=public_patients)]
    else:
        # Two index lookups: with OR, PostgreSQL reads every row of the measures.
        by_subject = [Q(arm_id__in=public_arms), Q(patient_id__in=[p.pk for p in patients])]
    results = [
        result
        for subjects in by_subject
        for result in public(OutcomeResult.objects.filter(subjects, measure_id__in=measure_ids))
    ]
    for result in results:
        result.measure = measures[result.measure_id]
    adverse_events = [
        event
        for subjects in by_subject
        for event in public(
            AdverseEvent.objects.filter(
                subjects, event_type__in=[AdverseEventType.CRS, AdverseEventType.ICANS]
            )
        )
    ]
    return _Data(
        studies=studies,
        reports=reports,
        publications=publications,
        arms=arms,
        patients=patients,
        results=results,
        adverse_events=adverse_events,
        drug_free=drug_free,
    )


def public_main_outcome_ids() -> set[int]:
    """The main outcomes (or their parent's) of every disease of a public arm or
    patient row. Arms: EXISTS per disease on the (disease, study) index. Patients: the
    diseases not found in an arm, given as constants: correlated, PostgreSQL took every
    disease for common and read all 640,000 patient rows (100 ms at 100,000 studies)
    to prove two diseases absent; as constants it knows which are rare."""
    arms = public(Arm.objects.filter(study__in=public(Study.objects.all())))
    diseases = list(
        Disease.objects.annotate(
            outcome=Coalesce("main_outcome_id", "parent__main_outcome_id"),
            in_arms=Exists(arms.filter(disease_id=OuterRef("pk"))),
        )
        .filter(outcome__isnull=False)
        .values_list("pk", "outcome", "in_arms")
    )
    found = {outcome for _, outcome, in_arms in diseases if in_arms}
    unseen = {pk: outcome for pk, outcome, in_arms in diseases
              if not in_arms and outcome not in found}
    if unseen:
        patients = public(Patient.objects.filter(arm__in=arms, primary_disease_id__in=unseen))
        found |= {unseen[pk] for pk in patients.values_list("primary_disease_id", flat=True)
                  .order_by().distinct()}
    return found


def _with_linked_studies(study_ids: Collection[int]) -> set[int]:
    """These studies, and those with a patient row of the same person as theirs. (Read
    first: "id IN (list) OR id IN (subquery)" made PostgreSQL scan every study.)"""
    people = Patient.objects.filter(arm__study_id__in=study_ids, person__isnull=False)
    linked = Patient.objects.filter(person_id__in=people.values("person_id"))
    return set(study_ids) | set(linked.values_list("arm__study_id", flat=True))


def _main_outcome(disease: Disease) -> OutcomeMeasure | None:
    """The disease's main binary outcome, or its parent's (lupus nephritis -> SLE)."""
    if disease.main_outcome_id:
        return disease.main_outcome
    if disease.parent_id and disease.parent.main_outcome_id:
        return disease.parent.main_outcome
    return None


# Pooling ------------------------------------------------------------------------------------


def _report_order(report: StudyReport) -> tuple:
    cutoff = report.data_cutoff or date(report.publication.year, 1, 1)
    return (cutoff, report.publication.year, report.publication.pk)


def _timepoint_order(result: OutcomeResult) -> tuple:
    if result.timepoint == TimePoint.LAST_FOLLOW_UP:
        return (2, 0)
    if result.timepoint == TimePoint.DAY:
        return (1, result.day or 0)
    return (0, result.day or 0)


def _when(result: OutcomeResult) -> str:
    if result.timepoint == TimePoint.DAY:
        return f"day {result.day}"
    return result.get_timepoint_display().lower()


class _Pooler:
    """Applies the pooling rules to loaded data; see the module docstring."""

    def __init__(self, data: _Data):
        self.data = data
        self.groups: dict[tuple[int, int, tuple[str, ...]], PooledSummary] = {}
        self.arm_results: dict[int, list[OutcomeResult]] = defaultdict(list)
        self.patient_results: dict[int, list[OutcomeResult]] = defaultdict(list)
        self.arm_events: dict[int, list[AdverseEvent]] = defaultdict(list)
        self.patient_events: dict[int, list[AdverseEvent]] = defaultdict(list)
        for result in data.results:
            if result.arm_id:
                self.arm_results[result.arm_id].append(result)
            else:
                self.patient_results[result.patient_id].append(result)
        for event in data.adverse_events:
            if event.arm_id:
                self.arm_events[event.arm_id].append(event)
            else:
                self.patient_events[event.patient_id].append(event)
        self.arms = {arm.pk: arm for arm in data.arms}
        self.patients_by_arm: dict[int, list[Patient]] = defaultdict(list)
        for patient in data.patients:
            self.patients_by_arm[patient.arm_id].append(patient)

    def source(self, row) -> str:
        publication = self.data.publications.get(row.source_publication_id)
        citation = publication.short_citation if publication else "an unlinked publication"
        return f"{citation}, {row.source_label}"

    def group(self, disease: Disease, targets: TargetSet, study: Study) -> PooledSummary:
        key = (disease.pk, targets.codes)
        if key not in self.groups:
            self.groups[key] = PooledSummary(disease=disease, targets=targets)
        summary = self.groups[key]
        summary.publication_ids.update(r.publication_id for r in self.data.reports[study.pk])
        return summary

    # Which report counts ----------------------------------------------------------------

    def sources_of_arm(self, arm: Arm) -> set[int]:
        """Publications that give any data about the arm."""
        rows = [
            arm,
            *self.patients_by_arm[arm.pk],
            *self.arm_results[arm.pk],
            *self.arm_events[arm.pk],
        ]
        return {row.source_publication_id for row in rows}

    def latest_reports(
        self,
    ) -> tuple[dict[tuple[int, int], StudyReport], dict[tuple[int, int], list[Exclusion]]]:
        """The report used for each (study, arm disease), and the reports left out."""
        arms_by_group: dict[tuple[int, int], list[Arm]] = defaultdict(list)
        for arm in self.data.arms:
            arms_by_group[(arm.study_id, arm.disease_id)].append(arm)
        chosen: dict[tuple[int, int], StudyReport] = {}
        exclusions: dict[tuple[int, int], list[Exclusion]] = defaultdict(list)
        for (study_id, disease_id), arms in arms_by_group.items():
            study = self.data.studies[study_id]
            with_data = set().union(*(self.sources_of_arm(arm) for arm in arms))
            candidates = [r for r in self.data.reports[study_id] if r.publication_id in with_data]
            pooled = [r for r in candidates if not r.publication.superseded_by_id]
            latest = max(pooled, key=_report_order) if pooled else None
            if latest:
                chosen[(study_id, disease_id)] = latest
            for report in candidates:
                if report is latest:
                    continue
                if report.publication.superseded_by_id:
                    reason = "superseded by a fuller publication; not pooled"
                else:
                    reason = (
                        f"earlier report; the study is counted once, from "
                        f"{latest.publication.short_citation}"
                    )
                exclusions[(study_id, disease_id)].append(
                    Exclusion(
                        study, f"{arms[0].disease} data", reason, report.publication.short_citation
                    )
                )
        return chosen, exclusions

    def person_winners(self, chosen: dict[tuple[int, int], StudyReport]) -> dict[int, Patient]:
        """For each linked person, the counted patient row: longest follow-up, then newest."""
        best: dict[int, tuple[tuple, Patient]] = {}
        for patient in self.data.patients:
            if not patient.person_id:
                continue
            arm = self.arms[patient.arm_id]
            report = chosen.get((arm.study_id, arm.disease_id))
            if report is None or report.publication_id != patient.source_publication_id:
                continue
            rank = (patient.follow_up_days or -1, _report_order(report), patient.pk)
            if patient.person_id not in best or rank > best[patient.person_id][0]:
                best[patient.person_id] = (rank, patient)
        return {person_id: patient for person_id, (_, patient) in best.items()}

    # Contributions ----------------------------------------------------------------------

    def run(self) -> list[PooledSummary]:
        self.pool()
        pooled = [s for s in self.groups.values() if s.contributions]
        return sorted(pooled, key=lambda s: (s.disease.name.lower(), s.targets.codes))

    def pool(self) -> None:
        """Fill self.groups: every group with its contributions and exclusions."""
        chosen, exclusions = self.latest_reports()
        winners = self.person_winners(chosen)
        for (study_id, disease_id), left_out in exclusions.items():
            for arm in self.data.arms:
                if arm.study_id == study_id and arm.disease_id == disease_id:
                    study = self.data.studies[study_id]
                    summary = self.group(arm.disease, self.arm_targets(arm), study)
                    summary.exclusions.extend(e for e in left_out if e not in summary.exclusions)
        for arm in self.data.arms:
            report = chosen.get((arm.study_id, arm.disease_id))
            if report is None or report.publication_id not in self.sources_of_arm(arm):
                continue
            self.add_arm(arm, report, winners)

    @staticmethod
    def arm_targets(arm: Arm) -> TargetSet:
        return TargetSet.of(
            t for product in arm.products.all() for t in product.construct.targets.all()
        )

    def add_arm(self, arm: Arm, report: StudyReport, winners: dict[int, Patient]) -> None:
        study = self.data.studies[arm.study_id]
        targets = self.arm_targets(arm)
        publication_id = report.publication_id
        reported = [
            p for p in self.patients_by_arm[arm.pk] if p.source_publication_id == publication_id
        ]
        counted: list[Patient] = []
        for patient in reported:
            winner = winners.get(patient.person_id) if patient.person_id else None
            if winner is not None and winner.pk != patient.pk:
                other = self.data.studies[self.arms[winner.arm_id].study_id]
                summary = self.group(patient.primary_disease, targets, study)
                summary.exclusions.append(
                    Exclusion(
                        study,
                        patient.label,
                        f"same person as {winner.label} in {other}, counted there "
                        "(longer follow-up)",
                        self.source(patient),
                    )
                )
                continue
            counted.append(patient)

        if reported and not counted:
            # Every patient is counted in another study: the study is still one of the
            # group's studies, adding no patients (the exclusions say where they went).
            self.group(arm.disease, targets, study).contributions.append(
                Contribution(
                    study=study,
                    arm=arm,
                    disease=arm.disease,
                    targets=targets,
                    report=report.publication,
                    report_cutoff=report.data_cutoff,
                    patient_count=0,
                )
            )
            return
        if reported:
            by_disease: dict[int, list[Patient]] = defaultdict(list)
            for patient in counted:
                by_disease[patient.primary_disease_id].append(patient)
            single = len(by_disease) == 1 and len(counted) == len(reported)
            for patients in by_disease.values():
                disease = patients[0].primary_disease
                contribution = Contribution(
                    study=study,
                    arm=arm,
                    disease=disease,
                    targets=targets,
                    report=report.publication,
                    report_cutoff=report.data_cutoff,
                    patient_count=len(patients),
                    patient_evidence=[
                        Evidence(p.label, "patient row", self.source(p), study.pk, p.pk)
                        for p in patients
                    ],
                )
                self.add_patient_metrics(contribution, patients, allow_arm_rows=single)
                self.group(disease, targets, study).contributions.append(contribution)
            return

        contribution = Contribution(
            study=study,
            arm=arm,
            disease=arm.disease,
            targets=targets,
            report=report.publication,
            report_cutoff=report.data_cutoff,
            patient_count=0,
        )
        self.add_arm_metrics(contribution, publication_id)
        if arm.source_publication_id == publication_id and arm.n_patients is not None:
            contribution.patient_count = arm.n_patients
            contribution.patient_evidence = [
                Evidence(
                    f"{arm.label} (arm)",
                    f"{arm.n_patients} patients treated",
                    self.source(arm),
                    study.pk,
                )
            ]
        else:
            # The arm's size is cited from another report: take the largest denominator
            # that this report gives for the arm instead.
            denominators = [
                (m.rate.evaluable, m.evidence[0])
                for m in contribution.metrics.values()
                if m.rate and m.evidence
            ]
            if denominators:
                size, evidence = max(denominators, key=lambda pair: pair[0])
                contribution.patient_count = size
                contribution.patient_evidence = [
                    Evidence(evidence.subject, f"{size} evaluable", evidence.source, study.pk)
                ]
        self.group(arm.disease, targets, study).contributions.append(contribution)

    # Metrics ---------------------------------------------------------------------------

    def response_measures(self, disease: Disease) -> dict[str, OutcomeMeasure]:
        measures = {}
        if main := _main_outcome(disease):
            measures[RESPONSE] = main
        if self.data.drug_free:
            measures[DRUG_FREE] = self.data.drug_free
        return measures

    def add_patient_metrics(
        self, contribution: Contribution, patients: list[Patient], *, allow_arm_rows: bool
    ) -> None:
        study_id = contribution.study.pk
        for metric, measure in self.response_measures(contribution.disease).items():
            rate, evidence = Rate(0, 0), []
            for patient in patients:
                rows = [
                    r
                    for r in self.patient_results[patient.pk]
                    if r.measure_id == measure.pk and r.value_bool is not None
                ]
                if not rows:
                    continue
                latest = max(rows, key=_timepoint_order)
                rate = rate + Rate(int(latest.value_bool), 1)
                answer = "yes" if latest.value_bool else "no"
                evidence.append(
                    Evidence(
                        patient.label,
                        f"{measure}: {answer} ({_when(latest)})",
                        self.source(latest),
                        study_id,
                        patient.pk,
                    )
                )
            if rate.evaluable:
                contribution.metrics[metric] = MetricResult(rate, "patient", str(measure), evidence)
            elif allow_arm_rows:
                self.add_arm_response(contribution, metric, measure)
        for metric, event_type, min_grade in _SAFETY_METRICS:
            rate, evidence = Rate(0, 0), []
            for patient in patients:
                rows = [e for e in self.patient_events[patient.pk] if e.event_type == event_type]
                if not rows:
                    continue
                outcome = _patient_event_outcome(rows, min_grade)
                if outcome is None:
                    continue
                rate = rate + Rate(int(outcome), 1)
                worst = max(rows, key=lambda e: -1 if e.grade is None else e.grade)
                evidence.append(
                    Evidence(
                        patient.label,
                        _event_statement(worst),
                        self.source(worst),
                        study_id,
                        patient.pk,
                    )
                )
            if rate.evaluable:
                contribution.metrics[metric] = MetricResult(rate, "patient", "", evidence)
            elif allow_arm_rows:
                self.add_arm_safety(contribution, metric, event_type, min_grade)

    def add_arm_metrics(self, contribution: Contribution, publication_id: int) -> None:
        for metric, measure in self.response_measures(contribution.disease).items():
            self.add_arm_response(contribution, metric, measure)
        for metric, event_type, min_grade in _SAFETY_METRICS:
            self.add_arm_safety(contribution, metric, event_type, min_grade)

    def add_arm_response(self, contribution: Contribution, metric: str, measure) -> None:
        rows = [
            r
            for r in self.arm_results[contribution.arm.pk]
            if r.measure_id == measure.pk
            and r.source_publication_id == contribution.report.pk
            and r.n_events is not None
            and r.n_evaluable
        ]
        if not rows:
            return
        latest = max(rows, key=_timepoint_order)
        contribution.metrics[metric] = MetricResult(
            Rate(latest.n_events, latest.n_evaluable),
            "arm",
            str(measure),
            [
                Evidence(
                    f"{contribution.arm.label} (arm)",
                    f"{measure}: {latest.n_events} of {latest.n_evaluable} ({_when(latest)})",
                    self.source(latest),
                    contribution.study.pk,
                )
            ],
        )

    def add_arm_safety(self, contribution, metric: str, event_type: str, min_grade: int) -> None:
        rows = [
            e
            for e in self.arm_events[contribution.arm.pk]
            if e.event_type == event_type
            and e.source_publication_id == contribution.report.pk
            and e.n_evaluable
        ]
        rate = _arm_event_rate(rows, min_grade)
        if rate is None:
            return
        contribution.metrics[metric] = MetricResult(
            rate,
            "arm",
            "",
            [
                Evidence(
                    f"{contribution.arm.label} (arm)",
                    _event_statement(e),
                    self.source(e),
                    contribution.study.pk,
                )
                for e in rows
            ],
        )


_SAFETY_METRICS = [
    (CRS_ANY, AdverseEventType.CRS, 1),
    (CRS_GRADE_2, AdverseEventType.CRS, 2),
    (ICANS_ANY, AdverseEventType.ICANS, 1),
]


def _patient_event_outcome(rows: list[AdverseEvent], min_grade: int) -> bool | None:
    """Whether a patient had the event at min_grade or worse; None when unknown.

    An ungraded row means "had it, grade not reported": enough for "any grade",
    unknown for grade 2 or worse unless a graded row settles it."""
    grades = [e.grade for e in rows if e.grade is not None]
    if any(g >= min_grade for g in grades):
        return True
    ungraded = len(grades) < len(rows)
    if ungraded:
        return True if min_grade <= 1 else None
    return False


def _arm_event_rate(rows: list[AdverseEvent], min_grade: int) -> Rate | None:
    """Events over evaluable from an arm's rows of one event type.

    An arm reports either one ungraded row ("CRS in 6 of 8") or one row per grade
    ("grade 1 in 5 of 8", "grade 2 in 1 of 8"); a grade 0 row counts the patients
    without the event. Each patient is assumed to be counted at their worst grade."""
    if not rows:
        return None
    evaluable = max(e.n_evaluable for e in rows)
    graded = [e for e in rows if e.grade is not None]
    ungraded = [e for e in rows if e.grade is None]
    if min_grade <= 1 and ungraded:
        return Rate(max(e.n_affected for e in ungraded), evaluable)
    if graded:
        return Rate(sum(e.n_affected for e in graded if e.grade >= min_grade), evaluable)
    if ungraded and max(e.n_affected for e in ungraded) == 0:
        return Rate(0, evaluable)  # "no CRS at all" settles every grade
    return None


def _event_statement(event: AdverseEvent) -> str:
    name = event.get_event_type_display()
    if event.grade is None:
        grade = "any grade"
    elif event.grade == 0:
        grade = "none (grade 0)"
    else:
        grade = f"grade {event.grade}"
    if event.arm_id:
        return f"{name}, {grade}: {event.n_affected} of {event.n_evaluable}"
    return f"{name}, {grade}"


# Public interface -------------------------------------------------------------------------


def pooled_summaries() -> list[PooledSummary]:
    """Every disease × target group with its pooled numbers, ordered by disease then
    target. Computed from all public data in a fixed number of queries."""
    return _Pooler(_load()).run()


def pooled_summary(disease_code: str, target_key: str) -> PooledSummary | None:
    """One group, by disease code and target key (e.g. 'sle', 'cd19+bcma')."""
    for summary in pooled_summaries():
        if summary.key == (disease_code, target_key):
            return summary
    return None


def pooled_studies(
    disease_code: str, target_key: str, study_ids: list[int]
) -> PooledSummary | None:
    """What these studies add to one group, in their order, computed from their rows
    only (and their linked people's): a page of a large group costs what its studies
    cost. The group's totals are those of :func:`pooled_summary`; here ``rate()``,
    ``patients`` and ``publications`` count these studies only."""
    data = _load(study_ids)
    pooler = _Pooler(data)
    pooler.pool()
    position = {study_id: index for index, study_id in enumerate(study_ids)}
    for summary in pooler.groups.values():
        if summary.key != (disease_code, target_key):
            continue
        summary.contributions = sorted(
            (c for c in summary.contributions if c.study.pk in position),
            key=lambda c: position[c.study.pk],
        )
        summary.exclusions = sorted(
            (e for e in summary.exclusions if e.study.pk in position),
            key=lambda e: position[e.study.pk],
        )
        summary.publication_ids = {
            r.publication_id for study_id in position for r in data.reports.get(study_id, [])
        }
        return summary
    return None


def disease_summaries(disease: Disease) -> list[PooledSummary]:
    """The groups of a disease and of its narrower diseases (SLE with lupus nephritis)."""
    return [s for s in pooled_summaries() if disease.pk in _lineage(s.disease)]


def _lineage(disease: Disease) -> set[int]:
    """The disease's id and its broader diseases' ids (loaded with select_related)."""
    ids = set()
    while disease is not None and disease.pk not in ids:
        ids.add(disease.pk)
        disease = disease.parent if disease.parent_id else None
    return ids


def response_points(summaries: Iterable[PooledSummary]) -> list[Contribution]:
    """Contributions with a main-outcome rate, for a per-study forest plot."""
    return [c for s in summaries for c in s.contributions if c.rate(RESPONSE) is not None]
