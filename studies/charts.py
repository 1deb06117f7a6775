"""Server-side SVG charts of the pooled summaries, drawn with pygal (no browser
scripts, nothing fetched from elsewhere). Each chart sits next to a table with the
same numbers, so the page reads the same without images.

Each chart is reduced to plain data first and kept in the cache as drawn from it
(studies.rendered): drawing both dashboard charts took about 80 ms of a 200 ms page.
"""

import hashlib
from pathlib import Path

import pygal
from django.urls import get_script_prefix, reverse
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

from . import rendered
from .summary import RESPONSE, Contribution, PooledSummary

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1d2430",
    foreground_strong="#1d2430",
    foreground_subtle="#8a93a3",
    font_family="system-ui, -apple-system, 'Segoe UI', sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    title_font_size=15,
    colors=("#1f5fa8", "#d9822b", "#2e8b57", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d"),
)

# Drawings kept in a shared cache must not outlive a deploy that draws them otherwise.
DRAWING = (pygal.__version__, hashlib.sha256(Path(__file__).read_bytes()).hexdigest())

# No pygal tooltip script: it would be fetched from a CDN.
COMMON = {"style": STYLE, "js": [], "disable_xml_declaration": True, "explicit_size": False}


def _svg(chart) -> SafeString:
    return mark_safe(chart.render(is_unicode=True))  # noqa: S308 - pygal escapes labels


def patients_by_disease_and_target(summaries: list[PooledSummary]) -> SafeString:
    """Stacked bars: unique patients per disease, one colour per target set."""
    if not summaries:
        return mark_safe("")
    diseases = list(dict.fromkeys(s.disease for s in summaries))
    target_sets = sorted({s.targets for s in summaries}, key=lambda t: (len(t.codes), t.codes))
    by_key = {(s.disease.pk, s.targets): s for s in summaries}
    series = []
    for targets in target_sets:
        values = []
        for disease in diseases:
            pooled = by_key.get((disease.pk, targets))
            if pooled is None or not pooled.patients:
                values.append(None)
                continue
            label = f"{disease.name}, {targets.label}: {pooled.patients} patients"
            values.append((pooled.patients, label, disease.code, targets.key))
        series.append((targets.label, values))
    x_labels = [d.abbreviation or d.name for d in diseases]
    # The bars' links are worked out when drawing: the same for the same codes.
    data = (DRAWING, x_labels, series, get_script_prefix())
    return rendered.cached("chart:patients", data, lambda: _draw_patients(x_labels, series))


def _draw_patients(x_labels: list[str], series: list) -> SafeString:
    chart = pygal.StackedBar(
        **COMMON,
        width=900,
        height=420,
        title="Unique patients by disease and target",
        x_title="Disease",
        y_title="Patients",
        legend_at_bottom=True,
        print_values=False,
        x_label_rotation=0,
    )
    chart.x_labels = x_labels
    for title, values in series:
        chart.add(title, [_bar(*value) if value else None for value in values])
    return _svg(chart)


def _bar(patients: int, label: str, disease_code: str, target_key: str) -> dict:
    href = reverse("studies:summary_detail", args=[disease_code, target_key])
    return {"value": patients, "label": label, "xlink": {"href": href, "target": "_self"}}


def response_forest(points: list[Contribution]) -> SafeString:
    """Forest-style plot: each study's main-outcome response proportion with its
    Wilson 95% interval, one line per study arm (studies.summary.response_points, or
    the stored equivalent summaries.selectors.response_points)."""
    if not points:
        return mark_safe("")
    count = len(points)
    lines = []
    for index, contribution in enumerate(points):
        rate = contribution.rate(RESPONSE)
        low, high = rate.interval
        lines.append(
            {
                "name": _forest_label(contribution),
                "label": f"{_forest_label(contribution)}: {rate} ({rate.percent}, "
                f"{rate.interval_display})",
                "href": reverse("studies:study_detail", args=[contribution.study.pk]),
                "y": count - index,
                "low": 100 * low,
                "high": 100 * high,
                "estimate": 100 * rate.proportion,
            }
        )
    return rendered.cached("chart:forest", (DRAWING, lines), lambda: _draw_forest(lines))


def _draw_forest(lines: list[dict]) -> SafeString:
    count = len(lines)
    # One grey per interval line, then blue for the point estimates.
    style = Style(**{**STYLE.to_dict(), "colors": ("#5b6575",) * count + ("#1f5fa8",)})
    chart = pygal.XY(
        **{**COMMON, "style": style},
        width=900,
        height=max(220, 70 + 34 * count),
        title="Response per study (main outcome), with 95% Wilson intervals",
        x_title="Responders (%)",
        show_legend=False,
        stroke=True,
        dots_size=3,
        xrange=(0, 100),
        range=(0, count + 1),
        show_y_guides=False,
        truncate_label=40,
    )
    chart.x_labels = [0, 20, 40, 60, 80, 100]
    chart.y_labels = [{"label": line["name"], "value": line["y"]} for line in lines]
    estimates = []
    for line in lines:
        link = {"href": line["href"], "target": "_self"}
        label, y = line["label"], line["y"]
        chart.add(
            "95% interval",
            [
                {"value": (line["low"], y), "label": label, "xlink": link},
                {"value": (line["high"], y), "label": label, "xlink": link},
            ],
            stroke_style={"width": 3},
            show_dots=False,
        )
        estimates.append({"value": (line["estimate"], y), "label": label, "xlink": link})
    chart.add("Proportion", estimates, stroke=False, dots_size=6)
    return _svg(chart)


def _forest_label(contribution) -> str:
    return f"{contribution.study} ({contribution.disease}, {contribution.targets})"
