"""Controlled vocabularies: small tables with stable codes, seeded by data migrations."""

from decimal import Decimal

from django.db import models

from ..choices import MeasureKind


class Vocabulary(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200, unique=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Disease(Vocabulary):
    abbreviation = models.CharField(max_length=20, blank=True)
    icd10 = models.CharField("ICD-10 code", max_length=10, blank=True)
    mondo = models.CharField("MONDO id", max_length=20, blank=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="Broader disease, e.g. SLE for lupus nephritis.",
    )
    main_outcome = models.ForeignKey(
        "studies.OutcomeMeasure",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The binary outcome pooled summaries report for this disease.",
    )

    class Meta(Vocabulary.Meta):
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(icd10="", mondo=""),
                name="disease_has_code",
                violation_error_message="A disease needs an ICD-10 or a MONDO code.",
            ),
        ]

    def __str__(self) -> str:
        return self.abbreviation or self.name


class Antigen(Vocabulary):
    """A target of a CAR (CD19, BCMA) or, for CAAR-T cells, the autoantibody's antigen."""

    class Meta(Vocabulary.Meta):
        pass

    def __str__(self) -> str:
        return self.code.upper() if self.code.startswith("cd") or self.code == "bcma" else self.name


class CostimulatoryDomain(Vocabulary):
    class Meta(Vocabulary.Meta):
        pass


class Therapy(Vocabulary):
    """A drug or procedure a patient received before CAR-T (prior therapy lines)."""

    class Meta(Vocabulary.Meta):
        verbose_name_plural = "therapies"


class Country(models.Model):
    code = models.CharField("ISO 3166-1 alpha-2", max_length=2, unique=True)
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "countries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(code__regex=r"^[A-Z]{2}$"),
                name="country_code_two_capitals",
                violation_error_message="A country code is two capital letters (ISO 3166-1).",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class LymphodepletionRegimen(Vocabulary):
    description = models.TextField(blank=True)

    class Meta(Vocabulary.Meta):
        pass


class OutcomeMeasure(Vocabulary):
    abbreviation = models.CharField(max_length=30, blank=True)
    kind = models.CharField(max_length=10, choices=MeasureKind.choices)
    units = models.JSONField(
        default=list,
        blank=True,
        help_text="Accepted units, the usual one first; empty for unitless scores.",
    )
    min_value = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    max_value = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    higher_is_better = models.BooleanField(null=True, blank=True)
    diseases = models.ManyToManyField(
        Disease, blank=True, related_name="measures", help_text="Empty: applies to all."
    )
    description = models.TextField(blank=True)

    class Meta(Vocabulary.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_value__isnull=True)
                | models.Q(max_value__isnull=True)
                | models.Q(min_value__lte=models.F("max_value")),
                name="measure_min_not_above_max",
                violation_error_message="A measure's minimum cannot exceed its maximum.",
            ),
        ]

    def __str__(self) -> str:
        return self.abbreviation or self.name

    @property
    def is_binary(self) -> bool:
        return self.kind in (MeasureKind.BINARY, MeasureKind.EVENT)

    @property
    def range_display(self) -> str:
        unit = f" {self.units[0]}" if self.units else ""
        low, high = _plain(self.min_value), _plain(self.max_value)
        if low is not None and high is not None:
            return f"{low}–{high}{unit}"
        if low is not None:
            return f"≥ {low}{unit}"
        if high is not None:
            return f"≤ {high}{unit}"
        return "no fixed range"


def _plain(number) -> str | None:
    """105.0000 -> '105', 9.4000 -> '9.4'."""
    if number is None:
        return None
    return f"{Decimal(str(number)).normalize():f}"
