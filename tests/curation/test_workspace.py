"""The extraction workspace page: saving drafts, submitting, stale saves, rows by htmx."""

import re

import pytest

from curation.history import document_changes
from curation.models import Extraction, ExtractionStatus

from .forms_data import workspace_data


def outcome_index(extraction, measure, value) -> int:
    from curation.payload import flatten

    rows = flatten(extraction.payload)["outcomes"]
    return next(i for i, row in enumerate(rows) if row["measure"] == measure and
                row["value"] == value)


def test_the_workspace_shows_every_row_with_the_measures_range(client_for, curator, draft):
    page = client_for(curator).get(draft.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert "Patient 1" in html
    assert "SLEDAI-2K — score, 0–105" in html  # range in the measure's options
    assert 'id="id_outcomes-TOTAL_FORMS"' in html
    assert "hx-get" in html and "htmx" in html


def test_saving_an_untouched_page_changes_nothing(client_for, curator, draft):
    before = draft.payload
    response = client_for(curator).post(draft.get_absolute_url(), workspace_data(draft))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.version == 2
    # The form spells out optional fields the API left out, as empty; nothing else moves.
    assert document_changes(before, draft.payload) == []
    assert draft.payload["studies"][0]["short_name"] == ""


def test_a_draft_saves_while_incomplete(client_for, curator, draft):
    data = workspace_data(draft, **{"arms-0-disease": "", "patients-0-source_label": ""})
    response = client_for(curator).post(draft.get_absolute_url(), data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert "disease" not in draft.payload["studies"][0]["arms"][0]
    assert draft.status == ExtractionStatus.DRAFT


def test_submitting_an_incomplete_draft_names_the_row_and_field(client_for, curator, draft):
    data = workspace_data(draft, action="submit", **{"arms-0-disease": ""})
    response = client_for(curator).post(draft.get_absolute_url(), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r"Arm 1 \(SLE\)</a> · disease: This field is required", html)
    draft.refresh_from_db()
    assert draft.status == ExtractionStatus.DRAFT  # saved, not submitted


def test_an_out_of_range_value_is_refused_with_the_range_and_the_input_kept(
    client_for, curator, draft
):
    index = outcome_index(draft, "sledai-2k", 16)
    data = workspace_data(draft, **{f"outcomes-{index}-value": "120"})
    response = client_for(curator).post(draft.get_absolute_url(), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert f"Outcome {index + 1} (sledai-2k)" in html
    assert "120 is outside SLEDAI-2K&#x27;s range 0–105" in html
    assert f'name="outcomes-{index}-value" value="120' in html
    draft.refresh_from_db()
    assert draft.version == 1


def test_a_reference_to_a_missing_arm_is_refused_at_its_row(client_for, curator, draft):
    data = workspace_data(draft, **{"patients-0-arm": "case / No such arm"})
    response = client_for(curator).post(draft.get_absolute_url(), data)
    assert response.status_code == 400
    assert "No arm &#x27;No such arm&#x27; in study &#x27;case&#x27;" in response.content.decode()


def test_renaming_an_arm_carries_over_to_the_rows_that_name_it(client_for, curator, draft):
    data = workspace_data(draft, **{"arms-0-label": "Lupus cohort"})
    response = client_for(curator).post(draft.get_absolute_url(), data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.payload["patients"][0]["arm"] == "Lupus cohort"
    assert len(draft.payload["patients"][0]["outcomes"]) == 2


def test_a_stale_save_is_refused_and_the_typed_input_shown_back(
    client_for, curator, admin_user, draft
):
    opened_by_alice = workspace_data(draft, **{"studies-0-sponsor": "Alice's typing"})
    # Ada (admin role) saves the same draft first.
    client_for(admin_user).post(
        draft.get_absolute_url(), workspace_data(draft, **{"studies-0-sponsor": "Ada's save"})
    )
    response = client_for(curator).post(draft.get_absolute_url(), opened_by_alice)
    assert response.status_code == 409
    html = response.content.decode()
    assert "changed by ada after you opened it" in html
    assert 'value="Alice&#x27;s typing"' in html
    assert "Ada&#x27;s save" in html  # in the list of the other save's changes
    draft.refresh_from_db()
    assert draft.payload["studies"][0]["sponsor"] == "Ada's save"


def test_submit_then_accept_through_the_pages(client_for, curator, reviewer, draft):
    response = client_for(curator).post(draft.get_absolute_url(),
                                        workspace_data(draft, action="submit"))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == ExtractionStatus.SUBMITTED

    page = client_for(reviewer).get(draft.get_absolute_url())
    assert "Accept and publish" in page.content.decode()
    response = client_for(reviewer).post(
        f"/curation/extractions/{draft.pk}/review/",
        {"version": draft.version, "action": "accept", "comment": ""},
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == ExtractionStatus.ACCEPTED


def test_htmx_adds_a_numbered_row_and_raises_the_row_count(client_for, curator, draft):
    response = client_for(curator).get(
        f"/curation/extractions/{draft.pk}/rows/outcomes/",
        {"outcomes-TOTAL_FORMS": "2"}, HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="outcomes-2-measure"' in html
    assert "__prefix__" not in html
    assert 'id="id_outcomes-TOTAL_FORMS" hx-swap-oob="true"' in html
    assert 'value="3"' in html


def test_the_measure_hint_shows_range_and_unit(client_for, curator):
    response = client_for(curator).get("/curation/measure-hint/", {"outcomes-0-measure":
                                                                   "anti-dsdna"})
    assert "IU/mL" in response.content.decode()


def test_a_new_publication_form_starts_a_draft(client_for, curator):
    response = client_for(curator).post("/curation/new/", {
        "publication-doi": "https://doi.org/10.5555/NEW.1",
        "publication-year": "2025",
        "publication-publication_type": "article",
        "publication-title": "A new paper",
        "publication-authors": "Hopper, Grace\nTuring, Alan",
    })
    extraction = Extraction.objects.get()
    assert response.status_code == 302
    assert response["Location"] == extraction.get_absolute_url()
    citation = extraction.payload["publication"]
    assert citation["doi"] == "10.5555/new.1"
    assert citation["authors"][1] == {"family_name": "Turing", "given_names": "Alan"}
    assert extraction.curator == curator


@pytest.mark.parametrize("missing", ["publication-doi", "publication-year"])
def test_the_new_publication_form_needs_an_identifier_and_year(client_for, curator, missing):
    data = {"publication-doi": "10.5555/new.2", "publication-year": "2025",
            "publication-publication_type": "article"}
    data.pop(missing)
    response = client_for(curator).post("/curation/new/", data)
    assert response.status_code == 200
    assert not Extraction.objects.exists()
