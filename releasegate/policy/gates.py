"""Production gates: branch restriction, maintenance windows, open incidents, and a version
that passed upstream.

Pure: each gate takes facts and returns a GateResult; the flow records and enforces it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from releasegate.audit.record import AuditRecord
from releasegate.policy.calendar import Calendar


class GateResult(BaseModel):
    """One gate's decision. A blocked gate names its rule, why, and until when (if it lifts)."""

    model_config = ConfigDict(frozen=True)

    gate: str
    passed: bool
    rule: str
    reason: str
    until: datetime | None = None

    def message(self) -> str:
        if self.passed:
            return f"{self.gate}: passed ({self.reason})"
        until = f" until {self.until:%Y-%m-%d %H:%M %Z}" if self.until else ""
        return f"blocked by {self.gate} gate{until}: {self.reason} [rule: {self.rule}]"


def branch_gate(branch: str | None, allowed: list[str]) -> GateResult:
    """Only the listed branches (glob patterns, e.g. "release/*") may deploy; [] allows any."""
    rule = f"branches = {allowed}"
    if not allowed:
        return GateResult(gate="branch", passed=True, rule=rule, reason="no branch restriction")
    if branch is not None and any(fnmatchcase(branch, pattern) for pattern in allowed):
        return GateResult(gate="branch", passed=True, rule=rule, reason=f"{branch!r} is allowed")
    shown = "an unknown branch" if branch is None else f"branch {branch!r}"
    return GateResult(gate="branch", passed=False, rule=rule, reason=f"{shown} may not deploy here")


def freeze_gate(calendar: Calendar, now: datetime) -> GateResult:
    """Blocked inside any deny window, or outside every allow window when there are any;
    "until" is when deploying actually reopens (shown in the deciding window's zone)."""
    status = calendar.status(now)
    if status.open_now:
        allowed = "; ".join(status.reasons)
        reason = f"allowed by: {allowed}" if allowed else "no active window"
        return GateResult(gate="freeze", passed=True, rule="freeze", reason=reason)
    until = status.until.astimezone(ZoneInfo(status.timezone)) if status.until else None
    later = "" if until else f" (not reopening before {status.horizon_end:%Y-%m-%d})"
    return GateResult(
        gate="freeze",
        passed=False,
        rule="; ".join(status.rules),
        reason=f"deployments are frozen: {'; '.join(status.reasons)}{later}",
        until=until,
    )


def requires_gate(upstream: str, upstream_newest: Iterable[AuditRecord], digest: str) -> GateResult:
    """The exact artifact must have been deployed and verified in `upstream` first."""
    rule = f"requires = {upstream!r}"
    passed = any(
        r.kind == "deploy" and r.status == "succeeded" and r.artifact == digest
        for r in upstream_newest
    )
    reason = (
        f"{digest[:19]} passed {upstream}"
        if passed
        else f"{digest[:19]} has not been deployed successfully to {upstream}"
    )
    return GateResult(gate="requires", passed=passed, rule=rule, reason=reason)


class Incident(BaseModel):
    """An open incident as a status page reports it (Statuspage's JSON shape)."""

    model_config = ConfigDict(frozen=True)

    name: str
    impact: str = "none"
    status: str = ""


def incident_gate(
    source: str, incidents: list[Incident] | None, block_on: Iterable[str], error: str | None = None
) -> GateResult:
    """Blocked while an open incident of a blocking impact exists.

    Fails closed: when the incident source cannot be read (`error`), production is not
    deployed to; nobody should ship into an incident they cannot see.
    """
    blocking_impacts = list(block_on)
    rule = f"incidents from {source} (blocking impact: {', '.join(blocking_impacts)})"
    if error is not None:
        reason = f"cannot tell whether incidents are open ({error}); failing closed"
        return GateResult(gate="incident", passed=False, rule=rule, reason=reason)
    blocking = [i for i in incidents or [] if i.impact in blocking_impacts]
    if not blocking:
        return GateResult(gate="incident", passed=True, rule=rule, reason="no blocking incident")
    names = "; ".join(f"{i.name} ({i.impact}, {i.status or 'open'})" for i in blocking)
    return GateResult(gate="incident", passed=False, rule=rule, reason=f"open incident: {names}")
