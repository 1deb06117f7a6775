"""Readers of the files curators get: pure functions from bytes to ParsedRecords.

``parse(format, content)`` picks the reader; ``detect_format`` guesses the format from
the file's first characters, then its extension.
"""

from __future__ import annotations

from pathlib import PurePath

from django.db import models

from . import bibtex, ctgov, pubmed, ris
from .base import CITATION, REGISTRY, ParsedRecord, ParseFailed, Problem

__all__ = [
    "CITATION", "REGISTRY", "ImportFormat", "ParseFailed", "ParsedRecord", "Problem",
    "detect_format", "parse",
]


class ImportFormat(models.TextChoices):
    RIS = "ris", "RIS"
    BIBTEX = "bibtex", "BibTeX"
    PUBMED = "pubmed", "PubMed/MEDLINE XML"
    CTGOV = "ctgov", "ClinicalTrials.gov API v2 JSON"


READERS = {
    ImportFormat.RIS: ris.parse,
    ImportFormat.BIBTEX: bibtex.parse,
    ImportFormat.PUBMED: pubmed.parse,
    ImportFormat.CTGOV: ctgov.parse,
}
EXTENSIONS = {
    ".ris": ImportFormat.RIS,
    ".bib": ImportFormat.BIBTEX,
    ".bibtex": ImportFormat.BIBTEX,
    ".xml": ImportFormat.PUBMED,
    ".json": ImportFormat.CTGOV,
}


def parse(import_format: str, content: bytes) -> list[ParsedRecord]:
    return READERS[ImportFormat(import_format)](content)


def detect_format(filename: str, content: bytes) -> str | None:
    """The format the content looks like, else the one the extension names, else None."""
    start = content[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"TY  -"):
        return ImportFormat.RIS
    if start.startswith(b"<") and b"<PubmedArticle" in content[:65536]:
        return ImportFormat.PUBMED
    if start.startswith((b"{", b"[")):
        return ImportFormat.CTGOV
    if start.startswith(b"@") or (b"@" in start and b"{" in start and b"=" in start):
        return ImportFormat.BIBTEX
    return EXTENSIONS.get(PurePath(filename or "").suffix.lower())
