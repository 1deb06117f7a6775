"""Normalisation and recognition of bibliographic and registry identifiers.

Pure functions, shared by model fields, forms, serializers and importers so that
"https://doi.org/10.1056/NEJMoa2308917" and "10.1056/nejmoa2308917" are one DOI.
"""

import re

from .choices import Registry

_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
DOI_PATTERN = re.compile(r"^10\.\d{4,9}/\S+$")

REGISTRY_PATTERNS = {
    Registry.NCT: re.compile(r"^NCT\d{8}$"),
    Registry.CHICTR: re.compile(r"^ChiCTR(?:-[A-Z]{2,5}-)?\d{8,10}$"),
    Registry.EUDRACT: re.compile(r"^\d{4}-\d{6}-\d{2}$"),
    Registry.CTIS: re.compile(r"^\d{4}-\d{6}-\d{2}-\d{2}$"),
}


def normalize_doi(raw: str | None) -> str | None:
    """Lower-case DOI without URL or 'doi:' prefix; None for an empty value."""
    if raw is None:
        return None
    doi = _DOI_PREFIX.sub("", raw.strip()).strip().lower()
    return doi or None


def is_valid_doi(doi: str) -> bool:
    return bool(DOI_PATTERN.match(doi))


def normalize_pmcid(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = raw.strip().upper()
    if not value:
        return None
    return value if value.startswith("PMC") else f"PMC{value}"


def normalize_registry_id(raw: str) -> str:
    """Canonical spelling: NCT upper-case, ChiCTR with its mixed case, EU numbers as is."""
    value = raw.strip().replace(" ", "")
    if value.upper().startswith("NCT"):
        return value.upper()
    if value.upper().startswith("CHICTR"):
        return "ChiCTR" + value[6:].upper()
    return value


def detect_registry(identifier: str) -> str | None:
    """The registry whose format the (normalised) identifier has, or None."""
    for registry, pattern in REGISTRY_PATTERNS.items():
        if pattern.match(identifier):
            return registry
    return None
