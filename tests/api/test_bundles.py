"""Study bundles: all-or-nothing import with JSON paths, idempotent re-import, exact
export -> import round trip, and the published JSON Schema."""

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from studies.bundles import BUNDLE_SCHEMA
from studies.models import (
    AdverseEvent,
    Arm,
    ArmProduct,
    CarConstruct,
    ConstructAlias,
    OutcomeResult,
    Patient,
    Person,
    Publication,
    PublicationAuthor,
    RegistryId,
    Study,
    StudyReport,
)

from .bundle_data import sample_bundle

DOCS = Path(__file__).resolve().parents[2] / "docs"
CURATED = [
    OutcomeResult,
    AdverseEvent,
    Patient,
    ArmProduct,
    Arm,
    StudyReport,
    RegistryId,
    Study,
    ConstructAlias,
    CarConstruct,
    PublicationAuthor,
    Publication,
    Person,
]


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in CURATED}


def empty_the_catalogue() -> None:
    """Everything curated goes; the vocabularies (migrations) stay."""
    Patient.objects.update(person=None, person_evidence="")
    Publication.objects.update(superseded_by=None)
    for model in CURATED:
        model.objects.all().delete()


def post(client, document):
    return client.post("/api/v1/bundles/", document, format="json")


def test_a_bundle_is_imported_whole(staff_client):
    response = post(staff_client, sample_bundle())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created"] is True
    assert body["written"] == {
        "publications": 1,
        "constructs": 1,
        "studies": 1,
        "arms": 1,
        "products": 1,
        "outcomes": 14,
        "adverse_events": 5,
        "patients": 4,
    }
    study = Study.objects.get(registry_ids__identifier="NCT09000001")
    assert [c.code for c in study.countries.all()] == ["DE"]
    assert study.reports.get().data_cutoff.isoformat() == "2023-12-31"
    construct = CarConstruct.objects.get(name="TEST-CD19-BB")
    assert [a.alias for a in construct.aliases.all()] == ["TC19"]
    patient = Patient.objects.get(label="Patient 2")
    assert [d.code for d in patient.secondary_diseases.all()] == ["sjogren"]
    assert str(patient.age_years) == "19.5"
    assert patient.source_publication.doi == "10.5555/bundle.test.1"


def test_importing_the_same_publication_again_updates_in_place(staff_client):
    post(staff_client, sample_bundle())
    before = counts()
    ids = sorted(OutcomeResult.objects.values_list("pk", flat=True))
    bundle = sample_bundle()
    bundle["publication"]["title"] = "Corrected title"
    bundle["patients"][0]["outcomes"][1]["value"] = 1
    response = post(staff_client, bundle)
    assert response.status_code == 200, response.content
    assert response.json()["created"] is False
    assert counts() == before
    assert sorted(OutcomeResult.objects.values_list("pk", flat=True)) == ids
    assert Publication.objects.get().title == "Corrected title"
    assert OutcomeResult.objects.get(patient__label="Patient 1", day=90).value == 1


def test_reimport_matches_by_pmid_when_the_doi_is_missing(staff_client):
    post(staff_client, sample_bundle())
    bundle = sample_bundle()
    bundle["publication"].pop("doi")
    assert post(staff_client, bundle).status_code == 200
    assert Publication.objects.count() == 1


def test_rows_dropped_from_the_bundle_are_removed_on_reimport(staff_client):
    post(staff_client, sample_bundle())
    bundle = sample_bundle()
    del bundle["patients"][3]
    bundle["patients"][0]["outcomes"].pop()
    response = post(staff_client, bundle)
    assert response.json()["deleted"] == {"outcomes": 4, "adverse_events": 1, "patients": 1}
    assert Patient.objects.count() == 3


def test_one_bad_value_among_many_writes_nothing_and_names_its_path(staff_client):
    bundle = sample_bundle()
    bundle["patients"][3]["outcomes"][0]["value"] = 120
    response = post(staff_client, bundle)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "path": "patients[3].outcomes[0].value",
            "message": "120 is outside SLEDAI-2K's range 0–105",
        }
    ]
    assert response.json()["detail"] == "The bundle was not imported: 1 problem."
    assert counts() == dict.fromkeys(counts(), 0)


def test_every_problem_is_listed_with_its_path(staff_client):
    bundle = sample_bundle()
    arms = bundle["studies"][0]["arms"]
    arms.append(
        {
            "label": "SSc",
            "disease": "no-such-disease",
            "source": {"kind": "table", "label": "Table 1"},
        }
    )
    arms[0]["adverse_events"][0]["grade"] = 7
    bundle["patients"][1]["outcomes"][2]["unit"] = "mg/dL"
    bundle["patients"][2]["arm"] = "Missing arm"
    bundle["patients"][3]["arm"] = "SSc"
    bundle["constructs"][0]["targets"] = ["cd19", "nope"]
    response = post(staff_client, bundle)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "constructs[0].targets[1]", "message": "Unknown antigen code 'nope'."},
        {
            "path": "studies[0].arms[0].adverse_events[0].grade",
            "message": "Grade 7 is outside ASTCT grades 0-4",
        },
        {
            "path": "studies[0].arms[1].disease",
            "message": "Unknown disease code 'no-such-disease'.",
        },
        {
            "path": "patients[1].outcomes[2].unit",
            "message": "'mg/dL' is not a unit of anti-dsDNA; use one of: IU/mL",
        },
        {"path": "patients[2].arm", "message": "The study 'test-sle' has no arm 'Missing arm'."},
    ]
    assert counts() == dict.fromkeys(counts(), 0)


def test_shape_errors_are_reported_by_path_before_anything_runs(staff_client):
    bundle = sample_bundle()
    del bundle["patients"][0]["label"]
    bundle["studies"][0]["arms"][0]["n_patients"] = "five"
    bundle["patients"][1]["colour"] = "blue"
    bundle["studies"][0]["start_date"] = "March 2021"
    response = post(staff_client, bundle)
    assert response.status_code == 400
    errors = {e["path"]: e["message"] for e in response.json()["errors"]}
    assert errors["patients[0].label"] == "This field is required."
    assert errors["patients[1].colour"] == "Unknown field."
    assert "studies[0].arms[0].n_patients" in errors
    assert "studies[0].start_date" in errors


def test_a_publication_needs_a_doi_or_pmid(staff_client):
    bundle = sample_bundle()
    bundle["publication"].pop("doi")
    bundle["publication"].pop("pmid")
    bundle["publication"]["journal"] = ""
    errors = post(staff_client, bundle).json()["errors"]
    assert errors == [
        {
            "path": "publication",
            "message": "Give the publication's DOI or PMID (or, failing both, its journal).",
        }
    ]


def test_an_abstract_without_doi_or_pmid_is_keyed_by_journal_year_pages_author(staff_client):
    bundle = sample_bundle()
    bundle["publication"].update(doi=None, pmid=None, publication_type="conference_abstract")
    assert post(staff_client, bundle).status_code == 201
    assert post(staff_client, bundle).status_code == 200
    assert Publication.objects.count() == 1


def test_round_trip_into_an_empty_catalogue_is_exact(staff_client, anonymous_client):
    post(staff_client, sample_bundle())
    publication = Publication.objects.get()
    first = anonymous_client.get(f"/api/v1/bundles/{publication.pk}/").json()
    empty_the_catalogue()
    assert post(staff_client, first).status_code == 201
    again = Publication.objects.get()
    second = anonymous_client.get(f"/api/v1/bundles/{again.pk}/").json()
    assert second == first
    assert first["patients"][1]["age_years"] == 19.5
    assert first["publication"]["authors"][0] == {"family_name": "Curie", "given_names": "M."}


def test_round_trip_of_data_entered_by_hand(staff_client, anonymous_client, erlangen):
    publication = erlangen["publication"]
    first = anonymous_client.get(f"/api/v1/bundles/{publication.pk}/").json()
    assert not list(Draft202012Validator(BUNDLE_SCHEMA).iter_errors(first))
    empty_the_catalogue()
    assert post(staff_client, first).status_code == 201
    second = anonymous_client.get(f"/api/v1/bundles/{Publication.objects.get().pk}/").json()
    assert second == first


def test_identity_links_join_reports_of_one_person(staff_client):
    post(staff_client, sample_bundle())
    later = sample_bundle()
    later["publication"].update(doi="10.5555/bundle.test.2", pmid=39000002, year=2025)
    later["patients"] = [later["patients"][0]]
    later["patients"][0]["label"] = "P1"
    later["patients"][0]["same_person_as"] = [
        {"publication": {"doi": "10.5555/bundle.test.1"}, "label": "Patient 1"}
    ]
    later["patients"][0]["person_evidence"] = "confirmed"
    response = post(staff_client, later)
    assert response.status_code == 201, response.content
    person = Person.objects.get()
    assert sorted(person.reports.values_list("label", flat=True)) == ["P1", "Patient 1"]
    exported = staff_client.get(
        f"/api/v1/bundles/{Publication.objects.get(pmid=39000002).pk}/"
    ).json()
    assert exported["patients"][0]["same_person_as"] == [
        {"publication": {"doi": "10.5555/bundle.test.1"}, "arm": "SLE", "label": "Patient 1"}
    ]
    assert post(staff_client, exported).status_code == 200
    assert Person.objects.count() == 1


def test_a_link_to_an_unknown_report_is_an_error(staff_client):
    bundle = sample_bundle()
    bundle["patients"][0]["same_person_as"] = [{"publication": {"pmid": 123}, "label": "Patient 1"}]
    bundle["patients"][0]["person_evidence"] = "probable"
    errors = post(staff_client, bundle).json()["errors"]
    assert errors == [
        {
            "path": "patients[0].same_person_as[0].publication",
            "message": "No publication with PMID 123; import it first.",
        }
    ]


def test_an_unknown_publication_exports_404(anonymous_client, db):
    assert anonymous_client.get("/api/v1/bundles/999/").status_code == 404


def test_the_json_schema_is_published_at_a_stable_url(anonymous_client, db):
    response = anonymous_client.get("/api/v1/bundles/schema.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "http://testserver/api/v1/bundles/schema.json"
    Draft202012Validator.check_schema(schema)
    assert not list(Draft202012Validator(schema).iter_errors(sample_bundle()))


def test_the_documented_example_bundle_is_valid(staff_client):
    example = json.loads((DOCS / "examples" / "mackensen-2022-bundle.json").read_text())
    assert not list(Draft202012Validator(BUNDLE_SCHEMA).iter_errors(example))
    assert post(staff_client, example).status_code == 201
    assert "carlit-bundle/1" in (DOCS / "bundle-format.md").read_text()


def test_every_demo_publication_survives_export_and_reimport_unchanged(staff_client):
    """Re-uploading an export changes nothing, on the whole demo data set (overlapping
    reports, identity links, rows cited from earlier papers)."""
    from django.core.management import call_command

    call_command("load_demo", verbosity=0)
    before = counts()
    for publication in Publication.objects.order_by("pk"):
        url = f"/api/v1/bundles/{publication.pk}/"
        exported = staff_client.get(url).json()
        response = post(staff_client, exported)
        assert response.status_code == 200, (publication, response.json())
        assert response.json()["deleted"] == {}, publication
        assert staff_client.get(url).json() == exported, publication
    assert counts() == before


def test_authors_are_updated_in_place_with_their_history(staff_client):
    post(staff_client, sample_bundle())
    first = PublicationAuthor.objects.get(position=1)
    bundle = sample_bundle()
    bundle["publication"]["authors"][0]["given_names"] = "A. B."
    bundle["publication"]["authors"].append({"family_name": "Newcomer", "given_names": "N."})

    assert post(staff_client, bundle).status_code == 200

    authors = list(PublicationAuthor.objects.order_by("position"))
    assert (authors[0].pk, authors[0].given_names) == (first.pk, "A. B.")
    assert authors[-1].family_name == "Newcomer"
    assert [h.history_type for h in first.history.order_by("history_date")] == ["+", "~"]
    assert authors[-1].history.get().history_type == "+"


def test_an_author_name_too_long_is_refused_by_path(staff_client):
    bundle = sample_bundle()
    bundle["publication"]["authors"][0]["family_name"] = "X" * 101

    response = post(staff_client, bundle)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(e["path"] == "publication.authors[0].family_name" for e in errors), errors
    assert not Publication.objects.exists()
