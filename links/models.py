"""Proposed changes to who is who and which report replaces which.

Identity links (``Patient.person``) and supersession (``Publication.superseded_by``)
change pooled numbers, so like extracted data they are proposed by a curator and
applied to the live tables only when a reviewer accepts them (links.services).
"""

from django.conf import settings
from django.db import models
from django.db.models import F
from simple_history.models import HistoricalRecords

from studies.choices import IdentityEvidence


class LinkKind(models.TextChoices):
    SAME_PERSON = "same_person", "Same person"
    SUPERSEDES = "supersedes", "Supersedes"


class LinkAction(models.TextChoices):
    LINK = "link", "Link"
    UNLINK = "unlink", "Undo link"


class LinkStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Waiting for review"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


OPEN_STATUSES = (LinkStatus.DRAFT, LinkStatus.SUBMITTED)
_OPEN = models.Q(status__in=("draft", "submitted"))


class LinkRequest(models.Model):
    """One proposed change, on its way through review.

    Same person, link: ``patient`` and ``other_patient`` are one person (``evidence``
    says how sure). Same person, unlink: ``patient`` leaves its person. Supersedes,
    link: ``newer`` supersedes ``publication``; unlink: it no longer does.

    Rows named here may be deleted by a later import: the foreign keys then empty,
    and ``description`` still says what the request was about."""

    kind = models.CharField(max_length=12, choices=LinkKind.choices)
    action = models.CharField(max_length=6, choices=LinkAction.choices, default=LinkAction.LINK)
    patient = models.ForeignKey(
        "studies.Patient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    other_patient = models.ForeignKey(
        "studies.Patient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    publication = models.ForeignKey(
        "studies.Publication", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text="The superseded (older, shorter) report.",
    )
    newer = models.ForeignKey(
        "studies.Publication", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text="The fuller report that supersedes it.",
    )
    evidence = models.CharField(
        max_length=10, choices=IdentityEvidence.choices, blank=True,
        help_text="Confirmed: the paper says so. Probable: the details match.",
    )
    note = models.TextField(blank=True)
    description = models.CharField(max_length=500, help_text="What was proposed, in words.")
    proposer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="link_requests"
    )
    status = models.CharField(
        max_length=10, choices=LinkStatus.choices, default=LinkStatus.DRAFT, db_index=True
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="reviewed_link_requests",
    )
    reviewer_comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status__in=("accepted", "rejected"))
                | models.Q(reviewer__isnull=False),
                name="linkrequest_reviewed_has_reviewer",
                violation_error_message="An accepted or rejected request names its reviewer.",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="same_person", action="link") | ~models.Q(evidence=""),
                name="linkrequest_identity_link_has_evidence",
                violation_error_message="Say whether the identity link is confirmed or probable.",
            ),
            models.UniqueConstraint(
                fields=["patient", "other_patient"],
                condition=_OPEN & models.Q(kind="same_person", action="link"),
                name="linkrequest_one_open_link_per_patient_pair",
                violation_error_message="This link is already proposed and waiting.",
            ),
            models.UniqueConstraint(
                fields=["patient"],
                condition=_OPEN & models.Q(kind="same_person", action="unlink"),
                name="linkrequest_one_open_unlink_per_patient",
                violation_error_message="Undoing this link is already proposed and waiting.",
            ),
            models.UniqueConstraint(
                fields=["publication"],
                condition=_OPEN & models.Q(kind="supersedes"),
                name="linkrequest_one_open_per_superseded_publication",
                violation_error_message="A change of this publication's supersession is "
                "already proposed and waiting.",
            ),
        ]

    def __str__(self) -> str:
        return f"Link request {self.pk}: {self.description}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class DismissedSuggestion(models.Model):
    """A curator looked at a suggested pair and judged them different people: the
    identity page stops suggesting it. ``patient`` has the lower id of the pair."""

    patient = models.ForeignKey("studies.Patient", on_delete=models.CASCADE, related_name="+")
    other_patient = models.ForeignKey(
        "studies.Patient", on_delete=models.CASCADE, related_name="+"
    )
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    dismissed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "other_patient"],
                name="dismissed_suggestion_unique_pair",
                violation_error_message="This suggestion is already dismissed.",
            ),
            models.CheckConstraint(
                condition=models.Q(patient__lt=models.F("other_patient")),
                name="dismissed_suggestion_ordered_pair",
                violation_error_message="The pair is stored lower id first.",
            ),
        ]

    def __str__(self) -> str:
        return f"Not the same person: {self.patient_id} and {self.other_patient_id}"


class IdentitySuggestion(models.Model):
    """A pair of patient reports that may be one person, stored per study so that the
    identity page pages them by an index (computing every pair on each visit took
    seconds at 10,000 studies). Kept by links.suggestions; dismissed and proposed
    pairs are filtered out when read."""

    patient = models.ForeignKey("studies.Patient", on_delete=models.CASCADE, related_name="+")
    other_patient = models.ForeignKey(
        "studies.Patient", on_delete=models.CASCADE, related_name="+"
    )
    study_id = models.BigIntegerField(db_index=True)
    score = models.PositiveSmallIntegerField(help_text="Agreeing sex, known ages, same age.")
    age_gap = models.DecimalField(
        max_digits=5, decimal_places=1, help_text="Years between the ages; 99 when unknown."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "other_patient"], name="identity_suggestion_unique_pair"
            ),
        ]
        indexes = [
            models.Index(
                F("score").desc(), "age_gap", "patient", "other_patient",
                name="identity_suggestion_rank_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Maybe the same person: {self.patient_id} and {self.other_patient_id}"
