"""Public-holiday windows: the `holidays` package's calendars as whole local days, and the
time zones of a country (IANA tzdata).

Pure: both read data shipped inside packages, never the network or a clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from functools import cache
from importlib.resources import files
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from releasegate.policy.spans import Occurrence, local_days, overlapping
from releasegate.policy.wallclock import Zone, day_start, ends_at, zone

# Holiday names in English where the package has them (DE's default is German); the
# package falls back to the country's own language otherwise.
LANGUAGE = "en_US"
_SHOWN = 40


def check_country(country: str) -> str:
    """The country's ISO 3166 alpha-2 code ("usa" -> "US"), or ValueError."""
    code = country.upper()
    if code not in holidays.list_supported_countries():
        raise ValueError(
            f"{country!r} is not a country the holidays package knows "
            "(ISO 3166 codes such as 'US', 'DE', 'GB', 'IN')"
        )
    return str(holidays.country_holidays(code).country)


def check_subdivision(country: str, subdivision: str) -> None:
    """ValueError naming the known subdivisions unless `country` has `subdivision`."""
    known = holidays.list_supported_countries()[country]
    if subdivision not in known:
        names = ", ".join(known[:_SHOWN]) + (", …" if len(known) > _SHOWN else "")
        raise ValueError(
            f"{subdivision!r} is not a subdivision of {country} (known: {names or 'none'})"
        )


@cache
def holidays_in(
    country: str, subdivision: str | None, observed: bool, year: int
) -> dict[date, str]:
    """Each public holiday of `year` and its name (observed days included when `observed`)."""
    calendar = holidays.country_holidays(
        country, subdiv=subdivision, years=year, observed=observed, language=LANGUAGE
    )
    return dict(calendar.items())


@cache
def country_zones(country: str) -> tuple[str, ...]:
    """The IANA zones in use in `country`, from tzdata's zone1970.tab (may be empty)."""
    table = files("tzdata").joinpath("zoneinfo/zone1970.tab").read_text(encoding="utf-8")
    zones = []
    for line in table.splitlines():
        if line and not line.startswith("#"):
            codes, _, name, *_ = line.split("\t")
            if country in codes.split(","):
                zones.append(name)
    return tuple(zones)


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
        return check_country(value)

    @model_validator(mode="after")
    def _known(self) -> HolidayWindow:
        if self.subdivision is not None:
            check_subdivision(self.holidays, self.subdivision)
        if self.timezone is None and not country_zones(self.holidays):
            raise ValueError(f"no time zone is known for {self.holidays!r}: set timezone")
        return self

    @property
    def zones(self) -> tuple[ZoneInfo, ...]:
        names = (self.timezone,) if self.timezone else country_zones(self.holidays)
        return tuple(zone(name) for name in names)

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone or "UTC")

    def occurrences(self, start: datetime, end: datetime) -> Iterator[Occurrence]:
        zones = self.zones
        # The UTC date, widened by two days, covers every zone's local date (UTC-12..+14).
        for day in local_days(start, end + timedelta(days=2), zone("UTC"), before=2):
            name = holidays_in(self.holidays, self.subdivision, self.observed, day.year).get(day)
            if name is None:
                continue
            next_day = datetime.combine(day + timedelta(days=1), time())
            occ = Occurrence(
                min(day_start(day, tz) for tz in zones),
                max(ends_at(next_day, tz) for tz in zones),
                f"{self.reason}: {name}",
            )
            if overlapping(occ, start, end):
                yield occ

    def describe(self) -> str:
        where = self.holidays + (f"-{self.subdivision}" if self.subdivision else "")
        zones = self.timezone or f"every {self.holidays} time zone"
        return f"public holidays {where} ({zones}) ({self.reason})"
