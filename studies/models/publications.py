from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower, Upper
from simple_history.models import HistoricalRecords

from ..choices import (
    Phase,
    PublicationType,
    Registry,
    StudyDesign,
    StudyStatus,
)
from ..fields import DoiField, PmcidField, RegistryIdentifierField
from ..identifiers import REGISTRY_PATTERNS, normalize_registry_id
from .base import Curated


def short_citation(first_author: str, journal: str, year) -> str:
    """'Müller et al. 2024', or the journal when no author is known."""
    who = first_author or journal or "Unknown"
    suffix = " et al." if first_author else ""
    return f"{who}{suffix} {year}"


class Publication(Curated):
    title = models.TextField(blank=True, help_text="Leave empty if the source does not give it.")
    journal = models.CharField(max_length=300, blank=True)
    year = models.PositiveSmallIntegerField(db_index=True)
    volume = models.CharField(max_length=20, blank=True)
    issue = models.CharField(max_length=20, blank=True)
    pages = models.CharField(max_length=40, blank=True)
    doi = DoiField("DOI", unique=True)
    pmid = models.PositiveIntegerField("PMID", null=True, blank=True, unique=True)
    pmcid = PmcidField("PMCID", unique=True)
    abstract = models.TextField(blank=True)
    publication_type = models.CharField(max_length=24, choices=PublicationType.choices)
    superseded_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supersedes",
        help_text="The fuller report (e.g. the paper that replaced this abstract).",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-year", "title"]
        indexes = [models.Index(fields=["publication_type"], name="publication_type_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(year__gte=1950, year__lte=2100),
                name="publication_year_plausible",
                violation_error_message="The year must be between 1950 and 2100.",
            ),
            models.CheckConstraint(
                condition=models.Q(doi__isnull=True) | models.Q(doi=Lower("doi")),
                name="publication_doi_lower_case",
                violation_error_message="DOIs are stored in lower case.",
            ),
            models.CheckConstraint(
                condition=models.Q(pmid__isnull=True) | models.Q(pmid__gt=0),
                name="publication_pmid_positive",
                violation_error_message="A PMID is a positive number.",
            ),
            models.CheckConstraint(
                condition=~models.Q(superseded_by=models.F("pk")),
                name="publication_not_superseded_by_itself",
                violation_error_message="A publication cannot supersede itself.",
            ),
        ]

    def __str__(self) -> str:
        return self.short_citation

    @property
    def first_author(self) -> str:
        # Uses the prefetched list when the caller prefetched authors (no extra query).
        authors = list(self.authors.all())
        return authors[0].family_name if authors else ""

    @property
    def short_citation(self) -> str:
        return short_citation(self.first_author, self.journal, self.year)

    @property
    def doi_url(self) -> str:
        return f"https://doi.org/{self.doi}" if self.doi else ""

    @property
    def pubmed_url(self) -> str:
        return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/" if self.pmid else ""

    def clean(self):
        if self.superseded_by_id and self.superseded_by_id == self.pk:
            raise ValidationError({"superseded_by": "A publication cannot supersede itself."})
        # A chain that loops back would make "the newest report" undefined.
        seen = {self.pk}
        newer = self.superseded_by
        while newer is not None:
            if newer.pk in seen:
                raise ValidationError({"superseded_by": "This would make a cycle of supersession."})
            seen.add(newer.pk)
            newer = newer.superseded_by


class PublicationAuthor(models.Model):
    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="authors")
    position = models.PositiveSmallIntegerField(help_text="1 for the first author.")
    family_name = models.CharField(max_length=100)
    given_names = models.CharField(max_length=100, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["publication", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "position"],
                name="author_position_unique",
                violation_error_message="Two authors cannot share a position.",
            ),
            models.CheckConstraint(
                condition=models.Q(position__gte=1),
                name="author_position_from_one",
                violation_error_message="Author positions start at 1.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.family_name} {self.given_names}".strip()


class Study(Curated):
    title = models.CharField(max_length=500)
    short_name = models.CharField(max_length=100, blank=True)
    design = models.CharField(max_length=10, choices=StudyDesign.choices)
    phase = models.CharField(max_length=10, choices=Phase.choices, blank=True, db_index=True)
    status = models.CharField(
        max_length=30, choices=StudyStatus.choices, blank=True, db_index=True
    )
    sponsor = models.CharField(max_length=300, blank=True)
    countries = models.ManyToManyField("studies.Country", blank=True, related_name="studies")
    start_date = models.DateField(null=True, blank=True)
    completion_date = models.DateField(null=True, blank=True)
    publications = models.ManyToManyField(
        Publication, through="StudyReport", related_name="studies", blank=True
    )
    # Derived from the study's reports and arms and kept by studies.denormalized, so
    # that the catalogue's newest-first order is an index scan, not a subquery per study.
    first_year = models.PositiveSmallIntegerField(
        null=True, editable=False, help_text="Year of the study's earliest publication."
    )
    patient_count = models.IntegerField(
        null=True, editable=False, help_text="Patients treated, summed over the arms."
    )
    # The study's text for free-text search, kept by studies.search_documents
    # (PostgreSQL only; empty elsewhere).
    search_vector = SearchVectorField(null=True, editable=False)
    search_codes = models.TextField(
        default="",
        editable=False,
        help_text="Product names, aliases and registry ids, upper-cased.",
    )

    history = HistoricalRecords(
        m2m_fields=["countries"],
        excluded_fields=["first_year", "patient_count", "search_vector", "search_codes"],
    )

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "studies"
        # The API lists studies by title then id, and its cursor continues from one.
        # The catalogue lists newest first (first_year descending, then title).
        indexes = [
            models.Index(fields=["title", "id"], name="study_title_id_idx"),
            models.Index(fields=["-first_year", "title"], name="study_first_year_title_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_date__isnull=True)
                | models.Q(completion_date__isnull=True)
                | models.Q(start_date__lte=models.F("completion_date")),
                name="study_dates_in_order",
                violation_error_message="The start date must not be after the completion date.",
            ),
        ]

    def __str__(self) -> str:
        return self.short_name or self.title


class StudyReport(Curated):
    """A publication reporting (part of) a study, as of a data cut-off."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="reports")
    publication = models.ForeignKey(Publication, on_delete=models.PROTECT, related_name="reports")
    data_cutoff = models.DateField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["study", "data_cutoff"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "publication"],
                name="report_study_publication_unique",
                violation_error_message="This publication is already linked to this study.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.publication} reports {self.study}"


class RegistryId(Curated):
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="registry_ids")
    registry = models.CharField(max_length=10, choices=Registry.choices)
    identifier = RegistryIdentifierField(max_length=40, unique=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["registry", "identifier"]
        verbose_name = "registry identifier"
        # Look-ups by identifier ignore case (registry_id filters use iexact).
        indexes = [models.Index(Upper("identifier"), name="registry_identifier_upper_idx")]

    def __str__(self) -> str:
        return self.identifier

    def clean(self):
        self.identifier = normalize_registry_id(self.identifier or "")
        pattern = REGISTRY_PATTERNS.get(self.registry)
        if pattern and not pattern.match(self.identifier):
            registry = self.get_registry_display()
            raise ValidationError(
                {"identifier": f"'{self.identifier}' is not a valid {registry} id."}
            )

    @property
    def url(self) -> str:
        if self.registry == Registry.NCT:
            return f"https://clinicaltrials.gov/study/{self.identifier}"
        if self.registry == Registry.CHICTR:
            return f"https://www.chictr.org.cn/searchprojEN.html?regno={self.identifier}"
        return ""
