from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from ..choices import BinderOrigin, BinderType, CellSource, Domain, Vector
from .base import Curated


class CarConstruct(Curated):
    """A CAR (or CAAR) T-cell product design; one product can serve many studies."""

    name = models.CharField(max_length=200, unique=True)
    targets = models.ManyToManyField("studies.Antigen", related_name="constructs")
    binder_type = models.CharField(max_length=12, choices=BinderType.choices, blank=True)
    binder_origin = models.CharField(max_length=12, choices=BinderOrigin.choices, blank=True)
    binder_name = models.CharField(max_length=100, blank=True, help_text="e.g. FMC63")
    hinge = models.CharField(max_length=10, choices=Domain.choices, blank=True)
    transmembrane = models.CharField(max_length=10, choices=Domain.choices, blank=True)
    costimulatory_domains = models.ManyToManyField(
        "studies.CostimulatoryDomain", blank=True, related_name="constructs"
    )
    vector = models.CharField(max_length=20, choices=Vector.choices, blank=True)
    cell_source = models.CharField(
        max_length=12, choices=CellSource.choices, blank=True, db_index=True
    )
    developer = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)

    history = HistoricalRecords(m2m_fields=["targets", "costimulatory_domains"])

    class Meta:
        ordering = ["name"]
        verbose_name = "CAR construct"

    def __str__(self) -> str:
        return self.name


class ConstructAlias(models.Model):
    """Other names and product codes of a construct (e.g. CABA-201 for rese-cel)."""

    construct = models.ForeignKey(CarConstruct, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=200, unique=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["alias"]
        verbose_name_plural = "construct aliases"

    def __str__(self) -> str:
        return self.alias

    def clean(self):
        if CarConstruct.objects.filter(name__iexact=self.alias).exclude(
            pk=self.construct_id
        ).exists():
            raise ValidationError({"alias": f"'{self.alias}' is the name of another construct."})
