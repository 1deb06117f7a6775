"""Reads of the links pages: identity suggestions, existing links, review queues.

Every function costs a fixed number of queries, whatever the size of the catalogue.
Suggestions are found by the database (a self-join of patient reports within a study,
stored per study by links.suggestions) and paged there by an index: nothing compares
pairs of patients in Python, nor on each visit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from curation import rules
from studies.models import (
    Patient,
    Person,
    Publication,
    PublicationAuthor,
    StudyReport,
)

from .models import (
    OPEN_STATUSES,
    DismissedSuggestion,
    IdentitySuggestion,
    LinkAction,
    LinkKind,
    LinkRequest,
    LinkStatus,
)

AUTHORS = Prefetch("source_publication__authors", queryset=PublicationAuthor.objects.all())


def _patients(ids) -> dict[int, Patient]:
    rows = (
        Patient.objects.filter(pk__in=ids)
        .select_related("arm__study", "source_publication", "primary_disease", "person")
        .prefetch_related(AUTHORS)
    )
    return {patient.pk: patient for patient in rows}


# Suggestions ---------------------------------------------------------------------------------


@dataclass
class Suggestion:
    patient: Patient
    other: Patient
    score: int

    @property
    def age_difference(self) -> Decimal | None:
        if self.patient.age_years is None or self.other.age_years is None:
            return None
        return abs(self.patient.age_years - self.other.age_years)

    @property
    def reasons(self) -> list[str]:
        found = ["same study", f"both {self.patient.primary_disease}"]
        if self.patient.sex and self.other.sex:
            found.append(f"both {self.patient.get_sex_display().lower()}")
        if self.age_difference is not None:
            found.append("same age" if not self.age_difference
                         else f"ages {self.age_difference} year apart")
        return found


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _hidden_sql() -> str:
    """The pairs not to suggest: dismissed, or waiting for review as a proposed link."""
    dismissed, request = _table(DismissedSuggestion), _table(LinkRequest)
    return f"""
        hidden AS (
            SELECT patient_id, other_patient_id FROM {dismissed}
            UNION
            SELECT patient_id, other_patient_id FROM {request}
            WHERE kind = 'same_person' AND action = 'link' AND status IN ('draft', 'submitted')
        )
    """


def _suggestion_sql() -> str:
    """The stored candidate pairs (lower patient id first, links.suggestions) that are
    not hidden."""
    suggestion = _table(IdentitySuggestion)
    return f"""
        WITH {_hidden_sql()}, ranked AS (
            SELECT s.patient_id AS a, s.other_patient_id AS b, s.score, s.age_gap
            FROM {suggestion} s
            WHERE NOT EXISTS (
                SELECT 1 FROM hidden h
                WHERE h.patient_id = s.patient_id AND h.other_patient_id = s.other_patient_id)
        )
    """


class SuggestionList:
    """The ranked suggestions as a sequence a Paginator can page: one COUNT query, and
    one query per page for the pairs (plus the page's patients), read by an index."""

    def __init__(self):
        self.sql = _suggestion_sql()

    def count(self) -> int:
        # Every stored pair less the hidden ones, found from the (few) hidden pairs by
        # the pair's unique index: testing each of 238,000 pairs at 100,000 studies
        # took 85 ms.
        suggestion = _table(IdentitySuggestion)
        with connection.cursor() as cursor:
            cursor.execute(f"""
                WITH {_hidden_sql()}
                SELECT (SELECT COUNT(*) FROM {suggestion})
                - (SELECT COUNT(*) FROM {suggestion} s JOIN hidden h
                   ON h.patient_id = s.patient_id AND h.other_patient_id = s.other_patient_id)
            """)
            return cursor.fetchone()[0]

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list[Suggestion]:
        if not isinstance(index, slice):
            raise TypeError("Suggestions are read a page at a time.")
        start = index.start or 0
        size = max(0, (index.stop or start) - start)
        with connection.cursor() as cursor:
            cursor.execute(
                self.sql + "SELECT a, b, score FROM ranked "
                "ORDER BY score DESC, age_gap, a, b LIMIT %s OFFSET %s",
                [size, start],
            )
            rows = cursor.fetchall()
        patients = _patients({pk for a, b, _ in rows for pk in (a, b)})
        return [
            Suggestion(patients[a], patients[b], int(score))
            for a, b, score in rows
            if a in patients and b in patients
        ]


def identity_suggestions() -> SuggestionList:
    return SuggestionList()


# Existing links ------------------------------------------------------------------------------


def linked_persons() -> QuerySet[Person]:
    """Persons with their reports (page it: each page costs three queries)."""
    reports = (
        Patient.objects.select_related("arm__study", "source_publication", "primary_disease")
        .prefetch_related(AUTHORS)
        .order_by("source_publication__year", "pk")
    )
    # EXISTS rather than a count per person: counting the persons grouped every
    # patient row (0.13 s at 100,000 studies).
    return (
        Person.objects.filter(Exists(Patient.objects.filter(person=OuterRef("pk"))))
        .prefetch_related(Prefetch("reports", queryset=reports))
        .order_by("-pk")
    )


def open_unlinks(patient_ids) -> set[int]:
    """Which of these patients have an undo of their link waiting for review."""
    return set(
        LinkRequest.objects.filter(
            kind=LinkKind.SAME_PERSON, action=LinkAction.UNLINK, status__in=OPEN_STATUSES,
            patient_id__in=list(patient_ids),
        ).values_list("patient_id", flat=True)
    )


def superseded_publications() -> QuerySet[Publication]:
    return (
        Publication.objects.filter(superseded_by__isnull=False)
        .select_related("superseded_by")
        .prefetch_related("authors", "superseded_by__authors")
        .order_by("-year", "pk")
    )


def open_supersession_undos(publication_ids) -> set[int]:
    return set(
        LinkRequest.objects.filter(
            kind=LinkKind.SUPERSEDES, status__in=OPEN_STATUSES,
            publication_id__in=list(publication_ids),
        ).values_list("publication_id", flat=True)
    )


def supersession_candidates(limit: int = 50) -> list[Publication]:
    """Conference abstracts and preprints, not yet superseded, that share a study with
    a journal article or letter: the usual case of a fuller report replacing them."""
    fuller = Publication.objects.filter(publication_type__in=["article", "letter"])
    return list(
        Publication.objects.filter(
            publication_type__in=["conference_abstract", "preprint"],
            superseded_by__isnull=True,
            studies__publications__in=fuller,
        )
        .exclude(pk__in=LinkRequest.objects.filter(
            kind=LinkKind.SUPERSEDES, status__in=OPEN_STATUSES
        ).values("publication_id"))
        .distinct()
        .prefetch_related("authors")
        .order_by("-year", "pk")[:limit]
    )


def fuller_reports_of(publications: list[Publication]) -> dict[int, list[Publication]]:
    """For each candidate, the articles and letters reporting one of its studies."""
    ids = [p.pk for p in publications]
    studies_of: dict[int, set[int]] = {}
    for publication_id, study_id in StudyReport.objects.filter(
        publication_id__in=ids
    ).values_list("publication_id", "study_id"):
        studies_of.setdefault(publication_id, set()).add(study_id)
    fuller = (
        StudyReport.objects.filter(
            study_id__in={pk for studies in studies_of.values() for pk in studies},
            publication__publication_type__in=["article", "letter"],
        )
        .select_related("publication")
        .prefetch_related("publication__authors")
        .order_by("-publication__year", "publication_id")
    )
    by_study: dict[int, list[Publication]] = {}
    for report in fuller:
        by_study.setdefault(report.study_id, []).append(report.publication)
    found: dict[int, list[Publication]] = {}
    for publication_id, studies in studies_of.items():
        seen: dict[int, Publication] = {}
        for study_id in sorted(studies):
            for newer in by_study.get(study_id, []):
                if newer.pk != publication_id:
                    seen.setdefault(newer.pk, newer)
        found[publication_id] = list(seen.values())
    return found


# Review queues --------------------------------------------------------------------------------


def requests_for_review(user) -> list[LinkRequest]:
    """Submitted requests a reviewer may decide: everyone's but their own."""
    if not rules.is_reviewer(user):
        return []
    return list(
        LinkRequest.objects.filter(status=LinkStatus.SUBMITTED)
        .exclude(proposer=user)
        .select_related("proposer")
        .order_by("submitted_at", "pk")
    )


def queue_counts(user) -> dict[str, int]:
    """Counts for the navigation bar's Links entry, in one query: the user's unsent
    proposals (drafts) and, for reviewers, other curators' proposals waiting."""
    counts = LinkRequest.objects.aggregate(
        drafts=Count("pk", filter=Q(proposer=user, status=LinkStatus.DRAFT)),
        review=Count("pk", filter=Q(status=LinkStatus.SUBMITTED) & ~Q(proposer=user)),
    )
    if not rules.is_curator(user):
        counts["drafts"] = 0
    if not rules.is_reviewer(user):
        counts["review"] = 0
    return counts


def my_open_requests(user) -> list[LinkRequest]:
    if not rules.is_curator(user):
        return []
    return list(
        LinkRequest.objects.filter(
            Q(proposer=user) & Q(status__in=[*OPEN_STATUSES, LinkStatus.REJECTED])
        )
        .select_related("reviewer")
        .order_by("-updated_at")[:20]
    )
