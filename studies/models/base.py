from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, router

from ..choices import SourceKind
from . import checks


class Curated(models.Model):
    """A row that a person (or a named import) entered: who and when is always known."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def clean_fields(self, exclude=None):
        # A foreign key to a saved row this instance holds needs no query to prove the
        # row exists (an import validates hundreds of rows pointing at a few).
        held = {
            field.name
            for field in self._meta.concrete_fields
            if field.many_to_one
            and field.is_cached(self)
            and (row := field.get_cached_value(self)) is not None
            and not row._state.adding
            and row.pk is not None
            and row.pk == getattr(self, field.attname)
        }
        super().clean_fields(exclude=set(exclude or ()) | held)

    def validate_constraints(self, exclude=None):
        """As Django's, but rules on the row's own fields are decided without a query
        each (studies.models.checks)."""
        using = router.db_for_write(type(self), instance=self)
        errors = {}
        for model, constraints in self.get_constraints():
            for constraint in constraints:
                try:
                    checks.validate(constraint, model, self, exclude, using)
                except ValidationError as error:
                    fields = getattr(constraint, "fields", ())
                    if getattr(error, "code", None) == "unique" and len(fields) == 1:
                        errors.setdefault(fields[0], []).append(error)
                    else:
                        errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)


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
