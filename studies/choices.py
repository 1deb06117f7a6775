"""Closed vocabularies that are part of the domain's grammar rather than curated data.

Vocabularies that curators extend (diseases, antigens, measures, therapies, countries)
are tables instead; see models.py.
"""

from django.db import models


class PublicationType(models.TextChoices):
    ARTICLE = "article", "Article"
    LETTER = "letter", "Letter"
    CONFERENCE_ABSTRACT = "conference_abstract", "Conference abstract"
    CASE_REPORT = "case_report", "Case report"
    REVIEW = "review", "Review"
    PREPRINT = "preprint", "Preprint"
    COMPANY_UPDATE = "company_update", "Company update / press release"


# Only these count as peer-reviewed in pooled numbers; abstracts and company updates
# are kept apart (shared reference notes).
PEER_REVIEWED_TYPES = (
    PublicationType.ARTICLE,
    PublicationType.LETTER,
    PublicationType.CASE_REPORT,
)


class StudyDesign(models.TextChoices):
    TRIAL = "trial", "Clinical trial"
    COHORT = "cohort", "Cohort / case series"
    CASE = "case", "Single case"


class Phase(models.TextChoices):
    EARLY_1 = "early_1", "Early phase 1"
    PHASE_1 = "1", "Phase 1"
    PHASE_1_2 = "1_2", "Phase 1/2"
    PHASE_2 = "2", "Phase 2"
    PHASE_3 = "3", "Phase 3"
    NOT_APPLICABLE = "na", "Not applicable"


class StudyStatus(models.TextChoices):
    NOT_YET_RECRUITING = "not_yet_recruiting", "Not yet recruiting"
    RECRUITING = "recruiting", "Recruiting"
    ENROLLING_BY_INVITATION = "enrolling_by_invitation", "Enrolling by invitation"
    ACTIVE_NOT_RECRUITING = "active_not_recruiting", "Active, not recruiting"
    SUSPENDED = "suspended", "Suspended"
    TERMINATED = "terminated", "Terminated"
    COMPLETED = "completed", "Completed"
    WITHDRAWN = "withdrawn", "Withdrawn"
    UNKNOWN = "unknown", "Unknown"


class Registry(models.TextChoices):
    NCT = "nct", "ClinicalTrials.gov"
    CHICTR = "chictr", "ChiCTR"
    EUDRACT = "eudract", "EudraCT"
    CTIS = "ctis", "EU CTIS"


class BinderType(models.TextChoices):
    SCFV = "scfv", "Single-chain variable fragment (scFv)"
    VHH = "vhh", "Single-domain antibody (VHH)"
    AUTOANTIGEN = "autoantigen", "Autoantigen (CAAR)"
    OTHER = "other", "Other"


class BinderOrigin(models.TextChoices):
    MURINE = "murine", "Murine"
    HUMANISED = "humanised", "Humanised"
    HUMAN = "human", "Fully human"
    CAMELID = "camelid", "Camelid"
    OTHER = "other", "Other"


class Domain(models.TextChoices):
    """Hinge and transmembrane domains."""

    CD8A = "cd8a", "CD8α"
    CD28 = "cd28", "CD28"
    IGG4 = "igg4", "IgG4"
    OTHER = "other", "Other"


class Vector(models.TextChoices):
    LENTIVIRAL = "lentiviral", "Lentiviral"
    GAMMA_RETROVIRAL = "gamma_retroviral", "Gamma-retroviral"
    TRANSPOSON = "transposon", "Transposon"
    MRNA = "mrna", "mRNA (transient)"
    GENE_EDITED = "gene_edited", "Gene-edited knock-in"
    OTHER = "other", "Other"


class CellSource(models.TextChoices):
    AUTOLOGOUS = "autologous", "Autologous"
    ALLOGENEIC = "allogeneic", "Allogeneic"
    IPSC = "ipsc", "iPSC-derived"


class DoseUnit(models.TextChoices):
    CELLS_PER_KG = "cells_per_kg", "CAR+ cells/kg"
    CELLS = "cells", "CAR+ cells (flat dose)"


class Administration(models.TextChoices):
    SINGLE = "single", "Single product"
    CO_INFUSED = "co_infused", "Co-infused with the other product(s)"
    SEQUENTIAL = "sequential", "Given after the previous product"


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"


class MeasureKind(models.TextChoices):
    SCORE = "score", "Score"
    LAB = "lab", "Laboratory value"
    BINARY = "binary", "Yes / no"
    EVENT = "event", "Event"


class TimePoint(models.TextChoices):
    BASELINE = "baseline", "Baseline (before lymphodepletion)"
    DAY = "day", "Days after infusion"
    LAST_FOLLOW_UP = "last_follow_up", "Last follow-up"


class SourceKind(models.TextChoices):
    TABLE = "table", "Table"
    FIGURE = "figure", "Figure"
    TEXT = "text", "Text"
    ABSTRACT = "abstract", "Abstract"
    SUPPLEMENT = "supplement", "Supplement"


class AdverseEventType(models.TextChoices):
    CRS = "crs", "Cytokine release syndrome"
    ICANS = "icans", "ICANS"
    INFECTION = "infection", "Infection"
    CYTOPENIA = "cytopenia", "Cytopenia"
    HYPOGAMMAGLOBULINAEMIA = "hypogammaglobulinaemia", "Hypogammaglobulinaemia"
    OTHER = "other", "Other"


class GradingSystem(models.TextChoices):
    ASTCT = "astct", "ASTCT consensus"
    CTCAE = "ctcae", "CTCAE"


# Valid grades per system; ASTCT grade 0 means "none" and is recorded as such.
GRADE_RANGES = {
    GradingSystem.ASTCT: (0, 4),
    GradingSystem.CTCAE: (1, 5),
}


class IdentityEvidence(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed by the paper"
    PROBABLE = "probable", "Probable"
