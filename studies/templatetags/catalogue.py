"""Template helpers of the public catalogue: numbers with their sources, and the
formatting of doses and reported results."""

from decimal import Decimal

from django import template
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from ..choices import TimePoint

register = template.Library()


def _number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


@register.simple_tag
def sourced(value, row=None, source: str = ""):
    """A number (or short text) that shows where it comes from on hover and focus.

    Pass the Sourced row it was read from, or the source text itself."""
    if value is None or value == "":
        return mark_safe('<span class="muted" title="Not reported">–</span>')
    text = source or (row.source_display if row is not None else "")
    shown = _number(value) if not isinstance(value, str) else value
    if not text:
        return format_html('<span class="unsourced">{}</span>', shown)
    return format_html(
        '<span class="sourced" tabindex="0" data-source="{}">{}'
        '<span class="source-tip" role="tooltip">Source: {}</span></span>',
        text,
        shown,
        text,
    )


@register.filter
def dose(product) -> str:
    """'1 × 10⁶ CAR+ cells/kg', or a range, or '' when not reported."""
    if product.dose_value is None:
        return ""
    low = _scientific(product.dose_value)
    if product.dose_value_max is not None and product.dose_value_max != product.dose_value:
        low = f"{low} – {_scientific(product.dose_value_max)}"
    return f"{low} {product.get_dose_unit_display()}"


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _scientific(value: Decimal) -> str:
    value = Decimal(value)
    if value < 10_000:
        return _number(value)
    exponent = value.adjusted()
    mantissa = (value / Decimal(10) ** exponent).normalize()
    return f"{mantissa:f} × 10{str(exponent).translate(_SUPERSCRIPT)}"


@register.filter
def when(result) -> str:
    """The time point of a result: 'baseline', 'day 90', 'last follow-up'."""
    if result.timepoint == TimePoint.DAY:
        return f"day {result.day}"
    if result.timepoint == TimePoint.BASELINE:
        return "baseline"
    return "last follow-up"


@register.filter
def reported_value(result) -> str:
    """What a result says, in words: a value with its unit, yes/no, or an aggregate."""
    if result.value_bool is not None:
        return "yes" if result.value_bool else "no"
    if result.value is not None:
        return f"{_number(result.value)} {result.unit}".strip()
    parts = []
    if result.n_events is not None and result.n_evaluable is not None:
        parts.append(f"{result.n_events} of {result.n_evaluable}")
    elif result.n_evaluable is not None:
        parts.append(f"n = {result.n_evaluable}")
    if result.median is not None:
        spread = ""
        if result.minimum is not None and result.maximum is not None:
            spread = f" (range {_number(result.minimum)}–{_number(result.maximum)})"
        elif result.iqr_low is not None and result.iqr_high is not None:
            spread = f" (IQR {_number(result.iqr_low)}–{_number(result.iqr_high)})"
        parts.append(f"median {_number(result.median)}{spread}")
    if result.mean is not None:
        sd = f" ± {_number(result.sd)}" if result.sd is not None else ""
        parts.append(f"mean {_number(result.mean)}{sd}")
    unit = f" {result.unit}" if result.unit and (result.median or result.mean) else ""
    return "; ".join(parts) + unit


@register.filter
def grade(event) -> str:
    if event.grade is None:
        return "any grade"
    if event.grade == 0:
        return "none (grade 0)"
    return f"grade {event.grade}"


def _initials(given_names: str) -> str:
    return "".join(word[0] for word in given_names.replace("-", " ").split())


@register.simple_tag
def authors_list(publication, limit: int = 3):
    """'Müller F, Taubmann J, Bucci L, et al.'"""
    authors = list(publication.authors.all())
    shown = format_html_join(
        ", ",
        "{}",
        ((f"{a.family_name} {_initials(a.given_names)}".strip(),) for a in authors[:limit]),
    )
    if len(authors) > limit:
        return format_html("{}, et al.", shown)
    return shown


@register.simple_tag(takes_context=True)
def study_url(context, study_id) -> str:
    """The study page's address, worked out once per study per page: a drill-down page
    links hundreds of rows to a few dozen studies, and ``{% url %}`` on each row was
    about a third of its rendering time."""
    urls = context.render_context.get("study_urls")
    if urls is None:
        urls = context.render_context["study_urls"] = {}
    if study_id not in urls:
        urls[study_id] = reverse("studies:study_detail", args=[study_id])
    return urls[study_id]
