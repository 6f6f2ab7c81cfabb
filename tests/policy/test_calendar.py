"""The deploy calendar: allow and deny windows of every kind, DST, and "until" — the
documented edge cases, one table row each."""

from __future__ import annotations

import time as clock
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from releasegate.config import Environment
from releasegate.policy.calendar import OUTSIDE_ALLOW, Calendar
from releasegate.policy.gates import Facts, GateResult, freeze_gate
from releasegate.policy.wallclock import day_start, zone
from releasegate.policy.windows import Window

WINDOWS = TypeAdapter(tuple[Window, ...])


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def calendar(
    freeze: Sequence[dict[str, Any]] = (), allow: Sequence[dict[str, Any]] = ()
) -> Calendar:
    """A calendar from windows as written in the configuration."""
    return Calendar(freeze=WINDOWS.validate_python(freeze), allow=WINDOWS.validate_python(allow))


def gate(cal: Calendar, now: datetime) -> GateResult:
    """The freeze gate of an environment with these windows, at `now`."""
    env = Environment(url="http://127.0.0.1:18081", freeze=cal.freeze, allow=cal.allow)
    return freeze_gate(env, Facts(now=now, branch="main", digest="sha256:" + "a" * 64))


NY = "America/New_York"
BERLIN = "Europe/Berlin"
WEEKNIGHTS_NY = {"days": "mon-fri", "start": "22:00", "end": "06:00", "timezone": NY}
BUSINESS_NY = {
    "days": "mon-fri",
    "start": "09:00",
    "end": "17:00",
    "timezone": NY,
    "reason": "business hours",
}
LUNCH_NY = {"days": "mon-fri", "start": "12:00", "end": "13:00", "timezone": NY, "reason": "lunch"}


@pytest.mark.parametrize(
    ("freeze", "allow", "now", "open_now", "until"),
    [
        # Weeknights in New York (EST, UTC-5): Monday 23:00 is closed until Tuesday 06:00.
        ([WEEKNIGHTS_NY], [], utc(2026, 11, 24, 4, 0), False, utc(2026, 11, 24, 11, 0)),
        # ... and open in the day until 22:00 the same evening.
        ([WEEKNIGHTS_NY], [], utc(2026, 11, 24, 15, 0), True, utc(2026, 11, 25, 3, 0)),
        # Friday's night ends Saturday 06:00; nothing starts on Saturday: open until Monday.
        ([WEEKNIGHTS_NY], [], utc(2026, 11, 28, 12, 0), True, utc(2026, 12, 1, 3, 0)),
        # Back-to-back deny windows of two kinds: 22:00-06:00, then cron 06:00 for 3h.
        (
            [WEEKNIGHTS_NY, {"cron": "0 6 * * 2-6", "duration": "3h", "timezone": NY}],
            [],
            utc(2026, 11, 24, 4, 0),
            False,
            utc(2026, 11, 24, 14, 0),
        ),
        # Overlapping deny windows: a one-off 21:00-23:00 inside the nightly one's start.
        (
            [
                WEEKNIGHTS_NY,
                {"from": "2026-11-23T21:00", "until": "2026-11-23T23:00", "timezone": NY},
            ],
            [],
            utc(2026, 11, 24, 2, 30),
            False,
            utc(2026, 11, 24, 11, 0),
        ),
        # Business hours only: Monday 18:00 is outside; the allow window opens tomorrow 09:00.
        ([], [BUSINESS_NY], utc(2026, 11, 23, 23, 0), False, utc(2026, 11, 24, 14, 0)),
        # Friday evening: the next allow window is Monday 09:00.
        ([], [BUSINESS_NY], utc(2026, 11, 27, 23, 0), False, utc(2026, 11, 30, 14, 0)),
        # Inside business hours: open until 17:00.
        ([], [BUSINESS_NY], utc(2026, 11, 24, 15, 0), True, utc(2026, 11, 24, 22, 0)),
        # Deny inside allow: lunch closes 12:00-13:00 within business hours.
        ([LUNCH_NY], [BUSINESS_NY], utc(2026, 11, 24, 16, 0), True, utc(2026, 11, 24, 17, 0)),
        ([LUNCH_NY], [BUSINESS_NY], utc(2026, 11, 24, 17, 30), False, utc(2026, 11, 24, 18, 0)),
        # Deny beats allow, and "until" follows the deny window into the next allow window:
        # a holiday freeze on Wednesday reopens Thursday 09:00 (New York), not at midnight.
        (
            [{"from": "2026-11-25T00:00", "until": "2026-11-26T00:00", "timezone": NY}],
            [BUSINESS_NY],
            utc(2026, 11, 25, 15, 0),
            False,
            utc(2026, 11, 26, 14, 0),
        ),
    ],
)
def test_open_now_and_until(
    freeze: list[dict[str, Any]],
    allow: list[dict[str, Any]],
    now: datetime,
    open_now: bool,
    until: datetime,
) -> None:
    status = calendar(freeze, allow).status(now)
    assert (status.open_now, status.until) == (open_now, until)


def test_a_window_starting_in_the_spring_forward_gap_is_shifted_by_the_gap_for_every_kind() -> None:
    # Berlin skips 02:00-03:00 on Sunday 2026-03-29: 02:30 is read as 03:30 CEST (01:30 UTC)
    # by weekly and cron windows alike (cronsim alone would say 03:00).
    weekly = {"days": "sun", "start": "02:30", "end": "04:00", "timezone": BERLIN}
    cron = {"cron": "30 2 * * 0", "duration": "1h30m", "timezone": BERLIN}
    for window in (weekly, cron):
        cal = calendar([window])
        assert cal.status(utc(2026, 3, 29, 1, 29)).open_now
        status = cal.status(utc(2026, 3, 29, 1, 30))
        assert not status.open_now and status.until == utc(2026, 3, 29, 2, 0)  # 04:00 CEST


@pytest.mark.parametrize(
    ("now", "until"),
    [
        # Saturday 22:00 CET -> Sunday 06:00 CEST: 7 real hours on the spring-forward night.
        (utc(2026, 3, 28, 21, 0), utc(2026, 3, 29, 4, 0)),
        # Saturday 22:00 CEST -> Sunday 06:00 CET: 9 real hours on the fall-back night.
        (utc(2026, 10, 24, 20, 0), utc(2026, 10, 25, 5, 0)),
    ],
)
def test_cron_window_crossing_dst_keeps_its_wall_clock_end_like_the_weekly_one(
    now: datetime, until: datetime
) -> None:
    cron = {"cron": "0 22 * * 6", "duration": "8h", "timezone": BERLIN}
    weekly = {"days": "sat", "start": "22:00", "end": "06:00", "timezone": BERLIN}
    for window in (cron, weekly):
        status = calendar([window]).status(now)
        assert not status.open_now and status.until == until
        assert calendar([window]).status(now - timedelta(seconds=1)).open_now


def test_fall_back_ambiguous_start_is_the_first_occurrence_and_end_the_second() -> None:
    # 02:30 happens twice in Berlin on 2026-10-25: at 00:30 UTC (CEST) and 01:30 UTC (CET).
    cron = {"cron": "30 2 25 10 *", "duration": "10m", "timezone": BERLIN}
    status = calendar([cron]).status(utc(2026, 10, 25, 0, 30))
    # Starts at the first 02:30; ends at the second 02:40 (01:40 UTC): errs on the long side.
    assert not status.open_now and status.until == utc(2026, 10, 25, 1, 40)
    assert calendar([cron]).status(utc(2026, 10, 25, 0, 29)).open_now


def test_a_window_ending_in_the_repeated_hour_covers_the_first_pass_through_it() -> None:
    # 01:20 CEST for 1h ends at 02:20 wall time, whose later occurrence is 02:20 CET (01:20
    # UTC): at 02:50 CEST (00:50 UTC, first pass) the window is still active.
    cron = {"cron": "20 1 25 10 *", "duration": "1h", "timezone": BERLIN}
    status = calendar([cron]).status(utc(2026, 10, 25, 0, 50))
    assert not status.open_now and status.until == utc(2026, 10, 25, 1, 20)


def test_thirty_minute_dst_shift_on_lord_howe() -> None:
    # Lord Howe moves 02:00 -> 02:30 on 2026-10-04: a 02:15 start is shifted by 30 minutes.
    window = {"days": "sun", "start": "02:15", "end": "04:00", "timezone": "Australia/Lord_Howe"}
    status = calendar([window]).status(utc(2026, 10, 3, 15, 45))  # 02:45 +11:00
    assert not status.open_now and status.until == utc(2026, 10, 3, 17, 0)  # 04:00 +11:00
    assert calendar([window]).status(utc(2026, 10, 3, 15, 44)).open_now


def test_a_day_whose_midnight_is_skipped_starts_at_the_first_real_instant() -> None:
    # Santiago springs forward at midnight on 2026-09-06: the day starts at 01:00 -03.
    assert day_start(datetime(2026, 9, 6).date(), zone("America/Santiago")) == utc(2026, 9, 6, 4)


US_HOLIDAYS = {"holidays": "US", "subdivision": "CA", "reason": "public holiday"}


def test_holiday_in_a_given_time_zone_is_the_whole_local_day() -> None:
    la = {**US_HOLIDAYS, "timezone": "America/Los_Angeles"}
    status = calendar([la]).status(utc(2026, 12, 25, 8, 0))  # Christmas 00:00 PST
    assert not status.open_now and status.until == utc(2026, 12, 26, 8, 0)
    assert status.reasons == ("public holiday: Christmas Day",)
    assert calendar([la]).status(utc(2026, 12, 25, 7, 59)).open_now


def test_holiday_without_a_time_zone_covers_the_day_in_every_zone_of_the_country() -> None:
    # From midnight in New York (05:00 UTC) to midnight in Honolulu/Adak (10:00 UTC next day).
    cal = calendar([US_HOLIDAYS])
    assert cal.status(utc(2026, 12, 25, 4, 59)).open_now
    status = cal.status(utc(2026, 12, 25, 5, 0))
    assert not status.open_now and status.until == utc(2026, 12, 26, 10, 0)


def test_holiday_on_a_weekend_is_observed_on_the_friday_unless_told_otherwise() -> None:
    # 2026-07-04 is a Saturday; the US observes Independence Day on Friday 2026-07-03.
    friday_noon = utc(2026, 7, 3, 19, 0)  # 12:00 PDT
    la = {**US_HOLIDAYS, "timezone": "America/Los_Angeles"}
    business_la = {**BUSINESS_NY, "timezone": "America/Los_Angeles"}
    status = calendar([la], [business_la]).status(friday_noon)
    assert not status.open_now
    assert status.reasons == ("public holiday: Independence Day (observed)",)
    assert status.until == utc(2026, 7, 6, 16, 0)  # Monday 09:00 PDT, the next allow window
    unobserved = calendar([{**la, "observed": False}], [business_la]).status(friday_noon)
    assert unobserved.open_now


def test_allow_list_that_never_opens_again_says_so_quickly() -> None:
    past_only = {"from": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z"}
    started = clock.monotonic()
    status = calendar([], [past_only]).status(utc(2026, 11, 24, 12, 0))
    assert clock.monotonic() - started < 5  # a bounded search, not a hang
    assert not status.open_now and status.until is None
    assert status.horizon_end == utc(2026, 11, 24, 12, 0) + timedelta(days=366)
    result = gate(calendar([], [past_only]), utc(2026, 11, 24, 12, 0))
    assert not result.passed and result.until is None
    assert "not reopening before 2027-11-25" in result.message()
    assert OUTSIDE_ALLOW in result.message()


def test_freeze_gate_names_window_reason_and_until_in_the_windows_zone() -> None:
    nightly = {**WEEKNIGHTS_NY, "reason": "nightly maintenance"}
    result = gate(calendar([nightly]), utc(2026, 11, 24, 4, 0))
    assert result.message() == (
        "blocked by freeze gate until 2026-11-24 06:00 EST: deployments are frozen: "
        "nightly maintenance [rule: mon,tue,wed,thu,fri 22:00-06:00 America/New_York "
        "(nightly maintenance)]"
    )
    outside = gate(calendar([], [BUSINESS_NY]), utc(2026, 11, 23, 23, 0))
    assert outside.message() == (
        "blocked by freeze gate until 2026-11-24 09:00 EST: deployments are frozen: "
        f"{OUTSIDE_ALLOW} [rule: allow = [mon,tue,wed,thu,fri 09:00-17:00 America/New_York "
        "(business hours)]]"
    )
    inside = gate(calendar([], [BUSINESS_NY]), utc(2026, 11, 24, 15, 0))
    assert inside.passed and inside.reason == "allowed by: business hours"


def test_intervals_partition_the_span_and_merge_equal_neighbours() -> None:
    cal = calendar([LUNCH_NY], [BUSINESS_NY])
    start, end = utc(2026, 11, 24, 5, 0), utc(2026, 11, 25, 5, 0)  # Tuesday, New York
    got = [(i.start, i.end, i.open, i.reasons) for i in cal.intervals(start, end)]
    assert got == [
        (start, utc(2026, 11, 24, 14), False, (OUTSIDE_ALLOW,)),
        (utc(2026, 11, 24, 14), utc(2026, 11, 24, 17), True, ("business hours",)),
        (utc(2026, 11, 24, 17), utc(2026, 11, 24, 18), False, ("lunch",)),
        (utc(2026, 11, 24, 18), utc(2026, 11, 24, 22), True, ("business hours",)),
        (utc(2026, 11, 24, 22), end, False, (OUTSIDE_ALLOW,)),
    ]
    assert cal.intervals(end, start) == []


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"holidays": "XX"}, "'XX' is not a country the holidays package knows"),
        ({"holidays": "US", "subdivision": "ZZ"}, "'ZZ' is not a subdivision of US (known: AK"),
        ({"cron": "0 25 * * *", "duration": "1h"}, "is not a cron expression: Bad hour"),
        ({"cron": "0 0 * * * *", "duration": "1h"}, "5 fields"),
        ({"cron": "0 22 * * *", "duration": "40d"}, "at most 31d"),
        ({"cron": "0 22 * * *", "duration": "1h", "timezone": "Mars/Base"}, "IANA time zone"),
        ({"from": "2026-12-24T00:00", "until": "2026-12-27T00:00"}, "'from' has no UTC offset"),
        ({"reason": "no kind"}, "a window needs days/start/end"),
        # Wall-clock times whose instant falls outside what a datetime holds.
        (
            {"from": "0001-01-01T00:00", "until": "0001-01-02T00:00", "timezone": "Asia/Tokyo"},
            "'0001-01-01 00:00' in Asia/Tokyo is out of range",
        ),
        (
            {"from": "9999-12-31T20:00", "until": "9999-12-31T22:00", "timezone": "Etc/GMT+5"},
            "'9999-12-31 20:00' in Etc/GMT+5 is out of range",
        ),
    ],
)
def test_bad_windows_are_refused_with_a_reason(window: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WINDOWS.validate_python([window])
    assert message in str(caught.value)


def test_country_codes_are_normalised() -> None:
    (window,) = WINDOWS.validate_python([{"holidays": "usa"}])
    assert window.describe() == "public holidays US (every US time zone) (public holiday)"
