"""Properties of the deploy calendar over random windows, instants and IANA zones, with DST
gaps and overlaps drawn on purpose (30- and 45-minute zones, a zone that skips midnight).

The oracle asks each window directly whether it covers an instant; the calendar's sweep,
merging, chunked search and deny-beats-allow rule are what is under test. Hypothesis
prints how to reproduce any failure (seed and @reproduce_failure blob).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from releasegate.policy.calendar import HORIZON, Calendar
from releasegate.policy.wallclock import wall, zone
from releasegate.policy.windows import WeeklyWindow, Window

WINDOWS = TypeAdapter(tuple[Window, ...])
ZONES = (
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",  # 30-minute DST
    "Pacific/Chatham",  # +12:45/+13:45
    "Asia/Kolkata",  # +05:30, no DST
    "America/Santiago",  # DST at midnight
    "UTC",
)
START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
PROPERTY = settings(
    max_examples=100,
    deadline=timedelta(seconds=5),
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# Minutes that fall in or at the edge of DST gaps and overlaps somewhere in ZONES.
TRICKY = [time(0, 0), time(0, 30), time(1, 30), time(2, 0), time(2, 15), time(2, 45), time(3, 0)]


@cache
def transitions(name: str | None = None) -> tuple[datetime, ...]:
    """Every UTC offset change of zone `name` (default: of all ZONES) in 2026-2027."""
    if name is None:
        return tuple(t for each in ZONES for t in transitions(each))
    found = []
    tz = zone(name)
    at, previous = START, START.astimezone(tz).utcoffset()
    while at < START + SPAN:
        at += timedelta(hours=1)
        offset = at.astimezone(tz).utcoffset()
        if offset != previous:
            # Every offset change in ZONES falls on a quarter hour: find it within the hour.
            quarter = timedelta(minutes=15)
            while (at - quarter).astimezone(tz).utcoffset() == offset:
                at -= quarter
            found.append(at)
            previous = offset
    return tuple(found)


instants = st.one_of(
    st.integers(0, int(SPAN.total_seconds())).map(lambda s: START + timedelta(seconds=s)),
    st.builds(
        lambda t, s: t + timedelta(seconds=s),
        st.sampled_from(transitions()),
        st.integers(-2 * 86400, 2 * 86400),
    ),
)
zones = st.sampled_from(ZONES)
wall_times = st.one_of(
    st.sampled_from(TRICKY), st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
)
weekdays = st.sets(st.integers(0, 6), min_size=1)


def hhmm(t: time) -> str:
    return f"{t:%H:%M}"


weekly = st.builds(
    lambda days, start, end, tz: {
        "days": [("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d] for d in sorted(days)],
        "start": hhmm(start),
        "end": hhmm(end),
        "timezone": tz,
    },
    weekdays,
    wall_times,
    wall_times,
    zones,
)
cron = st.builds(
    lambda at, days, minutes, tz: {
        "cron": f"{at.minute} {at.hour} * * {','.join(str((d + 1) % 7) for d in sorted(days))}",
        "duration": f"{minutes}m",
        "timezone": tz,
    },
    wall_times,
    weekdays,
    st.integers(1, 36 * 60),
    zones,
)
one_off = st.builds(
    lambda start, minutes, tz: {
        "from": start.astimezone(zone(tz)).replace(tzinfo=None).isoformat(),
        "until": (start + timedelta(minutes=minutes))
        .astimezone(zone(tz))
        .replace(tzinfo=None)
        .isoformat(),
        "timezone": tz,
    },
    instants,
    st.integers(1, 14 * 24 * 60),
    zones,
).filter(lambda w: w["from"] < w["until"])
public = st.builds(
    lambda country, tz: {"holidays": country, **({"timezone": tz} if tz else {})},
    st.sampled_from(["US", "DE", "AU", "NZ", "IN", "CL"]),
    st.one_of(st.none(), zones),
)
windows = st.one_of(weekly, cron, one_off, public)


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    freeze: list[dict[str, Any]] = draw(st.lists(windows, max_size=3))
    allow: list[dict[str, Any]] = draw(st.lists(windows, max_size=2))
    return Calendar(freeze=WINDOWS.validate_python(freeze), allow=WINDOWS.validate_python(allow))


def covers(window: Any, at: datetime) -> bool:
    """The oracle: does one of the window's occurrences contain `at`? Asked from as far back
    as the window can last (plus DST slack), not relying on each kind's own look-back."""
    reach = getattr(window, "duration", timedelta(days=1)) + timedelta(days=3)
    return any(
        occ.start <= at < occ.end
        for occ in window.occurrences(at - reach, at + timedelta(microseconds=1))
    )


def open_at(cal: Calendar, at: datetime) -> bool:
    denied = any(covers(w, at) for w in cal.freeze)
    allowed = not cal.allow or any(covers(w, at) for w in cal.allow)
    return not denied and allowed


@PROPERTY
@given(cal=calendars(), now=instants)
def test_never_open_inside_a_deny_window_nor_outside_every_allow_window(
    cal: Calendar, now: datetime
) -> None:
    status = cal.status(now)
    if any(covers(w, now) for w in cal.freeze):
        assert not status.open_now
    if cal.allow and not any(covers(w, now) for w in cal.allow):
        assert not status.open_now
    assert status.open_now == open_at(cal, now)


@PROPERTY
@given(cal=calendars(), now=instants, fractions=st.lists(st.floats(0, 1), max_size=20))
def test_until_is_the_first_instant_the_state_changes(
    cal: Calendar, now: datetime, fractions: list[float]
) -> None:
    status = cal.status(now)
    end = status.until or status.horizon_end
    assert now < end <= now + HORIZON
    # The state holds from now to just before `until`, at a sampled resolution...
    span = end - now
    samples = [now + span * (i / 48) for i in range(48)] + [now + span * f for f in fractions]
    samples += [end - timedelta(seconds=1), end - timedelta(microseconds=1)]
    for at in samples:
        if now <= at < end:
            assert open_at(cal, at) == status.open_now, at
    # ... and changes exactly at it: a closed calendar is open at `until`.
    if status.until is not None:
        assert open_at(cal, status.until) != status.open_now


@PROPERTY
@given(cal=calendars(), now=instants, days=st.integers(1, 10))
def test_the_calendar_and_the_gate_agree(cal: Calendar, now: datetime, days: int) -> None:
    intervals = cal.intervals(now, now + timedelta(days=days))
    # A partition of the span into non-empty intervals...
    assert intervals[0].start == now and intervals[-1].end == now + timedelta(days=days)
    assert all(a.end == b.start for a, b in pairwise(intervals))
    assert all(i.start < i.end for i in intervals)
    for interval in intervals:
        assert open_at(cal, interval.start) == interval.open
        assert open_at(cal, interval.end - timedelta(microseconds=1)) == interval.open
    # ... whose first change of state is the status's "until".
    status = cal.status(now)
    assert intervals[0].open == status.open_now
    change = next((i.start for i in intervals if i.open != status.open_now), None)
    if change is not None:
        assert status.until == change
    else:
        assert status.until is None or status.until >= now + timedelta(days=days)


@PROPERTY
@given(window=weekly, now=instants)
def test_weekly_windows_follow_the_local_clock_away_from_dst_changes(
    window: dict[str, Any], now: datetime
) -> None:
    (parsed,) = WINDOWS.validate_python([window])
    assert isinstance(parsed, WeeklyWindow)
    tz = parsed.zone
    if any(abs(t - now) < timedelta(hours=50) for t in transitions()):
        return  # the DST rule is pinned down by the table tests
    local = now.astimezone(tz)
    at = local.time().replace(tzinfo=None)
    yesterday = (local.weekday() - 1) % 7
    if parsed.end > parsed.start:
        inside = local.weekday() in parsed.days and parsed.start <= at < parsed.end
    else:  # crosses midnight (or lasts a whole day when end == start)
        inside = (local.weekday() in parsed.days and at >= parsed.start) or (
            yesterday in parsed.days and at < parsed.end
        )
    assert covers(parsed, now) == inside


@st.composite
def weekly_near_its_dst_change(draw: st.DrawFn) -> tuple[dict[str, Any], datetime]:
    """A weekly window starting or ending near the wall time at which its zone's clocks
    change (inside the gap or the repeated hour, or just around it), on that day, and an
    instant a few days before the change."""
    name = draw(st.sampled_from([z for z in ZONES if transitions(z)]))
    change = draw(st.sampled_from(transitions(name)))
    # The wall time the clocks show just before they change (02:00 in Berlin, both ways).
    edge = wall(change - timedelta(minutes=1), zone(name)) + timedelta(minutes=1)
    near = st.integers(-8, 8).map(lambda n: (edge + timedelta(minutes=15 * n)).time())
    start, end = draw(st.one_of(near, wall_times)), draw(st.one_of(near, wall_times))
    days = draw(weekdays) | {edge.weekday()}
    window = {
        "days": [("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d] for d in sorted(days)],
        "start": hhmm(start),
        "end": hhmm(end),
        "timezone": name,
    }
    return window, change - timedelta(hours=draw(st.integers(0, 4 * 24)))


@PROPERTY
@given(drawn=weekly_near_its_dst_change())
def test_a_cron_window_is_the_weekly_window_with_the_same_wall_clock_span(
    drawn: tuple[dict[str, Any], datetime],
) -> None:
    window, start = drawn
    (parsed,) = WINDOWS.validate_python([window])
    assert isinstance(parsed, WeeklyWindow)
    begin, end = (datetime.combine(START.date(), t) for t in (parsed.start, parsed.end))
    length = (end - begin) % timedelta(days=1) or timedelta(days=1)
    days = ",".join(str((d + 1) % 7) for d in sorted(parsed.days))
    as_cron = {
        "cron": f"{parsed.start.minute} {parsed.start.hour} * * {days}",
        "duration": f"{int(length.total_seconds() // 60)}m",
        "timezone": parsed.timezone,
    }
    week = (start, start + timedelta(days=8))
    as_weekly = Calendar(freeze=(parsed,)).intervals(*week)
    from_cron = Calendar(freeze=WINDOWS.validate_python([as_cron])).intervals(*week)
    assert [(i.start, i.end, i.open) for i in as_weekly] == [
        (i.start, i.end, i.open) for i in from_cron
    ]
