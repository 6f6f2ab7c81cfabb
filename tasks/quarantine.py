"""Recording quarantines: a version rolled back from an environment is kept out of it
(`releasegate.policy.quarantine`); rolling back to a quarantined version releases it."""

from __future__ import annotations

from prefect import get_run_logger

from releasegate.audit.record import AuditRecord
from releasegate.policy.quarantine import QUARANTINE, Quarantine, active
from releasegate.tasks.context import RunContext
from releasegate.tasks.notify import notify


def quarantined(ctx: RunContext, environment: str) -> list[Quarantine]:
    """The artifacts kept out of `environment` (the quarantine chain, read whole: it holds
    only quarantine events)."""
    return active(ctx.store.newest(QUARANTINE), environment)


def quarantine(
    ctx: RunContext, environment: str, version: str, artifact: str, reason: str
) -> AuditRecord:
    """Keep `artifact` out of `environment` (recorded before the run ends)."""
    get_run_logger().warning("%s: %s is quarantined: %s", environment, version, reason)
    done = ctx.record(
        "quarantine",
        QUARANTINE,
        "quarantined",
        version=version,
        artifact=artifact,
        reason=reason,
        details={"environment": environment},
    )
    body = (
        f"{version} ({artifact[:19]}) will not be deployed to {environment} again until "
        f"`releasegate quarantine release {environment} {version} --reason ...`: {reason}"
    )
    notify(ctx, environment, "quarantined", f"{version} quarantined", body, level="warning")
    return done


def release(ctx: RunContext, held: Quarantine, reason: str) -> AuditRecord:
    """Let a quarantined artifact back into its environment."""
    get_run_logger().warning("%s: %s leaves quarantine: %s", held.environment, held.version, reason)
    return ctx.record(
        "quarantine",
        QUARANTINE,
        "released",
        version=held.version,
        artifact=held.artifact,
        reason=reason,
        details={"environment": held.environment},
    )
