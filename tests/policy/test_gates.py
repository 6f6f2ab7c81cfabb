"""Branch, incident and upstream gates: pure decisions that name their rule."""

from __future__ import annotations

import pytest

from releasegate.audit.record import GENESIS, seal
from releasegate.policy.gates import Incident, branch_gate, incident_gate, requires_gate
from tests.support.records import make_entry


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
    result = branch_gate(branch, allowed)
    assert result.passed is passed
    if not passed:
        assert "may not deploy here" in result.message() and str(allowed) in result.rule


def test_incident_gate_blocks_only_on_blocking_impacts() -> None:
    minor = Incident(name="slow search", impact="minor", status="monitoring")
    major = Incident(name="checkout errors", impact="major", status="investigating")
    block_on = ("critical", "major")
    assert incident_gate("https://status", [], block_on).passed
    assert incident_gate("https://status", [minor], block_on).passed
    result = incident_gate("https://status", [minor, major], block_on)
    assert not result.passed
    assert "checkout errors (major, investigating)" in result.reason
    assert "slow search" not in result.reason


def test_incident_gate_fails_closed_when_the_source_cannot_be_read() -> None:
    result = incident_gate("https://status", None, ("major",), error="ConnectError")
    assert not result.passed and "failing closed" in result.reason


def test_requires_gate_wants_the_same_digest_deployed_upstream() -> None:
    entry = make_entry("staging", version="v1", artifact="sha256:" + "a" * 64)
    deployed = seal(entry, seq=0, prev_hash=GENESIS)
    assert requires_gate("staging", [deployed], "sha256:" + "a" * 64).passed
    other = requires_gate("staging", [deployed], "sha256:" + "b" * 64)
    assert not other.passed and "has not been deployed successfully to staging" in other.reason
