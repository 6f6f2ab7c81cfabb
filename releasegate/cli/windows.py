"""`releasegate windows`: when deploying to an environment is open, now and in the coming
days, as a terminal timeline, JSON, or an iCalendar feed.

Reads the same pure calendar as the freeze gate (policy/calendar.py), so the two agree.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from releasegate.cli.common import ConfigOption, JsonOption, load, out, outcome

if TYPE_CHECKING:  # imported when the command runs, not for --help
    from releasegate.policy.calendar import Calendar

app = typer.Typer()

# How far back an ICS export looks for the start of a closed interval already under way,
# so its event (and UID) starts where the interval really began.
ICS_LOOKBACK = timedelta(days=31)


@app.command()
def windows(
    environment: Annotated[
        str | None,
        typer.Argument(help="The environment [default: the last in promotion order]."),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days ahead.")] = 7,
    json_: JsonOption = False,
    ics: Annotated[
        bool, typer.Option("--ics", help="Print an iCalendar feed (RFC 5545) of closed times.")
    ] = False,
    timezone: Annotated[
        str | None,
        typer.Option(help="Show times in this IANA zone [default: the first zone a window names]."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """The deploy calendar: open now or not, until when, and the coming days' windows."""
    from releasegate.errors import UsageError
    from releasegate.ics import calendar_ics
    from releasegate.policy.wallclock import zone
    from releasegate.timeline import headline, interval_table, timeline

    with outcome():
        settings = load(config)
        name = environment or settings.pipeline()[-1]
        if name not in settings.environments:
            raise UsageError(f"no environment {name!r}")
        if json_ and ics:
            raise UsageError("--json and --ics print different things: choose one")
        calendar = settings.environments[name].calendar
        try:
            tz = zone(timezone or _first_zone(calendar))
        except ValueError as exc:
            raise UsageError(f"--timezone: {exc}") from None
        now = datetime.now(UTC).replace(microsecond=0)
        ahead = now + timedelta(days=days)
        if ics:
            intervals = calendar.intervals(now - ICS_LOOKBACK, ahead)
            sys.stdout.buffer.write(calendar_ics(settings.app.name, name, intervals, now))
            return
        status = calendar.status(now)
        intervals = calendar.intervals(now, ahead)
        if json_:
            report = {
                "environment": name,
                **status.model_dump(mode="json"),
                "intervals": [i.model_dump(mode="json") for i in intervals],
            }
            print(json.dumps(report, indent=2))
            return
        out.print(headline(name, status, tz))
        out.print(timeline(intervals, tz))
        out.print(interval_table(intervals, tz))


def _first_zone(calendar: Calendar) -> str:
    """The team's zone, as best the configuration tells: the first window that names one,
    allow windows (business hours) before deny windows."""
    named = (w.timezone for w in (*calendar.allow, *calendar.freeze) if w.timezone)
    return next(named, "UTC")
