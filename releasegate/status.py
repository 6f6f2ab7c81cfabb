"""What each environment serves now: as its target sees it, as the audit trail says, and
which runs wait for an approval to deploy there (with a link to each in the Prefect UI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from releasegate import prefect_server, processes
from releasegate.config import Config
from releasegate.policy.rollback import current_version
from releasegate.wiring import open_store, open_target


def environment_status(settings: Config) -> dict[str, dict[str, Any]]:
    """Per environment: what the target runs, the last recorded change, and the runs
    waiting for approval (None when no Prefect server is up to ask)."""
    store = open_store(settings)
    waiting = awaiting_approval(settings.home)
    report: dict[str, dict[str, Any]] = {}
    for name in settings.pipeline():
        deployed = open_target(settings, name).current()
        last = current_version(store.newest(name))
        report[name] = {
            "url": settings.environments[name].url,
            "version": deployed.version if deployed else None,
            "digest": deployed.digest if deployed else None,
            "live": deployed is not None,
            "recorded_version": last.version if last else None,
            "last_change": f"{last.kind} {last.version} by {last.who()}" if last else None,
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
