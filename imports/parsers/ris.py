"""RIS (reference managers' export format): ``TY  - JOUR`` ... ``ER  - ``.

Each line is a two-character tag, two spaces, a hyphen and a space, then the value.
A reference runs from its TY line to its ER line. Long text values (abstract, title,
notes) are sometimes wrapped by exporters: a line without a tag inside such a value
continues it; anywhere else it is an error naming the line.
"""

from __future__ import annotations

import re

from studies.choices import PublicationType

from .base import (
    CITATION,
    ParsedRecord,
    ParseFailed,
    Problem,
    check_citation,
    decode,
    join_pages,
    type_or_problem,
)

_TAG_LINE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
_PMID = re.compile(r"^\s*PMID:?\s*(\d+)\s*$", re.IGNORECASE)
_DOI_URL = re.compile(r"https?://(?:dx\.)?doi\.org/(\S+)", re.IGNORECASE)
_WRAPPABLE = {"AB", "N2", "N1", "TI", "T1", "T2", "JO", "JF"}

TYPES = {
    "jour": PublicationType.ARTICLE,
    "jfull": PublicationType.ARTICLE,
    "ejour": PublicationType.ARTICLE,
    "mgzn": PublicationType.ARTICLE,
    "abst": PublicationType.CONFERENCE_ABSTRACT,
    "conf": PublicationType.CONFERENCE_ABSTRACT,
    "cpaper": PublicationType.CONFERENCE_ABSTRACT,
    "unpb": PublicationType.PREPRINT,
    "pbrief": PublicationType.COMPANY_UPDATE,
    "press": PublicationType.COMPANY_UPDATE,
    "news": PublicationType.COMPANY_UPDATE,
}


def parse(content: bytes) -> list[ParsedRecord]:
    text = decode(content)
    references: list[list[tuple[int, str, str]]] = []
    current: list[tuple[int, str, str]] | None = None
    started_on = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        match = _TAG_LINE.match(line.rstrip())
        if match is None:
            if current and current[-1][1] in _WRAPPABLE:
                last_line, tag, value = current[-1]
                current[-1] = (last_line, tag, f"{value} {line.strip()}")
                continue
            raise ParseFailed([Problem(
                f"Not a RIS line: expected a tag such as 'TI  - ' (two letters, two spaces, "
                f"a hyphen), found '{_shorten(line)}'.",
                line=number,
            )])
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag == "TY":
            if current is not None:
                raise ParseFailed([Problem(
                    f"A new reference starts before the one on line {started_on} ended "
                    "(its 'ER  - ' line is missing).",
                    line=number,
                )])
            current, started_on = [], number
        elif current is None:
            raise ParseFailed([Problem(
                f"'{tag}' outside a reference: every reference starts with 'TY  - '.",
                line=number,
            )])
        if tag == "ER":
            references.append(current)
            current = None
            continue
        current.append((number, tag, value))
    if current is not None:
        raise ParseFailed([Problem(
            f"The reference starting on line {started_on} has no 'ER  - ' end line.",
            line=started_on,
        )])
    if not references:
        raise ParseFailed([Problem("No references: a RIS file has 'TY  - ' ... 'ER  - ' "
                                   "blocks.")])
    return [_reference(number, tags) for number, tags in enumerate(references, start=1)]


def _shorten(line: str) -> str:
    line = line.strip()
    return line if len(line) <= 40 else line[:37] + "..."


def _reference(number: int, tags: list[tuple[int, str, str]]) -> ParsedRecord:
    first_line, _, type_name = tags[0]
    record = ParsedRecord(kind=CITATION, record=number, line=first_line)
    values: dict = {}
    lines: dict[str, int] = {}
    labels: dict[str, str] = {}

    def take(name: str, tag: str, line: int, value: str) -> None:
        if value and name not in values:
            values[name], lines[name], labels[name] = value, line, tag

    authors = []
    start_page = end_page = ""
    database = " ".join(value for _, tag, value in tags if tag in ("DB", "DP")).lower()
    for line, tag, value in tags:
        if tag in ("TI", "T1"):
            take("title", tag, line, value)
        elif tag in ("JO", "JF", "T2", "JA", "J2", "J1"):
            take("journal", tag, line, value)
        elif tag in ("AU", "A1"):
            family, _, given = value.partition(",")
            authors.append({"family_name": family, "given_names": given, "line": line})
            lines.setdefault("authors", line)
            labels["authors"] = tag
        elif tag in ("PY", "Y1", "DA"):
            take("year", tag, line, value)
        elif tag == "VL":
            take("volume", tag, line, value)
        elif tag in ("IS", "CP"):
            take("issue", tag, line, value)
        elif tag == "SP":
            start_page = value
            lines.setdefault("pages", line)
            labels["pages"] = tag
        elif tag == "EP":
            end_page = value
        elif tag == "DO":
            take("doi", tag, line, value)
        elif tag == "UR" and _DOI_URL.search(value):
            take("doi", tag, line, _DOI_URL.search(value).group(1))
        elif tag in ("AB", "N2"):
            take("abstract", tag, line, value)
        elif tag == "AN" and value.isdigit() and ("pubmed" in database or "medline" in database):
            take("pmid", tag, line, value)
        elif _PMID.match(value):
            take("pmid", tag, line, _PMID.match(value).group(1))
    # "SP  - 937-946" is common too; an EP line completes a start page.
    values["pages"] = join_pages(start_page, end_page) if "-" not in start_page else start_page
    values["authors"] = authors
    values["publication_type"] = type_or_problem(
        record, TYPES, type_name, field="TY", line=first_line, what="Reference type"
    )
    check_citation(record, values, lines=lines, labels=labels)
    return record
