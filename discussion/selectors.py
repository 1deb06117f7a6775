"""Reads of the discussion: who sees which comments, threads of one record or of a
study page's rows, and the two queues. Each prefetches what its page shows, so the
number of queries does not grow with the number of comments."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch, Q, QuerySet

from curation import rules as curation_rules
from curation.models import Extraction, ExtractionStatus

from . import rules, targets
from .models import Comment, CommentKind, record_url

QUEUE_LENGTH = 50


def comments_visible_to(user) -> QuerySet[Comment]:
    """Reviewers and admins see every comment; curators those on their own extractions
    and on live records; everyone else none."""
    comments = Comment.objects.select_related("content_type", "author", "resolved_by")
    if not rules.may_see_discussion(user):
        return comments.none()
    if curation_rules.is_reviewer(user) or curation_rules.is_manager(user):
        return comments
    extraction_type = ContentType.objects.get_for_model(Extraction)
    own = Extraction.objects.filter(curator=user).values("pk")
    return comments.filter(~Q(content_type=extraction_type) | Q(object_id__in=own))


def _threads() -> QuerySet[Comment]:
    replies = Comment.objects.select_related("author").order_by("created_at", "id")
    return (
        Comment.objects.filter(parent__isnull=True)
        .select_related("author", "resolved_by")
        .prefetch_related(Prefetch("replies", queryset=replies))
        .order_by("created_at", "id")
    )


@dataclass
class Thread:
    """The discussion of one record, as its page shows it."""

    target: object
    target_type: str
    comments: list[Comment]
    may_comment: bool

    @property
    def open_count(self) -> int:
        return sum(1 for comment in self.comments if comment.resolved_at is None)


def thread_for(user, target) -> Thread | None:
    """The threads on one record, each comment marked with ``may_resolve`` for the
    user; None when the user may not see the record's discussion."""
    if not rules.may_view_target(user, target):
        return None
    content_type = ContentType.objects.get_for_model(target)
    comments = list(_threads().filter(content_type=content_type, object_id=target.pk))
    record_curator = rules.is_record_curator(user, target) if comments else False
    for comment in comments:
        comment.may_resolve = rules.may_resolve(user, comment, record_curator=record_curator)
    return Thread(target=target, target_type=targets.label_of(target), comments=comments,
                  may_comment=rules.may_comment(user, target))


@dataclass
class StudyRecord:
    target_type: str
    object_id: int
    label: str
    anchor: str
    publication_ids: set[int]


@dataclass
class StudyDiscussion:
    """Comments on a catalogue study and its rows, for curation users."""

    records: list[StudyRecord]
    comments: list[Comment] = field(default_factory=list)

    @property
    def open_count(self) -> int:
        return sum(1 for comment in self.comments if comment.resolved_at is None)


def _study_records(detail) -> list[StudyRecord]:
    """The rows the study page shows, with the publications each came from."""
    study = detail.study
    all_publications = {publication.pk for publication in detail.publications}
    records = [StudyRecord("studies.study", study.pk, "This study", "", all_publications)]
    records += [
        StudyRecord("studies.publication", publication.pk,
                    f"Publication: {publication.short_citation}",
                    f"publication-{publication.pk}", {publication.pk})
        for publication in detail.publications
    ]
    sourced = [("studies.arm", arm, f"Arm: {arm.label}", f"arm-{arm.pk}")
               for arm in detail.arms]
    for arm in detail.arms:
        sourced += [("studies.armproduct", product, f"Product: {product.construct.name} in "
                     f"{arm.label}", f"arm-{arm.pk}") for product in arm.products.all()]
    for view in detail.patients:
        patient = view.patient
        anchor = f"patient-{patient.pk}"
        sourced.append(("studies.patient", patient, f"Patient: {patient.label} "
                        f"({patient.source_publication.short_citation})", anchor))
        sourced += [("studies.outcomeresult", result, f"Outcome: {measure} for "
                     f"{patient.label}", anchor)
                    for measure, results in view.outcomes for result in results]
        sourced += [("studies.adverseevent", event, f"Adverse event: "
                     f"{event.get_event_type_display()} in {patient.label}", anchor)
                    for event in view.adverse_events]
    sourced += [("studies.outcomeresult", result, f"Outcome: {result.measure} for "
                 f"{result.arm.label}", "results-title") for result in detail.arm_results]
    sourced += [("studies.adverseevent", event, f"Adverse event: "
                 f"{event.get_event_type_display()} in {event.arm.label}", "safety-title")
                for event in detail.arm_adverse_events]
    records += [StudyRecord(target_type, row.pk, label, anchor, {row.source_publication_id})
                for target_type, row, label, anchor in sourced]
    return records


def study_discussion(user, detail) -> StudyDiscussion | None:
    """None for anyone outside curation: the public page shows no internal discussion."""
    if not rules.may_see_discussion(user):
        return None
    records = _study_records(detail)
    by_key = {(record.target_type, record.object_id): record for record in records}
    condition = Q(pk__in=[])
    ids_by_type: dict[str, list[int]] = {}
    for record in records:
        ids_by_type.setdefault(record.target_type, []).append(record.object_id)
    for target_type, ids in ids_by_type.items():
        condition |= Q(content_type=targets.content_type_for(target_type), object_id__in=ids)
    comments = list(_threads().filter(condition).select_related("content_type"))
    mine: set[int] = set()
    if comments and curation_rules.is_curator(user):
        mine = set(Extraction.objects.filter(
            curator=user, status=ExtractionStatus.ACCEPTED,
            publication_id__in={p.pk for p in detail.publications},
        ).values_list("publication_id", flat=True))
    for comment in comments:
        record = by_key[(comment.target_type, comment.object_id)]
        comment.record = record
        comment.may_resolve = rules.may_resolve(
            user, comment, record_curator=bool(record.publication_ids & mine)
        )
    return StudyDiscussion(records=records, comments=comments)


@dataclass
class CommentQueue:
    key: str
    title: str
    count: int
    comments: list[Comment]


def _open_threads() -> QuerySet[Comment]:
    return (
        Comment.objects.filter(parent__isnull=True, resolved_at__isnull=True)
        .select_related("author", "content_type")
        .order_by("-created_at", "-id")
    )


def _with_records(comments: list[Comment]) -> list[Comment]:
    """Each comment with ``record`` (a short description) and ``url``; the records are
    loaded with one query per type (a generic prefetch)."""
    for comment in comments:
        target = comment.target
        comment.record = targets.describe(target, full=False) if target else "(deleted)"
        comment.url = record_url(comment.target_type, comment.object_id) + \
            f"#comment-{comment.pk}"
    return comments


def discussion_queues(user) -> list[CommentQueue]:
    """Curators: open threads on their own extractions. Reviewers: open flags of
    suspected errors on any record."""
    queues = []
    if curation_rules.is_curator(user):
        extraction_type = ContentType.objects.get_for_model(Extraction)
        mine = _open_threads().filter(
            content_type=extraction_type,
            object_id__in=Extraction.objects.filter(curator=user).values("pk"),
        )
        queues.append(CommentQueue(
            "comments", "Open comments on my extractions", mine.count(),
            _with_records(list(mine.prefetch_related("target")[:QUEUE_LENGTH])),
        ))
    if curation_rules.is_reviewer(user):
        flags = _open_threads().filter(kind=CommentKind.SUSPECTED_ERROR)
        queues.append(CommentQueue(
            "flags", "Open flags of suspected errors", flags.count(),
            _with_records(list(flags.prefetch_related("target")[:QUEUE_LENGTH])),
        ))
    return queues
