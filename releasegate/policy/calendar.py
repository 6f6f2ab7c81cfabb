"""The deploy calendar of one environment: when deploying is open, from its deny windows
(`freeze`) and allow windows (`allow`).

Open means: no deny window is active, and, if the environment lists allow windows, at
least one of them is. Deny beats allow. The freeze gate and `releasegate windows` both read
this module, so they cannot disagree. Pure: `now` and spans are parameters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from releasegate.policy.wallclock import as_utc
from releasegate.policy.windows import Window

# How far ahead "until" is looked for: a year covers every yearly freeze and holiday.
# Past it, the state is reported as lasting at least that long (until = None).
HORIZON = timedelta(days=366)
# The search for the next change grows from one day, doubling: a change within hours
# costs one day of occurrences, a year-long freeze about nine passes.
_FIRST_STEP = timedelta(days=1)
OUTSIDE_ALLOW = "outside every allow window"


class Interval(BaseModel):
    """A stretch of time that is open or closed for the same reasons throughout."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    open: bool
    reasons: tuple[str, ...]
    """Closed: the active deny windows' reasons (and OUTSIDE_ALLOW). Open: the active allow
    windows' reasons (none without an allow list)."""
    rules: tuple[str, ...]
    """The windows behind `reasons`, as configured."""


class Status(BaseModel):
    """Whether deploying is open at `now`, why, and until when."""

    model_config = ConfigDict(frozen=True)

    now: datetime
    open_now: bool
    until: datetime | None
    """The first instant the state changes (deploying reopens, or closes); None if it does
    not change before `horizon_end`."""
    horizon_end: datetime
    reasons: tuple[str, ...]
    rules: tuple[str, ...]
    timezone: str
    """The zone of the window that decides at `now` (UTC without one): for messages."""


class _Piece(NamedTuple):
    start: datetime
    end: datetime
    deny: tuple[tuple[int, str], ...]  # (window index, label) of active deny occurrences
    allow: tuple[tuple[int, str], ...]


class Calendar(BaseModel):
    """Deny windows and allow windows of one environment."""

    model_config = ConfigDict(frozen=True)

    freeze: tuple[Window, ...] = ()
    allow: tuple[Window, ...] = ()

    def _open(self, piece: _Piece) -> bool:
        return not piece.deny and (not self.allow or bool(piece.allow))

    def intervals(self, start: datetime, end: datetime) -> list[Interval]:
        """[start, end) cut into open and closed intervals, adjacent equal ones merged."""
        out: list[Interval] = []
        for piece in self._pieces(as_utc(start), as_utc(end)):
            reasons, rules = self._why(piece)
            interval = Interval(
                start=piece.start,
                end=piece.end,
                open=self._open(piece),
                reasons=reasons,
                rules=rules,
            )
            last = out[-1] if out else None
            if last and (last.open, last.reasons, last.rules) == (
                interval.open,
                interval.reasons,
                interval.rules,
            ):
                out[-1] = last.model_copy(update={"end": interval.end})
            else:
                out.append(interval)
        return out

    def status(self, now: datetime, horizon: timedelta = HORIZON) -> Status:
        """Open or closed at `now`, and the first instant that changes (within `horizon`)."""
        now = as_utc(now)
        limit = now + horizon
        first: _Piece | None = None
        until: datetime | None = None
        at, step = now, _FIRST_STEP
        while at < limit and until is None:
            stop = min(at + step, limit)
            for piece in self._pieces(at, stop):
                if first is None:
                    first = piece
                elif self._open(piece) != self._open(first):
                    until = piece.start
                    break
            at, step = stop, step * 2
        assert first is not None  # horizon > 0: at least one piece
        reasons, rules = self._why(first)
        return Status(
            now=now,
            open_now=self._open(first),
            until=until,
            horizon_end=limit,
            reasons=reasons,
            rules=rules,
            timezone=self._deciding_zone(first),
        )

    def _pieces(self, start: datetime, end: datetime) -> Iterator[_Piece]:
        """[start, end) cut at every window edge, with the occurrences active in each cut."""
        if end <= start:
            return
        changes: dict[datetime, list[tuple[int, tuple[bool, int, str]]]] = {start: [], end: []}
        for deny, windows in ((True, self.freeze), (False, self.allow)):
            for index, window in enumerate(windows):
                for occ in window.occurrences(start, end):
                    key = (deny, index, occ.label)
                    changes.setdefault(max(occ.start, start), []).append((1, key))
                    changes.setdefault(min(occ.end, end), []).append((-1, key))
        active: Counter[tuple[bool, int, str]] = Counter()
        for at, following in pairwise(sorted(changes)):
            for delta, key in changes[at]:
                active[key] += delta
            keys = sorted(k for k, n in active.items() if n > 0)
            yield _Piece(
                at,
                following,
                deny=tuple((i, label) for deny, i, label in keys if deny),
                allow=tuple((i, label) for deny, i, label in keys if not deny),
            )

    def _why(self, piece: _Piece) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if self._open(piece):
            labels, indexes = [lb for _, lb in piece.allow], [i for i, _ in piece.allow]
            windows = self.allow
        else:
            labels, indexes = [lb for _, lb in piece.deny], [i for i, _ in piece.deny]
            windows = self.freeze
        rules = [windows[i].describe() for i in dict.fromkeys(indexes)]
        if not self._open(piece) and self.allow and not piece.allow:
            labels.append(OUTSIDE_ALLOW)
            rules.append("allow = [" + "; ".join(w.describe() for w in self.allow) + "]")
        return tuple(dict.fromkeys(labels)), tuple(rules)

    def _deciding_zone(self, piece: _Piece) -> str:
        if piece.deny:
            return self.freeze[piece.deny[0][0]].zone.key
        if piece.allow:
            return self.allow[piece.allow[0][0]].zone.key
        return self.allow[0].zone.key if self.allow else "UTC"
