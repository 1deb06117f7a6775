"""Reads of the curation area: queues, their counts, and the records with history."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from studies.models import (
    AdverseEvent,
    Arm,
    ArmProduct,
    CarConstruct,
    ConstructAlias,
    OutcomeResult,
    Patient,
    Person,
    Publication,
    PublicationAuthor,
    RegistryId,
    Study,
    StudyReport,
)

from . import rules
from .models import Extraction, ExtractionStatus

# Live models whose history can be viewed and reverted, by URL name.
HISTORY_MODELS = {
    model._meta.model_name: model
    for model in (
        Publication, PublicationAuthor, Study, StudyReport, RegistryId, CarConstruct,
        ConstructAlias, Arm, ArmProduct, Person, Patient, OutcomeResult, AdverseEvent,
    )
}


def extractions_visible_to(user) -> QuerySet[Extraction]:
    extractions = Extraction.objects.select_related("curator", "reviewer", "publication")
    if rules.is_reviewer(user) or rules.is_manager(user):
        return extractions
    if rules.is_curator(user):
        return extractions.filter(curator=user)
    return extractions.none()


@dataclass
class Queue:
    key: str
    title: str
    extractions: list


def queues_for(user) -> list[Queue]:
    queues = []
    mine = Extraction.objects.filter(curator=user).select_related("reviewer", "publication")
    if rules.is_curator(user):
        queues.append(Queue("returned", "Returned to me",
                            list(mine.filter(status=ExtractionStatus.REJECTED))))
        queues.append(Queue("drafts", "My drafts",
                            list(mine.filter(status=ExtractionStatus.DRAFT))))
        queues.append(Queue("submitted", "My submissions waiting for review",
                            list(mine.filter(status=ExtractionStatus.SUBMITTED))))
    if rules.is_reviewer(user):
        waiting = (
            Extraction.objects.filter(status=ExtractionStatus.SUBMITTED)
            .exclude(curator=user)
            .select_related("curator", "publication")
            .order_by("submitted_at")
        )
        queues.append(Queue("review", "Waiting for my review", list(waiting)))
    recent = extractions_visible_to(user).filter(status=ExtractionStatus.ACCEPTED)
    queues.append(Queue("accepted", "Recently accepted",
                        list(recent.order_by("-reviewed_at")[:10])))
    return queues


def queue_counts(user) -> dict[str, int]:
    """Counts for the navigation bar, in one query."""
    counts = Extraction.objects.aggregate(
        drafts=Count("pk", filter=Q(curator=user, status=ExtractionStatus.DRAFT)),
        returned=Count("pk", filter=Q(curator=user, status=ExtractionStatus.REJECTED)),
        review=Count("pk", filter=Q(status=ExtractionStatus.SUBMITTED) & ~Q(curator=user)),
    )
    if not rules.is_reviewer(user):
        counts["review"] = 0
    if not rules.is_curator(user):
        counts["drafts"] = counts["returned"] = 0
    return counts


def related_records(instance) -> list[tuple[str, str, int, str]]:
    """(kind, model name, pk, text) of the rows of a publication or study, so that their
    history pages are one click away."""
    links = []
    if isinstance(instance, Publication):
        cited = {"source_publication": instance}
        links += [("Study", "study", s.pk, str(s)) for s in instance.studies.all()]
        links += [("Arm", "arm", a.pk, f"{a.study}: {a.label}")
                  for a in Arm.objects.filter(**cited).select_related("study")]
        links += [("Product", "armproduct", p.pk, f"{p.construct} in {p.arm.label}")
                  for p in ArmProduct.objects.filter(**cited).select_related("construct", "arm")]
        links += [("Patient", "patient", p.pk, f"{p.label} ({p.arm.label})")
                  for p in Patient.objects.filter(**cited).select_related("arm")]
        links += [
            ("Outcome", "outcomeresult", r.pk,
             f"{r.measure} · {(r.patient or r.arm).label} · {r.get_timepoint_display()}"
             + (f" day {r.day}" if r.day is not None else ""))
            for r in OutcomeResult.objects.filter(**cited)
            .select_related("measure", "patient", "arm").order_by("pk")
        ]
        links += [
            ("Adverse event", "adverseevent", e.pk,
             f"{e.get_event_type_display()} · {(e.patient or e.arm).label}")
            for e in AdverseEvent.objects.filter(**cited).select_related("patient", "arm")
            .order_by("pk")
        ]
    elif isinstance(instance, Study):
        links += [("Arm", "arm", a.pk, a.label) for a in instance.arms.all()]
        links += [("Registry id", "registryid", r.pk, str(r)) for r in instance.registry_ids.all()]
        links += [("Publication", "publication", r.publication_id, str(r.publication))
                  for r in instance.reports.select_related("publication")
                  .prefetch_related("publication__authors")]
    return links
