from django.db import models


class CatalogueCounts(models.Model):
    """A single row: the facet counts of the unfiltered catalogue, stored because
    counting them reads every arm and product (seconds at 100,000 studies).

    Every committed change to catalogue data increments ``version``; the counts are
    current while ``counted_version`` equals it (studies.denormalized)."""

    version = models.BigIntegerField(default=0)
    counted_version = models.BigIntegerField(default=-1)
    counts = models.JSONField(default=dict)

    class Meta:
        verbose_name_plural = "catalogue counts"

    def __str__(self) -> str:
        return "Catalogue counts"
