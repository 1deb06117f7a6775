"""The import pages: upload, preview, confirm, result (curators only).

The uploaded file waits in the session between the preview and the confirmation;
confirming reads and classifies it again, inside the transaction that writes.
"""

from __future__ import annotations

import base64
import json
import secrets

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from curation import rules
from curation.models import Extraction
from curation.views import curation_required

from . import services
from .forms import ImportForm
from .models import RegistryRecord

PENDING = "imports.pending"
DONE = "imports.done"


def _curator_only(request) -> None:
    if not rules.is_curator(request.user):
        raise PermissionDenied("Only curators import citations and registry records.")


def _pending(request, key: str) -> dict | None:
    pending = request.session.get(PENDING) or {}
    return pending if pending.get("key") == key else None


def _content(pending: dict) -> bytes:
    return base64.b64decode(pending["content"])


@require_http_methods(["GET", "POST"])
@curation_required
def upload(request):
    _curator_only(request)
    form = ImportForm(request.POST or None, request.FILES or None)
    problems = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        content = upload.read()
        try:
            preview = services.import_preview(
                user=request.user, content=content, filename=upload.name,
                import_format=form.cleaned_data["import_format"] or None,
            )
        except services.ImportRefused as refused:
            form.add_error(None, refused.message)
            problems = refused.problems[1:]
        else:
            key = secrets.token_urlsafe(12)
            # Only the latest upload waits: a new one replaces it.
            request.session[PENDING] = {
                "key": key,
                "format": preview.import_format,
                "filename": upload.name,
                "content": base64.b64encode(content).decode("ascii"),
            }
            return redirect("imports:preview", key=key)
    return render(request, "imports/upload.html", {"form": form, "problems": problems})


@require_GET
@curation_required
def preview(request, key: str):
    _curator_only(request)
    pending = _pending(request, key)
    if pending is None:
        messages.info(request, "That preview is no longer current: upload the file again.")
        return redirect("imports:upload")
    try:
        result = services.import_preview(
            user=request.user, content=_content(pending), filename=pending["filename"],
            import_format=pending["format"],
        )
    except services.ImportRefused as refused:  # e.g. the size limit was lowered since
        messages.error(request, refused.message)
        return redirect("imports:upload")
    return render(request, "imports/preview.html", {"preview": result, "key": key})


@require_POST
@curation_required
def confirm(request, key: str):
    _curator_only(request)
    pending = _pending(request, key)
    if pending is None:
        messages.info(request, "That import was already confirmed or replaced by a newer "
                      "upload: nothing more was written.")
        return redirect("imports:upload")
    try:
        result = services.import_confirm(
            user=request.user, content=_content(pending), filename=pending["filename"],
            import_format=pending["format"],
        )
    except services.ImportRefused as refused:
        messages.error(request, refused.message)
        return redirect("imports:preview", key=key)
    request.session.pop(PENDING, None)
    request.session[DONE] = {
        "key": key,
        "filename": pending["filename"],
        "extractions": [extraction.pk for extraction in result.extractions],
        "registry_records": [record.pk for record in result.registry_records],
        "matches": len(result.preview.matches),
    }
    return redirect("imports:result", key=key)


@require_GET
@curation_required
def result(request, key: str):
    done = request.session.get(DONE) or {}
    if done.get("key") != key:
        return redirect("imports:upload")
    extractions = Extraction.objects.filter(
        pk__in=done["extractions"], curator=request.user
    ).select_related("curator", "reviewer", "publication").order_by("pk")
    registry_records = RegistryRecord.objects.filter(
        pk__in=done["registry_records"]
    ).order_by("pk")
    return render(request, "imports/result.html", {
        "done": done, "extractions": extractions, "registry_records": registry_records,
    })


@require_GET
@curation_required
def registry_record(request, pk: int):
    record = get_object_or_404(
        RegistryRecord.objects.select_related("imported_by").prefetch_related(
            "countries", "diseases"
        ),
        pk=pk,
    )
    return render(request, "imports/registry_record.html", {
        "record": record,
        "bundle_study": json.dumps(record.as_bundle_study(), indent=2, ensure_ascii=False),
    })
