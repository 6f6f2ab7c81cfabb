"""Occurrences: the concrete spans of time a window covers, and helpers every kind uses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo


class Occurrence(NamedTuple):
    """One span of one window: [start, end) in UTC, and what to call it."""

    start: datetime
    end: datetime
    label: str


def local_days(start: datetime, end: datetime, tz: ZoneInfo, before: int = 1) -> Iterator[date]:
    """Local dates from `before` days ahead of `start` through the date of `end`."""
    day = start.astimezone(tz).date() - timedelta(days=before)
    last = end.astimezone(tz).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def overlapping(occ: Occurrence, start: datetime, end: datetime) -> bool:
    # Empty spans (a window inside a skipped DST hour) never count.
    return occ.start < occ.end and occ.start < end and occ.end > start
