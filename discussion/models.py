"""Comments on curated records: questions to the curator, flags of suspected errors,
notes. A comment points at one record (an Extraction or a live row of the studies
app) through its content type and id; replies hang under the first comment of a
thread, which is what gets resolved or reopened. Comments are never deleted (their
history is kept), so a resolved flag still shows what was asked and by whom."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import reverse
from simple_history.models import HistoricalRecords

# The records one may comment on, as "app_label.model_name": a curator's extraction
# and the curated live tables (those whose history the curation area shows).
COMMENTABLE = (
    "curation.extraction",
    "studies.publication",
    "studies.publicationauthor",
    "studies.study",
    "studies.studyreport",
    "studies.registryid",
    "studies.carconstruct",
    "studies.constructalias",
    "studies.arm",
    "studies.armproduct",
    "studies.person",
    "studies.patient",
    "studies.outcomeresult",
    "studies.adverseevent",
)

BODY_MAX_LENGTH = 4000
LOCATION_MAX_LENGTH = 200


def commentable_content_types() -> models.Q:
    condition = models.Q(pk__in=[])
    for label in COMMENTABLE:
        app_label, model = label.split(".")
        condition |= models.Q(app_label=app_label, model=model)
    return condition


class CommentKind(models.TextChoices):
    QUESTION = "question", "Question to the curator"
    SUSPECTED_ERROR = "suspected_error", "Suspected error"
    NOTE = "note", "Note"


class Comment(models.Model):
    content_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, related_name="+",
        limit_choices_to=commentable_content_types,
    )
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replies",
        help_text="The first comment of the thread this one answers (one level only).",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="comments"
    )
    kind = models.CharField(max_length=20, choices=CommentKind.choices,
                            default=CommentKind.NOTE)
    body = models.TextField(max_length=BODY_MAX_LENGTH)
    location = models.CharField(
        max_length=LOCATION_MAX_LENGTH, blank=True,
        help_text="Where in the record or the paper, e.g. "
        "'patients[2].outcomes[0].value' or 'Table 2'.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )

    # Resolving and reopening are kept as versions, so the thread's story stays visible.
    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["content_type", "object_id", "created_at"],
                         name="comment_target_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(body=""),
                name="comment_has_body",
                violation_error_message="A comment needs a text.",
            ),
            models.CheckConstraint(
                condition=models.Q(resolved_at__isnull=True, resolved_by__isnull=True)
                | models.Q(resolved_at__isnull=False, resolved_by__isnull=False),
                name="comment_resolved_names_who",
                violation_error_message="A resolved comment names who resolved it and when.",
            ),
            models.CheckConstraint(
                condition=models.Q(parent__isnull=True) | models.Q(resolved_at__isnull=True),
                name="comment_reply_not_resolved",
                violation_error_message="Replies are resolved with their thread.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} on {self.target_type} {self.object_id}"

    def get_absolute_url(self) -> str:
        return f"{record_url(self.target_type, self.object_id)}#comment-{self.parent_id or self.pk}"

    @property
    def target_type(self) -> str:
        content_type = ContentType.objects.get_for_id(self.content_type_id)
        return f"{content_type.app_label}.{content_type.model}"

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


def record_url(target_type: str, object_id: int) -> str:
    """Where a record's discussion is shown: an extraction's workspace, or the
    discussion page of a live record."""
    if target_type == "curation.extraction":
        return reverse("curation:workspace", args=[object_id])
    return reverse("discussion:record", args=[target_type, object_id])
