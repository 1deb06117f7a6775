from django.db import models
from simple_history.models import HistoricalRecords

from ..choices import Administration, DoseUnit
from .base import Sourced


class Arm(Sourced):
    """A group of a study's patients treated alike."""

    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="arms")
    label = models.CharField(max_length=200, help_text="As in the paper, e.g. 'SLE cohort'.")
    disease = models.ForeignKey("studies.Disease", on_delete=models.PROTECT, related_name="arms")
    lymphodepletion = models.ForeignKey(
        "studies.LymphodepletionRegimen",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="arms",
    )
    n_patients = models.IntegerField(
        null=True, blank=True, help_text="Patients treated in this arm; empty if not reported."
    )
    constructs = models.ManyToManyField(
        "studies.CarConstruct", through="ArmProduct", related_name="arms"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["study", "label"]
        # Disease filters and facets go from diseases to studies through arms.
        indexes = [models.Index(fields=["disease", "study"], name="arm_disease_study_idx")]
        constraints = [
            *Sourced.Meta.constraints,
            models.UniqueConstraint(
                fields=["study", "label"],
                name="arm_label_unique_in_study",
                violation_error_message="This study already has an arm with this label.",
            ),
            models.CheckConstraint(
                condition=models.Q(n_patients__isnull=True) | models.Q(n_patients__gte=0),
                name="arm_n_patients_not_negative",
                violation_error_message="The number of patients cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.study}: {self.label}"


class ArmProduct(Sourced):
    """One product given in an arm, with its dose and order: a co-infused CD19 and
    BCMA product are two rows with order 1 and 2, administration 'co_infused'."""

    arm = models.ForeignKey(Arm, on_delete=models.CASCADE, related_name="products")
    construct = models.ForeignKey(
        "studies.CarConstruct", on_delete=models.PROTECT, related_name="arm_products"
    )
    order = models.PositiveSmallIntegerField(default=1)
    administration = models.CharField(
        max_length=12, choices=Administration.choices, default=Administration.SINGLE
    )
    dose_value = models.DecimalField(
        max_digits=20, decimal_places=2, null=True, blank=True, help_text="Lowest or only dose."
    )
    dose_value_max = models.DecimalField(
        max_digits=20, decimal_places=2, null=True, blank=True, help_text="Highest dose of a range."
    )
    dose_unit = models.CharField(max_length=14, choices=DoseUnit.choices, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["arm", "order"]
        # Product, target, costimulation and cell source filters go from constructs to arms.
        indexes = [models.Index(fields=["construct", "arm"], name="armproduct_construct_arm_idx")]
        constraints = [
            *Sourced.Meta.constraints,
            models.UniqueConstraint(
                fields=["arm", "order"],
                name="arm_product_order_unique",
                violation_error_message="Two products of an arm cannot share an order.",
            ),
            models.CheckConstraint(
                condition=models.Q(dose_value__isnull=True) | models.Q(dose_value__gt=0),
                name="arm_product_dose_positive",
                violation_error_message="A dose must be positive.",
            ),
            models.CheckConstraint(
                condition=models.Q(dose_value_max__isnull=True)
                | models.Q(dose_value__isnull=False, dose_value_max__gte=models.F("dose_value")),
                name="arm_product_dose_range_ordered",
                violation_error_message="The top of a dose range needs a lower dose below it.",
            ),
            models.CheckConstraint(
                condition=models.Q(dose_value__isnull=True) | ~models.Q(dose_unit=""),
                name="arm_product_dose_has_unit",
                violation_error_message="A dose needs its unit.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.construct} in {self.arm}"
