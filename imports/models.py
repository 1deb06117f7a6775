"""Registry records brought in by an import, kept apart from the live catalogue.

A registry record (ClinicalTrials.gov study JSON) describes a trial as its sponsor
registered it: not curated data. It is stored here, once per registry id, so that a
curator can fill a study from it (registry id, title, phase, status, sponsor,
countries, conditions, dates) instead of retyping them. Citations need no model of
their own: an imported citation becomes a draft curation Extraction.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse

from studies.choices import Phase, Registry, StudyDesign, StudyStatus
from studies.fields import RegistryIdentifierField


class RegistryRecord(models.Model):
    registry = models.CharField(max_length=10, choices=Registry.choices)
    identifier = RegistryIdentifierField(max_length=40, unique=True)
    title = models.CharField(max_length=500)
    acronym = models.CharField(max_length=100, blank=True)
    phase = models.CharField(max_length=10, choices=Phase.choices, blank=True)
    status = models.CharField(max_length=30, choices=StudyStatus.choices, blank=True)
    sponsor = models.CharField(max_length=300, blank=True)
    countries = models.ManyToManyField("studies.Country", blank=True, related_name="+")
    conditions = models.JSONField(
        default=list, blank=True, help_text="The conditions as the registry names them."
    )
    diseases = models.ManyToManyField(
        "studies.Disease", blank=True, related_name="+",
        help_text="carlit diseases whose name, abbreviation or synonym matches a condition.",
    )
    start_date = models.DateField(
        null=True, blank=True, help_text="The first of the month when the registry gives "
        "only a month."
    )
    completion_date = models.DateField(null=True, blank=True)
    raw = models.JSONField(help_text="The study as the registry sent it.")
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["identifier"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_date__isnull=True)
                | models.Q(completion_date__isnull=True)
                | models.Q(start_date__lte=models.F("completion_date")),
                name="registry_record_dates_in_order",
                violation_error_message="The start date must not be after the completion date.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.identifier}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("imports:registry_record", args=[self.pk])

    def as_bundle_study(self, key: str = "") -> dict:
        """The record as a study of a study bundle (docs/bundle-format.md), for filling
        a study in an extraction instead of retyping it. Prefetch ``countries``."""
        study = {
            "key": key or self.acronym or self.identifier,
            "title": self.title,
            "short_name": self.acronym,
            "design": StudyDesign.TRIAL,
            "phase": self.phase,
            "status": self.status,
            "sponsor": self.sponsor,
            "countries": [country.code for country in self.countries.all()],
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "completion_date": (
                self.completion_date.isoformat() if self.completion_date else None
            ),
            "registry_ids": [{"registry": self.registry, "identifier": self.identifier}],
        }
        return {name: value for name, value in study.items() if value not in ("", None, [])}

    @property
    def url(self) -> str:
        if self.registry == Registry.NCT:
            return f"https://clinicaltrials.gov/study/{self.identifier}"
        return ""
