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
    branch_gate,
    evaluate,
    incident_gate,
    requires_gate,
    upstream_deploy,
)
from releasegate.sources.base import Incident
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


def test_incident_gate_blocks_only_on_blocking_impacts() -> None:
    minor = Incident(name="slow search", impact="minor", status="monitoring")
    major = Incident(name="checkout errors", impact="major", status="investigating")
    rules = env(incidents=STATUS)
    for seen in ([], [minor]):
        result = incident_gate(rules, facts(incidents=IncidentReading(incidents=tuple(seen))))
        assert result is not None and result.passed
    result = incident_gate(rules, facts(incidents=IncidentReading(incidents=(minor, major))))
    assert result is not None and not result.passed
    assert "checkout errors (major, investigating)" in result.reason
    assert "slow search" not in result.reason


@pytest.mark.parametrize(
    "reading", [IncidentReading(error="ConnectError"), None], ids=["unreadable", "not-gathered"]
)
def test_incident_gate_fails_closed_when_the_source_cannot_be_read(
    reading: IncidentReading | None,
) -> None:
    result = incident_gate(env(incidents=STATUS), facts(incidents=reading))
    assert result is not None and not result.passed and "failing closed" in result.reason


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
    assert [r.gate for r in evaluate(env(), facts())] == ["branch", "freeze"]
    rules = env(branches=["main"], incidents=STATUS, requires="staging")
    results = evaluate(rules, facts(branch="feature/x", incidents=IncidentReading()))
    assert [(r.gate, r.passed) for r in results] == [
        ("branch", False),
        ("freeze", True),
        ("incident", True),
        ("requires", False),
    ]


def test_freeze_is_judged_at_the_gathered_time() -> None:
    window = {"days": "fri", "start": "10:00", "end": "14:00", "reason": "friday freeze"}
    rules = env(freeze=[window])
    blocked = evaluate(rules, facts())[1]  # 2026-11-27 is a Friday, 12:00 UTC
    assert not blocked.passed and blocked.until == datetime(2026, 11, 27, 14, tzinfo=UTC)
    assert evaluate(rules, facts(now=NOW.replace(hour=15)))[1].passed
