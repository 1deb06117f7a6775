"""The public catalogue's pages. Each view parses its input, calls selectors or the
summary module, and renders; htmx requests get only the part of the page they swap.
The dashboard and the disease pages read the stored summary tables (the summaries
app, kept fresh by Celery); a group's drill-down page shows its stored totals and pools
the live rows of one page of its studies to show the evidence."""

import itertools
from datetime import date

from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from summaries import drilldown
from summaries import selectors as stored

from . import charts, export, listing, selectors, summary
from .facets import catalogue_facets
from .filtersets import StudyFilterSet
from .filtersets.studies import SORT_CHOICES
from .models import Disease, Study

PAGE_SIZE = 25
CONSTRUCTS_PER_PAGE = 50


def _filtered_studies(request) -> StudyFilterSet:
    # Always bound: no parameters is a valid, empty filter with the default sort.
    return StudyFilterSet(request.GET, queryset=selectors.public_studies())


def _filter_messages(filterset: StudyFilterSet) -> list[str]:
    """Readable reasons why filter values were ignored."""
    if filterset.is_valid():
        return []
    messages = []
    for name, errors in filterset.errors.items():
        label = filterset.filters[name].label if name in filterset.filters else "Filter"
        for error in errors:
            messages.append(f"{label}: {error} This filter was ignored.")
    return messages


def _query_without(request, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


@require_GET
def home(request):
    return render(request, "studies/home.html", {"newest": selectors.home_studies()})


@require_GET
@vary_on_headers("HX-Request")
def study_list(request):
    filterset = _filtered_studies(request)
    filterset.is_valid()
    facets = catalogue_facets(filterset)
    paginator = Paginator(filterset.qs, PAGE_SIZE)
    if facets.total is not None:
        paginator.count = facets.total  # stored: counting every study takes longer than the page
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "filterset": filterset,
        "filter_messages": _filter_messages(filterset),
        "facets": facets.facets,
        "page": page,
        "rows": listing.list_rows(page.object_list),
        "search_text": filterset.search_text,
        "sort": filterset.sort_key,
        "sort_param": filterset.form.cleaned_data.get("sort") or "",
        "sort_choices": [("", "Best match, or newest first")]
        + [c for c in SORT_CHOICES if c[0] != "relevance" or filterset.search_text],
        "query": request.GET.urlencode(),
        "query_without_page": _query_without(request, "page"),
        "query_without_sort": _query_without(request, "page", "sort"),
        "values": {
            name: request.GET.get(name, "") for name in ("year_min", "year_max", "min_patients")
        },
    }
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        return render(request, "studies/partials/catalogue_body.html", context)
    return render(request, "studies/study_list.html", context)


@require_GET
def study_detail(request, pk: int):
    try:
        detail = selectors.study_detail(pk)
    except Study.DoesNotExist:
        raise Http404("No public study has this id.") from None
    return render(request, "studies/study_detail.html", {"detail": detail, "study": detail.study})


@require_GET
def construct_list(request):
    page = Paginator(selectors.constructs(), CONSTRUCTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {"constructs": selectors.with_study_counts(page.object_list), "page": page}
    return render(request, "studies/construct_list.html", context)


@require_GET
def construct_detail(request, pk: int):
    try:
        detail = selectors.construct_detail(pk)
    except selectors.CarConstruct.DoesNotExist:
        raise Http404("No public construct has this id.") from None
    return render(request, "studies/construct_detail.html", {"detail": detail})


@require_GET
def disease_list(request):
    return render(
        request, "studies/disease_list.html", {"diseases": selectors.diseases_with_counts()}
    )


@require_GET
def disease_detail(request, code: str):
    disease = get_object_or_404(Disease.objects.select_related("parent", "main_outcome"), code=code)
    summaries = stored.disease_summaries(disease)
    context = {
        "disease": disease,
        "children": disease.children.all(),
        "newest": selectors.disease_studies(disease),
        "summaries": summaries,
        "metrics": summary.METRICS,
    }
    return render(request, "studies/disease_detail.html", context)


# The dashboard's forest plot shows at most this many arms, those with the most
# evaluable patients; each group's page lists all of its own.
FOREST_ARMS = 40


@require_GET
def summary_dashboard(request):
    summaries = stored.disease_target_summaries()
    points, more = stored.largest_response_points(summaries, FOREST_ARMS)
    context = {
        "summaries": summaries,
        "metrics": summary.METRICS,
        "patients_chart": charts.patients_by_disease_and_target(summaries),
        "forest_chart": charts.response_forest(points),
        "forest_rows": points,
        "forest_more": more,
    }
    return render(request, "studies/summary.html", context)


@require_GET
def summary_detail(request, disease: str, targets: str):
    group = drilldown.group_page(disease, targets, request.GET.get("page"))
    if group is None:
        raise Http404("No pooled numbers for this disease and target.")
    context = {
        "group": group,
        "totals": group.totals,
        "totals_list": [group.totals],
        "page": group.page,
        "metrics": summary.METRICS,
    }
    return render(request, "studies/summary_detail.html", context)


# Exports ---------------------------------------------------------------------------------


def _export_selection(request):
    filterset = _filtered_studies(request)
    filterset.is_valid()  # invalid values are ignored, as on the page
    return filterset.qs


# Lines are sent in pieces of about this many characters: through gunicorn, one write per
# line took about a sixth of a whole-catalogue CSV's time (10,000 studies).
DOWNLOAD_PIECE = 64 * 1024


def _pieces(lines):
    lines = iter(lines)
    # The first line goes out alone, at once: the download starts before the first
    # chunk of rows has been read.
    yield from itertools.islice(lines, 1)
    piece, size = [], 0
    for line in lines:
        piece.append(line)
        size += len(line)
        if size >= DOWNLOAD_PIECE:
            yield "".join(piece)
            piece, size = [], 0
    if piece:
        yield "".join(piece)


def _download(lines, content_type: str, extension: str) -> StreamingHttpResponse:
    # Streamed: the rows are read chunk by chunk while the file goes out, so that a
    # whole catalogue neither waits for its last row nor sits in memory.
    response = StreamingHttpResponse(_pieces(lines), content_type=content_type)
    filename = f"carlit-studies-{date.today().isoformat()}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
def export_csv(request):
    rows = listing.export_rows(_export_selection(request))
    base_url = request.build_absolute_uri("/").rstrip("/")
    return _download(export.studies_csv(rows, base_url=base_url), "text/csv; charset=utf-8", "csv")


@require_GET
def export_ris(request):
    publications = export.publications_of(_export_selection(request))
    return _download(
        export.ris_records(publications),
        "application/x-research-info-systems; charset=utf-8",
        "ris",
    )


@require_GET
def export_bibtex(request):
    publications = export.publications_of(_export_selection(request))
    return _download(
        export.bibtex_entries(publications), "application/x-bibtex; charset=utf-8", "bib"
    )
