"""Cron windows: from each wall-clock time a cron expression matches, for a duration."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError
from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator

from releasegate.duration import Duration, format_duration
from releasegate.policy.spans import Occurrence, overlapping
from releasegate.policy.wallclock import Zone, ends_at, starts_at, wall, zone

# A cron window lasts at most this long, so the occurrences covering an instant are found
# by looking back a bounded distance.
MAX_CRON_DURATION = timedelta(days=31)
# Wall-clock and real time differ by at most a DST gap (Samoa skipped a whole day in 2011).
_DST_SLACK = timedelta(days=2)


def check_cron(value: str) -> str:
    """A 5-field cron expression cronsim understands (release trains use it too)."""
    if len(value.split()) != 5:
        raise ValueError(f"{value!r} is not a cron expression of 5 fields (minute to weekday)")
    try:
        CronSim(value, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise ValueError(f"{value!r} is not a cron expression: {exc}") from None
    return value


Cron = Annotated[str, AfterValidator(check_cron)]


class CronWindow(BaseModel):
    """From each wall-clock time the cron expression matches in `timezone`, for `duration`
    of wall-clock time (so `0 22 * * 1-5` for 8h is the weekly window mon-fri 22:00-06:00)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cron: Cron
    duration: Duration
    timezone: Zone = "UTC"
    reason: str = "maintenance window"

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
            if overlapping(occ, start, end):
                yield occ

    def describe(self) -> str:
        every = f"cron '{self.cron}' for {format_duration(self.duration)}"
        return f"{every} {self.timezone} ({self.reason})"
