"""/api/v1/comments/: list by record, create, resolve and reopen, with the same rules
as the pages; bad input answers 400 with messages by field."""

import pytest

from discussion import services
from discussion.models import Comment

URL = "/api/v1/comments/"


def test_a_reviewer_asks_and_the_curator_resolves_over_the_api(api_for, draft, curator,
                                                               reviewer):
    created = api_for(reviewer).post(URL, {
        "target_type": "curation.extraction", "object_id": draft.pk, "kind": "question",
        "body": "Day 90 or day 84?", "location": "patients[0].outcomes[1].day",
    }, format="json")
    assert created.status_code == 201, created.json()
    comment = created.json()
    assert comment["author"] == "rita" and comment["resolved"] is False
    assert comment["target_type"] == "curation.extraction" and comment["object_id"] == draft.pk

    reply = api_for(curator).post(URL, {"parent": comment["id"], "body": "Day 90."},
                                  format="json")
    assert reply.status_code == 201 and reply.json()["parent"] == comment["id"]

    listed = api_for(curator).get(URL, {"target_type": "curation.extraction",
                                        "object_id": draft.pk})
    assert [c["body"] for c in listed.json()["results"]] == ["Day 90 or day 84?", "Day 90."]

    resolved = api_for(curator).post(f"{URL}{comment['id']}/resolve/")
    assert resolved.status_code == 200
    assert resolved.json()["resolved"] is True and resolved.json()["resolved_by"] == "alice"
    again = api_for(reviewer).post(f"{URL}{comment['id']}/resolve/")
    assert again.status_code == 409 and "Already resolved" in again.json()["detail"]
    open_threads = api_for(reviewer).get(URL, {"resolved": "false", "parent": ""})
    assert comment["id"] not in [c["id"] for c in open_threads.json()["results"]]

    reopened = api_for(reviewer).post(f"{URL}{comment['id']}/reopen/")
    assert reopened.status_code == 200 and reopened.json()["resolved"] is False


@pytest.mark.parametrize("body, field, message", [
    ({"body": ""}, "body", "may not be blank"),
    ({"body": "   "}, "body", "may not be blank"),
    ({"target_type": "auth.user"}, "target_type", "not a valid choice"),
    ({"object_id": 987654}, "object_id", "There is no extraction with id 987654"),
    ({"target_type": None, "object_id": None}, "target_type", "Name the type"),
    ({"parent": 987654}, "parent", "There is no comment with id 987654"),
    ({"kind": "rumour"}, "kind", "not a valid choice"),
], ids=["empty body", "blank body", "unknown type", "unknown record", "no target",
        "unknown parent", "unknown kind"])
def test_bad_input_answers_400_by_field(api_for, draft, reviewer, body, field, message):
    given = {"target_type": "curation.extraction", "object_id": draft.pk, "body": "Hm?",
             **body}
    given = {name: value for name, value in given.items() if value is not None}
    response = api_for(reviewer).post(URL, given, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not Comment.objects.exists()


@pytest.mark.parametrize("person, expected", [
    ("anonymous", 401), ("otto", 403), ("alice", 201), ("carol", 400), ("rita", 201),
])
def test_who_may_comment_over_the_api(api_for, people, draft, person, expected):
    response = api_for(people[person]).post(URL, {
        "target_type": "curation.extraction", "object_id": draft.pk, "body": "Asked"},
        format="json")
    assert response.status_code == expected


def test_another_curator_neither_lists_nor_resolves_a_thread_on_alices_draft(
    api_for, question, other_curator, public_arm, reviewer
):
    services.comment_add(user=reviewer, target_type="studies.arm", object_id=public_arm.pk,
                         body="On a public arm")
    carol = api_for(other_curator)
    filtered = carol.get(URL, {"target_type": "curation.extraction",
                               "object_id": question.object_id})
    assert filtered.status_code == 200 and filtered.json()["results"] == []
    assert [c["body"] for c in carol.get(URL).json()["results"]] == ["On a public arm"]
    assert carol.get(f"{URL}{question.pk}/").status_code == 404
    assert carol.post(f"{URL}{question.pk}/resolve/").status_code == 404


def test_a_filter_value_that_is_not_valid_answers_400(api_for, reviewer):
    response = api_for(reviewer).get(URL, {"target_type": "auth.user"})
    assert response.status_code == 400 and "target_type" in response.json()


def test_comments_are_documented_in_the_schema(api_for, db):
    schema = api_for(None).get("/api/v1/schema/?format=json").json()
    assert {"/api/v1/comments/", "/api/v1/comments/{id}/", "/api/v1/comments/{id}/resolve/",
            "/api/v1/comments/{id}/reopen/"} <= set(schema["paths"])
    create = schema["paths"]["/api/v1/comments/"]["post"]
    assert {"201", "400", "401", "403"} <= set(create["responses"])
    assert "409" in schema["paths"]["/api/v1/comments/{id}/resolve/"]["post"]["responses"]
