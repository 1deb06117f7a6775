"""Stored summaries of the pooled numbers, and the bookkeeping that keeps them fresh.

Three layers, all written by :mod:`summaries.services` only:

1. **The pooling snapshot** (``Pooled*``, ``Contribution``, ``ContributionRate``,
   ``LatestValue``): for every public study, what it adds to the pooled numbers under
   the rules of :mod:`studies.summary` (which report counts, which patient rows count,
   each metric's events and evaluable). One study's rows are recomputed together, by
   SQL over the live tables, when that study changes. They also remember what the
   study added *before* a change, so that a refresh knows which summary rows it must
   recompute (the group a study left as well as the one it joined).
2. **The summary tables** (``*Summary``): one row per disease × target set, per
   disease × target × outcome measure, per construct and per publication year, each
   computed by GROUP BY over the snapshot, each with the time it was computed.
3. **Bookkeeping**: ``PendingRefresh`` is the durable list of studies whose snapshot is
   out of date (written in the same transaction as the change, so nothing is lost
   when the broker is down); ``RefreshRun`` logs each refresh; ``RefreshState`` is the
   lock that serialises refreshes.

Snapshot rows hold live ids as plain columns (or foreign keys without database
constraints): a deleted study's rows must outlive it until the refresh that removes
them from the summaries.
"""

from decimal import Decimal

from django.db import models

from studies.summary import CRS_ANY, CRS_GRADE_2, ICANS_ANY, METRICS, Rate, TargetSet

SAFETY_METRICS = (CRS_ANY, CRS_GRADE_2, ICANS_ANY)


def _loose(model: str, **kwargs) -> models.ForeignKey:
    """A join-able reference to a live row that may disappear before the next refresh."""
    return models.ForeignKey(
        model, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", **kwargs
    )


def _within(model: type[models.Model], related_name: str, **kwargs) -> models.ForeignKey:
    """A reference between snapshot rows. No database constraint: a refresh deletes and
    rewrites a study's rows together, and checking tens of thousands of deferred
    constraints at COMMIT would cost a full rebuild seconds. (Indexes, likewise, only
    where a refresh looks rows up.)"""
    return models.ForeignKey(
        model, on_delete=models.DO_NOTHING, db_constraint=False, related_name=related_name,
        **kwargs,
    )


def target_set(key: str, label: str) -> TargetSet:
    """The TargetSet of a stored key and label ('cd19+bcma', 'CD19+BCMA')."""
    if key == "none":
        return TargetSet((), ())
    return TargetSet(tuple(key.split("+")), tuple(label.split("+")))


def rate_or_none(events: int | None, evaluable: int | None) -> Rate | None:
    return Rate(events, evaluable) if evaluable else None


# Bookkeeping -------------------------------------------------------------------------------


class PendingRefresh(models.Model):
    """A change whose summaries are not recomputed yet: the durable queue.

    ``key`` is ``study:<id>`` (that study's data changed) or ``all`` (a full rebuild).
    A change appends a row in its own transaction, so the row exists exactly when the
    change committed, whether or not the broker was reachable. Rows are only ever
    inserted by changes (never updated by them), so concurrent changes never wait for
    each other here. A refresh claims rows with a conditional UPDATE, recomputes, and
    deletes the rows it claimed; rows added meanwhile wait for the next refresh."""

    key = models.CharField(max_length=40, db_index=True)
    requested_at = models.DateTimeField()
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When a refresh task was sent for this row."
    )
    claimed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claim_token = models.UUIDField(null=True, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["requested_at"]
        verbose_name_plural = "pending refreshes"

    def __str__(self) -> str:
        return self.key


class RefreshRun(models.Model):
    """One refresh, as an operations log (and for tests that count refreshes)."""

    class Kind(models.TextChoices):
        INCREMENTAL = "incremental", "Incremental"
        FULL = "full", "Full rebuild"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    keys = models.JSONField(default=list, help_text="Pending keys the run consumed.")
    studies = models.PositiveIntegerField(default=0, help_text="Studies recomputed.")
    summary_rows = models.PositiveIntegerField(default=0, help_text="Summary keys recomputed.")

    class Meta:
        ordering = ["-finished_at"]
        get_latest_by = "finished_at"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.finished_at:%Y-%m-%d %H:%M:%S}"


class RefreshState(models.Model):
    """A single row: locked (SELECT ... FOR UPDATE) by every refresh, so that two
    workers never interleave their writes; it also remembers the measures that make a
    report count for an arm, whose change calls for a full rebuild."""

    relevant_measures = models.JSONField(default=list)
    last_full_rebuild_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "Summary refresh state"


# The pooling snapshot ------------------------------------------------------------------------


class PooledStudy(models.Model):
    """A public study as of its last refresh."""

    study_id = models.BigIntegerField(primary_key=True)
    first_year = models.PositiveSmallIntegerField(
        null=True, help_text="Year of the study's earliest publication."
    )

    def __str__(self) -> str:
        return f"Study {self.study_id}"


class PooledDisease(models.Model):
    """A disease of a public study's arms or patient rows: which diseases the public
    data has decides the measures that make a report count (RefreshState)."""

    study = _within(PooledStudy, "diseases")
    disease = _loose("studies.Disease")

    def __str__(self) -> str:
        return f"Disease {self.disease_id} in study {self.study_id}"


class PooledReport(models.Model):
    """A publication reporting the study (pooled or not: publications counts use all)."""

    study = _within(PooledStudy, "reports")
    publication_id = models.BigIntegerField()
    year = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["study", "publication_id"], name="pooled_report_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"Publication {self.publication_id} of study {self.study_id}"


class PooledSource(models.Model):
    """A report of the study that gives data on the arm (the arm row, a patient row, an
    arm-level result of a pooled measure, or an arm-level CRS/ICANS row): the
    candidates among which the latest non-superseded one is counted."""

    study = _within(PooledStudy, "+", db_index=False)
    arm_id = models.BigIntegerField()
    disease = _loose(
        "studies.Disease", db_index=False, help_text="The arm's disease."
    )
    publication_id = models.BigIntegerField()
    report_rank = models.IntegerField(help_text="Data cut-off (or 1 January) as YYYYMMDD.")
    report_year = models.PositiveSmallIntegerField()
    superseded = models.BooleanField()

    class Meta:
        indexes = [models.Index(fields=["study", "disease"])]

    def __str__(self) -> str:
        return f"Publication {self.publication_id} on arm {self.arm_id}"


class PooledArm(models.Model):
    """An arm with the report its study is counted from for the arm's disease."""

    arm_id = models.BigIntegerField(primary_key=True)
    study = _within(PooledStudy, "arms")
    disease = _loose("studies.Disease", db_index=False)
    target_key = models.CharField(max_length=200)
    target_label = models.CharField(max_length=300)
    source_publication_id = models.BigIntegerField()
    n_patients = models.IntegerField(null=True)
    report_id = models.BigIntegerField(
        null=True, help_text="The latest non-superseded report with data for the "
        "study's arms of this disease (empty: none)."
    )
    report_rank = models.IntegerField(null=True, help_text="Data cut-off as YYYYMMDD.")
    report_year = models.PositiveSmallIntegerField(null=True)
    has_data = models.BooleanField(default=False, help_text="The report gives data on this arm.")
    has_exclusions = models.BooleanField(
        default=False, help_text="Other reports with data exist (earlier or superseded)."
    )

    def __str__(self) -> str:
        return f"Arm {self.arm_id}"


class PooledArmConstruct(models.Model):
    arm = _within(PooledArm, "constructs")
    construct = _loose("studies.CarConstruct")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["arm", "construct"], name="pooled_arm_construct"),
        ]

    def __str__(self) -> str:
        return f"Construct {self.construct_id} in arm {self.arm_id}"


class PooledPatient(models.Model):
    """A patient row cited from its arm's counted report; ``counted`` is false when
    the same person is counted in another row (longer follow-up, or newer report)."""

    patient_id = models.BigIntegerField(primary_key=True)
    arm = _within(PooledArm, "patients")
    study = _within(PooledStudy, "patients")
    disease = _loose(
        "studies.Disease", db_index=False, help_text="The primary disease."
    )
    target_key = models.CharField(max_length=200)
    person_id = models.BigIntegerField(null=True, db_index=True)
    follow_up_days = models.IntegerField(null=True)
    follow_up_rank = models.IntegerField(help_text="Follow-up for ranking; unknown or 0: -1.")
    report_id = models.BigIntegerField()
    report_rank = models.IntegerField()
    report_year = models.PositiveSmallIntegerField()
    counted = models.BooleanField(default=True)
    # Safety per patient: true, false, or unknown (no row, or grade not reported).
    crs_any = models.BooleanField(null=True)
    crs_grade2 = models.BooleanField(null=True)
    icans_any = models.BooleanField(null=True)

    class Meta:
        indexes = [models.Index(fields=["disease", "target_key"])]

    def __str__(self) -> str:
        return f"Patient {self.patient_id}"


class LatestValue(models.Model):
    """A counted patient's value of a measure at their latest time point."""

    patient = _within(PooledPatient, "values", db_index=False)
    study = _within(PooledStudy, "+")
    disease = _loose("studies.Disease", db_index=False)
    target_key = models.CharField(max_length=200)
    measure = _loose("studies.OutcomeMeasure", db_index=False)
    value_bool = models.BooleanField(null=True)
    value = models.DecimalField(max_digits=14, decimal_places=4, null=True)

    class Meta:
        # Covers the measure summaries' medians and ranges (an index-only scan per key).
        indexes = [models.Index(fields=["disease", "target_key", "measure", "value"])]

    def __str__(self) -> str:
        return f"Measure {self.measure_id} of patient {self.patient_id}"


class Contribution(models.Model):
    """What one arm adds to one disease × target group (studies.summary.Contribution).

    ``touch`` rows add nothing but the study's publications: the pooling rules count a
    study's publications in a group it was excluded from (an earlier report, or a
    patient counted elsewhere) when that group has other contributions."""

    class Level(models.TextChoices):
        PATIENT = "patient", "Patient rows"
        ARM = "arm", "Arm aggregates"
        EMPTY = "empty", "Every patient counted elsewhere"
        TOUCH = "touch", "Publications only"

    study = _within(PooledStudy, "contributions")
    arm = _within(PooledArm, "contributions")
    disease = _loose("studies.Disease", db_index=False)
    target_key = models.CharField(max_length=200)
    target_label = models.CharField(max_length=300)
    level = models.CharField(max_length=8, choices=Level.choices)
    report_id = models.BigIntegerField(null=True)
    report_year = models.PositiveSmallIntegerField(null=True)
    patient_count = models.IntegerField(default=0)

    class Meta:
        # With the study: a group's drill-down counts its studies from the index alone.
        indexes = [models.Index(fields=["disease", "target_key", "study"])]

    def __str__(self) -> str:
        return f"Arm {self.arm_id} in {self.disease_id}/{self.target_key}"


class ContributionRate(models.Model):
    """Events over evaluable of one contribution: for a measure, or a safety metric."""

    contribution = _within(Contribution, "rates")
    # The contribution's study and group, copied: the summaries read rates by group.
    study = _within(PooledStudy, "+")
    disease = _loose("studies.Disease", db_index=False)
    target_key = models.CharField(max_length=200)
    measure = _loose("studies.OutcomeMeasure", null=True, db_index=False)
    metric = models.CharField(max_length=12, blank=True, help_text="Safety metric key, or empty.")
    is_response = models.BooleanField(default=False, help_text="The disease's main outcome.")
    is_drug_free = models.BooleanField(default=False)
    level = models.CharField(max_length=8, help_text="patient or arm: the rows it came from.")
    events = models.IntegerField()
    evaluable = models.IntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["disease", "target_key", "measure"]),
            # The dashboard's forest plot: the response rates with the most evaluable.
            models.Index(
                fields=["-evaluable", "id"],
                condition=models.Q(is_response=True),
                name="response_rate_size_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.events}/{self.evaluable}"


# The summary tables --------------------------------------------------------------------------


class Computed(models.Model):
    computed_at = models.DateTimeField()

    class Meta:
        abstract = True


class RatesMixin:
    """rate(metric) from the stored <metric>_events and <metric>_evaluable columns
    (both empty when no contribution reports the metric)."""

    def rate(self, metric: str) -> Rate | None:
        return rate_or_none(getattr(self, f"{metric}_events"), getattr(self, f"{metric}_evaluable"))


class DiseaseTargetSummary(RatesMixin, Computed):
    """Pooled numbers of one disease × target set; reads like studies.summary.PooledSummary
    for the pages (disease, targets, studies, publications, patients, rate(), rates)."""

    disease = models.ForeignKey(
        "studies.Disease", on_delete=models.CASCADE, related_name="stored_summaries"
    )
    target_key = models.CharField(max_length=200)
    target_label = models.CharField(max_length=300)
    studies = models.PositiveIntegerField()
    publications = models.PositiveIntegerField()
    patients = models.PositiveIntegerField(help_text="Each person once, at the latest follow-up.")
    response_events = models.IntegerField(null=True, blank=True)
    response_evaluable = models.IntegerField(null=True, blank=True)
    drug_free_events = models.IntegerField(null=True, blank=True)
    drug_free_evaluable = models.IntegerField(null=True, blank=True)
    crs_any_events = models.IntegerField(null=True, blank=True)
    crs_any_evaluable = models.IntegerField(null=True, blank=True)
    crs_grade2_events = models.IntegerField(null=True, blank=True)
    crs_grade2_evaluable = models.IntegerField(null=True, blank=True)
    icans_any_events = models.IntegerField(null=True, blank=True)
    icans_any_evaluable = models.IntegerField(null=True, blank=True)
    response_measures = models.JSONField(default=list)
    median_follow_up_days = models.DecimalField(
        max_digits=8, decimal_places=1, null=True, blank=True,
        help_text="Over counted patients with a reported follow-up.",
    )

    class Meta:
        verbose_name = "disease × target summary"
        verbose_name_plural = "disease × target summaries"
        constraints = [
            models.UniqueConstraint(
                fields=["disease", "target_key"], name="disease_target_summary_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.disease} × {self.target_label}"

    @property
    def targets(self) -> TargetSet:
        return target_set(self.target_key, self.target_label)

    @property
    def key(self) -> tuple[str, str]:
        return (self.disease.code, self.target_key)

    @property
    def rates(self) -> list[tuple[str, str, Rate | None]]:
        return [(metric, label, self.rate(metric)) for metric, label in METRICS.items()]

    def as_dict(self) -> dict:
        """The same shape as PooledSummary.as_dict(), plus when it was computed."""
        targets = self.targets
        return {
            "disease": self.disease.code,
            "disease_name": self.disease.name,
            "targets": list(targets.codes),
            "target_key": self.target_key,
            "target_label": targets.label,
            "studies": self.studies,
            "publications": self.publications,
            "patients": self.patients,
            "response_measures": list(self.response_measures),
            **{
                metric: (rate.as_dict() if (rate := self.rate(metric)) else None)
                for metric in METRICS
            },
            "median_follow_up_days": _number(self.median_follow_up_days),
            "computed_at": self.computed_at,
        }


class DiseaseTargetMeasureSummary(Computed):
    """One outcome measure in one disease × target set: events over evaluable where it
    is reported yes/no (as the main outcome is pooled), and the median and range of
    counted patients' values at their latest time point where it is a number."""

    disease = models.ForeignKey("studies.Disease", on_delete=models.CASCADE, related_name="+")
    target_key = models.CharField(max_length=200)
    target_label = models.CharField(max_length=300)
    measure = models.ForeignKey(
        "studies.OutcomeMeasure", on_delete=models.CASCADE, related_name="stored_summaries"
    )
    studies = models.PositiveIntegerField()
    events = models.IntegerField(null=True, blank=True)
    evaluable = models.IntegerField(null=True, blank=True)
    value_count = models.PositiveIntegerField(default=0)
    median = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    minimum = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    maximum = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)

    class Meta:
        verbose_name = "disease × target × measure summary"
        verbose_name_plural = "disease × target × measure summaries"
        constraints = [
            models.UniqueConstraint(
                fields=["disease", "target_key", "measure"],
                name="disease_target_measure_summary_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.disease} × {self.target_label}: {self.measure}"

    @property
    def targets(self) -> TargetSet:
        return target_set(self.target_key, self.target_label)

    @property
    def rate(self) -> Rate | None:
        return rate_or_none(self.events, self.evaluable)


class ConstructSummary(RatesMixin, Computed):
    """Pooled numbers of the arms given one construct (alone or with another)."""

    construct = models.OneToOneField(
        "studies.CarConstruct", on_delete=models.CASCADE, related_name="stored_summary"
    )
    studies = models.PositiveIntegerField()
    publications = models.PositiveIntegerField()
    patients = models.PositiveIntegerField()
    diseases = models.PositiveIntegerField()
    crs_any_events = models.IntegerField(null=True, blank=True)
    crs_any_evaluable = models.IntegerField(null=True, blank=True)
    crs_grade2_events = models.IntegerField(null=True, blank=True)
    crs_grade2_evaluable = models.IntegerField(null=True, blank=True)
    icans_any_events = models.IntegerField(null=True, blank=True)
    icans_any_evaluable = models.IntegerField(null=True, blank=True)
    median_follow_up_days = models.DecimalField(
        max_digits=8, decimal_places=1, null=True, blank=True
    )

    class Meta:
        verbose_name = "construct summary"
        verbose_name_plural = "construct summaries"

    def __str__(self) -> str:
        return str(self.construct)


class YearSummary(Computed):
    """The literature by publication year."""

    year = models.PositiveSmallIntegerField(unique=True)
    publications = models.PositiveIntegerField(help_text="Publications reporting a study.")
    studies_first_reported = models.PositiveIntegerField()
    studies_pooled = models.PositiveIntegerField(
        help_text="Studies counted from a report published that year."
    )
    patients = models.PositiveIntegerField(help_text="Patients counted from those reports.")

    class Meta:
        ordering = ["year"]

    def __str__(self) -> str:
        return str(self.year)


def _number(value: Decimal | None):
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)
