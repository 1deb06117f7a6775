"""What every parser returns, and the checks all citation formats share.

Parsers are pure: bytes in, ``ParsedRecord`` objects out (or ``ParseFailed`` when the
file as a whole cannot be read). They never touch the database; matching against
what carlit already holds is the service's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from studies.choices import PublicationType
from studies.identifiers import is_valid_doi, normalize_doi, normalize_pmcid

CITATION = "citation"
REGISTRY = "registry"

# Longest values the live tables take (studies.models.Publication and its authors);
# checked here so that a draft started from an import can later be accepted.
MAX_LENGTHS = {"journal": 300, "volume": 20, "issue": 20, "pages": 40, "doi": 200}
MAX_NAME_LENGTH = 100
YEAR_RANGE = (1950, 2100)
# Exporters file preprints as journal articles of these "journals".
PREPRINT_SERVERS = {"medrxiv", "biorxiv", "research square", "ssrn", "arxiv", "preprints.org"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong, and where: a line of a text file or a record of a JSON file."""

    message: str
    line: int | None = None
    record: int | None = None
    field: str = ""

    @property
    def where(self) -> str:
        parts = []
        if self.record is not None:
            parts.append(f"record {self.record}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.field:
            parts.append(f"field {self.field}")
        return ", ".join(parts) or "the file"

    def __str__(self) -> str:
        return f"{self.where[0].upper()}{self.where[1:]}: {self.message}"

    def as_dict(self) -> dict:
        return {
            "line": self.line,
            "record": self.record,
            "field": self.field,
            "message": self.message,
        }


@dataclass
class ParsedRecord:
    """One reference or registry record of the file, mapped to carlit's fields.

    ``record`` counts records from 1 in file order; ``line`` is the line the record
    starts on (None for JSON, where the record number is the address). A record with
    problems is listed as invalid and never written."""

    kind: str
    record: int
    line: int | None
    fields: dict = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"line {self.line}" if self.line is not None else f"record {self.record}"

    def problem(self, message: str, *, field: str = "", line: int | None = None) -> None:
        self.problems.append(Problem(
            message,
            line=line if line is not None else self.line,
            record=self.record,
            field=field,
        ))


class ParseFailed(Exception):
    """The file cannot be read at all (not text, not well-formed, refused XML)."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


def decode(content: bytes) -> str:
    """UTF-8 text (a byte-order mark is dropped), or ParseFailed naming the line."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise ParseFailed([Problem(
            "This is not UTF-8 text. Export the file as UTF-8 and upload it again.",
            line=line,
        )]) from error
    return text.replace("\r\n", "\n").replace("\r", "\n")


_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def parse_year(raw: str | None) -> int | None:
    """The first four-digit year in '2024', '2024/05/12/', '2024 Jan-Feb'."""
    match = _YEAR.search(raw or "")
    return int(match.group(1)) if match else None


def join_pages(first: str, last: str) -> str:
    first, last = first.strip(), last.strip()
    if first and last and last != first:
        return f"{first}-{last}"
    return first or last


def clean_text(value: str | None) -> str:
    """Inner whitespace (line breaks of wrapped values) collapsed to single spaces."""
    return " ".join((value or "").split())


def check_citation(
    record: ParsedRecord,
    values: dict,
    *,
    lines: dict[str, int] | None = None,
    labels: dict[str, str] | None = None,
) -> None:
    """Normalise a citation's values into ``record.fields`` and note what is wrong.

    ``values`` holds raw strings by carlit field name (authors as a list of dicts,
    publication_type already mapped); ``lines`` gives the line each came from and
    ``labels`` the name the format uses for it (RIS 'PY', BibTeX 'year'), so a problem
    names what the curator sees in their file."""
    lines = lines or {}
    labels = labels or {}

    def note(name: str, message: str) -> None:
        record.problem(message, field=labels.get(name, name), line=lines.get(name))

    fields: dict = {}
    doi = normalize_doi(values.get("doi") or None)
    if doi:
        if not is_valid_doi(doi):
            note("doi", f"'{doi}' is not a DOI (expected '10.<registrant>/<suffix>').")
        fields["doi"] = doi
    pmid = (values.get("pmid") or "").strip()
    if pmid:
        if pmid.isascii() and pmid.isdigit() and int(pmid) > 0:
            fields["pmid"] = int(pmid)
        else:
            note("pmid", f"'{pmid}' is not a PMID (a positive whole number).")
    pmcid = normalize_pmcid(values.get("pmcid") or None)
    if pmcid:
        fields["pmcid"] = pmcid
    if not doi and not pmid:
        note("doi", "Neither a DOI nor a PMID: carlit identifies publications by one of them.")

    raw_year = values.get("year")
    year = parse_year(raw_year)
    if year is None:
        note("year", f"'{raw_year}' has no year." if raw_year else "The year is missing.")
    elif not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
        note("year", f"{year} is not a plausible year ({YEAR_RANGE[0]}-{YEAR_RANGE[1]}).")
    else:
        fields["year"] = year

    publication_type = values.get("publication_type")
    journal = clean_text(values.get("journal")).lower()
    if publication_type == PublicationType.ARTICLE and journal in PREPRINT_SERVERS:
        publication_type = PublicationType.PREPRINT
    if publication_type:
        fields["publication_type"] = publication_type

    for name in ("title", "journal", "volume", "issue", "pages", "abstract"):
        value = values.get(name) or ""
        value = value.strip() if name == "abstract" else clean_text(value)
        limit = MAX_LENGTHS.get(name)
        if limit and len(value) > limit:
            note(name, f"Longer than {limit} characters ({len(value)}).")
        if value:
            fields[name] = value

    authors = []
    for author in values.get("authors") or []:
        family = clean_text(author.get("family_name"))
        given = clean_text(author.get("given_names"))
        if not family:
            continue
        if len(family) > MAX_NAME_LENGTH or len(given) > MAX_NAME_LENGTH:
            record.problem(
                f"The author name '{family}, {given}' is longer than {MAX_NAME_LENGTH} "
                "characters.",
                field=labels.get("authors", "authors"),
                line=author.get("line") or lines.get("authors"),
            )
        authors.append({"family_name": family, "given_names": given})
    if authors:
        fields["authors"] = authors
    record.fields = fields


def type_or_problem(
    record: ParsedRecord,
    mapping: dict[str, str],
    raw: str,
    *,
    field: str,
    line: int | None,
    what: str,
) -> str | None:
    """The carlit publication type for a format's type name, or a problem naming it."""
    mapped = mapping.get(raw.strip().lower())
    if mapped is None:
        record.problem(
            f"{what} '{raw.strip()}' is not a kind of publication carlit catalogues "
            f"({', '.join(str(label).lower() for label in PublicationType.labels)}).",
            field=field,
            line=line,
        )
        return None
    return mapped.value
