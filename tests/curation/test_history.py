"""History of curated data: who changed what, diffs per record, and revert."""

import pytest

from curation import services
from studies.models import OutcomeResult, Publication, Study


@pytest.fixture
def public_study(draft, curator, reviewer):
    submitted = services.extraction_submit(extraction_id=draft.pk, user=curator, version=1)
    services.extraction_accept(extraction_id=submitted.pk, user=reviewer,
                               version=submitted.version)
    return Study.objects.get()


def edit_and_accept(study, curator, reviewer, change):
    publication = study.publications.get()
    edit = services.extraction_start_edit(curator=curator, publication=publication)
    payload = edit.payload
    change(payload)
    edit = services.extraction_save(extraction_id=edit.pk, user=curator, payload=payload,
                                    version=edit.version)
    edit = services.extraction_submit(extraction_id=edit.pk, user=curator, version=edit.version)
    return services.extraction_accept(extraction_id=edit.pk, user=reviewer, version=edit.version)


def rename(payload):
    payload["studies"][0]["title"] = "Renamed after review"
    payload["studies"][0]["countries"] = ["DE"]


def test_the_history_page_shows_the_diff_of_an_edit(
    client_for, public_study, curator, reviewer
):
    edit_and_accept(public_study, curator, reviewer, rename)
    page = client_for(reviewer).get(f"/curation/history/study/{public_study.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Single-case treatment with CURATION-CD19" in html  # before
    assert "Renamed after review" in html  # after
    assert "Germany" in html  # many-to-many changes are recorded too
    assert "by alice" in html and "accepted by rita" in html


def test_revert_restores_the_old_values_as_a_new_recorded_change(
    client_for, public_study, curator, reviewer
):
    edit_and_accept(public_study, curator, reviewer, rename)
    history = list(public_study.history.order_by("-history_date", "-history_id"))
    before_edit = next(r for r in history if r.title == "Single-case treatment with CURATION-CD19"
                       and not r.countries.exists())
    response = client_for(reviewer).post(f"/curation/history/study/{public_study.pk}/", {
        "history_id": before_edit.history_id, "latest_history_id": history[0].history_id,
    })
    assert response.status_code == 302
    public_study.refresh_from_db()
    assert public_study.title == "Single-case treatment with CURATION-CD19"
    assert not public_study.countries.exists()
    newest = public_study.history.order_by("-history_date", "-history_id").first()
    assert newest.history_user == reviewer
    assert newest.history_change_reason.startswith("Reverted to the version of")


def test_a_revert_from_a_stale_page_is_refused(client_for, public_study, curator, reviewer):
    stale_latest = public_study.history.order_by("-history_date", "-history_id").first()
    oldest = public_study.history.order_by("history_date", "history_id").first()
    edit_and_accept(public_study, curator, reviewer, rename)
    response = client_for(reviewer).post(f"/curation/history/study/{public_study.pk}/", {
        "history_id": oldest.history_id, "latest_history_id": stale_latest.history_id,
    }, follow=True)
    assert "changed after you opened its history" in response.content.decode()
    public_study.refresh_from_db()
    assert public_study.title == "Renamed after review"


def test_revert_of_an_outcome_value(client_for, public_study, curator, reviewer):
    def change_value(payload):
        payload["patients"][0]["outcomes"][0]["value"] = 18

    edit_and_accept(public_study, curator, reviewer, change_value)
    result = OutcomeResult.objects.get(value=18)
    page = client_for(reviewer).get(f"/curation/history/outcomeresult/{result.pk}/")
    html = page.content.decode()
    assert "16.0000" in html and "18.0000" in html
    first = result.history.order_by("history_date", "history_id").first()
    latest = result.history.order_by("-history_date", "-history_id").first()
    client_for(reviewer).post(f"/curation/history/outcomeresult/{result.pk}/", {
        "history_id": first.history_id, "latest_history_id": latest.history_id})
    result.refresh_from_db()
    assert result.value == 16


def test_the_extraction_history_shows_payload_diffs(client_for, curator, draft):
    payload = draft.payload
    payload["patients"][0]["age_years"] = 25
    services.extraction_save(extraction_id=draft.pk, user=curator, payload=payload, version=1)
    page = client_for(curator).get(f"/curation/extractions/{draft.pk}/history/")
    html = page.content.decode()
    assert "patients[0].age_years" in html
    assert ">24<" in html and ">25<" in html


def test_the_publication_history_links_its_records(client_for, public_study, reviewer):
    publication = Publication.objects.get()
    html = client_for(reviewer).get(
        f"/curation/history/publication/{publication.pk}/").content.decode()
    assert f"/curation/history/study/{public_study.pk}/" in html
    assert "/curation/history/outcomeresult/" in html
