import hashlib
from pathlib import Path

from django import template
from django.template.loader import get_template
from django.urls import get_script_prefix

from studies import catalogue_counts, rendered, summary
from studies.summary import METRICS

from .. import drilldown
from ..selectors import freshness

register = template.Library()

SUMMARY_TABLE = "studies/partials/summary_table.html"
GROUP_ROWS = "studies/partials/group_rows.html"
# Rows drawn and kept in a shared cache must not outlive a deploy that pools them
# otherwise: the code of the pooling rules and of the page is part of their key.
POOLING = hashlib.sha256(
    b"".join(Path(module.__file__).read_bytes() for module in (summary, drilldown))
).hexdigest()


@register.inclusion_tag("summaries/partials/freshness.html")
def summaries_freshness():
    """The line 'Summaries last computed at …; N changes pending.' for summary pages:
    {% load summaries_tags %}{% summaries_freshness %}"""
    return {"freshness": freshness()}


@register.simple_tag
def summary_table(summaries, metrics):
    """The table of pooled numbers (SUMMARY_TABLE) for these stored summary rows, kept
    in the cache (studies.rendered) under the rows' and their diseases' values, the
    template's text and the site's address prefix: at 100,000 studies the dashboard's
    144 groups took about 60 ms to render, for numbers that change only at a refresh.
    {% load summaries_tags %}{% summary_table summaries metrics %}"""
    table = get_template(SUMMARY_TABLE)
    data = (
        table.template.source,
        get_script_prefix(),
        list(metrics.items()),
        [(_values(row), _values(row.disease)) for row in summaries],
    )
    context = {"summaries": summaries, "metrics": metrics}
    return rendered.cached("summary-table", data, lambda: table.render(context))


@register.simple_tag
def group_rows(group):
    """The rows behind a group's numbers for one page of its studies (GROUP_ROWS, of a
    summaries.drilldown.GroupPage). Pooling a page's studies from their live rows and
    drawing their ~1,000 rows is most of the page's time (~150 ms at 100,000 studies),
    so the drawing is kept in the cache (studies.rendered) under the committed data's
    version (studies.catalogue_counts.current_version: every change to curated rows
    moves it), the page's studies, the group's stored totals, the pooling code, the
    template's text and the site's address prefix. A reader whose transaction holds
    uncommitted changes draws them anew and keeps nothing.
    {% load summaries_tags %}{% group_rows group %}"""
    partial = get_template(GROUP_ROWS)
    context = {"group": group}
    version = catalogue_counts.current_version()
    if version is None:
        return partial.render(context)
    data = (
        POOLING,
        partial.template.source,
        get_script_prefix(),
        version,
        list(METRICS.items()),
        group.disease_code,
        _values(group.totals),
        group.study_ids,
        group.page.paginator.num_pages > 1,
    )
    return rendered.cached("group-rows", data, lambda: partial.render(context))


def _values(row) -> tuple:
    return tuple(getattr(row, field.attname) for field in row._meta.concrete_fields)
