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
from prefect.input import create_flow_run_input

from releasegate.approval import (
    PAUSE_PREFIX,
    ApprovalRequest,
    Attempt,
    Verdict,
    request_key,
    verdict_key,
)
from releasegate.audit.record import ApprovalEntry, AuditRecord
from releasegate.errors import Blocked
from releasegate.policy.approvals import (
    ApprovalPolicy,
    Judgement,
    decision_status,
    earlier_use,
    eligible,
    given_at,
    judge,
    signed_timing,
    stale,
    tally,
)
from releasegate.release import Release
from releasegate.resume_form import describe, refusal
from releasegate.signing.verifier import SignatureError, SignatureRefused
from releasegate.sources.base import SmokeReport
from releasegate.tasks.approval_form import ApprovalInput, SignedApprovalInput
from releasegate.tasks.approval_log import ApprovalLog
from releasegate.tasks.context import RunContext
from releasegate.tasks.events import announce_request
from releasegate.tasks.gates import check_order, now_running
from releasegate.tasks.notify import notify
from releasegate.tasks.overtaken import newer_in_flight, watched
from releasegate.tasks.rerun import this_run
from releasegate.wiring import signature_verifier

DEFERRAL_REMIND_SECONDS = 300.0
POLL_SECONDS = 1  # resume latency: Prefect's default of 10 s makes every approval feel slow


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
        opened_at = datetime.now(UTC)
        pause_key = f"{PAUSE_PREFIX}{environment}-{round_}-{opened_at:%H%M%S%f}"
        round_ += 1
        serving = now_running(ctx, environment)
        request = ApprovalRequest(
            flow_run_id=run_id,
            pause_key=pause_key,
            opened_at=opened_at,
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
        signed_at = _utc_time(answer.issued_at) if policy.signed else None
        not_before, unreadable = _deferral(answer.not_before)
        fingerprint, proof_error = None, None
        if policy.signed and unreadable is None:
            fingerprint, proof_error = _prove(ctx, request, answer, policy, signed_at, not_before)
        decision = ApprovalEntry(
            name=answer.reviewer.strip(),
            decision=answer.decision,
            at=datetime.now(UTC),
            comment=answer.comment,
            signature=answer.signature.strip() or None,
            key_fingerprint=fingerprint,
            pause_key=pause_key if policy.signed else None,
            issued_at=signed_at,
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
                include={
                    "reviewer",
                    "decision",
                    "comment",
                    "signature",
                    "issued_at",
                    "not_before",
                }
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


def _utc_time(text: str) -> datetime | None:
    """A time as the form takes it (`approval_form.UTC_TIME`); None if absent or not one."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _deferral(text: str) -> tuple[datetime | None, tuple[str, str] | None]:
    """The time a deferred decision takes effect, or why it cannot be read."""
    if not text:
        return None, None
    if (at := _utc_time(text)) is None:
        return None, (
            "malformed",
            f"not_before {text!r} is not a UTC time like 2026-11-27T21:00:00Z",
        )
    return at, None


def _prove(
    ctx: RunContext,
    request: ApprovalRequest,
    answer: ApprovalInput,
    policy: ApprovalPolicy,
    issued_at: datetime | None,
    not_before: datetime | None,
) -> tuple[str | None, tuple[str, str] | None]:
    """Check the decision's SSH signature: (key fingerprint, None) or (None, (code, reason)).

    The signed message is rebuilt here from this run's own facts and this pause's key, so a
    signature made for another run, digest, decision, comment or round cannot match; one
    this run has already received (from the trail, the run's inputs) is named a replay; and
    the decision's own signed time must fall in this round and within `policy`'s max_age
    (the environment's, or the break-glass rule's).
    """
    verifier = signature_verifier(ctx.config)
    assert verifier is not None  # the config requires allowed_signers for signed mode
    if issued_at is None and answer.signature.strip():
        reason = "a signed decision states when it was signed (issued_at: YYYY-MM-DDTHH:MM:SSZ)"
        return None, ("malformed", reason)
    try:
        # No signature at all: the verifier names it unsigned, whatever the time.
        payload = request.payload(
            answer.reviewer.strip(),
            answer.decision,
            answer.comment,
            issued_at or request.opened_at,
            not_before,
        )
    except ValueError as exc:
        return None, ("malformed", f"the decision cannot be signed as given: {exc}")
    if (used := _earlier_use(ctx, request, answer.signature)) is not None:
        return None, ("replayed", _replayed(used))
    try:
        verified = verifier.verify_decision(payload, answer.signature)
    except SignatureRefused as exc:
        return None, (str(exc.code), exc.reason)
    except SignatureError as exc:
        return None, ("unverifiable", str(exc))
    now = datetime.now(UTC)
    if late := signed_timing(
        payload.issued_at, opened_at=request.opened_at, now=now, policy=policy
    ):
        return None, (late.code, late.reason)
    return verified.fingerprint, None


def _earlier_use(ctx: RunContext, request: ApprovalRequest, signature: str) -> AuditRecord | None:
    if not signature.strip():
        return None
    _, created = this_run()
    return earlier_use(
        ctx.store.newest(request.environment),
        signature,
        flow_run_id=request.flow_run_id,
        since=created,
    )


def _replayed(used: AuditRecord) -> str:
    first = used.approvals[0]
    answered = f"pause {first.pause_key}" if first.pause_key else "an earlier pause"
    return (
        f"this signature was already given to this run ({used.environment} #{used.seq}, "
        f"{first.name}'s decision on {answered}, {used.status}): a signature answers one "
        "pause once; sign this round's request"
    )


def drop_stale(
    ctx: RunContext, environment: str, release: Release, counted: list[ApprovalEntry]
) -> list[ApprovalEntry]:
    """Void (and record) approvals older than max_age now that the rollout is about to start."""
    policy = ctx.config.environments[environment].approvals
    if policy is None:
        return counted
    void = stale(counted, policy=policy, now=datetime.now(UTC))
    for decision in void:
        age = datetime.now(UTC) - given_at(decision)
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
