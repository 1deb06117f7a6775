from django.db import models

from ..fields import CodeListField


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


class StudyFacets(models.Model):
    """One row per study: the values the catalogue's facets count, kept by
    studies.facet_values so that counting them under filters reads this narrow table
    alone (the study table carries titles and search documents, ~1 kB a study).

    ``tags`` holds each value once as "facet:value" ("phase:1", "disease:sle",
    "construct:12"); the diseases include the broader diseases of the study's arm
    diseases (SLE for lupus nephritis). One list with one GIN index serves every
    filter, and counting unnests one array per study instead of one per facet."""

    study = models.OneToOneField(
        "studies.Study", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    tags = CodeListField()

    class Meta:
        verbose_name_plural = "study facets"

    def __str__(self) -> str:
        return f"Facets of study {self.study_id}"


class FilteredCounts(models.Model):
    """Facet counts of the catalogue under the filters ``key`` names (as
    "disease=ssc&phase=1"), stored by studies.catalogue_counts as the unfiltered counts
    are: current while ``version`` equals CatalogueCounts.version."""

    key = models.CharField(max_length=200, primary_key=True)
    version = models.BigIntegerField()
    counts = models.JSONField(default=dict)

    class Meta:
        verbose_name_plural = "filtered counts"

    def __str__(self) -> str:
        return f"Counts under {self.key}"


class FacetPairCounts(models.Model):
    """How many studies carry both ``tag`` and ``other`` (two StudyFacets tags of
    different facets, or "" for any study): the catalogue's counts under one filter
    value ("disease:ssc" -> every other facet's values) and over every study ("")
    read from here in one indexed range.

    PostgreSQL only, where statement triggers on studies_studyfacets keep the rows
    exact in the same transaction as each change (migration 0011): no counting after
    an edit, whatever the number of studies. The price: transactions that change
    study facets take their turn on the rows they share (the "" row at least) from
    that change to their commit, which curation's rate of writes never notices.
    Pairs whose studies all went keep a row with 0, read as absent."""

    pk = models.CompositePrimaryKey("tag", "other")
    tag = models.TextField()
    other = models.TextField(blank=True)
    studies = models.IntegerField()

    class Meta:
        verbose_name_plural = "facet pair counts"
        indexes = [
            # The pairs of one tag with one facet's values as one index range: a
            # LIKE 'construct:%' can use a btree only under this operator class (or
            # the C collation), not the primary key's, whatever the database's locale.
            models.Index(
                fields=["tag", "other"],
                name="facet_pair_prefix_idx",
                opclasses=["text_pattern_ops", "text_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tag or 'any'} & {self.other or 'any'}: {self.studies}"
