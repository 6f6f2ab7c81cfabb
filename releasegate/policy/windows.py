"""Windows: weekly, one-off, cron and public-holiday spans of time, in IANA time zones.

The same four kinds serve as deny windows (`freeze`) and allow windows (`allow`); the
calendar (policy/calendar.py) combines them. Weekly and one-off windows live here, cron
windows in cron_window.py, public holidays in public_holidays.py. Pure: every function
takes the span it is asked about instead of reading a clock. Wall-clock times become
instants by the DST rule of policy/wallclock.py, for every kind alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from releasegate.policy.cron_window import CronWindow
from releasegate.policy.public_holidays import HolidayWindow
from releasegate.policy.spans import Occurrence, local_days, overlapping
from releasegate.policy.wallclock import Zone, ends_at, starts_at, zone

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


class WeeklyWindow(BaseModel):
    """Every listed day from `start` to `end` local time; `end <= start` means next day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: frozenset[int] = Field(default=frozenset(range(7)))
    start: time
    end: time
    timezone: Zone = "UTC"
    reason: str = "maintenance window"

    @model_validator(mode="before")
    @classmethod
    def _days(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("days"), str | list):
            return {**data, "days": _parse_days(data["days"])}
        return data

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    def occurrence(self, day: date) -> Occurrence | None:
        """The window that starts on local `day`, if any."""
        if day.weekday() not in self.days:
            return None
        end_day = day if self.end > self.start else day + timedelta(days=1)
        return Occurrence(
            starts_at(datetime.combine(day, self.start), self.zone),
            ends_at(datetime.combine(end_day, self.end), self.zone),
            self.reason,
        )

    def occurrences(self, start: datetime, end: datetime) -> Iterator[Occurrence]:
        for day in local_days(start, end, self.zone):
            occ = self.occurrence(day)
            if occ and overlapping(occ, start, end):
                yield occ

    def describe(self) -> str:
        days = ",".join(DAYS[d] for d in sorted(self.days))
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.timezone} ({self.reason})"


class DateRangeWindow(BaseModel):
    """From `from` (inclusive) until `until` (exclusive). Times without a UTC offset are
    wall-clock times in `timezone`."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    timezone: Zone | None = None
    from_: datetime = Field(alias="from")
    until: datetime
    reason: str = "freeze"

    @field_validator("from_", "until")
    @classmethod
    def _instant(cls, value: datetime, info: ValidationInfo) -> datetime:
        if value.tzinfo is not None:
            return value
        name = info.data.get("timezone")
        if name is None:
            key = "from" if info.field_name == "from_" else "until"
            raise ValueError(f"{key!r} has no UTC offset: add one (e.g. 'Z') or set timezone")
        resolve = starts_at if info.field_name == "from_" else ends_at
        return resolve(value, zone(name))

    @model_validator(mode="after")
    def _ordered(self) -> DateRangeWindow:
        if self.until <= self.from_:
            raise ValueError("'until' must be after 'from'")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone or "UTC")

    def occurrences(self, start: datetime, end: datetime) -> Iterator[Occurrence]:
        occ = Occurrence(self.from_, self.until, self.reason)
        if overlapping(occ, start, end):
            yield occ

    def describe(self) -> str:
        if self.timezone is None:
            span = f"{self.from_:%Y-%m-%d %H:%M%z} until {self.until:%Y-%m-%d %H:%M%z}"
        else:
            first, last = self.from_.astimezone(self.zone), self.until.astimezone(self.zone)
            span = f"{first:%Y-%m-%d %H:%M} until {last:%Y-%m-%d %H:%M} {self.timezone}"
        return f"{span} ({self.reason})"


def _kind(data: Any) -> str | None:
    """Which window a configured table is, by its distinctive key."""
    if isinstance(data, BaseModel):
        return _TAGS.get(type(data))
    if isinstance(data, dict):
        for key, kind in (("cron", "cron"), ("holidays", "holidays"), ("from", "range")):
            if key in data:
                return kind
        if {"until", "from_"} & set(data):
            return "range"
        if {"days", "start", "end"} & set(data):
            return "weekly"
    return None


_TAGS: dict[type, str] = {
    WeeklyWindow: "weekly",
    DateRangeWindow: "range",
    CronWindow: "cron",
    HolidayWindow: "holidays",
}

Window = Annotated[
    Annotated[WeeklyWindow, Tag("weekly")]
    | Annotated[DateRangeWindow, Tag("range")]
    | Annotated[CronWindow, Tag("cron")]
    | Annotated[HolidayWindow, Tag("holidays")],
    Discriminator(
        _kind,
        custom_error_type="window_kind",
        custom_error_message=(
            "a window needs days/start/end (weekly), from/until (one-off), "
            "cron/duration, or holidays"
        ),
    ),
]
