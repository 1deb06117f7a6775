"""Writing comments: add, resolve, reopen. Each checks who may do it (discussion.rules)
and owns its transaction. Bad input raises django's ValidationError with messages by
field; refusals raise CommentRefused (CommentForbidden when the user may not)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import rules, targets
from .models import BODY_MAX_LENGTH, COMMENTABLE, LOCATION_MAX_LENGTH, Comment, CommentKind


class CommentRefused(Exception):
    """Not possible in the comment's state (e.g. resolving a resolved thread)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class CommentForbidden(CommentRefused):
    """The user may not do this."""


def _visible_target(user, target_type: str, object_id) -> tuple[object | None, dict]:
    """The record, or field errors. A record the user may not see reads as missing,
    so that a curator cannot learn that a colleague's extraction exists."""
    if not target_type:
        return None, {"target_type": ["Name the type of record commented on."]}
    if target_type not in COMMENTABLE:
        return None, {"target_type": [
            f"'{target_type}' is not a record one can comment on; use one of: "
            + ", ".join(COMMENTABLE) + "."
        ]}
    if object_id is None:
        return None, {"object_id": ["Name the id of the record commented on."]}
    target = targets.find(target_type, object_id)
    if target is None or not rules.may_view_target(user, target):
        name = targets.model_for(target_type)._meta.verbose_name
        return None, {"object_id": [f"There is no {name} with id {object_id}."]}
    return target, {}


def _thread_for_reply(user, parent_id: int) -> tuple[Comment | None, dict]:
    parent = Comment.objects.filter(pk=parent_id).first()
    target = parent.target if parent is not None else None
    if parent is None or target is None or not rules.may_view_target(user, target):
        return None, {"parent": [f"There is no comment with id {parent_id}."]}
    if parent.parent_id is not None:
        return None, {"parent": ["Reply to the first comment of the thread (comment "
                                 f"{parent.parent_id}), not to a reply."]}
    return parent, {}


@transaction.atomic
def comment_add(
    *,
    user,
    body: str,
    target_type: str = "",
    object_id: int | None = None,
    parent_id: int | None = None,
    kind: str = CommentKind.NOTE,
    location: str = "",
) -> Comment:
    """A comment on a record (target_type "app_label.model" and object_id), or a reply
    to a thread (parent_id; the record is the thread's)."""
    if not rules.may_see_discussion(user):
        raise CommentForbidden("Comments are for curators and reviewers.")
    body = (body or "").strip()
    location = (location or "").strip()
    errors: dict[str, list[str]] = {}
    if not body:
        errors["body"] = ["Write the comment: the text is empty."]
    elif len(body) > BODY_MAX_LENGTH:
        errors["body"] = [f"At most {BODY_MAX_LENGTH} characters (this one has {len(body)})."]
    if len(location) > LOCATION_MAX_LENGTH:
        errors["location"] = [f"At most {LOCATION_MAX_LENGTH} characters."]
    if kind not in CommentKind.values:
        errors["kind"] = [f"'{kind}' is not a kind of comment; use one of: "
                          + ", ".join(CommentKind.values) + "."]
    parent = None
    if parent_id is not None:
        parent, problems = _thread_for_reply(user, parent_id)
        if parent is not None and target_type and (
            target_type != parent.target_type or str(object_id) != str(parent.object_id)
        ):
            problems = {"parent": [f"Comment {parent_id} is about another record."]}
        errors.update(problems)
        target = parent.target if parent is not None else None
    else:
        target, problems = _visible_target(user, target_type, object_id)
        errors.update(problems)
    if errors:
        raise ValidationError(errors)
    comment = Comment(
        target=target, parent=parent, author=user, kind=kind, body=body, location=location
    )
    comment.full_clean()
    comment.save()
    return comment


def _locked_thread(*, comment_id: int, user) -> Comment:
    """The thread's first comment, locked, once the user is known to be allowed."""
    comment = Comment.objects.select_for_update().filter(pk=comment_id).first()
    target = comment.target if comment is not None else None
    if target is None or not rules.may_view_target(user, target):
        raise CommentForbidden(f"There is no comment with id {comment_id}.")
    if comment.parent_id is not None:
        raise CommentRefused("Replies are resolved with their thread: resolve or reopen "
                             f"comment {comment.parent_id}.")
    if not rules.may_resolve(user, comment,
                             record_curator=rules.is_record_curator(user, target)):
        raise CommentForbidden("Only the comment's author, the record's curator or a "
                               "reviewer may resolve or reopen it.")
    return comment


@transaction.atomic
def comment_resolve(*, comment_id: int, user) -> Comment:
    comment = _locked_thread(comment_id=comment_id, user=user)
    if comment.resolved_at is not None:
        raise CommentRefused(
            f"Already resolved by {comment.resolved_by.get_username()} on "
            f"{timezone.localtime(comment.resolved_at):%Y-%m-%d %H:%M}."
        )
    comment.resolved_at = timezone.now()
    comment.resolved_by = user
    comment.save(update_fields=["resolved_at", "resolved_by"])
    return comment


@transaction.atomic
def comment_reopen(*, comment_id: int, user) -> Comment:
    comment = _locked_thread(comment_id=comment_id, user=user)
    if comment.resolved_at is None:
        raise CommentRefused("This comment is open already.")
    comment.resolved_at = None
    comment.resolved_by = None
    comment.save(update_fields=["resolved_at", "resolved_by"])
    return comment
