"""An approval request: what a paused run asks reviewers to approve, and how to answer.

Shared by the flow (which publishes it beside the pause) and by `releasegate approve`
(which reads it back to know exactly what it is approving).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from releasegate.audit.record import Status
from releasegate.policy.wallclock import zone as time_zone
from releasegate.signing.payload import DecisionPayload
from releasegate.vocabulary import Decision, ProofKind

REQUEST_PREFIX = "releasegate-request-"
VERDICT_PREFIX = "releasegate-verdict-"
PAUSE_PREFIX = "approval-"


class Attempt(BaseModel):
    """One decision given on a run, as judged: one row of the run's approvals artifact, and
    (refused) the first thing the next Resume form says."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    reviewer: str
    decision: Decision
    status: Status
    """accepted, rejected (both count) or refused (did not count)."""
    code: str | None = None
    """Why it was refused: the approval policy's or the signature check's stable code."""
    reason: str = ""
    comment: str = ""


class ApprovalRequest(BaseModel):
    """The facts a decision is bound to, and where the approval stands."""

    model_config = ConfigDict(frozen=True)

    flow_run_id: str
    pause_key: str
    """Which pause of the run this is: each decision answers exactly one."""
    opened_at: AwareDatetime
    """When this pause (approval round) began: a decision signed before it is refused."""
    environment: str
    app: str
    version: str
    digest: str
    actor: str
    actor_proof: ProofKind = "claimed"
    signed: bool
    missing: dict[str, int]
    """Per group, how many more distinct approvals are needed."""
    approved_by: list[str] = []
    smoke: list[str] = []
    """One line per upstream smoke check, for the reviewer's eyes."""
    deadline: str = ""
    eligible: list[str] = []
    """Who may still give a decision that counts."""
    serving: str = ""
    """What the environment runs now (or is being changed to), and in which trigger order."""
    newer: list[str] = []
    """Runs triggered after this one that have not finished: they may overtake it."""
    refused: Attempt | None = None
    """The decision given last, when it did not count: the form starts by saying why."""

    def payload(
        self,
        reviewer: str,
        decision: Decision,
        comment: str,
        issued_at: datetime,
        not_before: datetime | None = None,
    ) -> DecisionPayload:
        """The exact facts a signed decision given at `issued_at` binds (raises ValueError
        on unusable text)."""
        return DecisionPayload(
            not_before=not_before,
            decision=decision,
            reviewer=reviewer,
            flow_run_id=self.flow_run_id,
            pause_key=self.pause_key,
            issued_at=issued_at,
            environment=self.environment,
            app=self.app,
            version=self.version,
            digest=self.digest,
            comment=comment,
        )


class Verdict(BaseModel):
    """What the run decided about one submitted decision, published beside the pause it
    answered so `releasegate approve` can tell the reviewer (the audit record is the
    record of truth)."""

    model_config = ConfigDict(frozen=True)

    submitted: dict[str, str]
    """The decision exactly as submitted (reviewer, decision, comment, signature)."""
    status: Status
    counts: bool
    code: str | None = None
    reason: str = ""


def request_key(pause_key: str) -> str:
    """The flow-run input key under which a pause's request is published."""
    return f"{REQUEST_PREFIX}{pause_key}"


def verdict_key(pause_key: str) -> str:
    """The flow-run input key under which the verdict on a pause's answer is published."""
    return f"{VERDICT_PREFIX}{pause_key}"


def deferral(text: str, timezone: str, now: datetime) -> datetime:
    """When a deferred decision takes effect: `22:00` is the next 22:00 in `timezone` (today,
    or tomorrow once it has passed); `2026-11-27T22:00` is that wall-clock time there (an
    offset or `Z` in the text wins). Raises ValueError with a reason."""
    zone = time_zone(timezone)
    try:
        at = time.fromisoformat(text)
    except ValueError:
        at = None
    if at is not None and at.tzinfo is None:
        local = now.astimezone(zone)
        moment = datetime.combine(local.date(), at, tzinfo=zone)
        return (
            moment
            if moment > now
            else datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
        )
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a time like 22:00 nor a date-time like 2026-11-27T22:00"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
