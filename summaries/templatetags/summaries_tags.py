from django import template

from ..selectors import freshness

register = template.Library()


@register.inclusion_tag("summaries/partials/freshness.html")
def summaries_freshness():
    """The line 'Summaries last computed at …; N changes pending.' for summary pages:
    {% load summaries_tags %}{% summaries_freshness %}"""
    return {"freshness": freshness()}
