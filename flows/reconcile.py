"""Drift detection: for each environment, what the target serves against the audit trail's
last completed change. A difference is recorded (`drift`), shown in `releasegate status`
and announced; with `self_heal = true` the recorded version is restored through the
rollback path. Never while a change is under way: each environment is compared while
holding its lock, and skipped if a change holds it."""

from __future__ import annotations

from prefect import flow, get_run_logger

from releasegate import config as configuration
from releasegate.errors import Blocked
from releasegate.flows.rollback import restore, unattended
from releasegate.history import unfinished
from releasegate.signing.trigger import Asked
from releasegate.tasks.context import RunContext
from releasegate.tasks.drift import Observation, observe, record
from releasegate.tasks.lock import Busy, Hold, hold
from releasegate.tasks.reconcile import reconcile as close_crashed
from releasegate.tasks.trigger import establish
from releasegate.trigger import default_actor
from releasegate.vocabulary import Name


@flow(name="reconcile", flow_run_name="reconcile")
def reconcile(actor: Name | None = None) -> dict[str, str]:
    """Compare every environment's target with the audit trail; record drift, and restore
    the recorded version where `self_heal` is on. Returns what was found per environment.

    Args:
        actor: Who starts this run (a schedule: the serving process's RELEASEGATE_ACTOR);
            recorded, as a claim, only when something is recorded.
    """
    settings = configuration.load()
    ctx = RunContext.open(settings)
    who = actor or default_actor()
    found: dict[str, str] = {}
    for environment in settings.pipeline():
        try:
            with hold(settings.app.name, environment, "reconcile", who, wait=False) as held:
                found[environment] = examine(ctx, environment, held, who)
        except Busy as exc:
            found[environment] = f"not compared: {exc}"
        get_run_logger().info("%s: %s", environment, found[environment])
    return found


def examine(ctx: RunContext, environment: str, held: Hold, actor: str) -> str:
    """One environment, held: close what a crashed change left, compare, record, heal.
    Whatever is recorded comes after the run's trigger, as for every recorded run."""
    asked = Asked(request="reconcile", environment=environment)
    if (started := unfinished(ctx.store.newest(environment))) is not None:
        ctx = establish(ctx, asked, actor, None)  # closing it records
    seen = observe(ctx, environment, close_crashed(ctx, environment, held, started))
    if seen.drift is None and seen.open is None:
        return "agrees with the trail"
    if ctx.trigger is None:
        ctx = establish(ctx, asked, actor, None)
    if seen.drift is None:
        assert seen.open is not None
        record(ctx, environment, seen.open, "resolved", "the target agrees with the trail again")
        return "agrees with the trail again"
    if seen.new:
        record(ctx, environment, seen.drift, "detected", seen.drift.describe())
    if not ctx.config.environments[environment].self_heal:
        return seen.drift.describe()
    return heal(ctx, environment, seen)


def heal(ctx: RunContext, environment: str, seen: Observation) -> str:
    """Restore the trail's last completed change (a rollback, recorded, inside the hold)."""
    assert seen.drift is not None
    if seen.last is None:
        return f"{seen.drift.describe()}; nothing recorded to restore"
    # The calendar holds for a self-heal as for any rollback nobody can approve.
    try:
        reason = unattended(
            ctx, environment, seen.last, f"self-heal: {seen.drift.describe()}", "a self-heal"
        )
    except Blocked as exc:
        get_run_logger().warning("%s: not healed: %s", environment, exc)
        return f"{seen.drift.describe()}; not healed: {exc}"
    # Nothing is quarantined: what the target serves was put there behind releasegate's
    # back, which says nothing against that version (no `live` for restore to keep out).
    restore(ctx, environment, seen.last, reason, None)
    record(ctx, environment, seen.drift, "resolved", f"healed: {seen.last.version} restored")
    return f"healed: {seen.last.version} restored ({seen.drift.describe()})"
