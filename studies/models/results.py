from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from ..choices import AdverseEventType, GradingSystem, TimePoint
from ..validation import grade_error, measure_shape_errors, unit_error, value_range_error
from .base import Sourced

Q = models.Q

# Exactly one subject: a patient or an arm.
ONE_SUBJECT = (Q(patient__isnull=False) & Q(arm__isnull=True)) | (
    Q(patient__isnull=True) & Q(arm__isnull=False)
)


def _has_patient(row) -> bool:
    # An unsaved patient (admin inline on the patient's add page) has no id yet.
    return row.patient_id is not None or row.patient is not None


def _has_arm(row) -> bool:
    return row.arm_id is not None or row.arm is not None


def _subject_errors(row) -> dict:
    if _has_patient(row) == _has_arm(row):
        return {"patient": "Give either a patient or an arm as the subject, not both or neither."}
    return {}


class OutcomeResult(Sourced):
    """A reported number: subject, measure, time point, value, and its source."""

    patient = models.ForeignKey(
        "studies.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="results"
    )
    arm = models.ForeignKey(
        "studies.Arm", null=True, blank=True, on_delete=models.PROTECT, related_name="results"
    )
    measure = models.ForeignKey(
        "studies.OutcomeMeasure", on_delete=models.PROTECT, related_name="results"
    )
    timepoint = models.CharField(max_length=16, choices=TimePoint.choices)
    day = models.IntegerField(
        null=True, blank=True, help_text="Days after infusion (baseline: days before, ≤ 0)."
    )
    # A patient's value: a number with its unit, or yes/no.
    value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    unit = models.CharField(max_length=30, blank=True)
    value_bool = models.BooleanField(null=True, blank=True)
    # An arm's aggregate.
    n_evaluable = models.IntegerField(null=True, blank=True)
    n_events = models.IntegerField(null=True, blank=True)
    median = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    minimum = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    maximum = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    iqr_low = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    iqr_high = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    mean = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    sd = models.DecimalField("SD", max_digits=14, decimal_places=4, null=True, blank=True)

    AGGREGATE_FIELDS = (
        "n_evaluable", "n_events", "median", "minimum", "maximum", "iqr_low", "iqr_high",
        "mean", "sd",
    )
    NUMERIC_FIELDS = ("value", "median", "minimum", "maximum", "iqr_low", "iqr_high", "mean")
    # What a result reports, besides its subject, measure and source: the columns the
    # API lists and writes and a bundle carries.
    VALUE_FIELDS = ("timepoint", "day", "value", "unit", "value_bool", *AGGREGATE_FIELDS)

    history = HistoricalRecords()

    class Meta:
        ordering = ["measure", "timepoint", "day"]
        indexes = [models.Index(fields=["measure", "timepoint", "day"])]
        constraints = [
            *Sourced.Meta.constraints,
            models.CheckConstraint(
                condition=ONE_SUBJECT,
                name="result_exactly_one_subject",
                violation_error_message="A result belongs to one patient or one arm, not both.",
            ),
            models.CheckConstraint(
                condition=Q(n_evaluable__isnull=True) | Q(n_evaluable__gte=0),
                name="result_n_evaluable_not_negative",
                violation_error_message="The number of evaluable patients cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(n_events__isnull=True) | Q(n_events__gte=0),
                name="result_n_events_not_negative",
                violation_error_message="The number of events cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(n_events__isnull=True)
                | Q(n_evaluable__isnull=True)
                | Q(n_events__lte=models.F("n_evaluable")),
                name="result_events_within_evaluable",
                violation_error_message="Events cannot exceed the evaluable patients.",
            ),
            models.CheckConstraint(
                condition=Q(patient__isnull=True)
                | Q(
                    n_evaluable__isnull=True,
                    n_events__isnull=True,
                    median__isnull=True,
                    minimum__isnull=True,
                    maximum__isnull=True,
                    iqr_low__isnull=True,
                    iqr_high__isnull=True,
                    mean__isnull=True,
                    sd__isnull=True,
                ),
                name="result_patient_has_no_aggregate",
                violation_error_message="A patient's result is a value, not an aggregate.",
            ),
            models.CheckConstraint(
                condition=Q(minimum__isnull=True)
                | Q(maximum__isnull=True)
                | Q(minimum__lte=models.F("maximum")),
                name="result_range_ordered",
                violation_error_message="The range minimum cannot exceed its maximum.",
            ),
            models.CheckConstraint(
                condition=Q(sd__isnull=True) | Q(sd__gte=0),
                name="result_sd_not_negative",
                violation_error_message="A standard deviation cannot be negative.",
            ),
            models.CheckConstraint(
                condition=~Q(timepoint=TimePoint.DAY) | Q(day__isnull=False, day__gte=0),
                name="result_day_given_after_infusion",
                violation_error_message="A post-infusion time point needs its day (≥ 0).",
            ),
            models.CheckConstraint(
                condition=~Q(timepoint=TimePoint.BASELINE) | Q(day__isnull=True) | Q(day__lte=0),
                name="result_baseline_not_after_infusion",
                violation_error_message="Baseline is before infusion (day ≤ 0).",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.measure} for {self.patient or self.arm}"

    @property
    def subject(self):
        return self.patient or self.arm

    def clean(self):
        errors = _subject_errors(self)
        if not self.measure_id:
            raise ValidationError(errors or {"measure": "Choose a measure."})
        measure = self.measure
        for name in self.NUMERIC_FIELDS:
            message = value_range_error(measure, getattr(self, name))
            if message:
                errors[name] = message
        if self.value is not None:
            message = unit_error(measure, self.unit)
            if message:
                errors["unit"] = message
        fields = {name: getattr(self, name) for name in (*self.AGGREGATE_FIELDS, "value",
                                                         "value_bool")}
        for name, message in measure_shape_errors(
            measure, is_patient=_has_patient(self), fields=fields
        ).items():
            errors.setdefault(name, message)
        if errors:
            raise ValidationError(errors)


class AdverseEvent(Sourced):
    patient = models.ForeignKey(
        "studies.Patient",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="adverse_events",
    )
    arm = models.ForeignKey(
        "studies.Arm",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="adverse_events",
    )
    event_type = models.CharField(max_length=24, choices=AdverseEventType.choices, db_index=True)
    term = models.CharField(
        max_length=200, blank=True, help_text="The specific event, e.g. 'neutropenia'."
    )
    grading_system = models.CharField(max_length=6, choices=GradingSystem.choices, blank=True)
    grade = models.SmallIntegerField(
        null=True, blank=True, help_text="Empty: any grade (or grade not reported)."
    )
    onset_day = models.IntegerField(null=True, blank=True)
    duration_days = models.IntegerField(null=True, blank=True)
    # Arm-level rows: how many of how many evaluable patients had it.
    n_affected = models.IntegerField(null=True, blank=True)
    n_evaluable = models.IntegerField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["event_type", "grade"]
        constraints = [
            *Sourced.Meta.constraints,
            models.CheckConstraint(
                condition=ONE_SUBJECT,
                name="adverse_event_exactly_one_subject",
                violation_error_message="An adverse event belongs to one patient or one arm.",
            ),
            models.CheckConstraint(
                condition=Q(grade__isnull=True)
                | Q(grading_system=GradingSystem.ASTCT, grade__gte=0, grade__lte=4)
                | Q(grading_system=GradingSystem.CTCAE, grade__gte=1, grade__lte=5),
                name="adverse_event_grade_in_system_range",
                violation_error_message="The grade must be 0-4 (ASTCT) or 1-5 (CTCAE), "
                "with its grading system.",
            ),
            models.CheckConstraint(
                condition=Q(n_affected__isnull=True) | Q(n_affected__gte=0),
                name="adverse_event_n_affected_not_negative",
                violation_error_message="The number of affected patients cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(n_evaluable__isnull=True) | Q(n_evaluable__gte=0),
                name="adverse_event_n_evaluable_not_negative",
                violation_error_message="The number of evaluable patients cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(n_affected__isnull=True)
                | Q(n_evaluable__isnull=True)
                | Q(n_affected__lte=models.F("n_evaluable")),
                name="adverse_event_affected_within_evaluable",
                violation_error_message="Affected patients cannot exceed the evaluable patients.",
            ),
            models.CheckConstraint(
                condition=Q(arm__isnull=True) | Q(n_affected__isnull=False),
                name="adverse_event_arm_row_has_count",
                violation_error_message="An arm-level adverse event needs the number affected.",
            ),
            models.CheckConstraint(
                condition=Q(patient__isnull=True)
                | Q(n_affected__isnull=True, n_evaluable__isnull=True),
                name="adverse_event_patient_row_has_no_count",
                violation_error_message="A patient's adverse event has no patient counts.",
            ),
            models.CheckConstraint(
                condition=Q(onset_day__isnull=True) | Q(onset_day__gte=0),
                name="adverse_event_onset_not_negative",
                violation_error_message="Onset is counted in days after infusion (≥ 0).",
            ),
        ]

    def __str__(self) -> str:
        grade = f" grade {self.grade}" if self.grade is not None else ""
        return f"{self.get_event_type_display()}{grade} in {self.patient or self.arm}"

    def clean(self):
        errors = _subject_errors(self)
        if self.grade is not None:
            if not self.grading_system:
                errors["grading_system"] = "A grade needs its grading system (ASTCT or CTCAE)."
            else:
                message = grade_error(self.grading_system, self.grade)
                if message:
                    errors["grade"] = message
        if _has_arm(self) and self.n_affected is None:
            errors["n_affected"] = "Give how many patients of the arm had this event."
        if _has_arm(self) and self.n_evaluable is None:
            errors["n_evaluable"] = "Give the number of evaluable patients (the denominator)."
        if errors:
            raise ValidationError(errors)
