"""HTML views of the curation area: queues, the extraction workspace, review, history.

Each view checks who may see the page (curation.rules), parses input with a form and
calls one service. Nothing here writes to the live tables directly.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from imports.models import RegistryRecord
from studies.models import Publication

from . import rules, selectors, services
from .forms import (
    FORMSETS,
    NewPublicationForm,
    ReviewForm,
    VersionForm,
    Vocabularies,
    Workspace,
    measure_hint,
)
from .history import document_changes, record_history
from .models import OPEN_STATUSES, Extraction, ExtractionStatus, Reconciliation
from .payload import SECTIONS

MAX_ROWS_PER_SECTION = 2000


def curation_required(view):
    """Signed in, and holding the curator, reviewer or admin role."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not rules.may_use_curation(request.user):
            raise PermissionDenied("The curation area is for curators and reviewers.")
        return view(request, *args, **kwargs)

    return wrapper


def _visible_extraction(request, pk: int) -> Extraction:
    extraction = get_object_or_404(
        Extraction.objects.select_related("curator", "reviewer", "publication"), pk=pk
    )
    if not rules.may_view(request.user, extraction):
        raise Http404("No such extraction.")
    return extraction


# Queues ---------------------------------------------------------------------------------------


@require_GET
@curation_required
def dashboard(request):
    queues = selectors.queues_for(request.user)
    pairs = services.reconciliation_pairs(user=request.user)
    # A pair is reconciled, not reviewed one by one: list it once, as a pair.
    paired = {extraction.pk for pair in pairs for extraction in pair}
    for queue in queues:
        if queue.key == "review":
            queue.extractions = [e for e in queue.extractions if e.pk not in paired]
    return render(request, "curation/dashboard.html", {
        "queues": queues,
        "reconcile_pairs": pairs,
        "is_curator": rules.is_curator(request.user),
        "is_reviewer": rules.is_reviewer(request.user),
    })


@require_GET
@curation_required
def publication_list(request):
    """Publications in the catalogue, to start an edit or open their history."""
    query = request.GET.get("q", "").strip()
    publications = Publication.objects.prefetch_related("authors").order_by("-year", "title")
    if query:
        publications = publications.filter(
            Q(title__icontains=query) | Q(doi__icontains=query) | Q(journal__icontains=query)
            | Q(authors__family_name__icontains=query)
            | (Q(pmid=int(query)) if query.isdigit() else Q(pk__in=[]))
        ).distinct()
    page = Paginator(publications, 50).get_page(request.GET.get("page"))
    return render(request, "curation/publication_list.html", {
        "page": page, "query": query, "is_curator": rules.is_curator(request.user),
    })


# Starting an extraction -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@curation_required
def publication_new(request):
    if not rules.is_curator(request.user):
        raise PermissionDenied("Only curators start extractions.")
    form = NewPublicationForm(request.POST or None, prefix="publication")
    existing = None
    if request.method == "POST" and form.is_valid():
        try:
            extraction = services.extraction_create(
                curator=request.user, citation=form.citation()
            )
        except services.PublicationAlreadyPublic as refused:
            existing = refused.publication
            form.add_error(None, refused.message)
        except services.AlreadyOpen as refused:
            messages.info(request, refused.message)
            return redirect(refused.extraction)
        else:
            messages.success(request, "Started. Save the draft whenever you like.")
            return redirect(extraction)
    return render(request, "curation/publication_new.html", {"form": form, "existing": existing})


@require_POST
@curation_required
def publication_edit(request, pk: int):
    """Open (or reopen) the curator's draft of a public publication."""
    publication = get_object_or_404(Publication, pk=pk)
    try:
        extraction = services.extraction_start_edit(curator=request.user, publication=publication)
    except services.ExtractionForbidden as refused:
        raise PermissionDenied(refused.message) from refused
    return redirect(extraction)


# The workspace ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@curation_required
def workspace(request, pk: int):
    extraction = _visible_extraction(request, pk)
    editable = rules.may_edit(request.user, extraction)
    if request.method == "POST":
        if not editable:
            raise PermissionDenied("You cannot change this extraction.")
        action = request.POST.get("action", "save")
        if action == "rebase":
            return _rebase(request, extraction)
        if action == "add_registry_study":
            # The curator's typing is saved first, so adding the study loses none of it.
            return _save(request, extraction, submit=False,
                         registry_id=request.POST.get("registry_id", ""))
        return _save(request, extraction, submit=action == "submit")
    workspace = Workspace(extraction, read_only=not editable)
    return _render_workspace(request, extraction, workspace, editable=editable)


def _save(request, extraction: Extraction, *, submit: bool, registry_id: str | None = None):
    workspace = Workspace(extraction, request.POST)
    if not workspace.is_valid():
        messages.error(request, "Not saved: correct the rows marked below. Nothing you "
                       "typed was lost.")
        return _render_workspace(request, extraction, workspace, editable=True, status=400)
    try:
        extraction = services.extraction_save(
            extraction_id=extraction.pk, user=request.user, payload=workspace.payload,
            version=workspace.version,
        )
    except services.StaleVersion as stale:
        # Show the curator's input again, as typed, and what the other save changed.
        messages.error(request, stale.message + " Your input is shown below, not saved: "
                       "compare it with the current version before saving again.")
        return _render_workspace(
            request, extraction, workspace, editable=True, status=409,
            stale=_stale_changes(extraction, workspace.version, stale.current),
        )
    except services.ExtractionForbidden as refused:
        raise PermissionDenied(refused.message) from refused
    except services.ExtractionRefused as refused:
        messages.error(request, refused.message)
        return redirect(extraction)
    if registry_id is not None:
        return _add_registry_study(request, extraction, registry_id)
    if not submit:
        messages.success(request, f"Draft saved (version {extraction.version}).")
        return redirect(extraction)
    try:
        extraction = services.extraction_submit(
            extraction_id=extraction.pk, user=request.user, version=extraction.version
        )
    except services.ExtractionInvalid as invalid:
        count = len(invalid.errors)
        messages.error(request, f"Saved, but not submitted: {count} "
                       f"problem{'s' if count != 1 else ''} to correct first.")
        checked = Workspace(extraction)
        checked.add_bundle_errors(invalid.errors)
        return _render_workspace(request, extraction, checked, editable=True, status=400)
    except services.ExtractionRefused as refused:
        messages.error(request, f"Saved, but not submitted: {refused.message}")
        return redirect(extraction)
    messages.success(request, "Submitted for review.")
    return redirect(extraction)


def _add_registry_study(request, extraction: Extraction, registry_id: str):
    """After the draft was saved: add a study from an imported registry record."""
    try:
        extraction, record = services.extraction_add_registry_study(
            extraction_id=extraction.pk, user=request.user, registry_id=registry_id,
            version=extraction.version,
        )
    except services.ExtractionRefused as refused:
        messages.error(request, f"Draft saved (version {extraction.version}), but no study "
                       f"was added: {refused.message}")
        return redirect(extraction)
    messages.success(request, f"Draft saved and the study {record.identifier} added from its "
                     f"registry record (version {extraction.version}).")
    if record.conditions:
        diseases = ", ".join(f"{disease.name} ({disease.code})"
                             for disease in record.diseases.all())
        messages.info(request, "Registered conditions: " + "; ".join(record.conditions)
                      + (f" (carlit diseases: {diseases})" if diseases else "")
                      + ". Add an arm for each disease the publication reports, with its source.")
    return redirect(extraction)


def _rebase(request, extraction: Extraction):
    form = VersionForm(request.POST)
    if not form.is_valid():
        return HttpResponse("The page was damaged; reload it.", status=400)
    try:
        services.extraction_rebase(
            extraction_id=extraction.pk, user=request.user, version=form.cleaned_data["version"]
        )
    except services.ExtractionRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "Marked as up to date with the public version.")
    return redirect(extraction)


def _stale_changes(extraction: Extraction, seen_version: int, current: Extraction) -> dict:
    """What changed between the version the form was opened at and the current one."""
    seen = extraction.history.filter(version=seen_version).order_by("-history_id").first()
    before = seen.payload if seen is not None else {}
    return {
        "seen_version": seen_version,
        "current_version": current.version,
        "changes": document_changes(before, current.payload),
    }


def _render_workspace(request, extraction, workspace, *, editable: bool, status: int = 200,
                      stale: dict | None = None):
    live_changes = None
    review_changes = None
    if extraction.status not in (ExtractionStatus.ACCEPTED, ExtractionStatus.MERGED):
        live = services.live_state(extraction)
        if live != extraction.base:
            live_changes = document_changes(extraction.base, live)
        review_changes = document_changes(live, extraction.payload)
    context = {
        "extraction": extraction,
        "workspace": workspace,
        "problems": workspace.problems(),
        "editable": editable,
        "may_review": rules.may_review(request.user, extraction),
        "own": extraction.curator_id == request.user.pk,
        "review_form": ReviewForm(initial={"version": extraction.version}),
        "live_changes": live_changes,
        "review_changes": review_changes,
        "stale": stale,
        "references": workspace.references,
        "dual": _dual_extraction(request.user, extraction),
        # Lazy: read only when the editable workspace renders the registry study form.
        "registry_records": RegistryRecord.objects.order_by("-imported_at")[:200],
    }
    return render(request, "curation/workspace.html", context, status=status)


def _dual_extraction(user, extraction: Extraction) -> dict:
    """What the workspace says about independent extractions of the same publication:
    the reconciliation it took part in, and (to reviewers only: curators stay blind
    to each other) the other curators' open extractions."""
    dual = {"reconciliation": services.reconciliation_of(extraction)}
    if dual["reconciliation"] is None and extraction.status in OPEN_STATUSES and (
        rules.is_reviewer(user) or rules.is_manager(user)
    ):
        siblings = services.extraction_siblings(extraction)
        dual["siblings"] = siblings
        waiting = [s for s in siblings if s.status == ExtractionStatus.SUBMITTED]
        if waiting and extraction.status == ExtractionStatus.SUBMITTED:
            first, second = sorted((extraction, waiting[0]),
                                   key=lambda e: (e.submitted_at, e.pk))
            dual["reconcile_url"] = reverse("curation:reconcile", args=[first.pk, second.pk])
    return dual


@require_GET
@curation_required
def workspace_row(request, pk: int, section: str):
    """htmx: one empty row of a section, numbered after the rows on the page, and the
    formset's new row count (swapped out of band)."""
    extraction = _visible_extraction(request, pk)
    if section not in SECTIONS or not rules.may_edit(request.user, extraction):
        raise Http404()
    try:
        index = int(request.GET.get(f"{section}-TOTAL_FORMS", "0"))
    except ValueError:
        index = 0
    index = max(0, min(index, MAX_ROWS_PER_SECTION))
    workspace = Workspace(extraction)
    formset = FORMSETS[section](
        prefix=section, form_kwargs={"vocab": workspace.vocab,
                                     "references": workspace.references},
    )
    # Django's documented way to add formset rows: the empty form, numbered.
    html = render_to_string(
        "curation/partials/row.html",
        {"form": formset.empty_form, "section": section, "index": index, "editable": True,
         "new": True},
        request=request,
    ).replace("__prefix__", str(index))
    html += (
        f'<input type="hidden" name="{section}-TOTAL_FORMS" value="{index + 1}" '
        f'id="id_{section}-TOTAL_FORMS" hx-swap-oob="true">'
    )
    return HttpResponse(html)


@require_GET
@curation_required
def measure_hint_view(request):
    """htmx: the range and units of the measure chosen in an outcome row."""
    code = next(
        (value for key, value in request.GET.items() if key == "measure" or
         key.endswith("-measure")), ""
    )
    measure = Vocabularies.load().measures.get(code) if code else None
    return HttpResponse(measure_hint(measure))


# Review -------------------------------------------------------------------------------------


@require_POST
@curation_required
def review(request, pk: int):
    extraction = _visible_extraction(request, pk)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return HttpResponse("The page was damaged; reload it.", status=400)
    action = request.POST.get("action")
    arguments = {"extraction_id": extraction.pk, "user": request.user,
                 "version": form.cleaned_data["version"]}
    comment = form.cleaned_data["comment"]
    try:
        if action == "accept":
            services.extraction_accept(**arguments, comment=comment)
            messages.success(request, "Accepted: the data is now public.")
        elif action == "reject":
            services.extraction_reject(**arguments, comment=comment)
            messages.success(request, "Returned to the curator with your comment.")
        else:
            return HttpResponse("Unknown action.", status=400)
    except services.ExtractionForbidden as refused:
        raise PermissionDenied(refused.message) from refused
    except services.ExtractionInvalid as invalid:
        messages.error(request, "Not accepted: " + "; ".join(str(e) for e in invalid.errors[:10]))
    except services.ExtractionRefused as refused:
        messages.error(request, refused.message)
    return redirect(extraction)


# History --------------------------------------------------------------------------------------


@require_GET
@curation_required
def extraction_history(request, pk: int):
    """Every saved version of an extraction, each with the payload lines it changed."""
    extraction = _visible_extraction(request, pk)
    records = list(extraction.history.select_related("history_user").order_by("-history_id"))
    versions = []
    for index, record in enumerate(records):
        previous = records[index + 1] if index + 1 < len(records) else None
        versions.append({
            "record": record,
            "changes": document_changes(previous.payload if previous else {}, record.payload),
            "status_changed": previous is None or previous.status != record.status,
        })
    return render(request, "curation/extraction_history.html", {
        "extraction": extraction, "versions": versions,
    })


@require_http_methods(["GET", "POST"])
@curation_required
def live_record_history(request, model: str, pk: int):
    """A live record's versions as diffs; reviewers and admins may revert to one."""
    record_model = selectors.HISTORY_MODELS.get(model)
    if record_model is None:
        raise Http404()
    instance = get_object_or_404(record_model, pk=pk)
    if request.method == "POST":
        if not rules.may_revert(request.user):
            raise PermissionDenied("Only reviewers and admins can revert records.")
        try:
            history_id = int(request.POST["history_id"])
            latest = int(request.POST["latest_history_id"])
        except (KeyError, ValueError):
            return HttpResponse("The page was damaged; reload it.", status=400)
        try:
            services.record_revert(instance=instance, history_id=history_id, user=request.user,
                                   latest_history_id=latest)
        except services.ExtractionRefused as refused:
            messages.error(request, refused.message)
        else:
            messages.success(request, "Reverted. The revert is itself a new version below.")
        return redirect(reverse("curation:record_history", args=[model, pk]))
    entries = record_history(instance)
    return render(request, "curation/record_history.html", {
        "instance": instance,
        "model_name": record_model._meta.verbose_name,
        "model": model,
        "entries": entries,
        "latest_history_id": entries[0].record.history_id if entries else None,
        "may_revert": rules.may_revert(request.user),
        "related": selectors.related_records(instance),
    })


# Dual extraction: reconciling two curators' extractions ------------------------------------------


def _reviewer_only(request) -> None:
    if not rules.is_reviewer(request.user):
        raise PermissionDenied("Only reviewers reconcile extractions.")


@require_http_methods(["GET", "POST"])
@curation_required
def reconcile(request, a: int, b: int):
    """Two curators' extractions of one publication side by side, field by field; the
    reviewer decides each disputed field, and the result is accepted."""
    _reviewer_only(request)
    try:
        extraction_a, extraction_b, alignment = services.reconciliation_prepare(
            extraction_a_id=a, extraction_b_id=b, user=request.user
        )
    except services.ExtractionForbidden as refused:
        raise PermissionDenied(refused.message) from refused
    except services.ExtractionRefused as refused:
        messages.error(request, refused.message)
        return redirect("curation:dashboard")
    context = {"extraction_a": extraction_a, "extraction_b": extraction_b,
               "version_a": extraction_a.version, "version_b": extraction_b.version,
               "alignment": alignment, "choices": {}, "errors": {}, "comment": ""}
    if request.method == "GET":
        return _render_reconcile(request, context)

    try:
        version_a = int(request.POST["version_a"])
        version_b = int(request.POST["version_b"])
    except (KeyError, ValueError):
        return HttpResponse("The page was damaged; reload it.", status=400)
    choices = {}
    for item in alignment.decision_ids:
        choice = request.POST.get(f"choice-{item}", "")
        typed = request.POST.get(f"value-{item}", "")
        # Typing a value is choosing it, even without ticking "Type:".
        choices[item] = (choice or ("custom" if typed.strip() else ""), typed)
    comment = request.POST.get("comment", "")
    context.update(choices=choices, comment=comment, version_a=version_a, version_b=version_b)
    try:
        result = services.extractions_reconcile(
            extraction_a_id=extraction_a.pk, extraction_b_id=extraction_b.pk,
            user=request.user, version_a=version_a, version_b=version_b,
            choices=choices, comment=comment,
        )
    except services.StaleVersion as stale:
        # Keep every choice the reviewer made; the page now shows the current values.
        messages.error(request, stale.message + " Nothing was saved. Your choices are kept "
                       "below: check them against the current values and confirm again.")
        context.update(version_a=extraction_a.version, version_b=extraction_b.version,
                       stale=True)
        return _render_reconcile(request, context, status=409)
    except services.ReconciliationInvalid as invalid:
        count = sum(len(found) for found in invalid.errors.values())
        messages.error(request, f"Not reconciled: {count} problem{'s' if count != 1 else ''} "
                       "to correct, marked below. Nothing was saved.")
        context["errors"] = invalid.errors
        return _render_reconcile(request, context, status=400)
    except services.ExtractionForbidden as refused:
        raise PermissionDenied(refused.message) from refused
    except services.ExtractionRefused as refused:
        messages.error(request, refused.message)
        return _render_reconcile(request, context, status=409)
    messages.success(request, f"Reconciled and accepted: the data is now public "
                     f"(agreement {result.agreement_percent}%).")
    return redirect(result.result)


def _render_reconcile(request, context: dict, *, status: int = 200):
    alignment = context["alignment"]
    errors = context["errors"]
    known = {item for record in alignment.records for item in
             [record.id, *(f.id for f in record.fields)]}
    context["general_errors"] = [message for item, found in errors.items()
                                 if item not in known for message in found]
    context["records"] = [
        {"record": record,
         "choice": context["choices"].get(record.id, ("", ""))[0],
         "errors": errors.get(record.id, []),
         "fields": [{"field": f,
                     "choice": context["choices"].get(f.id, ("", ""))[0],
                     "typed": context["choices"].get(f.id, ("", ""))[1],
                     "errors": errors.get(f.id, [])}
                    for f in record.shown_fields]}
        for record in alignment.records
        if record.shown_fields or record.one_sided or errors.get(record.id)
    ]
    context["dispute_count"] = len(alignment.decision_ids)
    return render(request, "curation/reconcile.html", context, status=status)


@require_GET
@curation_required
def reconciliation_detail(request, pk: int):
    """A finished reconciliation: the agreement and every decision taken."""
    _reviewer_only(request)
    done = get_object_or_404(
        Reconciliation.objects.select_related(
            "extraction_a__curator", "extraction_b__curator", "result", "reviewer"
        ), pk=pk,
    )
    return render(request, "curation/reconcile_detail.html", {"reconciliation": done})
