"""What each environment serves now: as its target sees it, as the audit trail says (with
any drift `reconcile` recorded, and the release train), and which runs wait for an approval
to deploy there (with a link to each in the Prefect UI).

The target is the truth about what is live; the trail says what was recorded. They disagree
after a crash between a switch and its record, or after a change made outside releasegate;
the report says so, and names a change that was started and has no outcome yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from releasegate import prefect_server, processes
from releasegate.audit.record import AuditRecord
from releasegate.config import Config
from releasegate.history import Replayed, unfinished
from releasegate.policy.drift import expected
from releasegate.policy.rollback import current_version
from releasegate.redaction import redact_url
from releasegate.wiring import open_store, open_target


def environment_status(settings: Config) -> dict[str, dict[str, Any]]:
    """Per environment: what the target runs, the last recorded change, whether they agree,
    and the runs waiting for approval (None when no Prefect server is up to ask)."""
    store = open_store(settings)
    waiting = awaiting_approval(settings.home)
    report: dict[str, dict[str, Any]] = {}
    for name in settings.pipeline():
        deployed = open_target(settings, name).current()
        newest = Replayed(store.newest(name))
        last = current_version(newest)
        open_change = unfinished(newest)
        _, drift = expected(newest)
        train = settings.environments[name].schedule
        digest = deployed.digest if deployed else None
        recorded = last.artifact if last else None
        report[name] = {
            "url": redact_url(settings.environments[name].url),
            "version": deployed.version if deployed else None,
            "digest": digest,
            "live": deployed is not None,
            "recorded_version": last.version if last else None,
            "recorded_digest": recorded,
            "agrees": digest == recorded,
            "last_change": f"{last.kind} {last.version} by {last.who()}" if last else None,
            "unfinished": _describe(open_change),
            "drift": drift.model_dump(mode="json") if drift else None,
            "release_train": train.describe() if train else None,
            "detail": deployed.detail if deployed else {},
            "awaiting_approval": (
                None if waiting is None else [w for w in waiting if w["environment"] == name]
            ),
        }
    return report


def prefect_ui(home: Path) -> str | None:
    """The Prefect UI's address, if a Prefect server is up (none is started to find out)."""
    api = prefect_server.connect(home)
    if api is None or not processes.http_ok(f"{api}/health", timeout=3.0):
        return None
    return prefect_server.ui_url()


def awaiting_approval(home: Path) -> list[dict[str, Any]] | None:
    """Runs paused for an approval, each with a direct link to its page in the Prefect
    UI (where its Resume form is); None when no Prefect server is up."""
    if prefect_ui(home) is None:
        return None
    from releasegate import review  # imports Prefect: only once its API URL is set

    return [
        {
            "flow_run_id": r.flow_run_id,
            "environment": r.environment,
            "version": r.version,
            "still_needed": r.missing,
            "url": prefect_server.run_url(r.flow_run_id),
        }
        for r in review.pending()
    ]


def _describe(started: AuditRecord | None) -> str | None:
    if started is None:
        return None
    return (
        f"{started.kind} {started.version} by {started.actor} started "
        f"{started.started_at:%Y-%m-%d %H:%M:%S} UTC (flow run {started.flow_run_id})"
    )
