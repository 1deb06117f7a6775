from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from ..choices import IdentityEvidence, Sex
from .base import Curated, Sourced


class Person(Curated):
    """One real person behind patient reports in several publications.

    Patient rows are reports; pointing several of them at one Person lets pooled
    counts take each person once, at the latest follow-up."""

    note = models.TextField(blank=True, help_text="Why these reports are the same person.")

    history = HistoricalRecords()

    class Meta:
        verbose_name = "person (identity)"
        verbose_name_plural = "persons (identities)"

    def __str__(self) -> str:
        return f"Person {self.pk}"


class Patient(Sourced):
    """A patient as reported by one publication (source_publication), in a study arm."""

    arm = models.ForeignKey("studies.Arm", on_delete=models.PROTECT, related_name="patients")
    label = models.CharField(max_length=60, help_text="As in the paper, e.g. 'Patient 3'.")
    age_years = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    sex = models.CharField(max_length=6, choices=Sex.choices, blank=True)
    primary_disease = models.ForeignKey(
        "studies.Disease", on_delete=models.PROTECT, related_name="primary_patients"
    )
    secondary_diseases = models.ManyToManyField(
        "studies.Disease", blank=True, related_name="secondary_patients"
    )
    disease_duration_months = models.DecimalField(
        max_digits=6, decimal_places=1, null=True, blank=True
    )
    prior_therapies = models.ManyToManyField("studies.Therapy", blank=True, related_name="+")
    follow_up_days = models.IntegerField(null=True, blank=True)
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="reports"
    )
    person_evidence = models.CharField(
        max_length=10, choices=IdentityEvidence.choices, blank=True
    )

    history = HistoricalRecords(m2m_fields=["secondary_diseases", "prior_therapies"])

    class Meta:
        ordering = ["arm", "label"]
        constraints = [
            *Sourced.Meta.constraints,
            models.UniqueConstraint(
                fields=["source_publication", "arm", "label"],
                name="patient_label_unique_per_report",
                violation_error_message="This publication already reports a patient with this "
                "label in this arm.",
            ),
            models.CheckConstraint(
                condition=models.Q(age_years__isnull=True)
                | models.Q(age_years__gte=0, age_years__lte=120),
                name="patient_age_plausible",
                violation_error_message="Age must be between 0 and 120 years.",
            ),
            models.CheckConstraint(
                condition=models.Q(disease_duration_months__isnull=True)
                | models.Q(disease_duration_months__gte=0),
                name="patient_disease_duration_not_negative",
                violation_error_message="Disease duration cannot be negative.",
            ),
            models.CheckConstraint(
                condition=models.Q(follow_up_days__isnull=True) | models.Q(follow_up_days__gte=0),
                name="patient_follow_up_not_negative",
                violation_error_message="Follow-up cannot be negative.",
            ),
            models.CheckConstraint(
                condition=models.Q(person__isnull=True, person_evidence="")
                | (models.Q(person__isnull=False) & ~models.Q(person_evidence="")),
                name="patient_identity_link_has_evidence",
                violation_error_message="A link to a person needs its evidence "
                "(confirmed or probable), and evidence needs a person.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.source_publication})"

    def clean(self):
        errors = {}
        if self.arm_id and self.source_publication_id:
            reported = self.arm.study.reports.filter(publication_id=self.source_publication_id)
            if not reported.exists():
                errors["source_publication"] = (
                    "This publication is not a report of the arm's study; link them first."
                )
        if self.person_id and not self.person_evidence:
            errors["person_evidence"] = "Say whether the identity link is confirmed or probable."
        if errors:
            raise ValidationError(errors)
