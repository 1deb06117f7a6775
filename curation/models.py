"""The curators' work in progress: one Extraction per publication and curator.

Live tables (the studies app) hold accepted data only. What a curator types lives
here, as a study bundle document (docs/bundle-format.md), until a reviewer accepts
it: then curation.services imports it into the live tables in the same transaction
as the status change. Drafts therefore never reach a public page.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse
from simple_history.models import HistoricalRecords


class ExtractionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Waiting for review"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Returned to the curator"
    MERGED = "merged", "Merged by reconciliation"


# The curator may change these; submitted ones wait for a reviewer, accepted ones
# are closed (a later edit of the publication is a new Extraction), and so are merged
# ones (one of two independent extractions, reconciled into a new accepted one).
EDITABLE_STATUSES = (ExtractionStatus.DRAFT, ExtractionStatus.REJECTED)
OPEN_STATUSES = (ExtractionStatus.DRAFT, ExtractionStatus.SUBMITTED, ExtractionStatus.REJECTED)


class Extraction(models.Model):
    """One publication's extracted data, as a study bundle, on its way through review."""

    publication = models.ForeignKey(
        "studies.Publication",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="extractions",
        help_text="Empty until a brand-new publication is first accepted; its citation "
        "(DOI or PMID) is in the payload meanwhile.",
    )
    curator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="extractions"
    )
    status = models.CharField(
        max_length=10, choices=ExtractionStatus.choices, default=ExtractionStatus.DRAFT,
        db_index=True,
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviewed_extractions",
    )
    reviewer_comment = models.TextField(blank=True)
    payload = models.JSONField(default=dict, help_text="A study bundle; may be incomplete "
                               "while the extraction is a draft.")
    base = models.JSONField(
        null=True,
        blank=True,
        help_text="The public data this extraction started from (a bundle export), or "
        "empty for a publication that was not public yet. Accepting is refused when "
        "the public data has changed since, so that no accepted edit is overwritten.",
    )
    version = models.PositiveIntegerField(
        default=1, help_text="Raised by every change; a form or API call that names an "
        "older version is refused (optimistic locking)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    # Every version of the payload is kept; the base is a copy of public data.
    history = HistoricalRecords(excluded_fields=["base"])

    class Meta:
        ordering = ["-updated_at"]
        permissions = [
            ("review_extraction", "Can accept or reject other curators' extractions"),
            ("manage_extractions", "Can edit any open extraction"),
            ("revert_record", "Can revert a curated record to an earlier version"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(version__gte=1),
                name="extraction_version_from_one",
                violation_error_message="Versions start at 1.",
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=("accepted", "rejected", "merged"))
                | models.Q(reviewer__isnull=False),
                name="extraction_reviewed_has_reviewer",
                violation_error_message="An accepted, rejected or merged extraction names "
                "its reviewer.",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="accepted") | models.Q(publication__isnull=False),
                name="extraction_accepted_has_publication",
                violation_error_message="An accepted extraction names its publication.",
            ),
            models.UniqueConstraint(
                fields=["publication", "curator"],
                condition=models.Q(status__in=("draft", "submitted", "rejected")),
                name="extraction_one_open_per_curator_and_publication",
                violation_error_message="This curator already has an open extraction of "
                "this publication.",
            ),
        ]

    def __str__(self) -> str:
        return f"Extraction {self.pk}: {self.citation}"

    def get_absolute_url(self) -> str:
        return reverse("curation:workspace", args=[self.pk])

    @property
    def citation_fields(self) -> dict:
        publication = self.payload.get("publication") if isinstance(self.payload, dict) else None
        return publication if isinstance(publication, dict) else {}

    @property
    def citation(self) -> str:
        """First author, year and identifier, read from the payload."""
        fields = self.citation_fields
        authors = fields.get("authors") or []
        first = (
            authors[0].get("family_name", "")
            if authors and isinstance(authors[0], dict) else ""
        )
        who = f"{first} et al." if first else (fields.get("journal") or "Untitled")
        year = fields.get("year") or "n.d."
        identifier = (
            f"doi:{fields['doi']}" if fields.get("doi")
            else f"PMID {fields['pmid']}" if fields.get("pmid") else "no identifier"
        )
        return f"{who} {year} ({identifier})"

    @property
    def title(self) -> str:
        return self.citation_fields.get("title") or ""

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES


class Reconciliation(models.Model):
    """Two curators' independent extractions of one publication, merged by a reviewer
    field by field into ``result`` (the extraction that was accepted). Both sources are
    kept, closed as merged; ``decisions`` records what was disputed and what was chosen."""

    extraction_a = models.ForeignKey(
        Extraction, on_delete=models.PROTECT, related_name="reconciled_as_a"
    )
    extraction_b = models.ForeignKey(
        Extraction, on_delete=models.PROTECT, related_name="reconciled_as_b"
    )
    result = models.OneToOneField(
        Extraction, on_delete=models.PROTECT, related_name="reconciliation",
        help_text="The merged extraction, accepted into the live tables.",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reconciliations"
    )
    decisions = models.JSONField(
        default=list, blank=True,
        help_text="One entry per disputed field or one-sided row: both values, the choice "
        "(a, b or typed) and the value taken.",
    )
    compared_fields = models.PositiveIntegerField(
        help_text="Fields with a value in at least one of the two extractions."
    )
    agreeing_fields = models.PositiveIntegerField(
        help_text="Fields both extractions gave the same value."
    )
    agreement_percent = models.DecimalField(
        max_digits=5, decimal_places=1,
        help_text="agreeing_fields / compared_fields, as a percentage.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(agreeing_fields__lte=models.F("compared_fields")),
                name="reconciliation_agreeing_within_compared",
                violation_error_message="More agreeing fields than compared fields.",
            ),
            models.CheckConstraint(
                condition=~models.Q(extraction_a=models.F("extraction_b")),
                name="reconciliation_two_extractions",
                violation_error_message="A reconciliation merges two different extractions.",
            ),
        ]

    def __str__(self) -> str:
        return (f"Reconciliation of extractions {self.extraction_a_id} and "
                f"{self.extraction_b_id} ({self.agreement_percent}% agreement)")

    def get_absolute_url(self) -> str:
        return reverse("curation:reconciliation", args=[self.pk])
