"""Preview and confirm against the real database: what is new, what matches, what is
written, and that nothing is written when anything is wrong."""

import datetime
import json

import pytest

from curation.models import Extraction, ExtractionStatus
from curation.services import extraction_create
from imports.models import RegistryRecord
from imports.services import (
    ImportForbidden,
    ImportRefused,
    ImportTooLarge,
    file_size,
    import_confirm,
    import_preview,
)
from studies.models import Publication
from tests.factories import CountryFactory, PublicationFactory, RegistryIdFactory

from .samples import (
    BIBTEX,
    MULLER_DOI,
    PUBMED_XML,
    RIS_THREE,
    ctgov_page,
    ctgov_study,
)


def drafts_of(user) -> list[str]:
    return sorted(
        extraction.citation_fields.get("doi") or str(extraction.citation_fields.get("pmid"))
        for extraction in Extraction.objects.filter(curator=user)
    )


def test_preview_counts_new_and_writes_nothing(curator):
    preview = import_preview(user=curator, content=RIS_THREE, filename="refs.ris")
    assert preview.import_format == "ris"
    assert preview.counts() == {"new": 3, "matches": 0, "invalid": 0}
    assert Extraction.objects.count() == 0


def test_confirm_creates_one_draft_per_new_citation(curator):
    PublicationFactory(doi=MULLER_DOI.lower(), pmid=None)
    result = import_confirm(user=curator, content=RIS_THREE, filename="refs.ris")
    assert result.preview.counts() == {"new": 2, "matches": 1, "invalid": 0}
    assert drafts_of(curator) == ["10.1038/s41591-022-02017-5", "10.1093/rheumatology/kead330"]
    extraction = Extraction.objects.get(payload__publication__pmid=36109639)
    assert extraction.status == ExtractionStatus.DRAFT
    assert extraction.publication is None  # public only once a reviewer accepts it
    assert extraction.payload["publication"]["authors"][0] == {
        "family_name": "Mackensen", "given_names": "Andreas"
    }
    # Live tables hold accepted data only: the import added no publication.
    assert Publication.objects.count() == 1


def test_reimporting_the_same_file_finds_nothing_new(curator, other_curator):
    import_confirm(user=curator, content=RIS_THREE, filename="refs.ris")
    again = import_preview(user=curator, content=RIS_THREE, filename="refs.ris")
    assert again.counts() == {"new": 0, "matches": 3, "invalid": 0}
    assert not again.can_confirm
    # Another curator's import matches the open drafts too: no second draft.
    other = import_preview(user=other_curator, content=RIS_THREE)
    assert other.counts()["new"] == 0
    assert "open extraction by alice" in other.matches[0].existing.label


def test_matches_by_pmid_in_an_open_extraction_and_in_the_catalogue(curator):
    # The Müller paper is in the catalogue by PMID only; Taubmann is someone's draft.
    PublicationFactory(doi=None, pmid=38381673)
    extraction_create(curator=curator, citation={"pmid": 37432378, "year": 2023,
                                                 "publication_type": "letter"})
    preview = import_preview(user=curator, content=PUBMED_XML)
    assert preview.counts() == {"new": 0, "matches": 2, "invalid": 0}
    labels = [row.existing.label for row in preview.matches]
    assert "in the catalogue" in labels[0]
    assert "open extraction by alice" in labels[1]
    assert preview.matches[0].existing.url.startswith("/curation/history/publication/")


def test_a_duplicate_within_the_file_counts_once(curator):
    twice = RIS_THREE + b"\n" + RIS_THREE.split(b"ER  - \n")[0] + b"ER  - \n"
    preview = import_preview(user=curator, content=twice, filename="refs.ris")
    assert preview.counts() == {"new": 3, "matches": 1, "invalid": 0}
    duplicate = preview.matches[0]
    assert duplicate.existing.label == "the same record as line 1 of this file"
    import_confirm(user=curator, content=twice, filename="refs.ris")
    assert Extraction.objects.count() == 3


def test_an_invalid_record_stops_the_whole_import(curator):
    broken = RIS_THREE.replace(b"PY  - 2024\n", b"PY  - soon\n")
    preview = import_preview(user=curator, content=broken, filename="refs.ris")
    assert preview.counts() == {"new": 2, "matches": 0, "invalid": 1}
    assert [str(problem) for problem in preview.problems] == [
        "Record 2, line 22, field PY: 'soon' has no year."
    ]
    with pytest.raises(ImportRefused) as refused:
        import_confirm(user=curator, content=broken, filename="refs.ris")
    assert refused.value.message.startswith("Nothing was imported: 1 record is invalid.")
    assert refused.value.problems[0].line == 22
    assert Extraction.objects.count() == 0


@pytest.mark.parametrize(("content", "line"), [
    (RIS_THREE.replace(b"DB  - PubMed\n", b"DB  - PubMed\nstray text\n"), 15),
    (BIBTEX.replace(b"  year    = 2022,", b"  year    = 2022"), 10),
    (PUBMED_XML.replace(b"</Volume>", b"</Vol>", 1), 10),
])
def test_a_malformed_file_names_its_line_and_writes_nothing(curator, content, line):
    with pytest.raises(ImportRefused) as refused:
        import_confirm(user=curator, content=content)
    assert refused.value.problems[0].line == line
    assert f"line {line}" in refused.value.message
    assert Extraction.objects.count() == 0


def test_malformed_json_writes_nothing(curator):
    with pytest.raises(ImportRefused) as refused:
        import_confirm(user=curator, content=b'{"studies": [{"protocolSection": }]}',
                       filename="page.json")
    assert "line 1" in refused.value.message
    assert RegistryRecord.objects.count() == 0


def test_bibtex_and_pubmed_imports(curator):
    result = import_confirm(user=curator, content=BIBTEX, filename="refs.bib")
    assert result.preview.import_format == "bibtex"
    assert len(result.extractions) == 2
    preview = import_preview(user=curator, content=PUBMED_XML, filename="pubmed.xml")
    assert preview.counts() == {"new": 2, "matches": 0, "invalid": 0}


# Registry records ---------------------------------------------------------------------------


def test_a_registry_record_keeps_every_field(curator):
    result = import_confirm(user=curator, content=json.dumps(ctgov_study()).encode(),
                            filename="NCT09000001.json")
    (record,) = result.registry_records
    record = RegistryRecord.objects.prefetch_related("countries", "diseases").get(pk=record.pk)
    assert record.registry == "nct"
    assert record.identifier == "NCT09000001"
    assert record.title.startswith("A Phase 1/2 Study of Autologous CD19 CAR T Cells")
    assert record.acronym == "CASTLE-X"
    assert record.get_phase_display() == "Phase 1/2"
    assert record.get_status_display() == "Recruiting"
    assert record.sponsor == "Example University Hospital"
    assert sorted(country.code for country in record.countries.all()) == ["CN", "DE"]
    assert record.conditions == ["Lupus Erythematosus, Systemic", "Lupus Nephritis",
                                 "Refractory Autoimmune Disease"]
    assert sorted(disease.code for disease in record.diseases.all()) == [
        "lupus-nephritis", "sle"
    ]
    assert record.start_date == datetime.date(2023, 3, 1)
    assert record.completion_date == datetime.date(2026, 12, 31)
    assert record.raw["protocolSection"]["identificationModule"]["acronym"] == "CASTLE-X"
    assert record.imported_by == curator
    assert Extraction.objects.count() == 0


def test_a_registry_record_fills_a_study_of_a_bundle(curator):
    from curation.services import empty_bundle
    from studies.bundles import schema_errors

    import_confirm(user=curator, content=json.dumps(ctgov_study()).encode())
    record = RegistryRecord.objects.prefetch_related("countries").get()
    study = record.as_bundle_study()
    assert study == {
        "key": "CASTLE-X",
        "title": record.title,
        "short_name": "CASTLE-X",
        "design": "trial",
        "phase": "1_2",
        "status": "recruiting",
        "sponsor": "Example University Hospital",
        "countries": ["CN", "DE"],
        "start_date": "2023-03-01",
        "completion_date": "2026-12-31",
        "registry_ids": [{"registry": "nct", "identifier": "NCT09000001"}],
    }
    bundle = {**empty_bundle({"doi": "10.5555/x", "year": 2024,
                              "publication_type": "article"}), "studies": [study]}
    assert schema_errors(bundle) == []


def test_registry_spellings_of_countries_and_conditions(curator):
    study = ctgov_study(countries=["Korea, Republic of", "Turkey", "United States"],
                        conditions=["Sjogren's Syndrome", "Scleroderma, Systemic", "Myositis"])
    preview = import_preview(user=curator, content=json.dumps(study).encode())
    (row,) = preview.new
    assert row.fields["countries"] == ["KR", "TR", "US"]
    assert row.fields["diseases"] == ["sjogren", "ssc", "iim"]


def test_an_unknown_country_names_record_and_field(curator):
    page = ctgov_page(ctgov_study(), ctgov_study("NCT09000002", countries=["Germany", "Atlantis"]))
    preview = import_preview(user=curator, content=page)
    assert preview.counts() == {"new": 1, "matches": 0, "invalid": 1}
    (problem,) = preview.problems
    assert problem.record == 2
    assert problem.field == "protocolSection.contactsLocationsModule.locations[1].country"
    assert "'Atlantis' is not a country carlit knows" in problem.message
    with pytest.raises(ImportRefused):
        import_confirm(user=curator, content=page)
    assert RegistryRecord.objects.count() == 0
    CountryFactory(code="QA", name="Atlantis")  # a curator adds it to the vocabulary
    assert import_preview(user=curator, content=page).counts()["new"] == 2


def test_registry_records_match_the_catalogue_and_earlier_imports(curator):
    RegistryIdFactory(identifier="NCT09000002")
    page = ctgov_page(ctgov_study("nct09000001"), ctgov_study("NCT09000002"),
                      ctgov_study("NCT09000003"))
    first = import_confirm(user=curator, content=page)
    assert first.preview.counts() == {"new": 2, "matches": 1, "invalid": 0}
    assert "in the catalogue" in first.preview.matches[0].existing.label
    again = import_preview(user=curator, content=page)
    assert again.counts() == {"new": 0, "matches": 3, "invalid": 0}
    assert RegistryRecord.objects.count() == 2


def test_confirm_rechecks_what_changed_since_the_preview(curator, other_curator):
    preview = import_preview(user=curator, content=RIS_THREE)
    assert len(preview.new) == 3
    import_confirm(user=other_curator, content=RIS_THREE.split(b"ER  - \n")[0] + b"ER  - \n")
    result = import_confirm(user=curator, content=RIS_THREE)
    assert len(result.extractions) == 2
    assert Extraction.objects.count() == 3


def test_confirm_stays_within_a_bounded_number_of_queries(curator, django_assert_max_num_queries):
    page = ctgov_page(*(ctgov_study(f"NCT0900001{n}") for n in range(8)))
    with django_assert_max_num_queries(14):
        result = import_confirm(user=curator, content=page)
    assert len(result.registry_records) == 8


# Limits and permissions ---------------------------------------------------------------------


def test_the_size_limit_is_named(curator, settings):
    settings.IMPORTS_MAX_UPLOAD_BYTES = 2 * 1024 * 1024
    with pytest.raises(ImportTooLarge) as refused:
        import_preview(user=curator, content=b" " * int(3.1 * 1024 * 1024))
    assert refused.value.message == "The file is 3.1 MB; the limit is 2 MB."
    assert file_size(1536) == "1.5 kB"


def test_an_unknown_format_is_refused(curator):
    with pytest.raises(ImportRefused) as refused:
        import_preview(user=curator, content=b"PK\x03\x04", filename="refs.docx")
    assert refused.value.message.startswith("Cannot tell the format of 'refs.docx'")


def test_only_curators_import(reviewer, outsider):
    for user in (reviewer, outsider):
        with pytest.raises(ImportForbidden):
            import_preview(user=user, content=RIS_THREE)
        with pytest.raises(ImportForbidden):
            import_confirm(user=user, content=RIS_THREE)
    assert Extraction.objects.count() == 0
