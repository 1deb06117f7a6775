"""HTML views of the discussion: add a comment, resolve or reopen a thread, and the
discussion page of a live record. Plain POST with a redirect back; an htmx request
gets the record's thread again, to swap in place."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from curation.models import Extraction
from curation.views import curation_required

from . import rules, selectors, services, targets
from .forms import CommentForm


def _back(request, fallback: str) -> str:
    """The page the form was on (a local URL only), else the record's page."""
    wanted = request.POST.get("next", "")
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted.split("#")[0]
    return fallback.split("#")[0]


def _thread_response(request, target, *, form=None, error: str = "", status: int = 200):
    thread = selectors.thread_for(request.user, target)
    if thread is None:
        raise Http404("No such record.")
    return render(request, "discussion/thread.html", {
        "thread": thread, "form": form or CommentForm(), "error": error,
        "next": request.POST.get("next", ""), "htmx": True,
    }, status=status)


def _form_target(user, form: CommentForm):
    """The record a form that did not validate was about, to show its thread again."""
    data = getattr(form, "cleaned_data", {})
    if data.get("parent"):
        parent = selectors.comments_visible_to(user).filter(pk=data["parent"]).first()
        return parent.target if parent is not None else None
    return targets.find(data.get("target_type") or "", data.get("object_id"))


@require_POST
@curation_required
def comment_add(request):
    form = CommentForm(request.POST)
    comment = None
    if form.is_valid():
        try:
            comment = services.comment_add(user=request.user, **form.service_arguments())
        except ValidationError as invalid:
            form.add_service_errors(invalid)
        except services.CommentForbidden as refused:
            raise PermissionDenied(refused.message) from refused
    if request.htmx:
        target = comment.target if comment is not None else _form_target(request.user, form)
        if target is not None and rules.may_view_target(request.user, target):
            # htmx swaps 2xx answers only: an invalid comment comes back with its errors.
            return _thread_response(request, target, form=None if comment else form)
    if comment is None:
        return render(request, "discussion/comment_invalid.html", {
            "form": form, "back": _back(request, reverse("curation:dashboard")),
        }, status=400)
    messages.success(request, "Comment added.")
    anchor = f"#comment-{comment.parent_id or comment.pk}"
    return redirect(_back(request, comment.get_absolute_url()) + anchor)


def _transition(request, pk: int, service, done: str):
    comment = get_object_or_404(selectors.comments_visible_to(request.user), pk=pk)
    error = ""
    try:
        service(comment_id=comment.pk, user=request.user)
    except services.CommentForbidden as refused:
        raise PermissionDenied(refused.message) from refused
    except services.CommentRefused as refused:
        error = refused.message
    if request.htmx:
        return _thread_response(request, comment.target, error=error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect(_back(request, comment.get_absolute_url()) + f"#comment-{comment.pk}")


@require_POST
@curation_required
def comment_resolve(request, pk: int):
    return _transition(request, pk, services.comment_resolve, "Marked as resolved.")


@require_POST
@curation_required
def comment_reopen(request, pk: int):
    return _transition(request, pk, services.comment_reopen, "Reopened.")


@require_GET
@curation_required
def record(request, target_type: str, object_id: int):
    """The discussion of one live record, with links to its history."""
    target = targets.find(target_type, object_id)
    if target is None or not rules.may_view_target(request.user, target):
        raise Http404("No such record.")
    if isinstance(target, Extraction):
        return redirect(target.get_absolute_url() + "#discussion")
    return render(request, "discussion/record.html", {
        "target": target,
        "title": targets.describe(target),
        "history_url": reverse("curation:record_history",
                               args=[target._meta.model_name, target.pk]),
    })
