"""Drift: compare what a target serves with the audit trail's last completed change,
record what is found (`policy.drift`), and announce it.

A drift record is a Prefect event like every record (`releasegate.drift.detected` /
`releasegate.drift.resolved`, from `RunContext.record` through tasks/events.py: the live
version and digest, and the expected one as `previous_version`), and `announce` tells the
environment's notifications (kind `drift`), with the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict

from releasegate.audit.record import AuditRecord
from releasegate.policy.drift import Drift, Served, compare, expected
from releasegate.targets.base import Deployed
from releasegate.tasks.context import RunContext
from releasegate.tasks.notify import notify

Seen = Literal["detected", "resolved"]


class Observation(BaseModel):
    """One comparison: the drift now (None: agrees), the one still open before it, and the
    trail's last completed change."""

    model_config = ConfigDict(frozen=True)

    drift: Drift | None
    open: Drift | None
    last: AuditRecord | None

    @property
    def new(self) -> bool:
        return self.drift is not None and self.drift != self.open


@task(cache_policy=NO_CACHE)
def observe(ctx: RunContext, environment: str, live: Deployed | None) -> Observation:
    """Compare `live` (what the target serves) with the trail."""
    last, still_open = expected(ctx.store.newest(environment))
    served = Served(version=live.version, digest=live.digest) if live else Served()
    drift = compare(served, last, still_open, datetime.now(UTC))
    return Observation(drift=drift, open=still_open, last=last)


@task(cache_policy=NO_CACHE)
def record(ctx: RunContext, environment: str, drift: Drift, status: Seen, reason: str) -> None:
    """Append a `drift` record (an event too) and announce it."""
    ctx.record(
        "drift",
        environment,
        status,
        version=drift.live.version,
        artifact=drift.live.digest,
        previous_version=drift.expected.version,
        reason=reason,
        details={"drift": drift.model_dump(mode="json")},
    )
    log = get_run_logger().warning if status == "detected" else get_run_logger().info
    log("%s: %s", environment, reason)
    announce(ctx, environment, status, reason)


def announce(ctx: RunContext, environment: str, status: Seen, reason: str) -> None:
    """Tell the people the environment's notifications reach (the record is the event)."""
    level = "warning" if status == "detected" else "success"
    notify(ctx, environment, "drift", f"drift {status}", reason, level=level)
