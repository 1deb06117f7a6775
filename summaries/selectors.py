"""Reads of the stored summaries, for pages and the API, and how fresh they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, Max, Min, OuterRef, Prefetch, QuerySet

from studies.filtersets.codes import vocabulary_codes
from studies.models import Arm, Disease, Publication, PublicationAuthor, Study
from studies.summary import RESPONSE, Contribution, MetricResult, Rate

from .models import (
    ConstructSummary,
    ContributionRate,
    DiseaseTargetMeasureSummary,
    DiseaseTargetSummary,
    PendingRefresh,
    RefreshRun,
    YearSummary,
)


def _target_order(key: str) -> tuple[str, ...]:
    return tuple(key.split("+")) if key != "none" else ()


def disease_target_summaries(
    *, disease_code: str | None = None, target_key: str | None = None
) -> list[DiseaseTargetSummary]:
    """Stored disease × target rows, by disease name then target set (as
    studies.summary.pooled_summaries orders them)."""
    rows = DiseaseTargetSummary.objects.all()
    if disease_code:
        rows = rows.filter(disease__code=disease_code)
    if target_key:
        rows = rows.filter(target_key=target_key)
    # The diseases are few: loaded once and shared, rather than joined to every row.
    diseases = Disease.objects.select_related("main_outcome", "parent").in_bulk()
    rows = [row for row in rows if row.disease_id in diseases]  # (one deleted meanwhile)
    for row in rows:
        row.disease = diseases[row.disease_id]
    return sorted(rows, key=lambda row: (row.disease.name.lower(), _target_order(row.target_key),
                                         row.disease_id))


def disease_summaries(disease: Disease) -> list[DiseaseTargetSummary]:
    """The rows of a disease and of its narrower diseases (SLE with lupus nephritis)."""
    narrower = set(vocabulary_codes().narrower_diseases([disease.pk]))
    rows = [row for row in disease_target_summaries() if row.disease_id in narrower]
    return rows


def _response_rates(summaries: list[DiseaseTargetSummary]) -> QuerySet:
    """The stored main-outcome rates of these groups' arms."""
    if not summaries:
        return ContributionRate.objects.none()
    # The groups by their rows' ids: one parameter, where an OR of (disease, target)
    # pairs took 20 ms to build for the 144 groups of 100,000 studies.
    of_groups = DiseaseTargetSummary.objects.filter(
        pk__in=[row.pk for row in summaries],
        disease_id=OuterRef("disease_id"),
        target_key=OuterRef("target_key"),
    )
    rates = ContributionRate.objects.filter(Exists(of_groups), is_response=True)
    return rates.select_related("measure", "contribution__disease")


def response_points(summaries: list[DiseaseTargetSummary]) -> list[Contribution]:
    """Each study arm's main-outcome rate in these groups, from the stored snapshot, as
    studies.summary.Contribution objects (for the per-study forest plot and its table),
    in the groups' order, then by study and arm."""
    return _points(summaries, list(_response_rates(summaries)))


def largest_response_points(
    summaries: list[DiseaseTargetSummary], limit: int
) -> tuple[list[Contribution], bool]:
    """The ``limit`` points of :func:`response_points` with the most evaluable
    patients, and whether there are more (a plot of thousands of arms helps no one,
    and drawing one took minutes)."""
    rates = list(_response_rates(summaries).order_by("-evaluable", "pk")[: limit + 1])
    return _points(summaries, rates[:limit]), len(rates) > limit


def _points(summaries: list[DiseaseTargetSummary], rates: list[ContributionRate]):
    order = {(row.disease_id, row.target_key): index for index, row in enumerate(summaries)}
    contributions = [r.contribution for r in rates]
    studies = Study.objects.in_bulk({c.study_id for c in contributions})
    arms = Arm.objects.in_bulk({c.arm_id for c in contributions})
    authors = Prefetch("authors", queryset=PublicationAuthor.objects.order_by("position"))
    reports = Publication.objects.prefetch_related(authors).in_bulk(
        {c.report_id for c in contributions}
    )
    points = []
    for rate in rates:
        stored = rate.contribution
        group = summaries[order[(stored.disease_id, stored.target_key)]]
        points.append(
            Contribution(
                study=studies[stored.study_id],
                arm=arms[stored.arm_id],
                disease=stored.disease,
                targets=group.targets,
                report=reports[stored.report_id],
                report_cutoff=None,
                patient_count=stored.patient_count,
                metrics={
                    RESPONSE: MetricResult(
                        Rate(rate.events, rate.evaluable), rate.level, str(rate.measure)
                    )
                },
            )
        )
    return sorted(
        points,
        key=lambda c: (
            order[(c.disease.pk, c.targets.key)], c.study.title.lower(), c.arm.label
        ),
    )


def measure_summaries(disease_code: str, target_key: str) -> QuerySet:
    return (
        DiseaseTargetMeasureSummary.objects.filter(
            disease__code=disease_code, target_key=target_key
        )
        .select_related("measure", "disease")
        .order_by("measure__name")
    )


def construct_summaries() -> QuerySet:
    return ConstructSummary.objects.select_related("construct").order_by("construct__name")


def year_summaries() -> QuerySet:
    return YearSummary.objects.order_by("year")


@dataclass(frozen=True)
class Freshness:
    """How current the stored summaries are, for a line on the pages and /health/."""

    computed_at: datetime | None
    pending: int
    oldest_pending_at: datetime | None

    @property
    def stale(self) -> bool:
        return self.pending > 0 or self.computed_at is None

    def __str__(self) -> str:
        when = (
            f"Summaries last computed at {self.computed_at:%Y-%m-%d %H:%M} UTC"
            if self.computed_at
            else "Summaries not computed yet"
        )
        if not self.pending:
            return f"{when}; up to date."
        changes = "change" if self.pending == 1 else "changes"
        return f"{when}; {self.pending} {changes} pending."

    def as_dict(self) -> dict:
        return {
            "computed_at": self.computed_at,
            "pending": self.pending,
            "oldest_pending_at": self.oldest_pending_at,
            "stale": self.stale,
        }


def freshness() -> Freshness:
    """When the summaries were last refreshed, and how many changed studies wait
    (pending keys, not rows: one import writing 100 rows of a study is one change)."""
    last = RefreshRun.objects.aggregate(at=Max("finished_at"))["at"]
    pending = PendingRefresh.objects.aggregate(
        keys=Count("key", distinct=True), first=Min("requested_at")
    )
    return Freshness(computed_at=last, pending=pending["keys"], oldest_pending_at=pending["first"])
