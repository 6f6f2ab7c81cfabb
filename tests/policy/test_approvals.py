"""Approval rules: membership, self-review, duplicates, several rules, rejection, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from releasegate.audit.record import ApprovalEntry
from releasegate.policy.approvals import (
    ApprovalPolicy,
    Judgement,
    decision_status,
    eligible,
    judge,
    stale,
    tally,
)

GROUPS = {"release-managers": ["alice", "bob", "carol"], "security": ["sam", "carol"]}
TWO_LEADS = ApprovalPolicy.model_validate({"required": 2, "from": "release-managers"})
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def decision(who: str, what: str = "approve", at: datetime = NOW) -> ApprovalEntry:
    return ApprovalEntry(name=who, decision=what, at=at)  # type: ignore[arg-type]


def counted_after(
    policy: ApprovalPolicy, actor: str, *decisions: ApprovalEntry
) -> list[ApprovalEntry]:
    counted: list[ApprovalEntry] = []
    for d in decisions:
        if judge(d, policy=policy, groups=GROUPS, actor=actor, counted=counted).counts:
            counted.append(d)
    return counted


def test_two_distinct_members_approve() -> None:
    counted = counted_after(TWO_LEADS, "dave", decision("alice"))
    assert tally(counted, policy=TWO_LEADS, groups=GROUPS).missing == {"release-managers": 1}
    counted = counted_after(TWO_LEADS, "dave", decision("alice"), decision("bob"))
    assert tally(counted, policy=TWO_LEADS, groups=GROUPS).state == "approved"


@pytest.mark.parametrize(
    ("who", "actor", "earlier", "code"),
    [
        ("mallory", "dave", [], "not-a-member"),
        ("alice", "alice", [], "self-review"),
        ("alice", "dave", ["alice"], "duplicate"),
    ],
)
def test_refusals(who: str, actor: str, earlier: list[str], code: str) -> None:
    counted = [decision(name) for name in earlier]
    verdict = judge(decision(who), policy=TWO_LEADS, groups=GROUPS, actor=actor, counted=counted)
    assert not verdict.counts and verdict.code == code and who in verdict.reason


@pytest.mark.parametrize(
    ("name", "comment"),
    [("alice smith", ""), ("alice\n", ""), ("alice", "ok\x1b[2J"), ("alice", "\u202eko")],
)
def test_a_decision_that_breaks_the_input_rules_is_refused_as_malformed(
    name: str, comment: str
) -> None:
    # The Resume form only checks lengths when the run loads it (a stricter check there
    # would crash the run); the judgement refuses the rest.
    given = ApprovalEntry(name=name, decision="approve", at=NOW, comment=comment)
    verdict = judge(given, policy=TWO_LEADS, groups=GROUPS, actor="dave", counted=[])
    assert not verdict.counts and verdict.code == "malformed" and "breaks the" in verdict.reason


def test_self_review_allowed_when_the_policy_says_so() -> None:
    lax = TWO_LEADS.model_copy(update={"prevent_self_review": False})
    assert judge(decision("alice"), policy=lax, groups=GROUPS, actor="alice", counted=[]).counts


def test_same_person_twice_counts_once() -> None:
    counted = counted_after(TWO_LEADS, "dave", decision("alice"), decision("alice"))
    assert [d.name for d in counted] == ["alice"]
    assert tally(counted, policy=TWO_LEADS, groups=GROUPS).state == "pending"


def test_several_rules_and_one_person_counts_toward_each_of_their_groups() -> None:
    policy = ApprovalPolicy.model_validate(
        {
            "rules": [
                {"required": 2, "from": "release-managers"},
                {"required": 1, "from": "security"},
            ]
        }
    )
    counted = counted_after(policy, "dave", decision("alice"), decision("bob"))
    assert tally(counted, policy=policy, groups=GROUPS).missing == {"security": 1}
    # carol is in both groups: with alice she satisfies both rules.
    counted = counted_after(policy, "dave", decision("alice"), decision("carol"))
    assert tally(counted, policy=policy, groups=GROUPS).state == "approved"


def test_a_counted_rejection_rejects() -> None:
    counted = counted_after(TWO_LEADS, "dave", decision("alice"), decision("bob", "reject"))
    result = tally(counted, policy=TWO_LEADS, groups=GROUPS)
    assert result.state == "rejected" and result.rejected_by == "bob"


def test_a_rejection_from_a_non_member_does_not_count() -> None:
    counted = counted_after(TWO_LEADS, "dave", decision("mallory", "reject"))
    assert tally(counted, policy=TWO_LEADS, groups=GROUPS).state == "pending"


def test_signed_mode_refuses_an_unproven_decision_before_anything_else() -> None:
    signed = TWO_LEADS.model_copy(update={"signed": True})
    verdict = judge(
        decision("alice"),
        policy=signed,
        groups=GROUPS,
        actor="dave",
        counted=[],
        proof_error=("unsigned", "no signature"),
    )
    assert not verdict.counts and verdict.code == "unsigned"
    verdict = judge(
        decision("mallory"),
        policy=signed,
        groups=GROUPS,
        actor="dave",
        counted=[],
        proof_error=("wrong-signer", "signed with bob's key"),
    )
    assert verdict.code == "wrong-signer" and "bob" in verdict.reason


def test_stale_approvals_are_void_only_with_max_age() -> None:
    old, fresh = decision("alice", at=NOW - timedelta(hours=9)), decision("bob", at=NOW)
    assert stale([old, fresh], policy=TWO_LEADS, now=NOW) == []
    aging = TWO_LEADS.model_copy(update={"max_age": timedelta(hours=8)})
    assert stale([old, fresh], policy=aging, now=NOW) == [old]


@pytest.mark.parametrize(
    "bad",
    [
        {"required": 0, "from": "release-managers"},
        {"required": 2, "from": "x", "rules": [{"required": 1, "from": "y"}]},
        {"rules": []},
        {"required": 2, "from": "release-managers", "timeout": "soon"},
    ],
)
def test_bad_policies_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ApprovalPolicy.model_validate(bad)


def test_eligible_reviewers_exclude_who_decided_and_the_actor() -> None:
    both = ApprovalPolicy.model_validate(
        {
            "rules": [
                {"required": 2, "from": "release-managers"},
                {"required": 1, "from": "security"},
            ]
        }
    )
    assert eligible(both, GROUPS, actor="dave", counted=[]) == ["alice", "bob", "carol", "sam"]
    done = [decision("alice")]
    assert eligible(both, GROUPS, actor="bob", counted=done) == ["carol", "sam"]
    lax = TWO_LEADS.model_copy(update={"prevent_self_review": False})
    assert eligible(lax, GROUPS, actor="bob", counted=done) == ["bob", "carol"]


@pytest.mark.parametrize(
    ("what", "counts", "status"),
    [("approve", True, "accepted"), ("reject", True, "rejected"), ("approve", False, "refused")],
)
def test_decision_status_is_how_a_judged_decision_is_recorded(
    what: str, counts: bool, status: str
) -> None:
    assert decision_status(decision("alice", what), Judgement(counts=counts)) == status
    assert decision_status(decision("alice", "reject"), Judgement(counts=False)) == "refused"


def test_a_deferral_longer_than_max_age_can_never_count() -> None:
    policy = TWO_LEADS.model_copy(update={"max_age": timedelta(hours=8)})
    late = decision("alice").model_copy(update={"not_before": NOW + timedelta(hours=9)})
    verdict = judge(late, policy=policy, groups=GROUPS, actor="dave", counted=[])
    assert (verdict.counts, verdict.code) == (False, "deferred-past-max-age")
    tonight = decision("alice").model_copy(update={"not_before": NOW + timedelta(hours=7)})
    assert judge(tonight, policy=policy, groups=GROUPS, actor="dave", counted=[]).counts
    assert judge(late, policy=TWO_LEADS, groups=GROUPS, actor="dave", counted=[]).counts
