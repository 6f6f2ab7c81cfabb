"""The dashboard's figures: DORA's four and the gates', per environment, over a period.

`Tally` counts the observations of one environment (`policy/observations.py`) that fall
in the period and turns them into `EnvironmentFigures`. What is kept while counting is
one number per change, restore and approval wait in the period (for exact percentiles)
and one row per day with activity: never the records.

A figure that cannot be computed says why instead of guessing (`EnvironmentFigures.say`):
no commit time, no change in the period.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from releasegate.policy.observations import (
    ApprovalDecided,
    ApprovalWaited,
    ChangeDone,
    ChangeFailed,
    GateBlocked,
    Observation,
    Recorded,
    Restored,
)

COUNTED_KINDS = ("override", "quarantine")
"""What the gate figures count besides blocks: freezes let through by break-glass, and
versions quarantined by a rollback."""
WAIT_BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 1m", 60),
    ("1-5m", 300),
    ("5-15m", 900),
    ("15m-1h", 3600),
    ("1-4h", 4 * 3600),
    ("4-24h", 86400),
    ("> 1d", math.inf),
)
"""Approval waits as the report's chart groups them."""


class Spread(BaseModel):
    """How long something took: count, median and 90th percentile (nearest rank: a value
    that actually occurred), in seconds; None when nothing was measured."""

    model_config = ConfigDict(frozen=True)

    count: int = 0
    p50_seconds: float | None = None
    p90_seconds: float | None = None


class Day(BaseModel):
    """One day with activity (UTC), for the charts."""

    model_config = ConfigDict(frozen=True)

    day: date
    deploys: int = 0
    failed_changes: int = 0
    restores: int = 0
    rollbacks: int = 0
    lead_time_p50_seconds: float | None = None


class EnvironmentFigures(BaseModel):
    """Everything `releasegate report` shows for one environment."""

    model_config = ConfigDict(frozen=True)

    environment: str
    since: AwareDatetime
    """Where the period starts: the start asked for, or the trail's first record if later."""
    until: AwareDatetime
    deploys: int
    """Successful deploys."""
    changes: int
    """Deploys that reached an outcome: the base of the change failure rate."""
    failed_changes: int
    rollbacks: int
    """Successful rollbacks."""
    deploys_per_day: float
    """Over the period, counted as one day if it is shorter."""
    change_failure_rate: float | None
    lead_time: Spread
    without_commit_time: int
    """Successful deploys whose commit time is not recorded (or not usable)."""
    time_to_restore: Spread
    unrestored_since: AwareDatetime | None
    approval_wait: Spread
    approval_wait_buckets: dict[str, int]
    approvals: dict[str, int]
    """Decisions by status: accepted, refused, rejected, expired."""
    blocks_by_gate: dict[str, int]
    refusals_by_reason: dict[str, int]
    recorded: dict[str, int]
    """Overrides and quarantines."""
    days: list[Day]

    def say(self) -> list[tuple[str, str]]:
        """Each figure as (label, words): what the terminal, markdown and HTML show."""
        rows = [
            ("deployment frequency", self._frequency()),
            ("lead time for changes", self._lead_time()),
            ("change failure rate", self._failure_rate()),
            ("time to restore", self._restore()),
            ("approval wait", _spread(self.approval_wait, "no approvals in this period")),
            ("blocks per gate", _counts(self.blocks_by_gate, "no gate blocked")),
            ("refused approvals", _counts(self.refusals_by_reason, "none refused")),
        ]
        others = {k: v for k, v in self.approvals.items() if k in ("rejected", "expired") and v}
        if others:
            rows.append(("approvals rejected/expired", _counts(others, "")))
        for kind, count in self.recorded.items():
            rows.append((f"{kind}s", str(count)))
        return rows

    def _frequency(self) -> str:
        span = self.until - self.since
        text = f"{self.deploys} deploys in {_duration(span.total_seconds())}"
        return text if span < timedelta(days=1) else f"{text} ({self.deploys_per_day:.2f} per day)"

    def _lead_time(self) -> str:
        missing = self.without_commit_time
        if self.lead_time.count == 0:
            if missing:
                return f"unknown: {missing} changes have no commit time"
            return "no data: no successful deploy in this period"
        text = _spread(self.lead_time, "")
        return f"{text} ({missing} more have no commit time)" if missing else text

    def _failure_rate(self) -> str:
        if self.change_failure_rate is None:
            return "no data: no deploy reached an outcome in this period"
        return (
            f"{self.change_failure_rate:.0%} ({self.failed_changes} of {self.changes} changes "
            f"failed or were rolled back)"
        )

    def _restore(self) -> str:
        text = _spread(self.time_to_restore, "nothing to restore in this period")
        if self.unrestored_since is not None:
            text += f"; not restored since {self.unrestored_since:%Y-%m-%d %H:%M} UTC"
        return text


class Report(BaseModel):
    """The figures of several environments, computed at `generated_at`."""

    model_config = ConfigDict(frozen=True)

    generated_at: AwareDatetime
    since: AwareDatetime
    environments: list[EnvironmentFigures]


class Tally:
    """Counts one environment's observations within [since, until] (see the module doc)."""

    def __init__(self, environment: str, since: datetime, until: datetime) -> None:
        self.environment, self.since, self.until = environment, since, until
        self.changes = self.deploys = self.failed = self.rollbacks = 0
        self.leads: list[float] = []
        self.no_commit_time = 0
        self.restores: list[float] = []
        self.waits: list[float] = []
        self.approvals: Counter[str] = Counter()
        self.blocks: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.recorded: Counter[str] = Counter()
        self.days: dict[date, dict[str, int]] = {}
        self.day_leads: dict[date, list[float]] = {}

    def add(self, seen: Iterable[Observation]) -> None:
        for obs in seen:
            if self.since <= obs.at <= self.until:
                self._count(obs)

    def _count(self, obs: Observation) -> None:
        day = obs.at.date()
        match obs:
            case ChangeDone(kind="deploy", outcome=outcome, lead_time=lead):
                self.changes += outcome in ("succeeded", "failed")
                if outcome == "succeeded":
                    self.deploys += 1
                    self._day(day, "deploys")
                    if lead is None:
                        self.no_commit_time += 1
                    else:
                        self.leads.append(lead.total_seconds())
                        self.day_leads.setdefault(day, []).append(lead.total_seconds())
            case ChangeDone(kind="rollback", outcome="succeeded"):
                self.rollbacks += 1
                self._day(day, "rollbacks")
            case ChangeFailed():
                self.failed += 1
                self._day(day, "failed_changes")
            case Restored(took=took):
                self.restores.append(took.total_seconds())
                self._day(day, "restores")
            case ApprovalWaited(took=took):
                self.waits.append(took.total_seconds())
            case ApprovalDecided(status=status, reason=reason):
                self.approvals[status] += 1
                if reason is not None:
                    self.refusals[reason] += 1
            case GateBlocked(gate=gate):
                self.blocks[gate] += 1
            case Recorded(kind=kind):
                self.recorded[kind] += 1

    def _day(self, day: date, what: str) -> None:
        self.days.setdefault(day, {})[what] = self.days.get(day, {}).get(what, 0) + 1

    def figures(
        self, *, trail_start: datetime | None = None, unrestored_since: datetime | None = None
    ) -> EnvironmentFigures:
        """The figures. `trail_start`: when the environment's first record was written (a
        period cannot start before its trail); `unrestored_since`: the failure still open
        when the trail ends."""
        since = max(self.since, trail_start) if trail_start is not None else self.since
        span_days = max((self.until - since) / timedelta(days=1), 1.0)
        return EnvironmentFigures(
            environment=self.environment,
            since=since,
            until=self.until,
            deploys=self.deploys,
            changes=self.changes,
            failed_changes=self.failed,
            rollbacks=self.rollbacks,
            deploys_per_day=self.deploys / span_days,
            change_failure_rate=self.failed / self.changes if self.changes else None,
            lead_time=spread(self.leads),
            without_commit_time=self.no_commit_time,
            time_to_restore=spread(self.restores),
            unrestored_since=unrestored_since,
            approval_wait=spread(self.waits),
            approval_wait_buckets=buckets(self.waits),
            approvals=dict(self.approvals),
            blocks_by_gate=dict(self.blocks.most_common()),
            refusals_by_reason=dict(self.refusals.most_common()),
            recorded={k: self.recorded[k] for k in COUNTED_KINDS},
            days=[
                Day(
                    day=day,
                    **counts,
                    lead_time_p50_seconds=percentile(self.day_leads.get(day, []), 0.5),
                )
                for day, counts in sorted(self.days.items())
            ],
        )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank `q` quantile (0 < q <= 1): a value that occurred; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


def spread(values: Sequence[float]) -> Spread:
    return Spread(
        count=len(values), p50_seconds=percentile(values, 0.5), p90_seconds=percentile(values, 0.9)
    )


def buckets(waits: Iterable[float]) -> dict[str, int]:
    counts = dict.fromkeys((label for label, _ in WAIT_BUCKETS), 0)
    for wait in waits:
        label = next(label for label, upper in WAIT_BUCKETS if wait < upper)
        counts[label] += 1
    return counts


def _spread(value: Spread, empty: str) -> str:
    if value.p50_seconds is None or value.p90_seconds is None:
        return f"no data: {empty}"
    return (
        f"p50 {_duration(value.p50_seconds)}, p90 {_duration(value.p90_seconds)} "
        f"({value.count} measured)"
    )


def _counts(counts: dict[str, int], empty: str) -> str:
    return ", ".join(f"{name}: {n}" for name, n in counts.items()) or empty


def _duration(seconds: float) -> str:
    """`2d 3h`, `4h 12m`, `3m 20s`, `45s`: two units at most, for people."""
    whole = round(seconds)
    for unit, size, smaller, small_size in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "m", 60),
        ("m", 60, "s", 1),
    ):
        if whole >= size:
            rest = (whole % size) // small_size
            return f"{whole // size}{unit}" + (f" {rest}{smaller}" if rest else "")
    return f"{whole}s"
