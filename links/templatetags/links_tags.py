"""The links app's parts of other apps' pages: the review queue on the curation
dashboard and the supersession note on a study page. Each costs a fixed number of
queries."""

from django import template

from curation import rules
from studies.models import Publication

from .. import selectors

register = template.Library()


@register.inclusion_tag("links/partials/queue.html", takes_context=True)
def link_queue(context):
    user = context["request"].user
    return {
        "request": context["request"],
        "csrf_token": context.get("csrf_token"),
        "waiting": selectors.requests_for_review(user),
        "mine": selectors.my_open_requests(user),
        "is_reviewer": rules.is_reviewer(user),
        "is_curator": rules.is_curator(user),
    }


@register.inclusion_tag("links/partials/study_supersession.html")
def study_supersession(study):
    """Each superseded report of the study with the report that supersedes it, and
    where that one is in the catalogue (it may report another study)."""
    superseded = list(
        Publication.objects.filter(reports__study=study, superseded_by__isnull=False)
        .select_related("superseded_by")
        .prefetch_related("authors", "superseded_by__authors", "superseded_by__reports")
        .order_by("year", "pk")
    )
    rows = []
    for publication in superseded:
        newer = publication.superseded_by
        studies = [report.study_id for report in newer.reports.all()]
        rows.append({
            "publication": publication,
            "newer": newer,
            "in_this_study": study.pk in studies,
            "other_study_id": next((pk for pk in studies if pk != study.pk), None),
        })
    return {"rows": rows}


@register.simple_tag(takes_context=True)
def page_query(context, param: str, number: int) -> str:
    """The current query string with one pager's page replaced (the identity page pages
    suggestions and persons independently)."""
    query = context["request"].GET.copy()
    query[param] = number
    return query.urlencode()
