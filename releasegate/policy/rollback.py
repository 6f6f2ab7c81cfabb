"""Which release a rollback goes to. Pure: works on records, newest first, read lazily."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from itertools import takewhile

from releasegate.audit.record import AuditRecord
from releasegate.errors import Blocked, UsageError
from releasegate.policy.quarantine import Quarantine, of_artifact

CHANGES = frozenset({"deploy", "rollback"})
AUTOMATIC = "automatic rollback"
"""How the reason of a deploy run's automatic rollback (after a failed verify) begins."""


def is_live_change(record: AuditRecord) -> bool:
    """A deploy or rollback that completed: the environment served its version afterwards."""
    return record.kind in CHANGES and record.status == "succeeded"


def is_deploy_success(record: AuditRecord) -> bool:
    """A deploy that completed: its release passed this environment (a rollback did not
    deploy anything new)."""
    return record.kind == "deploy" and record.status == "succeeded"


def current_version(newest: Iterable[AuditRecord]) -> AuditRecord | None:
    """The change that put the environment's current version in place."""
    return next((r for r in newest if is_live_change(r)), None)


def previous_good(newest: Iterable[AuditRecord], current: str | None) -> AuditRecord | None:
    """The newest successful change whose version differs from `current`.

    Not simply the second-newest record: failed deploys, gate and approval events, and
    redeploys of the current version are skipped. Stops reading at the first match, so a
    lazily paged store reads only as far back as it must.
    """
    return next((r for r in newest if is_live_change(r) and r.version != current), None)


def by_flow_run(newest: Iterable[AuditRecord], flow_run_id: str) -> AuditRecord | None:
    """The release a past flow run made live (for "roll back to that run"): its newest
    successful change, on any attempt (a rerun restores the same release), but never the
    automatic rollback of a deploy run (that put back *another* run's release)."""
    return next(
        (
            r
            for r in newest
            if is_live_change(r)
            and r.flow_run_id == flow_run_id
            and not (r.reason or "").startswith(AUTOMATIC)
        ),
        None,
    )


def by_version(newest: Iterable[AuditRecord], version: str) -> AuditRecord | None:
    """The newest successful change that deployed `version` (its recorded digest wins)."""
    return next((r for r in newest if is_live_change(r) and r.version == version), None)


def choose(
    newest: Iterable[AuditRecord],
    environment: str,
    to: str | None,
    *,
    live: str | None,
    quarantined: Sequence[Quarantine] = (),
    release_quarantine: bool = False,
) -> AuditRecord:
    """The recorded change a rollback of `environment` restores; UsageError if none.

    `live`: the digest the target serves now (None if nothing). `to`: None -> the newest
    successful change of another artifact than the live one (what ran before it; after a
    crash between a switch and its record, the trail's newest success *is* that, not two
    releases back), never a quarantined one; a flow-run id -> the change that run made;
    else a version. An explicit target that is quarantined is Blocked unless
    `release_quarantine` says the person means it.
    Reads `newest` once, and only as far back as it must.
    """
    records = iter(newest)
    kept_out = {q.artifact for q in quarantined}
    if to is None:
        found = next(
            (
                r
                for r in records
                if is_live_change(r) and r.artifact != live and r.artifact not in kept_out
            ),
            None,
        )
        wanted = "an earlier successful version"
        if kept_out:
            wanted += f" that is not quarantined ({', '.join(q.version for q in quarantined)} are)"
    elif (run_id := _run_id(to)) is not None:
        found, wanted = by_flow_run(records, run_id), f"flow run {run_id}"
    else:
        found, wanted = by_version(records, to), f"version {to}"
    if found is None:
        raise UsageError(f"{environment} has no successful deploy of {wanted} to roll back to")
    return admitted(found, environment, quarantined, release_quarantine)


def admitted(
    change: AuditRecord,
    environment: str,
    quarantined: Sequence[Quarantine],
    release_quarantine: bool,
) -> AuditRecord:
    """`change`, unless its artifact is quarantined in `environment` and the person did not
    say to release it (Blocked): for a target named now, or chosen by a run's first attempt."""
    held = of_artifact(quarantined, change.artifact or "")
    if held is not None and not release_quarantine:
        raise Blocked(
            f"{environment}: {held.describe()}. Rolling back to it releases it from quarantine: "
            "say so with --release-quarantine (the reason is recorded)"
        )
    return change


Served = tuple[str, str] | None
"""What an environment serves, as (version, digest), or None for nothing."""


def moved_on(
    environment: str,
    asked: Served,
    now: Served,
    *,
    under_way: str | None = None,
    newest: Iterable[AuditRecord] = (),
) -> str | None:
    """Why a default rollback must not go ahead, or None.

    `asked`: what the environment served when the rollback was asked for; `now`: what it
    serves once the rollback holds it; `under_way`: the flow run that held it when the
    rollback was asked for, if any; `newest`: its trail, read inside the hold.

    A rollback asked for while a deploy was under way is meant for that deploy (on-call saw
    it go out): it goes ahead if that deploy is the environment's newest change and left its
    release live, and does nothing if the deploy undid itself (an automatic rollback). A
    deploy killed before its switch is closed as interrupted, with nothing of it live: then,
    as with no deploy under way, what was served when asked decides.
    Otherwise another change that ran while this one waited means no: most often a second
    on-call engineer's rollback of the same bad release, which this one would undo by
    restoring that release ("the newest success that is not live")."""
    was, is_ = (served[0] if served else "nothing" for served in (asked, now))
    if under_way is not None and (last := _last_changes_by(newest, under_way)):
        if last[0].kind == "deploy" and now is not None and last[0].artifact == now[1]:
            return None
        if last[0].kind == "rollback" and any(r.kind == "deploy" for r in last):
            return (
                f"{environment} serves {is_}: the deploy under way when this rollback was asked "
                f"for (flow run {under_way}) is not live any more; nothing rolled back. Name a "
                "version (--to) to roll back further"
            )
    if asked == now:
        return None
    return (
        f"{environment} changed while this rollback waited for it: it served {was} when the "
        f"rollback was asked for and serves {is_} now; nothing rolled back. Ask again to roll "
        "back from what is live, or name a version (--to)"
    )


def _last_changes_by(newest: Iterable[AuditRecord], run_id: str) -> list[AuditRecord]:
    """The environment's newest change records, as long as `run_id` made them (newest first;
    empty if another run changed the environment last)."""
    changes = (r for r in newest if r.kind in CHANGES)
    return list(takewhile(lambda r: r.flow_run_id == run_id, changes))


def _run_id(text: str) -> str | None:
    """`text` as a flow-run id is recorded (Prefect's hyphenated form), if it is one."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None
