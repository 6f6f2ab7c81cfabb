"""Reviewing from outside the run: find runs waiting for approval, and answer one.

This is the path every reviewer takes, a person at the CLI or the demo's scripted
reviewers: read the request the paused run published, then resume it with one decision.
(The Prefect UI's Resume form is the other door into the same pause.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRunInput, StateType
from prefect.exceptions import ObjectNotFound
from prefect.flow_runs import resume_flow_run
from prefect.input import filter_flow_run_input, read_flow_run_input

from releasegate import processes
from releasegate.approval import (
    PAUSE_PREFIX,
    VERDICT_PREFIX,
    ApprovalRequest,
    Verdict,
    request_key,
)
from releasegate.errors import Failed, UsageError
from releasegate.signing.keygen import sign
from releasegate.signing.payload import utc_seconds
from releasegate.signing.verifier import SignatureError
from releasegate.vocabulary import Decision


def pending() -> list[ApprovalRequest]:
    """Every run paused for an approval right now, with what it asks."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            )
        )
    requests = []
    for run in runs:
        key = run.state.state_details.pause_key if run.state else None
        if key and key.startswith(PAUSE_PREFIX):
            requests.append(_request(run.id, key))
    return requests


def request(flow_run_id: str) -> ApprovalRequest:
    """What the paused run `flow_run_id` asks reviewers to decide."""
    run_id = _uuid(flow_run_id)
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(run_id)
        except ObjectNotFound:
            raise UsageError(f"no flow run {flow_run_id}") from None
    key = run.state.state_details.pause_key if run.state else None
    if not (run.state and run.state.is_paused() and key and key.startswith(PAUSE_PREFIX)):
        state = run.state.name if run.state else "unknown"
        raise UsageError(f"flow run {flow_run_id} is not waiting for an approval (it is {state})")
    return _request(run_id, key)


def submit(flow_run_id: str, decision: dict[str, Any]) -> None:
    """Resume the paused run with one decision (the ApprovalInput form's fields)."""
    try:
        resume_flow_run(_uuid(flow_run_id), run_input=decision)
    except RuntimeError as exc:
        # The server validates the input against the form's schema; the run stays paused.
        raise UsageError(f"the run refused the decision: {exc}") from None


def _request(run_id: UUID, pause_key: str) -> ApprovalRequest:
    raw = read_flow_run_input(request_key(pause_key), flow_run_id=run_id)
    return ApprovalRequest.model_validate(raw)


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a flow run id") from None


def decide(
    flow_run_id: str,
    reviewer: str,
    *,
    reject: bool = False,
    comment: str = "",
    key: Path | None = None,
    signature: str | None = None,
    issued_at: datetime | None = None,
    wait: float = 60.0,
    not_before: datetime | None = None,
) -> tuple[ApprovalRequest, Verdict]:
    """Give one decision on a paused run; returns the request that was decided and the
    run's verdict on the decision (waiting up to `wait` seconds for it).

    When the run wants signed decisions and no `signature` is given, the decision is
    signed here, now, with `key` (or the key in ssh-agent). A `signature` made elsewhere
    comes with the `issued_at` it was signed with. `not_before`: a deferred decision,
    which authorises no rollout before that time (signed with it).
    """
    asked = request(flow_run_id)
    decision: Decision = "reject" if reject else "approve"
    if signature is None and asked.signed:
        issued_at = datetime.now(UTC).replace(microsecond=0)
        try:
            payload = asked.payload(reviewer, decision, comment, issued_at, not_before)
        except ValueError as exc:
            raise UsageError(f"cannot sign this decision: {exc}") from None
        try:
            signature = sign(payload.message(), key=key)
        except SignatureError as exc:
            raise UsageError(f"cannot sign: {exc}") from None
    answer = {
        "reviewer": reviewer,
        "decision": decision,
        "comment": comment,
        "signature": signature or "",
        "issued_at": utc_seconds(issued_at) if issued_at else "",
        "not_before": utc_seconds(not_before) if not_before else "",
    }
    before = _verdict_keys(flow_run_id)
    submit(flow_run_id, answer)
    return asked, verdict(flow_run_id, answer, before, timeout=wait)


def verdict(
    flow_run_id: str, answer: dict[str, str], before: set[str], *, timeout: float
) -> Verdict:
    """The run's verdict on `answer`: published after the decision is recorded, beside the
    pause it answered (whichever that was: a concurrent decision may have moved the run on
    to its next pause). `before`: the verdict keys that existed before `answer` was sent."""
    found: list[Verdict] = []

    def published() -> bool:
        for entry in _verdicts(flow_run_id, exclude=before):
            given = Verdict.model_validate(entry.decoded_value)
            if given.submitted == answer:
                found.append(given)
                return True
        return _finished(_uuid(flow_run_id))

    try:
        processes.wait_until(published, timeout=timeout, interval=0.3, what="the run's verdict")
    except processes.Timeout:
        raise Failed(
            f"the run gave no verdict on the decision within {timeout:.0f}s; "
            "`releasegate history --all` shows what it recorded"
        ) from None
    if not found:
        raise Failed(f"flow run {flow_run_id} ended before it judged the decision")
    return found[0]


def _verdict_keys(flow_run_id: str) -> set[str]:
    return {entry.key for entry in _verdicts(flow_run_id)}


def _verdicts(flow_run_id: str, exclude: set[str] | None = None) -> list[FlowRunInput]:
    """The verdicts a run has published (up to a thousand: one per decision)."""
    entries = filter_flow_run_input(
        key_prefix=VERDICT_PREFIX, limit=1000, exclude_keys=exclude, flow_run_id=_uuid(flow_run_id)
    )
    assert isinstance(entries, list)  # the sync side of Prefect's sync/async dispatch
    return entries


def _finished(run_id: UUID) -> bool:
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
    return bool(run.state and run.state.is_final())


def next_request(
    version: str,
    environment: str,
    answered: set[str],
    *,
    timeout: float,
    unless: Callable[[], bool] = lambda: False,
    app: str | None = None,
) -> ApprovalRequest | None:
    """Wait for a pause of `version` in `environment` (of `app`, when given: one Prefect
    server may hold the runs of many apps) that has not been answered yet; None if
    `unless()` turns true first (e.g. the run ended without asking)."""
    found: list[ApprovalRequest] = []

    def ready() -> bool:
        found[:] = [
            r
            for r in pending()
            if (r.version, r.environment) == (version, environment)
            and app in (None, r.app)
            and r.pause_key not in answered
        ]
        return bool(found) or unless()

    processes.wait_until(
        ready, timeout=timeout, interval=0.3, what=f"an approval request for {version}"
    )
    return found[0] if found else None
