"""The approval gate: pause the run until enough distinct reviewers approve.

It runs in the flow itself (pausing is a flow-level act): each pause waits for one
decision, which is judged by `releasegate.policy.approvals.judge`, recorded, and either
counted or refused (the verdict is also published beside the pause, for `releasegate
approve`); the run then pauses again until the tally is decided. A run overtaken by a newer
one while it waits is woken and ends blocked (`tasks.overtaken`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from prefect import get_run_logger
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput, create_flow_run_input
from pydantic import Field

from releasegate.approval import (
    PAUSE_PREFIX,
    ApprovalRequest,
    Attempt,
    Verdict,
    request_key,
    verdict_key,
)
from releasegate.audit.record import ApprovalEntry
from releasegate.errors import Blocked
from releasegate.policy.approvals import (
    ApprovalPolicy,
    Judgement,
    decision_status,
    eligible,
    judge,
    stale,
    tally,
)
from releasegate.release import Release
from releasegate.resume_form import describe, refusal
from releasegate.signing.sshsig import MAX_SIGNATURE_CHARS
from releasegate.signing.verifier import SignatureError, SignatureRefused
from releasegate.sources.base import SmokeReport
from releasegate.tasks.approval_log import ApprovalLog
from releasegate.tasks.context import RunContext
from releasegate.tasks.events import announce_request
from releasegate.tasks.gates import check_order, now_running
from releasegate.tasks.notify import notify
from releasegate.tasks.overtaken import newer_in_flight, watched
from releasegate.vocabulary import COMMENT_RULE, NAME_RULE, Decision
from releasegate.wiring import signature_verifier

DEFERRAL = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"
"""How a deferred decision's time is given in the form: UTC, whole seconds."""
DEFERRAL_REMIND_SECONDS = 300.0
POLL_SECONDS = 1  # resume latency: Prefect's default of 10 s makes every approval feel slow


class ApprovalInput(RunInput):
    """The Resume form in the Prefect UI (and what `releasegate approve` submits).

    The server checks the patterns before it resumes the run; the flow itself only checks
    lengths when it loads the answer (a stricter check there would crash the run) and then
    refuses, recorded, whatever breaks the rules (`policy.approvals.judge`). An empty
    reviewer is not a decision (`tasks.overtaken.WAKE_UP`).
    """

    reviewer: str = Field(
        max_length=128,
        description="Your name, as listed in the approvers' group",
        json_schema_extra={"pattern": f"^({NAME_RULE.regex.pattern})?$"},
    )
    decision: Decision = "approve"
    comment: str = Field(
        default="",
        max_length=1000,
        json_schema_extra={"pattern": f"^{COMMENT_RULE.regex.pattern}$"},
    )
    signature: str = Field(
        default="",
        max_length=MAX_SIGNATURE_CHARS,
        description="Not needed here: this environment takes unsigned decisions",
    )
    not_before: str = Field(
        default="",
        max_length=20,
        description="Approve now, roll out later: no rollout before this UTC time, e.g. "
        "2026-11-27T21:00:00Z (signed mode: it is part of the signed message)",
        json_schema_extra={"pattern": f"^({DEFERRAL})?$"},
    )


class SignedApprovalInput(ApprovalInput):
    """The Resume form in signed mode: the signature is required by the schema, so the UI
    refuses an empty one before anything reaches the run (the wake-up answer carries a
    placeholder: `tasks.overtaken.WAKE_UP`)."""

    signature: str = Field(
        min_length=1,
        max_length=MAX_SIGNATURE_CHARS,
        description="The whole output of the signing recipe beside this form",
    )


def await_approvals(
    ctx: RunContext,
    environment: str,
    release: Release,
    upstream_smoke: SmokeReport | None,
    counted: list[ApprovalEntry] | None = None,
    policy: ApprovalPolicy | None = None,
) -> list[ApprovalEntry]:
    """Block until the approval rules are met (`policy`, by default the environment's);
    return the counted decisions.

    Raises Blocked when an eligible reviewer rejects or the approval times out.
    """
    policy = policy or ctx.config.environments[environment].approvals
    assert policy is not None
    groups = ctx.config.groups
    counted = list(counted or [])
    deadline = datetime.now(UTC) + policy.timeout
    run_id = str(FlowRunContext.get().flow_run.id)  # type: ignore[union-attr]
    logger = get_run_logger()
    round_ = 0
    log = ApprovalLog(ctx.config.app.name, environment, release.version)
    form = SignedApprovalInput if policy.signed else ApprovalInput
    while (state := tally(counted, policy=policy, groups=groups)).state == "pending":
        pause_key = f"{PAUSE_PREFIX}{environment}-{round_}-{datetime.now(UTC):%H%M%S%f}"
        round_ += 1
        serving = now_running(ctx, environment)
        request = ApprovalRequest(
            flow_run_id=run_id,
            pause_key=pause_key,
            environment=environment,
            app=ctx.config.app.name,
            version=release.version,
            digest=release.digest,
            actor=ctx.actor,
            actor_proof=ctx.trigger.proof if ctx.trigger else "claimed",
            serving=serving.describe() if serving else "",
            newer=newer_in_flight(ctx, environment),
            signed=policy.signed,
            missing=state.missing,
            approved_by=[d.name for d in counted],
            smoke=_smoke_lines(upstream_smoke),
            deadline=f"{deadline:%Y-%m-%d %H:%M:%S} UTC",
            eligible=eligible(policy, groups, actor=ctx.actor, counted=counted),
            refused=log.refused(),
        )
        create_flow_run_input(key=request_key(pause_key), value=request.model_dump(mode="json"))
        announce_request(request)
        if round_ == 1:  # once per wait: later rounds follow decisions people already see
            title = f"approval needed for {release.version} (run by {ctx.who})"
            notify(ctx, environment, "approval-requested", title, describe(request))
        remaining = (deadline - datetime.now(UTC)).total_seconds()
        logger.info("%s: waiting for approvals (%s)", environment, state.missing)
        try:
            with watched(ctx, environment, release, run_id):
                answer = pause_flow_run(
                    wait_for_input=form.with_initial_data(
                        description=describe(request), decision="approve"
                    ),
                    timeout=max(1, int(remaining)),
                    poll_interval=POLL_SECONDS,
                    key=pause_key,
                )
        except FlowPauseTimeout:
            reason = f"no decision within {policy.timeout}; still needed: {state.missing}"
            ctx.record("approval", environment, "expired", release, reason=reason)
            raise Blocked(f"{environment}: approval expired: {reason}") from None
        if not answer.reviewer.strip():
            # Not a decision: woken because a newer run may have overtaken this one.
            check_order(ctx, environment, release, "waiting for approval")
            continue
        not_before, unreadable = _deferral(answer.not_before)
        fingerprint, proof_error = None, None
        if policy.signed and unreadable is None:
            fingerprint, proof_error = _prove(ctx, request, answer, not_before)
        decision = ApprovalEntry(
            name=answer.reviewer.strip(),
            decision=answer.decision,
            at=datetime.now(UTC),
            comment=answer.comment,
            signature=answer.signature.strip() or None,
            key_fingerprint=fingerprint,
            not_before=not_before,
        )
        verdict = judge(
            decision,
            policy=policy,
            groups=groups,
            actor=ctx.actor,
            counted=counted,
            proof_error=proof_error,
        )
        if unreadable is not None:  # never count a deferral as given now
            verdict = Judgement(counts=False, code=unreadable[0], reason=unreadable[1])
        if verdict.counts:
            counted.append(decision)
        status = decision_status(decision, verdict)
        ctx.record(
            "approval",
            environment,
            status,
            release,
            reason=verdict.reason or decision.comment or None,
            approvers=[decision.name],
            approvals=[decision],
            details={"refusal": verdict.code} if verdict.code else {},
        )
        published = Verdict(
            submitted=answer.model_dump(
                include={"reviewer", "decision", "comment", "signature", "not_before"}
            ),
            status=status,
            counts=verdict.counts,
            code=verdict.code,
            reason=verdict.reason,
        )
        create_flow_run_input(key=verdict_key(pause_key), value=published.model_dump(mode="json"))
        attempt = Attempt(
            at=decision.at,
            reviewer=decision.name,
            decision=decision.decision,
            status=status,
            code=verdict.code,
            reason=verdict.reason,
            comment=decision.comment,
        )
        log.add(attempt)
        if verdict.counts:
            logger.info("%s: %s from %r %s", environment, decision.decision, decision.name, status)
        else:
            still = eligible(policy, groups, actor=ctx.actor, counted=counted)
            logger.warning("%s: refused: %s", environment, refusal(attempt, still))
    if state.state == "rejected":
        raise Blocked(f"{environment}: approval rejected by {state.rejected_by}")
    return counted


def _deferral(text: str) -> tuple[datetime | None, tuple[str, str] | None]:
    """The time a deferred decision takes effect, or why it cannot be read."""
    if not text:
        return None, None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC), None
    except ValueError:
        return None, (
            "malformed",
            f"not_before {text!r} is not a UTC time like 2026-11-27T21:00:00Z",
        )


def _prove(
    ctx: RunContext, request: ApprovalRequest, answer: ApprovalInput, not_before: datetime | None
) -> tuple[str | None, tuple[str, str] | None]:
    """Check the decision's SSH signature: (key fingerprint, None) or (None, (code, reason)).

    The signed message is rebuilt here from this run's own facts, so a signature made for
    another run, digest, decision or comment cannot match.
    """
    verifier = signature_verifier(ctx.config)
    assert verifier is not None  # the config requires allowed_signers for signed mode
    try:
        payload = request.payload(
            answer.reviewer.strip(), answer.decision, answer.comment, not_before
        )
    except ValueError as exc:
        return None, ("malformed", f"the decision cannot be signed as given: {exc}")
    try:
        verified = verifier.verify_decision(payload, answer.signature)
    except SignatureRefused as exc:
        return None, (str(exc.code), exc.reason)
    except SignatureError as exc:
        return None, ("unverifiable", str(exc))
    return verified.fingerprint, None


def drop_stale(
    ctx: RunContext, environment: str, release: Release, counted: list[ApprovalEntry]
) -> list[ApprovalEntry]:
    """Void (and record) approvals older than max_age now that the rollout is about to start."""
    policy = ctx.config.environments[environment].approvals
    if policy is None:
        return counted
    void = stale(counted, policy=policy, now=datetime.now(UTC))
    for decision in void:
        age = datetime.now(UTC) - decision.at
        ctx.record(
            "approval",
            environment,
            "expired",
            release,
            approvers=[decision.name],
            approvals=[decision],
            reason=f"approval by {decision.name} is {int(age.total_seconds())}s old, "
            f"older than max_age {policy.max_age}: it must be given again",
        )
    return [d for d in counted if d not in void]


def effective(ctx: RunContext, environment: str, counted: list[ApprovalEntry]) -> None:
    """Wait until every counted approval is in effect (a deferred one, `not_before`, holds
    the rollout until its time); gates and approval age are judged after this."""
    due = max((d.not_before for d in counted if d.not_before is not None), default=None)
    logger = get_run_logger()
    while due is not None and (left := (due - datetime.now(UTC)).total_seconds()) > 0:
        logger.info(
            "%s: approved, deferred: no rollout before %s UTC (%.0fs)",
            environment,
            f"{due:%Y-%m-%d %H:%M:%S}",
            left,
        )
        time.sleep(min(left, DEFERRAL_REMIND_SECONDS))


def _smoke_lines(report: SmokeReport | None) -> list[str]:
    if report is None:
        return []
    return [
        f"{'PASS' if r.passed else 'FAIL'} {urlsplit(r.url).path or '/'}: {r.observed}"
        for r in report.results
    ]
