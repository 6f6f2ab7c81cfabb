"""Windows: weekly, one-off, cron and public-holiday spans of time, in IANA time zones.

The same four kinds serve as deny windows (`freeze`) and allow windows (`allow`); the
calendar (policy/calendar.py) combines them. Pure: every function takes the span it is asked
about instead of reading a clock. Wall-clock times become instants by the DST rule of
policy/wallclock.py, for every kind alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, NamedTuple
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from releasegate.duration import Duration, format_duration
from releasegate.policy import public_holidays
from releasegate.policy.wallclock import check_zone, day_start, ends_at, starts_at, wall, zone

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Zone = Annotated[str, AfterValidator(check_zone)]
# A cron window lasts at most this long, so the occurrences covering an instant are found
# by looking back a bounded distance.
MAX_CRON_DURATION = timedelta(days=31)
# Wall-clock and real time differ by at most a DST gap (Samoa skipped a whole day in 2011).
_DST_SLACK = timedelta(days=2)


class Occurrence(NamedTuple):
    """One span of one window: [start, end) in UTC, and what to call it."""

    start: datetime
    end: datetime
    label: str


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


def _local_days(start: datetime, end: datetime, tz: ZoneInfo, before: int = 1) -> Iterator[date]:
    """Local dates from `before` days ahead of `start` through the date of `end`."""
    day = start.astimezone(tz).date() - timedelta(days=before)
    last = end.astimezone(tz).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def _overlapping(occ: Occurrence, start: datetime, end: datetime) -> bool:
    # Empty spans (a window inside a skipped DST hour) never count.
    return occ.start < occ.end and occ.start < end and occ.end > start


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
        for day in _local_days(start, end, self.zone):
            occ = self.occurrence(day)
            if occ and _overlapping(occ, start, end):
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
        if _overlapping(occ, start, end):
            yield occ

    def describe(self) -> str:
        if self.timezone is None:
            span = f"{self.from_:%Y-%m-%d %H:%M%z} until {self.until:%Y-%m-%d %H:%M%z}"
        else:
            first, last = self.from_.astimezone(self.zone), self.until.astimezone(self.zone)
            span = f"{first:%Y-%m-%d %H:%M} until {last:%Y-%m-%d %H:%M} {self.timezone}"
        return f"{span} ({self.reason})"


class CronWindow(BaseModel):
    """From each wall-clock time the cron expression matches in `timezone`, for `duration`
    of wall-clock time (so `0 22 * * 1-5` for 8h is the weekly window mon-fri 22:00-06:00)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cron: str
    duration: Duration
    timezone: Zone = "UTC"
    reason: str = "maintenance window"

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"{value!r} is not a cron expression of 5 fields (minute to weekday)")
        try:
            CronSim(value, datetime(2000, 1, 1))
        except CronSimError as exc:
            raise ValueError(f"{value!r} is not a cron expression: {exc}") from None
        return value

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: timedelta) -> timedelta:
        if not timedelta(0) < value <= MAX_CRON_DURATION:
            raise ValueError(f"duration must be more than 0s and at most {MAX_CRON_DURATION.days}d")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    def occurrences(self, start: datetime, end: datetime) -> Iterator[Occurrence]:
        # cronsim walks naive wall-clock time here: its own DST handling (Debian cron's:
        # a skipped time fires at the end of the gap) would differ from the weekly windows';
        # each matched wall time is turned into an instant by the one rule in wallclock.py.
        first = wall(start, self.zone) - self.duration - _DST_SLACK
        last = wall(end, self.zone) + _DST_SLACK
        for local in CronSim(self.cron, first):
            if local > last:
                return
            occ = Occurrence(
                starts_at(local, self.zone), ends_at(local + self.duration, self.zone), self.reason
            )
            if _overlapping(occ, start, end):
                yield occ

    def describe(self) -> str:
        every = f"cron '{self.cron}' for {format_duration(self.duration)}"
        return f"{every} {self.timezone} ({self.reason})"


class HolidayWindow(BaseModel):
    """Each public holiday of a country (and subdivision), as a whole local day in `timezone`;
    without one, the day as it passes in every time zone of the country (midnight in the
    first to midnight in the last), so a holiday freeze errs on the long side."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    holidays: str
    subdivision: str | None = None
    observed: bool = True
    """Include days off in lieu ("Independence Day (observed)"), as the package does."""
    timezone: Zone | None = None
    reason: str = "public holiday"

    @field_validator("holidays")
    @classmethod
    def _country(cls, value: str) -> str:
        return public_holidays.check_country(value)

    @model_validator(mode="after")
    def _known(self) -> HolidayWindow:
        if self.subdivision is not None:
            public_holidays.check_subdivision(self.holidays, self.subdivision)
        if self.timezone is None and not public_holidays.country_zones(self.holidays):
            raise ValueError(f"no time zone is known for {self.holidays!r}: set timezone")
        return self

    @property
    def zones(self) -> tuple[ZoneInfo, ...]:
        names = (self.timezone,) if self.timezone else public_holidays.country_zones(self.holidays)
        return tuple(zone(name) for name in names)

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone or "UTC")

    def occurrences(self, start: datetime, end: datetime) -> Iterator[Occurrence]:
        zones = self.zones
        # The UTC date, widened by two days, covers every zone's local date (UTC-12..+14).
        for day in _local_days(start, end + timedelta(days=2), zone("UTC"), before=2):
            name = public_holidays.holidays_in(
                self.holidays, self.subdivision, self.observed, day.year
            ).get(day)
            if name is None:
                continue
            next_day = datetime.combine(day + timedelta(days=1), time())
            occ = Occurrence(
                min(day_start(day, tz) for tz in zones),
                max(ends_at(next_day, tz) for tz in zones),
                f"{self.reason}: {name}",
            )
            if _overlapping(occ, start, end):
                yield occ

    def describe(self) -> str:
        where = self.holidays + (f"-{self.subdivision}" if self.subdivision else "")
        zones = self.timezone or f"every {self.holidays} time zone"
        return f"public holidays {where} ({zones}) ({self.reason})"


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
