"""Adding, resolving and reopening comments through the services: who may, what is
kept, and bad input reported by field with nothing written."""

import pytest
from django.core.exceptions import ValidationError

from curation.selectors import HISTORY_MODELS
from discussion import services
from discussion.models import COMMENTABLE, Comment
from discussion.selectors import comments_visible_to


def test_every_curated_record_can_be_discussed():
    assert {f"studies.{name}" for name in HISTORY_MODELS} | {"curation.extraction"} == set(
        COMMENTABLE)


def test_a_question_resolves_and_reopens_with_its_history(question, curator, reviewer):
    resolved = services.comment_resolve(comment_id=question.pk, user=curator)
    assert resolved.is_resolved and resolved.resolved_by == curator

    with pytest.raises(services.CommentRefused, match="Already resolved by alice"):
        services.comment_resolve(comment_id=question.pk, user=reviewer)

    reopened = services.comment_reopen(comment_id=question.pk, user=reviewer)
    assert not reopened.is_resolved and reopened.resolved_by is None
    with pytest.raises(services.CommentRefused, match="open already"):
        services.comment_reopen(comment_id=question.pk, user=reviewer)

    states = [(h.resolved_at is not None, h.resolved_by_id)
              for h in question.history.order_by("history_id")]
    assert states == [(False, None), (True, curator.pk), (False, None)]


def test_replies_join_the_thread_and_are_resolved_with_it(question, curator):
    reply = services.comment_add(user=curator, parent_id=question.pk,
                                 body="It is 2: see the text on p. 4.")
    assert reply.parent == question and reply.target == question.target
    with pytest.raises(services.CommentRefused, match=f"resolve or reopen comment {question.pk}"):
        services.comment_resolve(comment_id=reply.pk, user=curator)
    with pytest.raises(ValidationError) as invalid:
        services.comment_add(user=curator, parent_id=reply.pk, body="A reply to a reply")
    assert "first comment of the thread" in invalid.value.message_dict["parent"][0]


@pytest.mark.parametrize("arguments, field, message", [
    ({"body": "   "}, "body", "text is empty"),
    ({"body": "x" * 4001}, "body", "At most 4000 characters"),
    ({"location": "T" * 201}, "location", "At most 200"),
    ({"kind": "rumour"}, "kind", "'rumour' is not a kind"),
    ({"target_type": "auth.user"}, "target_type", "'auth.user' is not a record"),
    ({"target_type": ""}, "target_type", "Name the type"),
    ({"object_id": 999999}, "object_id", "There is no extraction with id 999999"),
    ({"object_id": None}, "object_id", "Name the id"),
], ids=["blank body", "long body", "long location", "kind", "unknown type", "no type",
        "no such record", "no id"])
def test_bad_input_is_refused_by_field_and_writes_nothing(draft, reviewer, arguments, field,
                                                           message):
    given = {"target_type": "curation.extraction", "object_id": draft.pk, "body": "Fine?",
             **arguments}
    with pytest.raises(ValidationError) as invalid:
        services.comment_add(user=reviewer, **given)
    assert message in " ".join(invalid.value.message_dict[field])
    assert not Comment.objects.exists()


@pytest.mark.parametrize("person, allowed", [
    ("anonymous", "forbidden"), ("otto", "forbidden"), ("alice", "yes"),
    ("carol", "no such record"), ("rita", "yes"),
])
def test_who_may_comment_on_alices_draft(people, draft, person, allowed):
    user = people[person]
    if user is None:
        from django.contrib.auth.models import AnonymousUser

        user = AnonymousUser()
    arguments = {"user": user, "target_type": "curation.extraction", "object_id": draft.pk,
                 "body": "Question"}
    if allowed == "yes":
        assert services.comment_add(**arguments).author == user
    elif allowed == "forbidden":
        with pytest.raises(services.CommentForbidden):
            services.comment_add(**arguments)
    else:
        # Carol is told the record does not exist, not that it is Alice's.
        with pytest.raises(ValidationError, match=f"no extraction with id {draft.pk}"):
            services.comment_add(**arguments)


@pytest.mark.parametrize("person, allowed", [
    ("otto", False), ("alice", True), ("carol", False), ("rita", True),
])
def test_who_may_resolve_a_question_on_alices_draft(people, draft, other_curator, person,
                                                     allowed):
    note = services.comment_add(user=people["alice"], target_type="curation.extraction",
                                object_id=draft.pk, body="Check the dose unit.")
    if allowed:
        assert services.comment_resolve(comment_id=note.pk, user=people[person]).is_resolved
    else:
        with pytest.raises(services.CommentForbidden):
            services.comment_resolve(comment_id=note.pk, user=people[person])


def test_on_a_live_record_the_accepting_curator_may_resolve(public_arm, curator,
                                                             other_curator, reviewer):
    """Carol flags a public arm that Alice extracted: Alice, Carol and Rita may resolve;
    Dave, another curator, may comment but not resolve."""
    from tests.factories import with_roles

    dave = with_roles("dave", "curator")
    flag = services.comment_add(user=other_curator, target_type="studies.arm",
                                object_id=public_arm.pk, kind="suspected_error",
                                body="n is 1 in the paper, not 2", location="Table 1")
    services.comment_add(user=dave, parent_id=flag.pk, body="Agreed.")
    with pytest.raises(services.CommentForbidden):
        services.comment_resolve(comment_id=flag.pk, user=dave)
    for user in (curator, other_curator, reviewer):
        services.comment_resolve(comment_id=flag.pk, user=user)
        services.comment_reopen(comment_id=flag.pk, user=user)


def test_curators_never_see_comments_on_each_others_extractions(
    question, carols_draft, curator, other_curator, reviewer, public_arm
):
    on_carols = services.comment_add(user=reviewer, target_type="curation.extraction",
                                     object_id=carols_draft.pk, body="Carol: check age")
    on_live = services.comment_add(user=reviewer, target_type="studies.arm",
                                   object_id=public_arm.pk, body="Looks right")
    assert set(comments_visible_to(curator)) == {question, on_live}
    assert set(comments_visible_to(other_curator)) == {on_carols, on_live}
    assert set(comments_visible_to(reviewer)) == {question, on_carols, on_live}
