"""The Resume form: what a reviewer fills in to decide on a paused run, in the Prefect UI
(and what `releasegate approve` submits). The pause loop is `tasks/approvals.py`."""

from __future__ import annotations

from typing import Any

from prefect.input import RunInput
from pydantic import Field

from releasegate.signing.sshsig import MAX_SIGNATURE_CHARS
from releasegate.vocabulary import COMMENT_RULE, NAME_RULE, Decision

UTC_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"
"""How the form takes a time (a deferral, a signature's issue time): UTC, whole seconds."""


def _time_field(description: str) -> Any:
    """An optional field of the form that takes a UTC_TIME (the server checks the pattern)."""
    return Field(
        default="",
        max_length=20,
        description=description,
        json_schema_extra={"pattern": f"^({UTC_TIME})?$"},
    )


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
    issued_at: str = _time_field("Not needed here: this environment takes unsigned decisions")
    not_before: str = _time_field(
        "Approve now, roll out later: no rollout before this UTC time, e.g. "
        "2026-11-27T21:00:00Z (signed mode: it is part of the signed message)"
    )


class SignedApprovalInput(ApprovalInput):
    """The Resume form in signed mode: the signature is required by the schema, so the UI
    refuses an empty one before anything reaches the run (the wake-up answer carries a
    placeholder: `tasks.overtaken.WAKE_UP`)."""

    signature: str = Field(
        min_length=1,
        max_length=MAX_SIGNATURE_CHARS,
        description="The whole signature the recipe beside this form printed",
    )
    issued_at: str = _time_field(
        "The time the recipe printed first (issued_at: ...); the run refuses a signature without it"
    )
