"""What each environment serves now: as its target sees it, and as the audit trail says."""

from __future__ import annotations

from typing import Any

from releasegate.config import Config
from releasegate.policy.rollback import current_version
from releasegate.wiring import open_store, open_target


def environment_status(settings: Config) -> dict[str, dict[str, Any]]:
    """Per environment: what the target runs, and the last recorded change."""
    store = open_store(settings)
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
            "last_change": f"{last.kind} {last.version} by {last.actor}" if last else None,
            "detail": deployed.detail if deployed else {},
        }
    return report
