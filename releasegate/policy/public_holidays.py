"""Public holidays (the `holidays` package) and the time zones of a country (IANA tzdata).

Pure lookups: both read data shipped inside packages, never the network or a clock.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from importlib.resources import files

import holidays

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
