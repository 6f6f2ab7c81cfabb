"""Telling people: approval requested, deployed, failed, rolled back, blocked, quarantined,
overridden — through the environment's notifier (`wiring.notifier`).

A notice is sent after what it tells is recorded. It is bookkeeping: a notifier that fails
is a warning in the run log and a `notification` record in the trail, never a failed or
delayed change (each delivery is bounded by the notifier's timeout).
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from releasegate.notifiers.base import Notice, NoticeKind, NotifyError
from releasegate.redaction import redact_text
from releasegate.tasks.audit import bookkeeping
from releasegate.tasks.context import RunContext
from releasegate.wiring import notifier


def notify(
    ctx: RunContext,
    environment: str,
    kind: NoticeKind,
    title: str,
    body: str,
    **fields: Any,
) -> None:
    """Send a notice about `environment`, if anyone is to hear of it."""
    if not any(u.wants(kind) for u in ctx.config.environments[environment].notify):
        return  # no task run for an environment nobody listens to
    link = fields.pop("link", None) or flow_run.get_flow_run_ui_url()
    notice = Notice(
        kind=kind,
        app=ctx.config.app.name,
        environment=environment,
        title=redact_text(f"{ctx.config.app.name} {environment}: {title}"),
        body=redact_text(body),
        link=link,
        **fields,
    )
    send(ctx, notice)


@task(cache_policy=NO_CACHE, task_run_name="notify {notice.kind}")
@bookkeeping
def send(ctx: RunContext, notice: Notice) -> None:
    """Deliver one notice; a failure is recorded and logged as a warning."""
    sender = notifier(ctx.config, notice.environment)
    if sender is None:
        return
    try:
        sender.send(notice)
    except NotifyError as exc:
        get_run_logger().warning("%s: %s", notice.environment, exc)
        ctx.record(
            "notification",
            notice.environment,
            "failed",
            reason=str(exc),
            details={"notice": notice.kind, "title": notice.title},
        )
