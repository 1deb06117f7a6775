"""The discussion on the pages: the extraction workspace (also the review page), the
catalogue's study page (curation users only), a live record's discussion page and
both queues on the curation dashboard."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from discussion import services
from discussion.models import Comment


def _section(page: str, marker: str) -> str:
    return page.split(marker)[1].split("</section>")[0]


def _status(response):
    if response.status_code == 302 and "/accounts/login/" in response["Location"]:
        return "login"
    return response.status_code


@pytest.mark.parametrize("person, expected", [
    ("anonymous", "login"), ("otto", 403), ("alice", 302), ("carol", 400), ("rita", 302),
])
def test_who_may_comment_in_html(client_for, people, draft, person, expected):
    response = client_for(people[person]).post("/curation/discussion/comments/", {
        "target_type": "curation.extraction", "object_id": draft.pk, "kind": "question",
        "body": f"Asked by {person}", "next": draft.get_absolute_url(),
    })
    assert _status(response) == expected
    assert Comment.objects.filter(body=f"Asked by {person}").exists() == (expected == 302)
    if expected == 302:
        comment = Comment.objects.get()
        assert response["Location"] == f"{draft.get_absolute_url()}#comment-{comment.pk}"
    if expected == 400:
        assert f"There is no extraction with id {draft.pk}" in response.content.decode()


def test_the_workspace_shows_the_thread_to_curator_and_reviewer(client_for, question,
                                                                 curator, reviewer):
    services.comment_add(user=curator, parent_id=question.pk, body="It is 2, see p. 4.")
    for user in (curator, reviewer):
        page = client_for(user).get(question.target.get_absolute_url()).content.decode()
        thread = _section(page, 'id="discussion"')
        assert "Is the day-90 SLEDAI-2K 2 or 4?" in thread and "It is 2, see p. 4." in thread
        assert "patients[0].outcomes[1].value" in thread
        assert 'data-comment-state="open"' in thread and 'data-action="resolve"' in thread


def test_resolving_in_html_round_trips(client_for, question, curator):
    client = client_for(curator)
    url = question.target.get_absolute_url()
    response = client.post(f"/curation/discussion/comments/{question.pk}/resolve/",
                           {"next": url})
    assert response.status_code == 302 and response["Location"].startswith(url)
    page = client.get(url).content.decode()
    assert 'data-comment-state="resolved"' in page and "Resolved by alice" in page
    assert 'data-open-comments>0 open<' in page
    client.post(f"/curation/discussion/comments/{question.pk}/reopen/", {"next": url})
    assert 'data-comment-state="open"' in client.get(url).content.decode()


def test_htmx_gets_the_thread_back_with_the_new_comment(client_for, draft, reviewer):
    response = client_for(reviewer).post("/curation/discussion/comments/", {
        "target_type": "curation.extraction", "object_id": draft.pk, "kind": "note",
        "body": "Swapped in place",
    }, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200 and page.lstrip().startswith("<section")
    assert "Swapped in place" in page and "<html" not in page


def test_htmx_keeps_typed_input_and_names_the_error(client_for, draft, reviewer):
    response = client_for(reviewer).post("/curation/discussion/comments/", {
        "target_type": "curation.extraction", "object_id": draft.pk, "kind": "question",
        "body": "   ", "location": "Table 3",
    }, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "This field is required." in page and 'value="Table 3"' in page
    assert not Comment.objects.exists()


def test_a_curator_cannot_resolve_what_she_cannot_see(client_for, question, other_curator):
    response = client_for(other_curator).post(
        f"/curation/discussion/comments/{question.pk}/resolve/")
    assert response.status_code == 404
    question.refresh_from_db()
    assert question.resolved_at is None


def test_the_queues_show_open_comments_and_flags(client_for, draft, curator, reviewer,
                                                 other_curator, carols_draft):
    question = services.comment_add(
        user=reviewer, target_type="curation.extraction", object_id=draft.pk,
        kind="question", body="Which table?")
    flag = services.comment_add(
        user=reviewer, target_type="curation.extraction", object_id=carols_draft.pk,
        kind="suspected_error", body="Age 42, not 24", location="patients[0].age_years")

    alices = client_for(curator).get("/curation/").content.decode()
    assert 'data-queue-count="comments">1<' in alices
    mine = _section(alices, 'id="queue-comments"')
    assert "Which table?" in mine and f"#comment-{question.pk}" in mine
    assert "Age 42" not in alices and 'id="queue-flags"' not in alices

    ritas = client_for(reviewer).get("/curation/").content.decode()
    assert 'data-queue-count="flags">1<' in ritas
    flags = _section(ritas, 'id="queue-flags"')
    assert "Age 42, not 24" in flags and "patients[0].age_years" in flags
    assert f"/curation/extractions/{carols_draft.pk}/#comment-{flag.pk}" in flags

    services.comment_resolve(comment_id=flag.pk, user=other_curator)
    assert 'data-queue-count="flags">0<' in client_for(reviewer).get("/curation/").content.decode()


def test_the_study_page_shows_discussion_to_curation_users_only(client_for, people,
                                                                public_arm, reviewer):
    services.comment_add(user=reviewer, target_type="studies.arm", object_id=public_arm.pk,
                         kind="suspected_error", body="Internal: n looks wrong")
    url = f"/studies/{public_arm.study_id}/"
    for person in ("anonymous", "otto"):
        page = client_for(people[person]).get(url).content.decode()
        assert "Internal: n looks wrong" not in page and 'id="discussion"' not in page
    page = client_for(people["alice"]).get(url).content.decode()
    thread = _section(page, 'id="discussion"')
    assert "Internal: n looks wrong" in thread and f'href="#arm-{public_arm.pk}"' in thread
    assert f'value="studies.arm:{public_arm.pk}"' in thread


def test_comment_from_the_study_page_lands_on_the_chosen_row(client_for, curator, public_arm):
    url = f"/studies/{public_arm.study_id}/"
    response = client_for(curator).post("/curation/discussion/comments/", {
        "target": f"studies.arm:{public_arm.pk}", "kind": "note", "body": "Dose per kg?",
        "next": url,
    })
    comment = Comment.objects.get()
    assert response["Location"] == f"{url}#comment-{comment.pk}"
    assert comment.target == public_arm


def test_a_live_record_has_its_own_discussion_page(client_for, public_arm, reviewer, people):
    services.comment_add(user=reviewer, target_type="studies.arm", object_id=public_arm.pk,
                         body="Seen")
    url = f"/curation/discussion/studies.arm/{public_arm.pk}/"
    assert _status(client_for(None).get(url)) == "login"
    assert client_for(people["otto"]).get(url).status_code == 403
    assert client_for(people["carol"]).get("/curation/discussion/auth.user/1/").status_code == 404
    page = client_for(people["carol"]).get(url).content.decode()
    assert "Seen" in page and f"/curation/history/arm/{public_arm.pk}/" in page


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _discuss(user, target_type, object_id, count):
    for number in range(count):
        thread = services.comment_add(user=user, target_type=target_type, object_id=object_id,
                                      kind="suspected_error", body=f"Flag {number}")
        services.comment_add(user=user, parent_id=thread.pk, body=f"Reply {number}")


def test_pages_make_as_many_queries_with_many_comments_as_with_one(
    client_for, draft, public_arm, curator, reviewer
):
    pages = [draft.get_absolute_url(), f"/studies/{public_arm.study_id}/", "/curation/",
             f"/curation/discussion/studies.arm/{public_arm.pk}/"]
    client = client_for(reviewer)
    _discuss(curator, "curation.extraction", draft.pk, 1)
    _discuss(reviewer, "studies.arm", public_arm.pk, 1)
    _discuss(reviewer, "studies.study", public_arm.study_id, 1)
    # The queue loads the records with one query per type of record, not per comment.
    _discuss(reviewer, "studies.patient", public_arm.patients.get().pk, 1)
    before = [_queries(client, url) for url in pages]
    _discuss(curator, "curation.extraction", draft.pk, 5)
    _discuss(reviewer, "studies.arm", public_arm.pk, 5)
    _discuss(reviewer, "studies.patient", public_arm.patients.get().pk, 5)
    assert [_queries(client, url) for url in pages] == before


def test_htmx_reply_without_text_comes_back_in_its_thread(client_for, question, curator):
    response = client_for(curator).post("/curation/discussion/comments/", {
        "parent": question.pk, "kind": "note", "body": ""}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200 and "This field is required." in page
    assert "Is the day-90 SLEDAI-2K 2 or 4?" in page


def test_a_damaged_form_is_refused_without_a_server_error(client_for, reviewer, db):
    response = client_for(reviewer).post("/curation/discussion/comments/", {
        "target_type": "curation.extraction", "object_id": "abc", "body": "Hm"},
        HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and not Comment.objects.exists()
