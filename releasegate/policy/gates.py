"""Production gates: branch restriction, maintenance windows, a version that passed upstream.

Pure: each gate takes facts and returns a GateResult; the flow records and enforces it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict

from releasegate.audit.record import AuditRecord
from releasegate.policy.windows import Window, active_freeze


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


def freeze_gate(windows: list[Window], now: datetime) -> GateResult:
    """Blocked while any maintenance window or freeze is active."""
    freeze = active_freeze(windows, now)
    if freeze is None:
        return GateResult(gate="freeze", passed=True, rule="freeze", reason="no active window")
    return GateResult(
        gate="freeze",
        passed=False,
        rule=freeze.window.describe(),
        reason=f"deployments are frozen: {freeze.window.reason}",
        until=freeze.until,
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
