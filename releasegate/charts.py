"""The report's charts as inline SVG, drawn by pygal.

pygal writes SVG and nothing else (no browser, no numpy), so a chart is a string that goes
straight into the page. Its tooltips need a script it would load from the internet: they
are turned off (`js=[]`), and the inline `<script>` pygal adds for them (its settings, as
data) is taken out, so a chart is markup only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pygal
from pygal.etree import etree
from pygal.style import Style

from releasegate.policy.figures import Day, EnvironmentFigures

WEEKLY_AFTER_DAYS = 92
"""Longer periods are drawn a bar per week, so bars stay readable."""
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#333",
    foreground_strong="#111",
    foreground_subtle="#888",
    font_family="DejaVu Sans, Helvetica, Arial, sans-serif",
    title_font_size=16,
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
    value_font_size=10,
    no_data_font_size=14,
)


BLUE, RED, GREEN, ORANGE = "#2f7ed8", "#d9534f", "#5cb85c", "#f0ad4e"


def deploys_chart(figures: EnvironmentFigures) -> str:
    """Successful deploys per day (or week)."""
    labels, rows = _periods(figures)
    chart = _bar(f"{figures.environment}: deploys per {_unit(figures)}", labels, BLUE)
    _counts(chart, deploys=[sum(d.deploys for d in row) for row in rows])
    return _render(chart)


def failures_chart(figures: EnvironmentFigures) -> str:
    """Failed changes and restores per day (or week)."""
    labels, rows = _periods(figures)
    chart = _bar(f"{figures.environment}: failed changes and restores", labels, RED, GREEN)
    _counts(
        chart,
        **{
            "failed changes": [sum(d.failed_changes for d in row) for row in rows],
            "restores": [sum(d.restores for d in row) for row in rows],
        },
    )
    return _render(chart)


def lead_time_chart(figures: EnvironmentFigures) -> str:
    """The median lead time of each day's deploys (days without one: no bar), in the unit
    that suits the longest."""
    labels, rows = _periods(figures)
    medians = [_median(row) for row in rows]
    unit, size = _unit_of(max((m for m in medians if m is not None), default=0.0))
    chart = _bar(f"{figures.environment}: lead time, median ({unit})", labels, ORANGE)
    chart.no_data_text = _no_data(figures, "lead time for changes")
    if any(m is not None for m in medians):
        chart.add("lead time", [None if m is None else round(m / size, 2) for m in medians])
    return _render(chart)


def approval_wait_chart(figures: EnvironmentFigures) -> str:
    """How long approvals took: how many waits fell in each bucket."""
    buckets = figures.approval_wait_buckets
    chart = _bar(f"{figures.environment}: approval wait", list(buckets), BLUE)
    chart.no_data_text = _no_data(figures, "approval wait")
    if figures.approval_wait.count:
        _counts(chart, approvals=list(buckets.values()))
    return _render(chart)


CHARTS: tuple[Callable[[EnvironmentFigures], str], ...] = (
    deploys_chart,
    lead_time_chart,
    failures_chart,
    approval_wait_chart,
)


def _bar(title: str, labels: list[str], *colors: str) -> pygal.Bar:
    config = pygal.Config()
    config.js = []  # pygal's tooltips would load a script from the internet
    config.disable_xml_declaration = True
    config.style = Style(**{**STYLE.to_dict(), "colors": colors})
    config.width, config.height = 640, 300
    config.legend_at_bottom = True
    config.x_label_rotation = 30
    config.truncate_label = -1
    return pygal.Bar(
        config,
        title=title,
        x_labels=labels,
        show_x_labels=len(labels) <= 31,
        print_values=len(labels) <= 14,
    )


def _counts(chart: pygal.Bar, **series: list[int]) -> None:
    """Add series of counts, on an axis of whole numbers."""
    top = max((max(values, default=0) for values in series.values()), default=0)
    step = max(1, -(-top // 5))
    chart.y_labels = list(range(0, max(top, 1) + step, step))
    for name, values in series.items():
        chart.add(name, values)


def _render(chart: pygal.Graph) -> str:
    svg = chart.render_tree()
    for parent in svg.iter():
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return str(etree.tostring(svg, encoding="unicode"))


def _unit(figures: EnvironmentFigures) -> str:
    return "week" if _weekly(figures) else "day"


def _weekly(figures: EnvironmentFigures) -> bool:
    return (figures.until - figures.since).days > WEEKLY_AFTER_DAYS


def _periods(figures: EnvironmentFigures) -> tuple[list[str], list[list[Day]]]:
    """Every day (or week) of the period as a label, with the days of activity in it."""
    step = timedelta(weeks=1) if _weekly(figures) else timedelta(days=1)
    first: date = figures.since.date()
    if step.days == 7:
        first -= timedelta(days=first.weekday())
    labels: list[str] = []
    rows: list[list[Day]] = []
    by_day = {d.day: d for d in figures.days}
    start = first
    while start <= figures.until.date():
        labels.append(f"{start:%d %b}")
        rows.append([by_day[d] for d in _dates(start, step) if d in by_day])
        start += step
    return labels, rows


def _dates(start: date, step: timedelta) -> list[date]:
    return [start + timedelta(days=n) for n in range(step.days)]


def _median(days: list[Day]) -> float | None:
    """The median of the days' medians (a week's bar), in seconds."""
    values = sorted(d.lead_time_p50_seconds for d in days if d.lead_time_p50_seconds is not None)
    return values[(len(values) - 1) // 2] if values else None


def _unit_of(seconds: float) -> tuple[str, float]:
    for unit, size in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= 2 * size:
            return unit, size
    return "seconds", 1.0


def _no_data(figures: EnvironmentFigures, label: str) -> str:
    return dict(figures.say()).get(label, "no data")
