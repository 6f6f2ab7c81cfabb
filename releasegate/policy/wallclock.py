"""Wall-clock times in IANA time zones, turned into instants by one DST rule for every window.

A time that does not exist (spring forward) is shifted forward by the gap (02:30 -> 03:30,
Python's reading of a skipped time with fold=0). A time that exists twice (fall back)
starts a window at its first occurrence and ends one at its second, so a window errs on the
long side.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


@cache
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or ValueError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not a known IANA time zone (e.g. Europe/Berlin)") from exc


def check_zone(name: str) -> str:
    """Validator for a configured time zone name."""
    zone(name)
    return name


Zone = Annotated[str, AfterValidator(check_zone)]
"""A configured IANA time zone name, checked at load time."""


def starts_at(local: datetime, tz: ZoneInfo) -> datetime:
    """The instant (UTC) a window starting at naive wall time `local` in `tz` starts."""
    # fold=0: an ambiguous time's first occurrence; a skipped time shifted forward by the gap.
    return _instant(local, tz, fold=0)


def ends_at(local: datetime, tz: ZoneInfo) -> datetime:
    """The instant (UTC) a window ending at naive wall time `local` in `tz` ends."""
    # Compared in UTC: for an ambiguous or skipped wall time the two folds differ.
    return max(_instant(local, tz, fold=f) for f in (0, 1))


def _instant(local: datetime, tz: ZoneInfo, fold: int) -> datetime:
    try:
        return local.replace(tzinfo=tz, fold=fold).astimezone(UTC)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it: ValueError for pydantic
        shown = local.isoformat(" ", "minutes")
        raise ValueError(f"{shown!r} in {tz.key} is out of range") from None


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of local `day` (midnight itself may be skipped by DST)."""
    return starts_at(datetime.combine(day, time()), tz)


def wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive wall-clock time that `instant` shows in `tz`."""
    return instant.astimezone(tz).replace(tzinfo=None)


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive datetime is refused (an instant needs its zone)."""
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(UTC)
