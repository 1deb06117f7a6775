"""Exports of a catalogue selection: CSV (one row per study), and RIS and BibTeX of
the studies' publications. Functions from rows to text, written as generators of
lines or records so that the views can stream a whole catalogue chunk by chunk; the
views add content types and file names."""

import csv
import io
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from .choices import PublicationType
from .listing import ListRow
from .models import Publication, PublicationAuthor, Study, StudyReport
from .visibility import public

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


def studies_csv(rows: Iterable[ListRow], *, base_url: str = "") -> Iterator[str]:
    """A header line, then one line per study, publications and lists joined with '; '."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for row in rows:
        study = row.study
        first = row.first_publication
        yield line(
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


PUBLICATION_CHUNK = 500


@dataclass(frozen=True)
class Cited:
    """A publication with its authors' (family name, given names), in order: what the
    citation formats write. The names come as plain rows: a model instance per author
    took most of the time of a whole-catalogue RIS or BibTeX export."""

    publication: Publication
    authors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def first_author(self) -> str:
        return self.authors[0][0] if self.authors else ""

    def author_names(self) -> list[str]:
        """'Family, Given' each ('Family' alone without given names)."""
        return [f"{family}, {given}".strip().rstrip(",") for family, given in self.authors]


def publications_of(studies: QuerySet[Study], chunk: int | None = None) -> Iterator[Cited]:
    """The public publications reporting these studies, each once, oldest first (then
    by first author or journal), loaded ``chunk`` at a time with their authors."""
    chunk = chunk or PUBLICATION_CHUNK
    reports = public(StudyReport.objects.filter(study__in=studies.values("pk")))
    first_author = PublicationAuthor.objects.filter(publication=OuterRef("pk")).order_by(
        "position"
    )
    ids = list(
        public(Publication.objects.filter(pk__in=reports.values("publication_id")))
        .annotate(who=Coalesce(Subquery(first_author.values("family_name")[:1]), F("journal")))
        .order_by("year", "who", "pk")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        loaded = Publication.objects.in_bulk(part)
        authors = defaultdict(list)
        names = (
            PublicationAuthor.objects.filter(publication__in=part)
            .order_by("publication_id", "position")
            .values_list("publication_id", "family_name", "given_names")
        )
        for publication_id, family_name, given_names in names:
            authors[publication_id].append((family_name, given_names))
        # One deleted since the ids were read is left out, not an error mid-download.
        yield from (Cited(loaded[pk], authors[pk]) for pk in part if pk in loaded)


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


def publications_ris(publications: Iterable[Cited]) -> str:
    return "".join(ris_records(publications))


def ris_records(publications: Iterable[Cited]) -> Iterator[str]:
    """RIS records (tag, two spaces, hyphen, space, value; CRLF line ends), one each."""
    for cited in publications:
        publication = cited.publication
        tags = [("TY", RIS_TYPES.get(publication.publication_type, "JOUR"))]
        tags += [("AU", name) for name in cited.author_names()]
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
        lines = [f"{tag}  - {value}" for tag, value in tags if value]
        yield "\r\n".join([*lines, "ER  - ", "", ""])


# BibTeX ------------------------------------------------------------------------------------

_BIBTEX_SPECIAL = re.compile(r"([&%$#_{}])")


def _bibtex_escape(text: str) -> str:
    return _BIBTEX_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]", "", folded)


def bibtex_key(cited: Cited, taken: set[str]) -> str:
    """FirstauthorYEAR, with a, b, ... appended when the key is taken."""
    publication = cited.publication
    base = (_ascii_word(cited.first_author or publication.journal) or "carlit") + str(
        publication.year
    )
    key, suffix = base, ord("a")
    while key in taken:
        key = base + chr(suffix)
        suffix += 1
    taken.add(key)
    return key


def publications_bibtex(publications: Iterable[Cited]) -> str:
    return "".join(bibtex_entries(publications))


def bibtex_entries(publications: Iterable[Cited]) -> Iterator[str]:
    """One BibTeX entry each, with a blank line between entries."""
    taken: set[str] = set()
    for index, cited in enumerate(publications):
        publication = cited.publication
        kind = {
            PublicationType.CONFERENCE_ABSTRACT: "inproceedings",
            PublicationType.COMPANY_UPDATE: "misc",
            PublicationType.PREPRINT: "unpublished",
        }.get(publication.publication_type, "article")
        authors = " and ".join(cited.author_names())
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
        separator = "\n" if index else ""
        yield f"{separator}@{kind}{{{bibtex_key(cited, taken)},\n{body}\n}}\n"
