"""Durations as people write them in config: "90s", "5m", "24h", "1h30m", "2d"."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+)([dhms])")
# Checked whole first: `findall` alone restarts at every digit of a run without a unit,
# which is quadratic (50 000 digits and an 'x' took a minute).
_WHOLE = re.compile(r"(?:\d+[dhms])+")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
MAX_DURATION = timedelta(days=3650)
"""Longer than any wait or age releasegate has to judge, and short enough that `now + it`
stays a date (an approvals timeout of 999999999d passed loading and crashed the run)."""


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse "1h30m"-style text (or plain seconds) into a timedelta; ValueError if it is not
    one, or is longer than MAX_DURATION."""
    try:
        value = _parse(text)
    except OverflowError:  # not a ValueError: pydantic would let it through as a traceback
        value = timedelta.max
    if value > MAX_DURATION:
        raise ValueError(f"a duration is too long: at most {format_duration(MAX_DURATION)}")
    return value


def _parse(text: str | int | float | timedelta) -> timedelta:
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=text)
    compact = text.strip().replace(" ", "")
    if compact.isdigit():
        return timedelta(seconds=int(compact))
    if not _WHOLE.fullmatch(compact):
        raise ValueError(f"{text!r} is not a duration like '30s', '5m', '24h' or '1h30m'")
    return sum((timedelta(**{_UNITS[u]: int(n)}) for n, u in _PART.findall(compact)), timedelta())


def format_duration(value: timedelta) -> str:
    """The inverse of parse_duration, for messages and serialisation."""
    seconds = int(value.total_seconds())
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return out or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
