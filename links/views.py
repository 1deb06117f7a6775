"""HTML pages for identity links and supersession, and the reviewers' decisions.

Curators propose here; nothing is written to the live tables until a reviewer
accepts the request (links.services)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from curation import rules
from curation.views import curation_required

from . import selectors, services
from .forms import (
    ManualLinkForm,
    PatientPairForm,
    ReviewForm,
    SupersessionForm,
    UndoIdentityForm,
    UndoSupersessionForm,
)
from .models import LinkAction, LinkKind

SUGGESTIONS_PER_PAGE = 25
PERSONS_PER_PAGE = 20


def _damaged() -> HttpResponse:
    return HttpResponse("The page was damaged; reload it.", status=400)


def _refused(request, refused: services.LinkRefused):
    if isinstance(refused, services.LinkForbidden):
        raise PermissionDenied(refused.message) from refused
    messages.error(request, f"Not proposed: {refused.message}")


@require_GET
@curation_required
def identity(request):
    return _render_identity(request, ManualLinkForm())


def _render_identity(request, form: ManualLinkForm, status: int = 200):
    suggestions = Paginator(selectors.identity_suggestions(), SUGGESTIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    persons = Paginator(selectors.linked_persons(), PERSONS_PER_PAGE).get_page(
        request.GET.get("links_page")
    )
    reports = [report for person in persons for report in person.reports.all()]
    return render(request, "links/identity.html", {
        "form": form,
        "suggestions": suggestions,
        "persons": persons,
        "undo_waiting": selectors.open_unlinks(r.pk for r in reports),
        "is_curator": rules.is_curator(request.user),
        "mine": selectors.my_open_requests(request.user),
    }, status=status)


@require_POST
@curation_required
def identity_link(request):
    """Link any two reports, named by publication and label (e.g. a case report and a
    later series of another study, which suggestions do not cover)."""
    form = ManualLinkForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.link_request_propose(
                proposer=request.user, kind=LinkKind.SAME_PERSON, patient=data["patient"],
                other_patient=data["other_patient"], evidence=data["evidence"],
                note=data["note"], submit=True,
            )
        except services.LinkForbidden as refused:
            raise PermissionDenied(refused.message) from refused
        except services.LinkRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, "Link proposed; it applies once a reviewer accepts it.")
            return redirect("links:identity")
    return _render_identity(request, form, status=400)


@require_POST
@curation_required
def identity_propose(request):
    """Propose a suggested (or any) pair as one person, or dismiss the suggestion."""
    form = PatientPairForm(request.POST)
    if not form.is_valid():
        return _damaged()
    data = form.cleaned_data
    try:
        if request.POST.get("action") == "dismiss":
            services.suggestion_dismiss(
                curator=request.user, patient=data["patient"], other_patient=data["other_patient"]
            )
            messages.success(request, "Suggestion dismissed: not the same person.")
        else:
            services.link_request_propose(
                proposer=request.user, kind=LinkKind.SAME_PERSON, patient=data["patient"],
                other_patient=data["other_patient"], evidence=data["evidence"],
                note=data["note"], submit=True,
            )
            messages.success(request, "Link proposed; it applies once a reviewer accepts it.")
    except services.LinkRefused as refused:
        _refused(request, refused)
    return redirect("links:identity")


@require_POST
@curation_required
def identity_undo(request):
    form = UndoIdentityForm(request.POST)
    if not form.is_valid():
        return _damaged()
    try:
        services.link_request_propose(
            proposer=request.user, kind=LinkKind.SAME_PERSON, action=LinkAction.UNLINK,
            patient=form.cleaned_data["patient"], note=form.cleaned_data["note"], submit=True,
        )
        messages.success(request, "Undoing the link is proposed; a reviewer decides.")
    except services.LinkRefused as refused:
        _refused(request, refused)
    return redirect("links:identity")


@require_http_methods(["GET", "POST"])
@curation_required
def supersession(request):
    form = SupersessionForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.link_request_propose(
                    proposer=request.user, kind=LinkKind.SUPERSEDES,
                    publication=form.cleaned_data["publication"],
                    newer=form.cleaned_data["newer"], note=form.cleaned_data["note"],
                    submit=True,
                )
            except services.LinkForbidden as refused:
                raise PermissionDenied(refused.message) from refused
            except services.LinkRefused as refused:
                form.add_error(refused.field if refused.field in form.fields else None,
                               refused.message)
            else:
                messages.success(request, "Proposed; it applies once a reviewer accepts it.")
                return redirect("links:supersession")
    superseded = list(selectors.superseded_publications()[:200])
    candidates = selectors.supersession_candidates()
    return render(request, "links/supersession.html", {
        "form": form,
        "superseded": superseded,
        "undo_waiting": selectors.open_supersession_undos(p.pk for p in superseded),
        "candidates": list(zip(candidates, _fuller(candidates), strict=True)),
        "is_curator": rules.is_curator(request.user),
        "mine": selectors.my_open_requests(request.user),
    }, status=400 if form.errors else 200)


def _fuller(candidates) -> list:
    fuller = selectors.fuller_reports_of(candidates)
    return [fuller.get(c.pk, []) for c in candidates]


@require_POST
@curation_required
def supersession_undo(request):
    form = UndoSupersessionForm(request.POST)
    if not form.is_valid():
        return _damaged()
    try:
        services.link_request_propose(
            proposer=request.user, kind=LinkKind.SUPERSEDES, action=LinkAction.UNLINK,
            publication=form.cleaned_data["publication"], note=form.cleaned_data["note"],
            submit=True,
        )
        messages.success(request, "Undoing the supersession is proposed; a reviewer decides.")
    except services.LinkRefused as refused:
        _refused(request, refused)
    return redirect("links:supersession")


@require_POST
@curation_required
def submit(request, pk: int):
    try:
        services.link_request_submit(request_id=pk, user=request.user)
        messages.success(request, "Submitted for review.")
    except services.LinkForbidden as refused:
        raise PermissionDenied(refused.message) from refused
    except services.LinkRefused as refused:
        messages.error(request, refused.message)
    return redirect("curation:dashboard")


@require_POST
@curation_required
def review(request, pk: int):
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _damaged()
    comment = form.cleaned_data["comment"]
    try:
        if form.cleaned_data["action"] == "accept":
            services.link_request_accept(request_id=pk, user=request.user, comment=comment)
            messages.success(request, "Accepted: the link is applied and the pooled numbers "
                             "are being refreshed.")
        else:
            services.link_request_reject(request_id=pk, user=request.user, comment=comment)
            messages.success(request, "Rejected.")
    except services.LinkForbidden as refused:
        raise PermissionDenied(refused.message) from refused
    except services.LinkRefused as refused:
        messages.error(request, f"Not done: {refused.message}")
    return redirect("curation:dashboard")
