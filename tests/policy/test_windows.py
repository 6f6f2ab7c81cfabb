"""Weekly and one-off deny windows, as before allow/cron/holiday windows existed: the same
configurations must keep the same meaning (across midnight, in time zones, on DST days)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from pydantic import ValidationError

from releasegate.config import Environment
from releasegate.policy.calendar import Calendar, Status
from releasegate.policy.gates import Facts, freeze_gate
from releasegate.policy.windows import DateRangeWindow, WeeklyWindow, Window


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def active_freeze(windows: list[Window], now: datetime) -> Status | None:
    """The status at `now` if deploying is closed by these deny windows."""
    status = Calendar(freeze=tuple(windows)).status(now)
    return None if status.open_now else status


NIGHTLY = WeeklyWindow.model_validate(
    {"days": "mon-fri", "start": "22:00", "end": "06:00", "timezone": "UTC", "reason": "nightly"}
)


@pytest.mark.parametrize(
    ("now", "frozen_until"),
    [
        (utc(2026, 11, 23, 21, 59), None),  # Monday, before the window
        (utc(2026, 11, 23, 22, 0), utc(2026, 11, 24, 6, 0)),  # Monday start, inclusive
        (utc(2026, 11, 24, 3, 0), utc(2026, 11, 24, 6, 0)),  # after midnight, Tuesday
        (utc(2026, 11, 24, 6, 0), None),  # end is exclusive
        (utc(2026, 11, 28, 3, 0), utc(2026, 11, 28, 6, 0)),  # Saturday morning: Friday's window
        (utc(2026, 11, 28, 23, 0), None),  # Saturday night: no window starts on Saturday
        (utc(2026, 11, 23, 3, 0), None),  # Monday morning: Sunday starts no window
    ],
)
def test_weekly_window_across_midnight(now: datetime, frozen_until: datetime | None) -> None:
    freeze = active_freeze([NIGHTLY], now)
    assert (freeze.until if freeze else None) == frozen_until


def test_window_in_another_time_zone() -> None:
    berlin = WeeklyWindow.model_validate(
        {"days": "fri", "start": "16:00", "end": "20:00", "timezone": "Europe/Berlin"}
    )
    # 2026-11-27 is a Friday; Berlin is UTC+1 in November.
    assert active_freeze([berlin], utc(2026, 11, 27, 14, 59)) is None
    freeze = active_freeze([berlin], utc(2026, 11, 27, 15, 0))
    assert freeze is not None and freeze.until == utc(2026, 11, 27, 19, 0)


def test_dst_spring_forward_window_keeps_its_wall_clock_end() -> None:
    # Europe/Berlin moves from 02:00 CET to 03:00 CEST on Sunday 2026-03-29.
    window = WeeklyWindow.model_validate(
        {"days": "sat", "start": "22:00", "end": "06:00", "timezone": "Europe/Berlin"}
    )
    # Saturday 22:00 CET = 21:00 UTC; Sunday 06:00 CEST = 04:00 UTC: 7 real hours, not 8.
    assert active_freeze([window], utc(2026, 3, 28, 20, 59)) is None
    freeze = active_freeze([window], utc(2026, 3, 28, 21, 0))
    assert freeze is not None and freeze.until == utc(2026, 3, 29, 4, 0)
    assert active_freeze([window], utc(2026, 3, 29, 4, 0)) is None


def test_dst_nonexistent_start_time_is_shifted_forward_by_the_gap() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29: it is read as 03:30 CEST (01:30 UTC).
    window = WeeklyWindow.model_validate(
        {"days": "sun", "start": "02:30", "end": "04:00", "timezone": "Europe/Berlin"}
    )
    assert active_freeze([window], utc(2026, 3, 29, 1, 29)) is None
    assert active_freeze([window], utc(2026, 3, 29, 1, 30)) is not None
    freeze = active_freeze([window], utc(2026, 3, 29, 1, 30))
    assert freeze is not None and freeze.until == utc(2026, 3, 29, 2, 0)  # 04:00 CEST


def test_dst_fall_back_ambiguous_end_takes_the_later_instant() -> None:
    # 02:30 happens twice in Berlin on 2026-10-25 (CEST then CET).
    window = WeeklyWindow.model_validate(
        {"days": "sun", "start": "01:00", "end": "02:30", "timezone": "Europe/Berlin"}
    )
    freeze = active_freeze([window], utc(2026, 10, 25, 0, 0))  # 02:00 CEST
    assert freeze is not None and freeze.until == utc(2026, 10, 25, 1, 30)  # second 02:30 (CET)


def test_one_off_range_and_chained_windows_report_when_deploys_reopen() -> None:
    holiday = DateRangeWindow.model_validate(
        {"from": "2026-12-24T00:00:00Z", "until": "2026-12-27T00:00:00Z", "reason": "holidays"}
    )
    assert active_freeze([holiday], utc(2026, 12, 23, 23, 59)) is None
    assert active_freeze([holiday], utc(2026, 12, 27, 0, 0)) is None
    # 2026-12-25 is a Friday: the holiday freeze, then Saturday-morning nightly... the
    # holiday ends at midnight Sunday, so deploys reopen then.
    freeze = active_freeze([holiday, NIGHTLY], utc(2026, 12, 25, 12, 0))
    assert freeze is not None and freeze.reasons == ("holidays",)
    assert freeze.until == utc(2026, 12, 27, 0, 0)
    # A nightly window that starts inside a one-off range extends the freeze past it.
    overlap = DateRangeWindow.model_validate(
        {"from": "2026-11-23T20:00:00Z", "until": "2026-11-23T23:00:00Z"}
    )
    freeze = active_freeze([overlap, NIGHTLY], utc(2026, 11, 23, 21, 0))
    assert freeze is not None and freeze.until == utc(2026, 11, 24, 6, 0)


def test_freeze_gate_names_rule_reason_and_until() -> None:
    env = Environment(url="http://127.0.0.1:18081", freeze=(NIGHTLY,))

    def at(now: datetime) -> Facts:
        return Facts(now=now, branch="main", digest="sha256:" + "a" * 64)

    result = freeze_gate(env, at(utc(2026, 11, 24, 3, 0)))
    assert not result.passed
    assert result.until == utc(2026, 11, 24, 6, 0)
    assert "nightly" in result.message() and "2026-11-24 06:00" in result.message()
    assert "mon,tue,wed,thu,fri 22:00-06:00 UTC" in result.rule
    assert freeze_gate(env, at(utc(2026, 11, 24, 12, 0))).passed


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("sat,sun", {5, 6}),
        ("fri-mon", {4, 5, 6, 0}),
        ("daily", set(range(7))),
    ],
)
def test_day_ranges(days: str, expected: set[int]) -> None:
    window = WeeklyWindow.model_validate({"days": days, "start": "00:00", "end": "01:00"})
    assert window.days == expected


@pytest.mark.parametrize(
    "bad",
    [
        {"days": "mon-fry", "start": "22:00", "end": "06:00"},
        {"days": "mon", "start": "25:00", "end": "06:00"},
        {"days": "mon", "start": "22:00", "end": "06:00", "timezone": "Mars/Olympus"},
    ],
)
def test_bad_weekly_windows_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        WeeklyWindow.model_validate(bad)


def test_range_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationError, match="'until' must be after 'from'"):
        DateRangeWindow.model_validate({"from": "2026-12-27T00:00Z", "until": "2026-12-24T00:00Z"})


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        active_freeze([NIGHTLY], datetime(2026, 11, 24, 3, 0))


def test_zero_length_window_start_equals_end_is_a_whole_day() -> None:
    window = WeeklyWindow(days=frozenset({0}), start=time(9), end=time(9))
    freeze = active_freeze([window], utc(2026, 11, 23, 20, 0))
    assert freeze is not None and freeze.until == utc(2026, 11, 24, 9, 0)
