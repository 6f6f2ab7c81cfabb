"""Quarantine as data: which artifacts are kept out, and the rollback target around them."""

from __future__ import annotations

import pytest

from releasegate.audit.record import GENESIS, AuditRecord, seal
from releasegate.errors import Blocked, UsageError
from releasegate.policy.gates import Facts, quarantine_gate
from releasegate.policy.quarantine import QUARANTINE, active, of_artifact
from releasegate.policy.rollback import choose
from tests.policy.test_gates import env
from tests.policy.test_rollback_target import digest, history
from tests.support.records import make_entry


def events(*given: tuple[str, str, str]) -> list[AuditRecord]:
    """(status, environment, version) oldest first -> quarantine records, newest first."""
    records, prev = [], GENESIS
    for seq, (status, where, version) in enumerate(given):
        entry = make_entry(
            QUARANTINE,
            kind="quarantine",
            status=status,
            version=version,
            artifact=digest(version),
            reason=f"rolled back ({seq})",
            flow_run_id=f"run-{seq}",
            details={"environment": where},
        )
        records.append(rec := seal(entry, seq=seq, prev_hash=prev))
        prev = rec.hash
    return records[::-1]


def test_the_newest_record_per_environment_and_artifact_decides() -> None:
    trail = events(
        ("quarantined", "production", "v2"),
        ("quarantined", "staging", "v2"),
        ("released", "production", "v2"),
        ("quarantined", "production", "v3"),
        ("released", "production", "v4"),  # a release of something never quarantined
    )
    assert [(q.environment, q.version) for q in active(trail)] == [
        ("production", "v3"),
        ("staging", "v2"),
    ]
    assert [q.version for q in active(trail, "production")] == ["v3"]
    again = events(("quarantined", "production", "v2"), ("released", "production", "v2"),
                   ("quarantined", "production", "v2"))  # fmt: skip
    held = of_artifact(active(again, "production"), digest("v2"))
    assert held is not None and held.reason == "rolled back (2)" and held.rollback_run == "run-2"
    assert of_artifact(active(again, "production"), digest("v9")) is None


def test_the_gate_refuses_a_quarantined_artifact_naming_the_rollback_and_the_way_out() -> None:
    held = active(events(("quarantined", "production", "v2")))[0]
    facts = Facts(now="2026-11-27T12:00:00Z", branch="main", digest=digest("v2"), version="v2")
    result = quarantine_gate(env(), facts.model_copy(update={"quarantine": held}))
    assert not result.passed
    assert "flow run run-0" in result.reason and "rolled back (0)" in result.reason
    assert "releasegate quarantine release production v2 --reason" in result.reason
    assert quarantine_gate(env(), facts).passed  # a newer build of v2 is another artifact


def test_the_default_rollback_never_picks_a_quarantined_version() -> None:
    """v1 -> v2 -> rollback (to v1, v2 quarantined): a second rollback has nowhere to go,
    instead of quietly putting v2 back."""
    newest = history(
        ("deploy", "v1", "succeeded"),
        ("deploy", "v2", "succeeded"),
        ("rollback", "v1", "succeeded"),
    )
    kept_out = active(events(("quarantined", "production", "v2")))
    with pytest.raises(UsageError, match=r"not quarantined \(v2 are\)"):
        choose(newest, "production", None, live=digest("v1"), quarantined=kept_out)
    # With v0 before them, the default skips v2 and goes there.
    older = history(("deploy", "v0", "succeeded"), *[(r.kind, r.version or "", r.status)
                                                      for r in reversed(newest)])  # fmt: skip
    found = choose(older, "production", None, live=digest("v1"), quarantined=kept_out)
    assert found.version == "v0"


def test_an_explicit_rollback_to_a_quarantined_version_must_say_so() -> None:
    newest = history(("deploy", "v1", "succeeded"), ("deploy", "v2", "succeeded"),
                     ("rollback", "v1", "succeeded"))  # fmt: skip
    kept_out = active(events(("quarantined", "production", "v2")))
    with pytest.raises(Blocked, match="--release-quarantine"):
        choose(newest, "production", "v2", live=digest("v1"), quarantined=kept_out)
    found = choose(
        newest, "production", "v2", live=digest("v1"), quarantined=kept_out,
        release_quarantine=True,
    )  # fmt: skip
    assert found.version == "v2"
