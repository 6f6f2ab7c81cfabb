"""The deploy calendar in a terminal: a line per local day, and the intervals as a table."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from rich.console import Group
from rich.table import Table
from rich.text import Text

from releasegate.policy.calendar import Interval, Status
from releasegate.policy.wallclock import starts_at

CELL = timedelta(minutes=30)
CELLS = 48
OPEN, CLOSED, MIXED = ("░", "green"), ("█", "red"), ("▒", "yellow")
SKIPPED, OUTSIDE = (" ", ""), ("·", "dim")  # a DST gap; before now or past the span


def moment(at: datetime, tz: ZoneInfo) -> str:
    """'Tue 24 Nov 06:00 EST': what a person reads, in the calendar's zone."""
    return f"{at.astimezone(tz):%a %d %b %H:%M %Z}"


def headline(environment: str, status: Status, tz: ZoneInfo) -> Text:
    state = ("OPEN", "green") if status.open_now else ("CLOSED", "red")
    text = Text(f"{environment}: deploying is ")
    text.append(state[0], style=f"bold {state[1]}")
    text.append(f" now ({moment(status.now, tz)})")
    if status.until is not None:
        text.append(f" until {moment(status.until, tz)}")
    else:
        text.append(f" for at least {(status.horizon_end - status.now).days} days")
    if status.reasons:
        text.append(f"\n  because: {'; '.join(status.reasons)}")
    return text


def timeline(intervals: Sequence[Interval], tz: ZoneInfo) -> Group:
    """One row per local day the intervals touch, of half-hour cells of wall-clock time:
    open, closed, or changing within the cell. On a DST day the skipped hour shows blank and
    the repeated hour falls in the cell ending where the clocks go back."""
    first = intervals[0].start.astimezone(tz).date()
    days = (intervals[-1].end.astimezone(tz) - timedelta(microseconds=1)).date() - first
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    hours = "".join(f"{h:02d}    " for h in range(0, 24, 3))
    grid.add_row(Text(tz.key, style="bold"), Text(hours, style="dim"))
    for offset in range(days.days + 1):
        day = first + timedelta(days=offset)
        row = Text()
        bounds = _cell_bounds(day, tz)
        for start, end in pairwise(bounds):
            row.append(*_cell(intervals, start, end))
        grid.add_row(f"{day:%a %d %b}", row)
    legend = Text()
    keys = ((OPEN, "open"), (CLOSED, "closed"), (MIXED, "changes"), (OUTSIDE, "not shown"))
    for (char, style), meaning in keys:
        legend.append(char, style=style).append(f" {meaning}  ")
    return Group(grid, legend)


def interval_table(intervals: Sequence[Interval], tz: ZoneInfo) -> Table:
    table = Table("from", "until", "", "why")
    for interval in intervals:
        state = Text("open", style="green") if interval.open else Text("closed", style="red")
        why = "; ".join(interval.reasons) or "no window active"
        table.add_row(moment(interval.start, tz), moment(interval.end, tz), state, why)
    return table


def _cell_bounds(day: date, tz: ZoneInfo) -> list[datetime]:
    """The instants at which the cells of local `day` begin, and where the last one ends."""
    midnight = datetime.combine(day, time())
    bounds = [starts_at(midnight + n * CELL, tz) for n in range(CELLS + 1)]
    # A skipped wall time is shifted forward by the gap, past the next cells' starts: each
    # bound becomes the earliest of those after it, so cells in the gap are empty.
    for n in range(CELLS - 1, -1, -1):
        bounds[n] = min(bounds[n], bounds[n + 1])
    return bounds


def _cell(intervals: Sequence[Interval], start: datetime, end: datetime) -> tuple[str, str]:
    if start >= end:
        return SKIPPED
    # Intervals are sorted and contiguous: start from the one holding `start`.
    first = max(bisect_right(intervals, start, key=lambda i: i.start) - 1, 0)
    states = set()
    for interval in intervals[first:]:
        if interval.start >= end:
            break
        if interval.end > start:
            states.add(interval.open)
    if states == {True}:
        return OPEN
    if states == {False}:
        return CLOSED
    return MIXED if states else OUTSIDE
