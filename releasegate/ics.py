"""The deploy calendar as an iCalendar feed (RFC 5545), for a team to subscribe to.

One event per closed stretch (back-to-back closed intervals make one event naming every
reason). The `icalendar` package writes the format (CRLF lines folded
at 75 octets, escaped text, UTC times with `Z`); this module only decides what goes in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from icalendar import Calendar as ICalendar
from icalendar import Event

from releasegate.policy.calendar import Interval

PRODID = "-//releasegate//deploy calendar//EN"


def uid(app: str, environment: str, start: datetime) -> str:
    """Stable across exports: the same closed interval keeps its UID, so a subscribed
    calendar updates the event instead of adding another."""
    key = f"{app}/{environment}/closed/{start.astimezone(UTC).isoformat()}"
    return f"{hashlib.sha256(key.encode()).hexdigest()[:32]}@releasegate"


def closed_stretches(intervals: Iterable[Interval]) -> list[Interval]:
    """The closed intervals, each run of adjacent ones merged into one."""
    out: list[Interval] = []
    for interval in intervals:
        if interval.open:
            continue
        last = out[-1] if out else None
        if last is not None and last.end == interval.start:
            out[-1] = last.model_copy(
                update={
                    "end": interval.end,
                    "reasons": tuple(dict.fromkeys(last.reasons + interval.reasons)),
                    "rules": tuple(dict.fromkeys(last.rules + interval.rules)),
                }
            )
        else:
            out.append(interval)
    return out


def calendar_ics(app: str, environment: str, intervals: Iterable[Interval], now: datetime) -> bytes:
    """An iCalendar file with an event for each closed stretch not over by `now`."""
    feed = ICalendar()
    feed.add("prodid", PRODID)
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("method", "PUBLISH")
    # Not in RFC 5545, but the name calendar apps show for a subscription.
    feed.add("x-wr-calname", f"{app} {environment}: deploys closed")
    for interval in closed_stretches(intervals):
        if interval.end <= now:
            continue
        event = Event()
        event.add("uid", uid(app, environment, interval.start))
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", interval.start.astimezone(UTC))
        event.add("dtend", interval.end.astimezone(UTC))
        event.add("summary", f"{environment} closed: {'; '.join(interval.reasons)}")
        event.add(
            "description",
            f"Deploying {app} to {environment} is closed.\n" + "\n".join(interval.rules),
        )
        # Blocks deploys, not the people reading the calendar.
        event.add("transp", "TRANSPARENT")
        feed.add_component(event)
    return bytes(feed.to_ical())
