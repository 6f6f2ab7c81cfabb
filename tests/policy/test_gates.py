"""Gates as data: pure decisions on an environment's rules and facts, each naming its rule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from releasegate.audit.record import GENESIS, seal
from releasegate.config import Environment
from releasegate.policy.gates import (
    Facts,
    IncidentReading,
    actor_gate,
    branch_gate,
    evaluate,
    incident_gate,
    outdated_gate,
    requires_gate,
    upstream_deploy,
)
from releasegate.policy.order import LiveChange
from tests.support.records import make_entry

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
DIGEST = "sha256:" + "a" * 64
STATUS = {"url": "https://status.example.com", "block_on": ["critical", "major"]}


def env(**rules: Any) -> Environment:
    return Environment(url="http://127.0.0.1:18081", **rules)


def facts(**given: Any) -> Facts:
    return Facts(**{"now": NOW, "branch": "main", "digest": DIGEST, **given})


@pytest.mark.parametrize(
    ("branch", "allowed", "passed"),
    [
        ("main", ["main"], True),
        ("release/1.4", ["main", "release/*"], True),
        ("feature/x", ["main", "release/*"], False),
        (None, ["main"], False),
        ("anything", [], True),
    ],
)
def test_branch_gate(branch: str | None, allowed: list[str], passed: bool) -> None:
    result = branch_gate(env(branches=allowed), facts(branch=branch))
    assert result.passed is passed
    if not passed:
        assert "may not deploy here" in result.message() and str(allowed) in result.rule


def statuspage(*incidents: tuple[str, str]) -> IncidentReading:
    return IncidentReading(
        answer={"incidents": [{"name": n, "impact": i, "status": "open"} for n, i in incidents]}
    )


def test_incident_gate_blocks_only_on_blocking_impacts() -> None:
    rules = env(incidents=STATUS)
    for seen in ([], [("slow search", "minor")]):
        result = incident_gate(rules, facts(incidents=statuspage(*seen)))
        assert result is not None and result.passed
    result = incident_gate(
        rules, facts(incidents=statuspage(("slow search", "minor"), ("checkout errors", "major")))
    )
    assert result is not None and not result.passed
    assert result.reason == "open incident: checkout errors"
    assert "impact)]) == `0`" in result.rule


PAGERDUTY = {
    "url": "https://api.pagerduty.com/incidents",
    "holds": "length(incidents[?urgency=='high']) == `0`",
    "show": "incidents[?urgency=='high'].title",
}


@pytest.mark.parametrize(
    ("answer", "passed", "reason"),
    [
        ({"incidents": []}, True, "the condition holds"),
        ({"incidents": [{"title": "disk", "urgency": "low"}]}, True, "the condition holds"),
        (
            {"incidents": [{"title": "db down", "urgency": "high"}, {"urgency": "high"}]},
            False,
            "open incident: db down",
        ),
        # The answer has another shape than the expression expects: it cannot be judged.
        ({"data": []}, False, "length() got null, expected string, array, object); failing closed"),
        ([1, 2], False, "length() got null"),
        ("<html>", False, "length() got null"),
    ],
)
def test_incident_gate_judges_any_json_with_its_expression(
    answer: Any, passed: bool, reason: str
) -> None:
    result = incident_gate(
        env(incidents=PAGERDUTY), facts(incidents=IncidentReading(answer=answer))
    )
    assert result is not None and result.passed is passed
    assert reason in result.reason


def test_a_condition_that_is_not_true_or_false_fails_closed() -> None:
    rules = env(incidents={**PAGERDUTY, "holds": "incidents"})
    result = incident_gate(rules, facts(incidents=IncidentReading(answer={"incidents": []})))
    assert result is not None and not result.passed
    assert "gave list, not true or false); failing closed" in result.reason


def test_a_flood_of_incidents_is_named_ten_at_most_each_cut_short() -> None:
    many = [{"title": f"{i}" + "x" * 500, "urgency": "high"} for i in range(25)]
    result = incident_gate(
        env(incidents=PAGERDUTY), facts(incidents=IncidentReading(answer={"incidents": many}))
    )
    assert result is not None and not result.passed
    assert result.reason.endswith("(and 15 more)") and len(result.reason) < 2300


def test_a_bad_expression_is_refused_when_the_configuration_loads() -> None:
    with pytest.raises(ValueError, match=r"(?s)incidents\.holds.*not a JMESPath expression: "):
        env(incidents={**PAGERDUTY, "holds": "length(incidents[?"})


@pytest.mark.parametrize(
    "reading", [IncidentReading(error="ConnectError"), None], ids=["unreadable", "not-gathered"]
)
def test_incident_gate_fails_closed_when_the_source_cannot_be_read(
    reading: IncidentReading | None,
) -> None:
    result = incident_gate(env(incidents=STATUS), facts(incidents=reading))
    assert result is not None and not result.passed and "failing closed" in result.reason
    lenient = env(incidents={**STATUS, "unreadable": "pass"})
    result = incident_gate(lenient, facts(incidents=reading))
    assert result is not None and result.passed and 'unreadable = "pass"' in result.reason


def test_requires_gate_wants_the_same_digest_deployed_upstream() -> None:
    deployed = seal(make_entry("staging", version="v1", artifact=DIGEST), seq=0, prev_hash=GENESIS)
    rules = env(requires="staging")
    assert upstream_deploy([deployed], DIGEST) == deployed
    found = requires_gate(rules, facts(upstream_deploy=upstream_deploy([deployed], DIGEST)))
    assert found is not None and found.passed
    other = "sha256:" + "b" * 64
    missing = requires_gate(
        rules, facts(digest=other, upstream_deploy=upstream_deploy([deployed], other))
    )
    assert missing is not None and not missing.passed
    assert "has not been deployed successfully to staging" in missing.reason


def test_evaluate_returns_every_configured_gate_in_order() -> None:
    gates = [r.gate for r in evaluate(env(), facts())]
    assert gates == ["branch", "freeze", "outdated", "quarantine"]
    rules = env(branches=["main"], incidents=STATUS, requires="staging", approvals=SIGNED)
    results = evaluate(rules, facts(branch="feature/x", incidents=statuspage()))
    assert [(r.gate, r.passed) for r in results] == [
        ("actor", False),
        ("branch", False),
        ("freeze", True),
        ("incident", True),
        ("requires", False),
        ("outdated", True),
        ("quarantine", True),
    ]


SIGNED = {"required": 2, "from": "leads", "signed": True}


@pytest.mark.parametrize(
    ("approvals", "proof", "passed"),
    [
        (SIGNED, "claimed", False),
        (SIGNED, "signed", True),
        (SIGNED, "webhook", True),
        ({**SIGNED, "claimed_actor": "allow"}, "claimed", True),
    ],
)
def test_actor_gate_blocks_a_claimed_actor_where_self_review_needs_a_proven_one(
    approvals: dict[str, Any], proof: str, passed: bool
) -> None:
    result = actor_gate(
        env(approvals=approvals), facts(version="v7", actor="dave", actor_proof=proof)
    )
    assert result is not None and result.passed is passed
    if not passed:
        # Says exactly how to prove it.
        assert "releasegate deploy v7 --sign --as dave" in result.reason
        assert "releasegate-trigger" in result.reason


@pytest.mark.parametrize(
    "approvals",
    [None, {**SIGNED, "signed": False}, {**SIGNED, "prevent_self_review": False}],
)
def test_actor_gate_does_not_apply_without_signed_self_review(
    approvals: dict[str, Any] | None,
) -> None:
    assert actor_gate(env(approvals=approvals), facts(actor_proof="claimed")) is None


def live(seq: int | None, state: str = "live") -> LiveChange:
    return LiveChange(kind="deploy", version="v2", actor="bob", state=state, trigger_seq=seq)


@pytest.mark.parametrize(
    ("ours", "running", "outdated", "passed"),
    [
        (5, None, "block", True),  # nothing runs yet
        (5, live(4), "block", True),  # ours is newer
        (5, live(5), "block", True),  # our own change (a retried run)
        (5, live(None), "block", True),  # recorded before trigger order: older than any
        (5, live(6), "block", False),  # a newer run is live
        (5, live(6, "deploying"), "block", False),  # ... or being deployed
        (5, live(6), "allow", True),
    ],
)
def test_outdated_gate_never_replaces_a_newer_version(
    ours: int, running: LiveChange | None, outdated: str, passed: bool
) -> None:
    result = outdated_gate(
        env(outdated=outdated), facts(version="v1", trigger_seq=ours, live=running)
    )
    assert result.passed is passed
    assert result.rule == f'outdated = "{outdated}"'
    if running is not None and not passed:
        assert "v1 (trigger #5) is older than v2 (deploy by bob, trigger #6" in result.reason
        assert "only an explicit rollback goes back" in result.reason


def test_freeze_is_judged_at_the_gathered_time() -> None:
    window = {"days": "fri", "start": "10:00", "end": "14:00", "reason": "friday freeze"}
    rules = env(freeze=[window])
    blocked = evaluate(rules, facts())[1]  # 2026-11-27 is a Friday, 12:00 UTC
    assert not blocked.passed and blocked.until == datetime(2026, 11, 27, 14, tzinfo=UTC)
    assert evaluate(rules, facts(now=NOW.replace(hour=15)))[1].passed
