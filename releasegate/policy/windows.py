"""Maintenance windows (freezes): weekly windows in a time zone, and one-off date ranges.

Pure: every function takes `now` (an aware datetime) instead of reading a clock.

DST: a weekly window is given in wall-clock time. A time that does not exist (spring
forward) is shifted forward by the gap (02:30 -> 03:30), as Python and cron do. A time
that exists twice (fall back) starts a window at its first occurrence and ends one at its
second, so a freeze errs on the long side.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_days(text: str | list[str]) -> frozenset[int]:
    """ "mon-fri", "sat,sun", "fri-mon", "daily", or a list of those -> weekday numbers."""
    items = text if isinstance(text, list) else re.split(r"\s*,\s*", text.strip().lower())
    out: set[int] = set()
    for item in items:
        item = item.strip().lower()
        if item in ("daily", "*", "every day"):
            return frozenset(range(7))
        first, _, last = item.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"{item!r} is not a day or day range like 'mon-fri' or 'sat,sun'")
        a, b = DAYS.index(first), DAYS.index(last or first)
        out.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(out)


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not a known IANA time zone") from exc
    return name


class WeeklyWindow(BaseModel):
    """Frozen every listed day from `start` to `end` local time; `end <= start` means next day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: frozenset[int] = Field(default=frozenset(range(7)))
    start: time
    end: time
    timezone: Annotated[str, AfterValidator(_zone)] = "UTC"
    reason: str = "maintenance window"

    @model_validator(mode="before")
    @classmethod
    def _days(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("days"), str | list):
            return {**data, "days": _parse_days(data["days"])}
        return data

    def occurrence(self, day: date) -> tuple[datetime, datetime] | None:
        """The window that starts on `day` (local), as UTC-comparable instants, if any."""
        if day.weekday() not in self.days:
            return None
        zone = ZoneInfo(self.timezone)
        end_day = day if self.end > self.start else day + timedelta(days=1)
        return _start(day, self.start, zone), _latest(end_day, self.end, zone)

    def describe(self) -> str:
        days = ",".join(DAYS[d] for d in sorted(self.days))
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.timezone} ({self.reason})"


class DateRangeWindow(BaseModel):
    """Frozen from `from` (inclusive) until `until` (exclusive)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    from_: AwareDatetime = Field(alias="from")
    until: AwareDatetime
    reason: str = "freeze"

    @model_validator(mode="after")
    def _ordered(self) -> DateRangeWindow:
        if self.until <= self.from_:
            raise ValueError("'until' must be after 'from'")
        return self

    def describe(self) -> str:
        return f"{self.from_:%Y-%m-%d %H:%M%z} until {self.until:%Y-%m-%d %H:%M%z} ({self.reason})"


Window = WeeklyWindow | DateRangeWindow


class Freeze(BaseModel):
    """A window that is active now, and when the freeze (with any overlapping window) lifts."""

    model_config = ConfigDict(frozen=True)

    window: Window
    until: datetime
    kind: Literal["freeze"] = "freeze"


def _start(day: date, at: time, zone: ZoneInfo) -> datetime:
    # fold=0: an ambiguous time's first occurrence; a skipped time shifted forward by the gap.
    return datetime.combine(day, at, zone).astimezone(ZoneInfo("UTC"))


def _latest(day: date, at: time, zone: ZoneInfo) -> datetime:
    # Comparing in UTC: for an ambiguous or skipped wall time the two folds differ.
    candidates = [datetime.combine(day, at, zone).replace(fold=f) for f in (0, 1)]
    return max(c.astimezone(ZoneInfo("UTC")) for c in candidates)


def _span(window: Window, now: datetime) -> tuple[datetime, datetime] | None:
    """The occurrence of `window` containing `now`, if any."""
    if isinstance(window, DateRangeWindow):
        return (window.from_, window.until) if window.from_ <= now < window.until else None
    local_today = now.astimezone(ZoneInfo(window.timezone)).date()
    # A window lasts at most a day, so only one started yesterday or today can cover now.
    for day in (local_today - timedelta(days=1), local_today):
        span = window.occurrence(day)
        if span and span[0] <= now < span[1]:
            return span
    return None


def active_freeze(windows: list[Window], now: datetime, *, horizon: int = 400) -> Freeze | None:
    """The window blocking deployments at `now`, and when deployments are next allowed.

    Back-to-back or overlapping windows are followed through, so "until" is when the
    environment actually opens again (up to `horizon` hops, beyond which the last end seen
    is reported).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    first: Window | None = None
    at = now
    for _ in range(horizon):
        ends = [(span[1], w) for w in windows if (span := _span(w, at))]
        if not ends:
            break
        end, window = max(ends, key=lambda pair: pair[0])
        first = first or window
        at = end
    return Freeze(window=first, until=at) if first else None
