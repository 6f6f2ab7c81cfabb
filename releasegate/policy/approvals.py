"""Approval rules: who may approve, whose decision counts, and when enough have.

This is the one place that judges a decision. The flow hands it each decision together
with the outcome of the signature check (signed mode) and records what it answers.
Pure: no I/O, no clock of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from releasegate.audit.record import ApprovalEntry, AuditRecord, Status
from releasegate.duration import Duration
from releasegate.policy.triggers import FUTURE_SKEW, Refusal, back_to
from releasegate.vocabulary import COMMENT_RULE, NAME_RULE


class ApprovalRule(BaseModel):
    """`required` distinct members of `group` must approve."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    required: int = Field(ge=1)
    group: str = Field(alias="from")


class ApprovalPolicy(BaseModel):
    """An environment's approval requirements.

    Written either as one rule inline (`required = 2, from = "release-managers"`) or as
    several: `rules = [{required = 2, from = "release-managers"}, {required = 1, from = "sec"}]`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    rules: tuple[ApprovalRule, ...]
    prevent_self_review: bool = True
    timeout: Duration = timedelta(hours=24)
    max_age: Duration | None = None
    """An approval older than this when the rollout starts is void and must be given again."""
    signed: bool = False
    claimed_actor: Literal["block", "allow"] = "block"
    """With prevent_self_review and signed: whether a run whose actor is only claimed (typed,
    not proven) may ask for approvals at all."""

    @model_validator(mode="before")
    @classmethod
    def _inline_rule(cls, data: object) -> object:
        if isinstance(data, dict) and ("required" in data or "from" in data):
            if "rules" in data:
                raise ValueError("give either 'required'/'from' or 'rules', not both")
            rest = {k: v for k, v in data.items() if k not in ("required", "from")}
            return {**rest, "rules": [{"required": data.get("required"), "from": data.get("from")}]}
        return data

    @model_validator(mode="after")
    def _some_rule(self) -> ApprovalPolicy:
        if not self.rules:
            raise ValueError("at least one approval rule is needed")
        return self


class Judgement(BaseModel):
    """Whether a decision counts, and if not, why (a stable code plus words for people)."""

    model_config = ConfigDict(frozen=True)

    counts: bool
    code: str | None = None
    """not-a-member, self-review, deferred-past-max-age or duplicate; or the signature
    check's own code (unsigned, unknown-key, wrong-signer, bad-signature, ...:
    signing.verifier.RefusalCode)."""
    reason: str = ""


def eligible_groups(
    policy: ApprovalPolicy, groups: dict[str, list[str]], reviewer: str
) -> list[str]:
    """The policy's groups that `reviewer` belongs to."""
    return [r.group for r in policy.rules if reviewer in groups.get(r.group, [])]


def judge(
    decision: ApprovalEntry,
    *,
    policy: ApprovalPolicy,
    groups: dict[str, list[str]],
    actor: str,
    counted: list[ApprovalEntry],
    proof_error: tuple[str, str] | None = None,
) -> Judgement:
    """Does `decision` count? `proof_error` is (code, reason) of a failed signature check.

    Checked in this order so the reason given is the most fundamental one: the form of the
    name and comment (the Resume form only checks their length), identity (in signed mode
    nothing else about an unproven decision can be trusted), then membership, self-review,
    and finally duplicates.
    """
    try:
        NAME_RULE.check(decision.name)
        COMMENT_RULE.check(decision.comment)
    except ValueError as exc:
        return Judgement(counts=False, code="malformed", reason=str(exc))
    if policy.signed and proof_error is not None:
        code, reason = proof_error
        return Judgement(counts=False, code=code, reason=reason)
    if not eligible_groups(policy, groups, decision.name):
        wanted = ", ".join(sorted({r.group for r in policy.rules}))
        return Judgement(
            counts=False,
            code="not-a-member",
            reason=f"{decision.name!r} is not a member of {wanted}",
        )
    if policy.prevent_self_review and decision.name == actor:
        return Judgement(
            counts=False,
            code="self-review",
            reason=f"{actor!r} triggered this deployment and cannot review it",
        )
    if (
        policy.max_age is not None
        and decision.not_before is not None
        and decision.not_before - given_at(decision) > policy.max_age
    ):
        return Judgement(
            counts=False,
            code="deferred-past-max-age",
            reason=f"an approval deferred to {decision.not_before:%Y-%m-%d %H:%M:%S} UTC "
            f"would be older than max_age {policy.max_age} by then: it could never count",
        )
    if any(c.name == decision.name for c in counted):
        return Judgement(
            counts=False,
            code="duplicate",
            reason=f"{decision.name!r} has already given a decision on this run",
        )
    return Judgement(counts=True)


def decision_status(decision: ApprovalEntry, judgement: Judgement) -> Status:
    """How a judged decision is recorded: refused (it did not count), rejected or accepted."""
    if not judgement.counts:
        return "refused"
    return "rejected" if decision.decision == "reject" else "accepted"


def eligible(
    policy: ApprovalPolicy,
    groups: dict[str, list[str]],
    *,
    actor: str,
    counted: list[ApprovalEntry],
) -> list[str]:
    """Who may still give a decision that counts: members of the policy's groups who have
    not decided yet (nor the actor, when self-review is prevented)."""
    members = {m for rule in policy.rules for m in groups.get(rule.group, [])}
    done = {d.name for d in counted}
    skip = {actor} if policy.prevent_self_review else set()
    return sorted(members - done - skip)


class Tally(BaseModel):
    """Where the approval stands."""

    model_config = ConfigDict(frozen=True)

    state: Literal["pending", "approved", "rejected"]
    missing: dict[str, int] = {}
    """Per group: how many more distinct approvals it still needs."""
    rejected_by: str | None = None


def tally(
    counted: list[ApprovalEntry], *, policy: ApprovalPolicy, groups: dict[str, list[str]]
) -> Tally:
    """Approved when every rule has its distinct approvers; one counted rejection rejects.

    One person's approval counts toward every rule whose group they belong to.
    """
    rejection = next((d for d in counted if d.decision == "reject"), None)
    if rejection is not None:
        return Tally(state="rejected", rejected_by=rejection.name)
    approvers = {d.name for d in counted if d.decision == "approve"}
    missing = {
        rule.group: rule.required - len(approvers & set(groups.get(rule.group, [])))
        for rule in policy.rules
    }
    missing = {group: n for group, n in missing.items() if n > 0}
    return Tally(state="pending" if missing else "approved", missing=missing)


def given_at(decision: ApprovalEntry) -> datetime:
    """When a decision was given: its signed issue time, or when the run received it if
    that is earlier (a signer's clock ahead of ours buys no extra life)."""
    return min(decision.at, decision.issued_at) if decision.issued_at else decision.at


def stale(
    counted: list[ApprovalEntry], *, policy: ApprovalPolicy, now: datetime
) -> list[ApprovalEntry]:
    """Approvals too old to authorise a rollout starting at `now` (none without max_age)."""
    if policy.max_age is None:
        return []
    return [d for d in counted if now - given_at(d) > policy.max_age]


def signed_timing(
    issued_at: datetime, *, opened_at: datetime, now: datetime, policy: ApprovalPolicy
) -> Refusal | None:
    """Refuse a signed decision whose own signed time puts it before the approval round it
    answers (`before-round`), in the future (`future`) or past max_age (`stale`). Each
    allows a signer's clock FUTURE_SKEW of difference from ours."""
    if issued_at < opened_at - FUTURE_SKEW:
        return Refusal(
            code="before-round",
            reason=f"signed at {issued_at:%Y-%m-%d %H:%M:%S %Z}, before this approval round "
            f"began ({opened_at:%Y-%m-%d %H:%M:%S %Z}): sign this round's request",
        )
    if issued_at > now + FUTURE_SKEW:
        return Refusal(
            code="future",
            reason=f"signed at {issued_at:%Y-%m-%d %H:%M:%S %Z}, more than {FUTURE_SKEW} "
            "ahead of this clock: check the signer's clock",
        )
    if policy.max_age is not None and now - issued_at > policy.max_age:
        age = int((now - issued_at).total_seconds())
        return Refusal(
            code="stale",
            reason=f"signed {age}s ago, older than max_age {policy.max_age}: sign again",
        )
    return None


def same_signature(a: str, b: str) -> bool:
    """The same signature text, however it was re-wrapped (the armour's line breaks and
    spaces carry nothing)."""
    return "".join(a.split()) == "".join(b.split())


def earlier_use(
    newest: Iterable[AuditRecord], signature: str, *, flow_run_id: str, since: datetime
) -> AuditRecord | None:
    """The decision of run `flow_run_id` that already carried `signature`, whatever became
    of it (counted, refused, expired): a signature is good once per run. Reads the
    environment's records newest first, back to `since` (the run's start; `back_to`)."""
    for record in back_to(newest, since):
        if record.kind != "approval" or record.flow_run_id != flow_run_id:
            continue
        if any(a.signature and same_signature(a.signature, signature) for a in record.approvals):
            return record
    return None
