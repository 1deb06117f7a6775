"""CSV, RIS and BibTeX exports of the filtered catalogue."""

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import clear_script_prefix, set_script_prefix

from studies import export, listing, views
from studies.choices import PublicationType
from studies.export import bibtex_key, publications_bibtex, publications_ris
from studies.models import Study
from tests.factories import (
    AntigenFactory,
    ArmFactory,
    ArmProductFactory,
    CarConstructFactory,
    PublicationFactory,
    RegistryIdFactory,
    StudyFactory,
    StudyReportFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_studies(db):
    cd19 = CarConstructFactory(name="MB-CART19.1", targets=[AntigenFactory(code="cd19")])
    bcma = CarConstructFactory(name="BCMA-CART", targets=[AntigenFactory(code="bcma")])
    paper = PublicationFactory(
        title="CD19 CAR T cells & lupus: 100% remission",
        journal="N Engl J Med",
        year=2024,
        volume="390",
        issue="8",
        pages="687-700",
        doi="10.1056/nejmoa2308917",
        pmid=38381673,
        authors=["Müller", "Taubmann"],
    )
    sle = ArmFactory(
        study=StudyFactory(title="=CD19 in SLE"), source_publication=paper, n_patients=8
    )
    ArmProductFactory(arm=sle, construct=cd19)
    RegistryIdFactory(study=sle.study, identifier="NCT05930314")
    abstract = PublicationFactory(
        title="BCMA abstract",
        year=2023,
        publication_type=PublicationType.CONFERENCE_ABSTRACT,
        doi=None,
        pmid=None,
        authors=["Wang"],
    )
    other = ArmFactory(
        study=StudyFactory(title="BCMA study"), source_publication=abstract, n_patients=3
    )
    ArmProductFactory(arm=other, construct=bcma)
    StudyReportFactory(study=other.study, publication=paper)  # one paper, two studies
    return {"sle": sle.study, "bcma": other.study, "paper": paper, "abstract": abstract}


def test_csv_has_one_row_per_filtered_study(client, two_studies):
    response = client.get("/studies/export.csv?target=cd19")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="carlit-studies-')
    assert response["Content-Disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["title"] == "'=CD19 in SLE"  # a spreadsheet must not run it as a formula
    assert row["targets"] == "CD19"
    assert row["constructs"] == "MB-CART19.1"
    assert row["patients"] == "8"
    assert row["first_year"] == "2024"
    assert row["dois"] == "10.1056/nejmoa2308917"
    assert row["pmids"] == "38381673"
    assert row["registry_ids"] == "NCT05930314"
    assert row["url"] == f"http://testserver/studies/{two_studies['sle'].pk}/"


def test_csv_without_filters_lists_every_study(client, two_studies):
    response = client.get("/studies/export.csv")

    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode())))
    assert {row["title"] for row in rows} == {"'=CD19 in SLE", "BCMA study"}


def test_ris_lists_each_publication_once(client, two_studies):
    response = client.get("/studies/export.ris")

    assert response["Content-Type"].startswith("application/x-research-info-systems")
    assert response["Content-Disposition"].endswith('.ris"')
    text = response.getvalue().decode()
    assert text.count("TY  - ") == 2
    assert text.count("ER  - ") == 2
    assert "TY  - ABST" in text  # the conference abstract
    assert "AU  - Müller" in text
    assert "DO  - 10.1056/nejmoa2308917" in text
    assert "SP  - 687\r\nEP  - 700" in text
    assert "AN  - PMID:38381673" in text


def test_bibtex_escapes_and_keys_entries(client, two_studies):
    response = client.get("/studies/export.bib?target=cd19")

    assert response["Content-Type"] == "application/x-bibtex; charset=utf-8"
    assert response["Content-Disposition"].endswith('.bib"')
    text = response.getvalue().decode()
    assert text.startswith("@article{Muller2024,")
    assert r"title = {CD19 CAR T cells \& lupus: 100\% remission}" in text
    assert "pages = {687--700}" in text
    assert "author = {Müller and Taubmann}" in text


def test_exports_stream_chunk_by_chunk_in_the_catalogue_order(client, monkeypatch, db):
    """Seven studies in chunks of two (a whole catalogue goes out a chunk at a time):
    each study once, in the order the catalogue sorts them; each publication once."""
    monkeypatch.setattr(listing, "EXPORT_CHUNK", 2)
    monkeypatch.setattr(export, "PUBLICATION_CHUNK", 2)
    shared = PublicationFactory(year=2020, authors=["Shared"])
    for index in [3, 6, 0, 5, 1, 4, 2]:
        study = StudyFactory(title=f"Study {index}")
        StudyReportFactory(study=study, publication=PublicationFactory(
            year=2021 + index, authors=[f"Author{index}"]))
        StudyReportFactory(study=study, publication=shared)

    response = client.get("/studies/export.csv?sort=title")
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode())))
    ris = client.get("/studies/export.ris").getvalue().decode()

    assert [row["title"] for row in rows] == [f"Study {index}" for index in range(7)]
    assert rows[0]["dois"].count(";") == 1  # its own paper and the shared one
    years = re.findall(r"PY  - (\d+)", ris)
    assert years == [str(year) for year in range(2020, 2028)]


def test_bibtex_keys_stay_unique(db):
    taken: set[str] = set()
    publication = PublicationFactory(year=2024, journal="Lancet")  # no authors: the journal
    keys = [bibtex_key(export.Cited(publication), taken) for _ in range(3)]
    assert keys == ["Lancet2024", "Lancet2024a", "Lancet2024b"]


def test_an_empty_selection_exports_empty_files(db):
    assert publications_ris([]) == ""
    assert publications_bibtex([]) == ""


def test_a_study_deleted_while_its_export_streams_is_left_out(db):
    """The ids are read first and the rows chunk by chunk: a study deleted in between
    must not break the download half-way."""
    studies = [StudyFactory(title=f"Study {index}") for index in range(3)]
    for study in studies:
        StudyReportFactory(study=study, publication=PublicationFactory())
    selection = Study.objects.order_by("title")

    rows = listing.export_rows(selection, chunk=1)
    publications = export.publications_of(selection, chunk=1)
    first_row, first_publication = next(rows), next(publications)
    report = studies[1].reports.get()
    report.delete()
    report.publication.delete()
    studies[1].delete()

    assert [first_row.study.title, *(row.study.title for row in rows)] == ["Study 0", "Study 2"]
    assert len([first_publication, *publications]) == 2


def test_a_download_goes_out_in_pieces_not_one_write_per_line(client, monkeypatch, two_studies):
    """The header line goes out at once (the download starts before any row is read),
    then the rows in pieces."""
    whole = client.get("/studies/export.csv").getvalue()
    header, rows = list(client.get("/studies/export.csv").streaming_content)
    assert header.decode().startswith("study_id,title,") and header.endswith(b"\r\n")
    assert header + rows == whole

    monkeypatch.setattr(views, "DOWNLOAD_PIECE", 100)
    pieces = list(client.get("/studies/export.csv").streaming_content)

    assert b"".join(pieces) == whole
    assert len(pieces) > 2
    assert all(len(piece) >= 100 for piece in pieces[1:-1])


def test_rows_link_to_study_pages_under_the_path_the_site_is_served_at(client, two_studies):
    """A study's link is built once and filled in per row: it must still follow the
    path prefix a deployment serves the site under (SCRIPT_NAME)."""
    study = two_studies["sle"]
    plain = client.get("/studies/").content.decode()
    set_script_prefix("/carlit/")  # what the WSGI handler does for SCRIPT_NAME=/carlit
    try:
        page = client.get("/studies/").content.decode()
    finally:
        clear_script_prefix()

    assert f'href="/studies/{study.pk}/"' in plain
    assert f'href="/carlit/studies/{study.pk}/"' in page
    assert f'href="/studies/{study.pk}/"' not in page


def test_citation_exports_read_authors_in_a_fixed_number_of_queries(client):
    """Authors are read per chunk of publications, not per publication."""

    def queries_for_export(publications: int) -> int:
        for index in range(publications):
            StudyReportFactory(
                study=StudyFactory(),
                publication=PublicationFactory(authors=[f"A{index}", f"B{index}", f"C{index}"]),
            )
        with CaptureQueriesContext(connection) as queries:
            text = client.get("/studies/export.ris").getvalue().decode()
        assert text.count("AU  - ") == 3 * Study.objects.count()
        return len(queries)

    assert queries_for_export(2) == queries_for_export(6)
