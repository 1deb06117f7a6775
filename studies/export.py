"""Exports of a catalogue selection: CSV (one row per study), and RIS and BibTeX of
the studies' publications. Pure functions from loaded rows to text; the views add
content types and file names."""

import csv
import io
import re
import unicodedata
from collections.abc import Iterable

from .choices import PublicationType
from .models import Publication
from .selectors import CatalogueRow

CSV_COLUMNS = [
    "study_id",
    "title",
    "short_name",
    "design",
    "phase",
    "status",
    "diseases",
    "targets",
    "constructs",
    "countries",
    "patients",
    "first_publication",
    "first_year",
    "dois",
    "pmids",
    "registry_ids",
    "url",
]

# Spreadsheet programs run a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _joined(items: Iterable) -> str:
    return "; ".join(str(item) for item in items)


def studies_csv(rows: Iterable[CatalogueRow], *, base_url: str = "") -> str:
    """One line per study, publications and lists joined with '; '."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        study = row.study
        first = row.first_publication
        writer.writerow(
            _cell(value)
            for value in [
                study.pk,
                study.title,
                study.short_name,
                study.get_design_display(),
                study.get_phase_display(),
                study.get_status_display(),
                _joined(d.name for d in row.diseases),
                _joined(row.targets),
                _joined(row.constructs),
                _joined(c.code for c in row.countries),
                row.patient_count,
                first.short_citation if first else "",
                row.year,
                _joined(p.doi for p in row.publications if p.doi),
                _joined(p.pmid for p in row.publications if p.pmid),
                _joined(row.registry_ids),
                f"{base_url}/studies/{study.pk}/",
            ]
        )
    return buffer.getvalue()


def publications_of(rows: Iterable[CatalogueRow]) -> list[Publication]:
    """The rows' publications, each once, oldest first."""
    unique = {p.pk: p for row in rows for p in row.publications}
    return sorted(unique.values(), key=lambda p: (p.year, p.short_citation, p.pk))


def _page_range(pages: str) -> tuple[str, str]:
    """'937-946' -> ('937', '946'); a single page -> ('e12', '')."""
    parts = _DASHES.split(pages.strip(), maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


_DASHES = re.compile(r"\s*[-–]+\s*")


# RIS ---------------------------------------------------------------------------------------

RIS_TYPES = {
    PublicationType.CONFERENCE_ABSTRACT: "ABST",
    PublicationType.COMPANY_UPDATE: "PRESS",
    PublicationType.PREPRINT: "UNPB",
}


def publications_ris(publications: Iterable[Publication]) -> str:
    """RIS records (tag, two spaces, hyphen, space, value; CRLF line ends)."""
    lines: list[str] = []
    for publication in publications:
        tags = [("TY", RIS_TYPES.get(publication.publication_type, "JOUR"))]
        tags += [("AU", _ris_author(author)) for author in publication.authors.all()]
        start, end = _page_range(publication.pages) if publication.pages else ("", "")
        tags += [
            ("TI", publication.title),
            ("JO", publication.journal),
            ("PY", str(publication.year)),
            ("VL", publication.volume),
            ("IS", publication.issue),
            ("SP", start),
            ("EP", end),
            ("DO", publication.doi or ""),
            ("AN", f"PMID:{publication.pmid}" if publication.pmid else ""),
            ("UR", publication.doi_url or publication.pubmed_url),
            ("AB", " ".join(publication.abstract.split())),
        ]
        lines += [f"{tag}  - {value}" for tag, value in tags if value]
        lines.append("ER  - ")
        lines.append("")
    return "\r\n".join(lines)


def _ris_author(author) -> str:
    return f"{author.family_name}, {author.given_names}".strip().rstrip(",")


# BibTeX ------------------------------------------------------------------------------------

_BIBTEX_SPECIAL = re.compile(r"([&%$#_{}])")


def _bibtex_escape(text: str) -> str:
    return _BIBTEX_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]", "", folded)


def bibtex_key(publication: Publication, taken: set[str]) -> str:
    """FirstauthorYEAR, with a, b, ... appended when the key is taken."""
    base = (_ascii_word(publication.first_author or publication.journal) or "carlit") + str(
        publication.year
    )
    key, suffix = base, ord("a")
    while key in taken:
        key = base + chr(suffix)
        suffix += 1
    taken.add(key)
    return key


def publications_bibtex(publications: Iterable[Publication]) -> str:
    entries = []
    taken: set[str] = set()
    for publication in publications:
        kind = {
            PublicationType.CONFERENCE_ABSTRACT: "inproceedings",
            PublicationType.COMPANY_UPDATE: "misc",
            PublicationType.PREPRINT: "unpublished",
        }.get(publication.publication_type, "article")
        authors = " and ".join(
            f"{a.family_name}, {a.given_names}".strip().rstrip(",")
            for a in publication.authors.all()
        )
        venue = "booktitle" if kind == "inproceedings" else "journal"
        pages = _DASHES.sub("--", publication.pages.strip())
        fields = [
            ("author", authors),
            ("title", publication.title),
            (venue, publication.journal),
            ("year", str(publication.year)),
            ("volume", publication.volume),
            ("number", publication.issue),
            ("pages", pages),
            ("doi", publication.doi or ""),
            ("pmid", str(publication.pmid) if publication.pmid else ""),
            ("note", publication.get_publication_type_display() if kind != "article" else ""),
        ]
        body = ",\n".join(
            f"  {name} = {{{_bibtex_escape(value)}}}" for name, value in fields if value
        )
        entries.append(f"@{kind}{{{bibtex_key(publication, taken)},\n{body}\n}}\n")
    return "\n".join(entries)
