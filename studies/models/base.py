from django.conf import settings
from django.db import models

from ..choices import SourceKind


class Curated(models.Model):
    """A row that a person (or a named import) entered: who and when is always known."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Sourced(Curated):
    """A curated row holding numbers: it names the publication and the place in it."""

    source_publication = models.ForeignKey(
        "studies.Publication", on_delete=models.PROTECT, related_name="%(class)s_sourced"
    )
    source_kind = models.CharField(max_length=16, choices=SourceKind.choices)
    source_label = models.CharField(
        max_length=120, help_text="Where in the publication, e.g. 'Table 2', 'p. 5', 'Fig. 3B'."
    )

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(source_label=""),
                name="%(app_label)s_%(class)s_source_label_required",
                violation_error_message="Give the place in the publication (table, figure, page).",
            ),
        ]

    @property
    def source_display(self) -> str:
        return f"{self.source_publication.short_citation}, {self.source_label}"
