"""Writing the audit trail, and the Prefect artifacts that show it.

The record task is the trail of record: nothing proceeds until it is stored. The artifacts
are views of what was recorded, published after the fact: `bookkeeping` makes their
failures warnings, so a change that happened and was recorded is never turned into a
failed run by an artifact, the history table (or, later, a notification) failing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import ParamSpec

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from releasegate.audit.record import AuditEntry, AuditRecord
from releasegate.audit.store import AuditStore
from releasegate.history import latest
from releasegate.redaction import redact_data, redact_text
from releasegate.report import build, markdown
from releasegate.sources.base import SmokeReport


@task(retries=3, retry_delay_seconds=[1, 2, 4], retry_jitter_factor=0.5, cache_policy=NO_CACHE)
def record(store: AuditStore, entry: AuditEntry) -> AuditRecord:
    """Append one record. Retried: an audit store can fail transiently. Nothing proceeds
    until the record is stored, so an unreachable store stops the run before any change."""
    return store.append(entry)


P = ParamSpec("P")


def bookkeeping(publish: Callable[P, None]) -> Callable[P, None]:
    """A view of what already happened: if publishing it fails, say so in the run log as a
    warning and carry on. What happened is in the audit trail all the same."""

    @functools.wraps(publish)
    def best_effort(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            publish(*args, **kwargs)
        except Exception as exc:  # any failure: the change and its record stand regardless
            get_run_logger().warning(
                "%s failed (what happened is recorded in the audit trail all the same): %s: %s",
                publish.__name__,
                type(exc).__name__,
                exc,
            )

    return best_effort


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    raw = "-".join(parts).lower()
    return "".join(c if c.isalnum() else "-" for c in raw).strip("-")


@task(cache_policy=NO_CACHE)
@bookkeeping
def publish_smoke(report: SmokeReport, app: str, environment: str) -> None:
    """The smoke results as a table artifact (one version per run under a stable key)."""
    create_table_artifact(
        key=artifact_key(app, environment, "smoke"),
        table=redact_data([r.model_dump() for r in report.results]),
        description=f"Smoke checks of {app} {report.version} on {environment}: "
        + ("passed" if report.passed else "FAILED"),
    )


@task(cache_policy=NO_CACHE)
def publish_views(store: AuditStore, app: str, environment: str, pipeline: list[str]) -> None:
    """After a recorded change: the environment's history table and, for production (the
    last environment of `pipeline`), the dashboard's figures. One task run for both: each
    task run costs the Prefect server several writes, felt when twenty apps deploy at once."""
    publish_history(store, app, environment)
    if environment == pipeline[-1]:
        publish_figures(store, app, pipeline)


@bookkeeping
def publish_history(store: AuditStore, app: str, environment: str, limit: int = 20) -> None:
    """The environment's recent deploys and rollbacks as a keyed table artifact."""
    rows = [
        {
            "when": f"{r.finished_at or r.started_at:%Y-%m-%d %H:%M:%S} UTC",
            "kind": r.kind,
            "version": r.version,
            "status": r.status,
            "actor": r.who(),
            "approvers": ", ".join(r.approvers),
            "reason": r.reason or "",
            "digest": (r.artifact or "")[:19],
        }
        for r in latest(store.newest(environment), limit)
    ]
    create_table_artifact(
        key=artifact_key(app, environment, "history"),
        table=redact_data(rows),
        description=f"Latest deploys and rollbacks of {app} on {environment}",
    )


@task(cache_policy=NO_CACHE)
@bookkeeping
def publish_summary(app: str, title: str, lines: list[str]) -> None:
    """A markdown summary of the run."""
    body = "\n".join(f"- {line}" for line in lines)
    create_markdown_artifact(
        key=artifact_key(app, "run-summary"),
        markdown=redact_text(f"# {title}\n\n{body}\n"),
        description=redact_text(title),
    )


FIGURES_PERIOD = timedelta(days=30)
"""The period of the figures each production change publishes (`releasegate report`'s default)."""


@bookkeeping
def publish_figures(store: AuditStore, app: str, environments: list[str]) -> None:
    """The dashboard's figures of the last 30 days as a keyed markdown artifact: each
    production change adds a version, so the artifact's history is the figures over time."""
    now = datetime.now(UTC)
    report = build(store, environments, since=now - FIGURES_PERIOD, now=now)
    create_markdown_artifact(
        key=artifact_key(app, "figures"),
        markdown=redact_text(markdown(report)),
        description=f"Deployment and gate figures of {app}, last 30 days",
    )
