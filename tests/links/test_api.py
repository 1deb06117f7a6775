"""/api/v1/link-requests/: propose, submit, accept and reject identity links and
supersession over the API, with the rules of the links pages."""

import pytest

from links import services
from links.models import LinkKind, LinkRequest, LinkStatus
from studies.models import Patient, Publication

URL = "/api/v1/link-requests/"

pytestmark = pytest.mark.django_db


def propose_link(api, reports, **extra):
    return api.post(URL, {
        "kind": "same_person", "patient": reports["case"].pk,
        "other_patient": reports["later"].pk, "evidence": "confirmed",
        "note": "Table 1: previously reported as a case.", **extra,
    }, format="json")


def test_a_curator_proposes_a_link_and_a_reviewer_accepts_it(api_for, curator, reviewer,
                                                             reports):
    created = propose_link(api_for(curator), reports, submit=True)
    assert created.status_code == 201, created.json()
    link = created.json()
    assert (link["status"], link["proposer"], link["kind"]) == ("submitted", "alice",
                                                                "same_person")
    assert "Patient 1" in link["description"]

    accepted = api_for(reviewer).post(f"{URL}{link['id']}/accept/", {"comment": "Agreed."},
                                      format="json")

    assert accepted.status_code == 200, accepted.json()
    assert (accepted.json()["status"], accepted.json()["reviewer"]) == ("accepted", "rita")
    case, later = (Patient.objects.get(pk=reports[k].pk) for k in ("case", "later"))
    assert case.person_id is not None and case.person_id == later.person_id
    again = api_for(reviewer).post(f"{URL}{link['id']}/accept/", format="json")
    assert again.status_code == 409 and "accepted now" in again.json()["detail"]


def test_a_draft_is_submitted_by_its_proposer_then_rejected_with_a_reason(
    api_for, curator, other_curator, reviewer, reports
):
    draft = propose_link(api_for(curator), reports).json()
    assert draft["status"] == "draft"
    assert api_for(other_curator).post(f"{URL}{draft['id']}/submit/").status_code == 404
    assert api_for(curator).post(f"{URL}{draft['id']}/submit/").json()["status"] == "submitted"

    no_reason = api_for(reviewer).post(f"{URL}{draft['id']}/reject/", {}, format="json")
    assert no_reason.status_code == 400 and "Say why" in no_reason.json()["comment"][0]
    rejected = api_for(reviewer).post(f"{URL}{draft['id']}/reject/",
                                      {"comment": "Different ages."}, format="json")

    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["reviewer_comment"] == "Different ages."
    assert Patient.objects.get(pk=reports["case"].pk).person_id is None


def test_a_reviewer_cannot_accept_their_own_request(api_for, senior, reports):
    link = propose_link(api_for(senior), reports, submit=True).json()

    response = api_for(senior).post(f"{URL}{link['id']}/accept/", format="json")

    assert response.status_code == 403 and "your own" in response.json()["detail"]
    assert LinkRequest.objects.get().status == LinkStatus.SUBMITTED


def test_supersession_is_proposed_by_publication_ids(api_for, curator, reviewer, reports):
    older = reports["case"].source_publication
    newer = reports["later"].source_publication
    created = api_for(curator).post(URL, {
        "kind": "supersedes", "publication": older.pk, "newer": newer.pk, "submit": True,
    }, format="json")
    assert created.status_code == 201, created.json()

    api_for(reviewer).post(f"{URL}{created.json()['id']}/accept/", format="json")

    assert Publication.objects.get(pk=older.pk).superseded_by_id == newer.pk


@pytest.mark.parametrize("body, field, message", [
    ({"kind": "cousin"}, "kind", "not a valid choice"),
    ({"patient": 987654}, "patient", "Invalid pk"),
    ({"other_patient": None}, "other_patient", "Choose the other patient report"),
    ({"evidence": "rumour"}, "evidence", "not a valid choice"),
    ({"kind": "supersedes", "patient": None, "other_patient": None}, "publication",
     "Choose the superseded publication"),
], ids=["unknown kind", "unknown patient", "no other patient", "unknown evidence",
        "no publication"])
def test_bad_input_answers_400_by_field_and_saves_nothing(api_for, curator, reports, body,
                                                          field, message):
    given = {"kind": "same_person", "patient": reports["case"].pk,
             "other_patient": reports["later"].pk, "evidence": "probable", **body}
    given = {name: value for name, value in given.items() if value is not None}

    response = api_for(curator).post(URL, given, format="json")

    assert response.status_code == 400, response.json()
    assert message in " ".join(response.json()[field])
    assert not LinkRequest.objects.exists()


def test_who_sees_and_proposes(api_for, curator, other_curator, reviewer, outsider, reports):
    mine = services.link_request_propose(
        proposer=curator, kind=LinkKind.SAME_PERSON, patient=reports["case"],
        other_patient=reports["later"], evidence="probable",
    )

    assert api_for(None).get(URL).status_code in (401, 403)
    assert api_for(outsider).get(URL).status_code == 403
    assert propose_link(api_for(outsider), reports).status_code == 403
    assert [r["id"] for r in api_for(curator).get(URL).json()["results"]] == [mine.pk]
    assert api_for(other_curator).get(URL).json()["results"] == []
    assert api_for(other_curator).get(f"{URL}{mine.pk}/").status_code == 404
    assert [r["id"] for r in api_for(reviewer).get(URL).json()["results"]] == [mine.pk]
    assert api_for(reviewer).get(URL, {"status": "submitted"}).json()["results"] == []


def test_the_list_costs_the_same_queries_whatever_its_length(
    api_for, curator, reviewer, reports, django_assert_max_num_queries
):
    api = api_for(reviewer)
    api.get(URL)  # token and session set-up
    for other in ("later", "other"):
        services.link_request_propose(
            proposer=curator, kind=LinkKind.SAME_PERSON, patient=reports["case"],
            other_patient=reports[other], evidence="probable",
        )
        with django_assert_max_num_queries(4):
            assert api.get(URL).status_code == 200
