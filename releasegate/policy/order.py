"""The trigger order in one environment: what it runs now (or is being changed to), and in
which run's order. Pure: works on an environment's records, newest first, read lazily.

Every deploy and rollback record carries `trigger_seq`, the place of its run's `trigger`
record in the order of all triggers. A run triggered earlier than the change an environment
runs now is outdated there (`policy.gates.outdated_gate`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from releasegate.audit.record import AuditRecord
from releasegate.history import changes


class LiveChange(BaseModel):
    """The change that put an environment's version in place, or one still in progress."""

    model_config = ConfigDict(frozen=True)

    kind: str
    version: str | None
    actor: str
    state: Literal["live", "deploying"]
    trigger_seq: int | None
    """None for a change recorded before trigger order was: older than any ordered run."""
    flow_run_id: str | None = None

    def describe(self) -> str:
        """`v2 (deploy by dave, trigger #12, live)`."""
        order = f"trigger #{self.trigger_seq}" if self.trigger_seq is not None else "unordered"
        return f"{self.version} ({self.kind} by {self.actor}, {order}, {self.state})"


def live_change(newest: Iterable[AuditRecord]) -> LiveChange | None:
    """Of the newest successful change and any change started after it that has not
    finished, the one latest in the trigger order. Failed changes are skipped: what they
    tried is not what runs."""
    candidates: list[LiveChange] = []
    for record in changes(newest):  # a started change shows only while it is unfinished
        if record.status == "started":
            candidates.append(_change(record, "deploying"))
        elif record.status == "succeeded":
            candidates.append(_change(record, "live"))
            break
    return max(candidates, key=_order, default=None)


def _order(change: LiveChange) -> int:
    return -1 if change.trigger_seq is None else change.trigger_seq


def _change(record: AuditRecord, state: Literal["live", "deploying"]) -> LiveChange:
    return LiveChange(
        kind=record.kind,
        version=record.version,
        actor=record.actor,
        state=state,
        trigger_seq=record.trigger_seq,
        flow_run_id=record.flow_run_id,
    )
