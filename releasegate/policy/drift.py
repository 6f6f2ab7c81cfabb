"""Drift: the target serves something other than the audit trail's last completed change
(someone ran `kubectl set image`, or edited the local target, behind releasegate's back).
Pure: works on an environment's records, newest first, read lazily.

A drift is recorded once, when first seen (a `drift` record, status `detected`, with what
is live, what should be and since when); while it lasts nothing more is written; when the
target agrees again (healed, or changed back), a `resolved` record closes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from releasegate.audit.record import AuditRecord
from releasegate.policy.rollback import CHANGES, is_live_change


class Served(BaseModel):
    """One side of the comparison: a version and its digest (None: nothing)."""

    model_config = ConfigDict(frozen=True)

    version: str | None = None
    digest: str | None = None

    def describe(self) -> str:
        if self.digest is None:
            return "nothing"
        return f"{self.version} ({self.digest[:19]})"


class Drift(BaseModel):
    """What is live, what the trail says should be, and since when the difference is seen."""

    model_config = ConfigDict(frozen=True)

    live: Served
    expected: Served
    first_seen: datetime

    def describe(self) -> str:
        return (
            f"drift: the target serves {self.live.describe()}, the trail's last completed "
            f"change is {self.expected.describe()}; first seen "
            f"{self.first_seen:%Y-%m-%d %H:%M:%S} UTC"
        )


def expected(newest: Iterable[AuditRecord]) -> tuple[AuditRecord | None, Drift | None]:
    """The last completed change, and the drift still open since it (if one was recorded)."""
    open_drift: Drift | None = None
    decided = False  # the newest drift record, or a change after it, has been read
    for record in newest:
        if record.kind == "drift" and not decided:
            decided = True
            if record.status == "detected":
                open_drift = Drift.model_validate(record.details["drift"])
        elif record.kind in CHANGES and record.status != "started":
            decided = True  # a change since any drift: that record was about the past
            if is_live_change(record):
                return record, open_drift
    return None, open_drift


def compare(
    live: Served, last: AuditRecord | None, open_drift: Drift | None, now: datetime
) -> Drift | None:
    """The drift now (None: the target agrees with the trail). A difference that is the one
    already open keeps its first-seen time; another one starts anew."""
    should = Served(version=last.version, digest=last.artifact) if last else Served()
    if live.digest == should.digest:
        return None
    if open_drift is not None and open_drift.live == live and open_drift.expected == should:
        return open_drift
    return Drift(live=live, expected=should, first_seen=now)
