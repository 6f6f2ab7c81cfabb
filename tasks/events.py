"""Prefect events for each step that matters, so Prefect automations can act on them.

Every audit record but the routine ones (`ROUTINE`: a gate or verify that passed, a trigger
accepted), once stored, is announced as the event `releasegate.<what>.<status>`:
`releasegate.deployment.started|succeeded|failed`, `releasegate.rollback.succeeded`,
`releasegate.gate.blocked`, `releasegate.approval.accepted|refused|rejected|expired`, and so
on for every kind and status the trail holds; `releasegate.approval.requested` is announced
when a run starts waiting for a decision. The resource is the app's environment
(`releasegate.environment.<app>.<environment>`, also for the records of the trigger and
quarantine chains, which name it; for a deploy's trigger record, which concerns every
environment, the app: `releasegate.app.<app>`); the flow run, the version
and the digest are related resources. The payload holds plain facts only (kind, status,
version, digest, actor and how it is known, reviewer, refusal code, blocked gates): no
reason text, smoke output, signature or URL, which may carry what must not leave the trail.

An event is a view, like an artifact: the record is stored first, and an event that
cannot be sent is a warning in the run log, never a failed run.
"""

from __future__ import annotations

import uuid
from typing import Any

from prefect import get_run_logger
from prefect.events import emit_event

from releasegate.approval import ApprovalRequest
from releasegate.audit.record import AuditRecord
from releasegate.policy.quarantine import QUARANTINE
from releasegate.trigger import TRIGGERS

NOUNS = {"deploy": "deployment"}
"""Event names say `deployment` where records say `deploy`."""


def event_name(kind: str, status: str) -> str:
    return f"releasegate.{NOUNS.get(kind, kind)}.{status}"


def environment_resource(app: str, environment: str | None) -> dict[str, str]:
    """The app's environment; the app itself for what concerns no one environment (a
    trigger record of a deploy, which runs through every environment)."""
    if environment is None:
        return {"prefect.resource.id": f"releasegate.app.{app}",
                "prefect.resource.name": app, "releasegate.app": app}  # fmt: skip
    return {
        "prefect.resource.id": f"releasegate.environment.{app}.{environment}",
        "prefect.resource.name": f"{app} {environment}",
        "releasegate.app": app,
        "releasegate.environment": environment,
    }


def related(
    app: str, flow_run_id: str | None, version: str | None, digest: str | None
) -> list[dict[str, str]]:
    """The flow run, the version and the digest, as far as they are known."""
    found = []
    if flow_run_id:
        found.append(_role("flow-run", f"prefect.flow-run.{flow_run_id}"))
    if version:
        found.append(_role("version", f"releasegate.version.{app}.{version}", version))
    if digest:
        found.append(_role("digest", f"releasegate.digest.{digest}"))
    return found


def _role(role: str, resource_id: str, name: str | None = None) -> dict[str, str]:
    found = {"prefect.resource.id": resource_id, "prefect.resource.role": role}
    return found | ({"prefect.resource.name": name} if name else {})


def payload(record: AuditRecord) -> dict[str, Any]:
    """What an automation may read of a record: no free text (see the module docstring)."""
    facts: dict[str, Any] = {
        "kind": record.kind,
        "status": record.status,
        "version": record.version,
        "digest": record.artifact,
        "previous_version": record.previous_version,
        "actor": record.actor,
        "actor_proof": record.actor_proof,
        "record": record.id,
        "seq": record.seq,
        "operation": record.operation_id,
    }
    if record.kind == "approval":
        facts["reviewer"] = record.approvers[0] if record.approvers else None
        facts["refusal"] = record.details.get("refusal")
    if record.kind == "gate":
        results = record.details.get("results") or []
        facts["stage"] = record.details.get("stage")
        facts["blocked_by"] = [r.get("gate") for r in results if r.get("passed") is False]
    return {key: value for key, value in facts.items() if value is not None}


ROUTINE = frozenset({("gate", "passed"), ("verify", "passed"), ("trigger", "accepted")})
"""Records not announced: a check that passed is no step an automation acts on (it is in the
trail, and in the run's own Prefect events), and each event costs the Prefect server
several database rows: twenty apps deploying at once against one SQLite server felt them."""


def announce(record: AuditRecord) -> None:
    """`record` (just stored) as a Prefect event, unless it is routine; its id is the
    record's, so a retried announcement is the same event."""
    if (record.kind, record.status) in ROUTINE:
        return
    environment: str | None = record.environment
    if environment in (TRIGGERS, QUARANTINE):  # chains across environments: the one meant
        environment = record.details.get("environment")
    _emit(
        event_name(record.kind, record.status),
        record.app,
        environment,
        occurred=record.finished_at or record.started_at,
        related=related(record.app, record.flow_run_id, record.version, record.artifact),
        payload=payload(record),
        id=_uuid(record.id),
    )


def announce_request(request: ApprovalRequest) -> None:
    """A run waits for approval decisions: who may still give them, and until when."""
    _emit(
        "releasegate.approval.requested",
        request.app,
        request.environment,
        related=related(request.app, request.flow_run_id, request.version, request.digest),
        payload={
            "version": request.version,
            "digest": request.digest,
            "actor": request.actor,
            "still_needed": request.missing,
            "eligible": request.eligible,
            "deadline": request.deadline,
            "pause_key": request.pause_key,
        },
    )


def _emit(name: str, app: str, environment: str | None, **event: Any) -> None:
    try:
        emit_event(name, resource=environment_resource(app, environment), **event)
    except Exception as exc:  # an event is a view: the record stands whatever happens here
        get_run_logger().warning("event %s not sent: %s: %s", name, type(exc).__name__, exc)


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(hex=text)
    except ValueError:
        return None
