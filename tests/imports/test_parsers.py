"""The parsers alone: bytes in, records with their line (or record) numbers out."""

import datetime
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imports.parsers import ParseFailed, detect_format, parse
from imports.parsers.bibtex import latex_to_text, split_authors

from .samples import (
    BIBTEX,
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    PUBMED_XML,
    RIS_THREE,
    ctgov_page,
    ctgov_study,
)


def failure(import_format: str, content: bytes):
    with pytest.raises(ParseFailed) as failed:
        parse(import_format, content)
    return failed.value.problems[0]


# RIS ---------------------------------------------------------------------------------------


def test_ris_maps_three_references_with_their_first_lines():
    records = parse("ris", RIS_THREE)
    assert [record.line for record in records] == [1, 18, 30]
    first = records[0].fields
    assert first == {
        "doi": "10.1038/s41591-022-02017-5",
        "pmid": 36109639,
        "year": 2022,
        "publication_type": "article",
        "title": "Anti-CD19 CAR T cell therapy for refractory systemic lupus erythematosus",
        "journal": "Nature Medicine",
        "volume": "28",
        "issue": "10",
        "pages": "2124-2132",
        "abstract": "CD19 CAR T cells were given to five patients with refractory SLE.",
        "authors": [
            {"family_name": "Mackensen", "given_names": "Andreas"},
            {"family_name": "Müller", "given_names": "Fabian"},
            {"family_name": "Schett", "given_names": "Georg"},
        ],
    }
    # A DOI given as a URL is normalised; "SP  - 687-700" is kept as the range.
    assert records[1].fields["doi"] == "10.1056/nejmoa2308917"
    assert records[1].fields["pages"] == "687-700"
    # A wrapped title continues on the next line.
    assert records[2].fields["title"].endswith("CAR-T cells after failure of several B-cell "
                                               "depleting antibodies")
    assert not any(record.problems for record in records)


def test_ris_line_without_a_tag_is_named():
    broken = RIS_THREE.replace(b"VL  - 390\n", b"VL  - 390\nthis is not RIS\n")
    problem = failure("ris", broken)
    assert problem.line == 25
    assert "Not a RIS line" in problem.message


def test_ris_missing_end_names_the_reference():
    broken = RIS_THREE.replace(b"ER  - \n\nTY  - JOUR\nTI  - CD19", b"\nTY  - JOUR\nTI  - CD19")
    problem = failure("ris", broken)
    assert problem.line == 17
    assert "the one on line 1 ended" in problem.message


def test_ris_invalid_values_name_line_and_tag():
    content = b"TY  - BOOK\nTI  - A book\nPY  - sometime\nDO  - not-a-doi\nER  - \n"
    (record,) = parse("ris", content)
    where = {(problem.line, problem.field) for problem in record.problems}
    assert where == {(1, "TY"), (3, "PY"), (4, "DO")}


def test_ris_needs_a_doi_or_pmid():
    (record,) = parse("ris", b"TY  - JOUR\nTI  - Untraceable\nPY  - 2024\nER  - \n")
    assert [problem.message for problem in record.problems] == [
        "Neither a DOI nor a PMID: carlit identifies publications by one of them."
    ]


def test_text_that_is_not_utf8_names_its_line():
    problem = failure("ris", b"TY  - JOUR\nTI  - M\xfcller\nER  - \n")
    assert problem.line == 2
    assert "UTF-8" in problem.message


# BibTeX ------------------------------------------------------------------------------------


def test_bibtex_maps_entries_expanding_abbreviations_and_accents():
    article, abstract = parse("bibtex", BIBTEX)
    assert article.line == 5
    assert article.fields == {
        "doi": "10.1038/s41591-022-02017-5",
        "pmid": 36109639,
        "year": 2022,
        "publication_type": "article",
        "title": "Anti-CD19 CAR T cell therapy for refractory systemic lupus erythematosus",
        "journal": "Nature Medicine",
        "volume": "28",
        "issue": "10",
        "pages": "2124-2132",
        "authors": [
            {"family_name": "Mackensen", "given_names": "Andreas"},
            {"family_name": "Müller", "given_names": "Fabian"},
            {"family_name": "Schett", "given_names": "Georg"},
        ],
    }
    assert abstract.line == 17
    assert abstract.fields["publication_type"] == "conference_abstract"
    assert abstract.fields["authors"][0] == {"family_name": "van der Berg",
                                             "given_names": "Ludwig"}


def test_bibtex_names_the_line_of_a_missing_comma():
    broken = BIBTEX.replace(b"  volume  = {28},", b"  volume  = {28}")
    problem = failure("bibtex", broken)
    assert problem.line == 11
    assert "after the field 'volume'" in problem.message


def test_bibtex_names_the_line_of_an_unclosed_brace():
    broken = BIBTEX.replace(b"  number  = {10},", b"  number  = {10,")
    problem = failure("bibtex", broken)
    assert problem.line == 11
    assert "runs into the next field" in problem.message


def test_bibtex_unknown_entry_type_and_abbreviation_are_record_problems():
    (record,) = parse("bibtex", b"@book{b,\n  title = {A book},\n  journal = nowhere,\n"
                                b"  year = 2020, doi = {10.5555/x}}\n")
    assert {(problem.line, problem.field) for problem in record.problems} == {
        (1, "entry type"), (3, "journal"),
    }


def test_latex_and_names():
    assert latex_to_text(r"Sj{\"o}gren's \& {\'E}mile \textit{in vivo}") == (
        "Sjögren's & Émile in vivo"
    )
    assert split_authors(r"{EULAR Study Group} and Schett, Georg and others") == [
        {"family_name": "EULAR Study Group", "given_names": ""},
        {"family_name": "Schett", "given_names": "Georg"},
    ]


# PubMed XML --------------------------------------------------------------------------------


def test_pubmed_maps_articles_with_their_lines():
    muller, taubmann = parse("pubmed", PUBMED_XML)
    assert muller.line == 4 and muller.record == 1
    assert muller.fields["pmid"] == 38381673
    assert muller.fields["doi"] == "10.1056/nejmoa2308917"
    assert muller.fields["year"] == 2024
    assert muller.fields["publication_type"] == "case_report"
    assert muller.fields["journal"] == "The New England journal of medicine"
    assert (muller.fields["volume"], muller.fields["issue"], muller.fields["pages"]) == (
        "390", "8", "687-700"
    )
    assert muller.fields["abstract"].startswith(
        "Background: CD19 CAR T cells were given to patients with refractory autoimmune"
    )
    assert muller.fields["authors"][0] == {"family_name": "Müller", "given_names": "Fabian"}
    assert muller.fields["authors"][2] == {"family_name": "EULAR CAR-T Study Group",
                                           "given_names": ""}
    assert taubmann.fields["year"] == 2023
    assert taubmann.fields["pages"] == "e12-e14"
    assert taubmann.fields["publication_type"] == "letter"
    assert taubmann.fields["doi"] == "10.1093/rheumatology/kead330"


def test_malformed_xml_names_the_line():
    broken = PUBMED_XML.replace(b"</ArticleTitle>", b"</Title>", 1)
    problem = failure("pubmed", broken)
    assert problem.line == 16
    assert "Not well-formed XML" in problem.message


@pytest.mark.parametrize("attack", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_entity_attacks_are_refused_without_expansion(attack):
    problem = failure("pubmed", attack)
    assert problem.message.startswith("Refused: the file declares the XML entity")
    assert "lollol" not in problem.message and "root:" not in problem.message


def test_external_entity_refusal_names_where_it_points():
    problem = failure("pubmed", EXTERNAL_ENTITY)
    assert "file:///etc/passwd" in problem.message


def test_other_xml_is_not_pubmed():
    problem = failure("pubmed", b"<?xml version='1.0'?>\n<records><record/></records>")
    assert problem.message.startswith("Not PubMed XML: the root element is <records>")


# ClinicalTrials.gov JSON ------------------------------------------------------------------


def test_ctgov_maps_every_field_of_a_single_study():
    (record,) = parse("ctgov", json.dumps(ctgov_study()).encode())
    assert record.record == 1 and record.line is None
    assert not record.problems
    fields = dict(record.fields)
    assert fields.pop("raw")["protocolSection"]["identificationModule"]["nctId"] == "NCT09000001"
    assert fields == {
        "registry": "nct",
        "identifier": "NCT09000001",
        "title": "A Phase 1/2 Study of Autologous CD19 CAR T Cells in Refractory Systemic "
        "Lupus Erythematosus",
        "acronym": "CASTLE-X",
        "phase": "1_2",
        "status": "recruiting",
        # "2023-03": the registry gives only the month, the first is taken.
        "start_date": datetime.date(2023, 3, 1),
        "completion_date": datetime.date(2026, 12, 31),
        "sponsor": "Example University Hospital",
        "country_names": [
            {"name": "Germany",
             "field": "protocolSection.contactsLocationsModule.locations[0].country"},
            {"name": "China",
             "field": "protocolSection.contactsLocationsModule.locations[2].country"},
        ],
        "conditions": ["Lupus Erythematosus, Systemic", "Lupus Nephritis",
                       "Refractory Autoimmune Disease"],
    }


@pytest.mark.parametrize(("phases", "expected"), [
    (["EARLY_PHASE1"], "early_1"), (["PHASE1"], "1"), (["PHASE2", "PHASE1"], "1_2"),
    (["PHASE2"], "2"), (["PHASE3"], "3"), (["NA"], "na"), ([], ""),
])
def test_ctgov_phases(phases, expected):
    (record,) = parse("ctgov", json.dumps(ctgov_study(phases=phases)).encode())
    assert record.fields["phase"] == expected


def test_ctgov_page_problems_name_record_and_field():
    page = ctgov_page(
        ctgov_study(),
        ctgov_study("NCT123", phases=["PHASE4"], status="AVAILABLE", start="2023-13"),
    )
    good, bad = parse("ctgov", page)
    assert not good.problems
    assert bad.record == 2
    assert {(problem.record, problem.field) for problem in bad.problems} == {
        (2, "protocolSection.identificationModule.nctId"),
        (2, "protocolSection.designModule.phases"),
        (2, "protocolSection.statusModule.overallStatus"),
        (2, "protocolSection.statusModule.startDateStruct.date"),
    }


def test_malformed_json_names_the_line():
    content = ctgov_page(ctgov_study()).replace(b'"acronym"', b'acronym', 1)
    problem = failure("ctgov", content)
    assert problem.line == 12
    assert problem.message.startswith("Not valid JSON")


@pytest.mark.parametrize("content", [b"[" * 100_000 + b"]" * 100_000,
                                     b'{"studies": [' + b"9" * 5000 + b"]}"])
def test_json_too_deep_or_too_long_is_refused_not_a_crash(content):
    assert failure("ctgov", content).message.startswith("Not JSON carlit can read")


def test_json_that_is_not_a_study():
    problem = failure("ctgov", b'{"results": []}')
    assert "Not ClinicalTrials.gov API v2 JSON" in problem.message


# Format detection -------------------------------------------------------------------------


@pytest.mark.parametrize(("filename", "content", "expected"), [
    ("refs.txt", RIS_THREE, "ris"),
    ("refs.txt", BIBTEX, "bibtex"),
    ("pubmed.txt", PUBMED_XML, "pubmed"),
    ("study", b'{"protocolSection": {}}', "ctgov"),
    ("export.ris", b"", "ris"),
    ("notes.docx", b"PK\x03\x04", None),
])
def test_format_is_detected_from_content_then_extension(filename, content, expected):
    assert detect_format(filename, content) == expected


# Robustness ---------------------------------------------------------------------------------

SAMPLES = {
    "ris": RIS_THREE,
    "bibtex": BIBTEX,
    "pubmed": PUBMED_XML,
    "ctgov": ctgov_page(ctgov_study(), ctgov_study("NCT09000002")),
}


def parses_or_fails_cleanly(import_format: str, content: bytes) -> None:
    try:
        records = parse(import_format, content)
    except ParseFailed as failed:
        assert failed.problems and all(problem.message for problem in failed.problems)
    else:
        assert records and all(record.record >= 1 for record in records)


@pytest.mark.parametrize("import_format", sorted(SAMPLES))
def test_every_truncation_of_a_file_parses_or_fails_cleanly(import_format):
    """A file cut anywhere (an interrupted download) never crashes a parser."""
    content = SAMPLES[import_format]
    for end in range(0, len(content), 7):
        parses_or_fails_cleanly(import_format, content[:end])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(import_format=st.sampled_from(sorted(SAMPLES)), junk=st.binary(max_size=200),
       at=st.integers(min_value=0, max_value=4000))
def test_junk_spliced_into_a_file_parses_or_fails_cleanly(import_format, junk, at):
    content = SAMPLES[import_format]
    at = at % (len(content) + 1)
    parses_or_fails_cleanly(import_format, content[:at] + junk + content[at:])
