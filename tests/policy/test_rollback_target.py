"""The rollback target: the previous *successful* version that differs from the current one."""

from __future__ import annotations

from releasegate.audit.record import GENESIS, AuditRecord, seal
from releasegate.policy.rollback import by_flow_run, by_version, current_version, previous_good
from tests.support.records import make_entry


def history(*events: tuple[str, str, str]) -> list[AuditRecord]:
    """(kind, version, status) oldest first -> sealed records, newest first."""
    records, prev = [], GENESIS
    for seq, (kind, version, status) in enumerate(events):
        entry = make_entry(kind=kind, version=version, status=status, flow_run_id=f"run-{seq}")
        rec = seal(entry, seq=seq, prev_hash=prev)
        records.append(rec)
        prev = rec.hash
    return records[::-1]


def test_skips_failed_deploys_and_non_changes() -> None:
    newest = history(
        ("deploy", "v1", "started"),
        ("deploy", "v1", "succeeded"),
        ("deploy", "v2", "started"),
        ("deploy", "v2", "failed"),  # the naive "second newest" would pick this
        ("gate", "v3", "passed"),
        ("approval", "v3", "accepted"),
        ("deploy", "v3", "started"),
        ("deploy", "v3", "succeeded"),
    )
    current = current_version(newest)
    assert current is not None and current.version == "v3"
    target = previous_good(newest, "v3")
    assert target is not None and target.version == "v1"


def test_skips_redeploys_of_the_current_version() -> None:
    newest = history(
        ("deploy", "v1", "succeeded"),
        ("deploy", "v2", "succeeded"),
        ("deploy", "v2", "succeeded"),  # a redeploy of v2
    )
    target = previous_good(newest, "v2")
    assert target is not None and target.version == "v1"


def test_after_a_rollback_the_default_target_is_the_version_rolled_back_from() -> None:
    newest = history(
        ("deploy", "v1", "succeeded"),
        ("deploy", "v2", "succeeded"),
        ("rollback", "v1", "succeeded"),
    )
    current = current_version(newest)
    assert current is not None and current.kind == "rollback" and current.version == "v1"
    target = previous_good(newest, "v1")
    assert target is not None and target.version == "v2"


def test_nothing_to_roll_back_to() -> None:
    assert previous_good(history(("deploy", "v1", "succeeded")), "v1") is None
    assert current_version([]) is None


def test_by_version_and_by_flow_run_only_take_successful_changes() -> None:
    newest = history(("deploy", "v1", "succeeded"), ("deploy", "v2", "failed"))
    assert by_version(newest, "v2") is None
    found = by_version(newest, "v1")
    assert found is not None and found.flow_run_id == "run-0"
    assert by_flow_run(newest, "run-0") == found
    assert by_flow_run(newest, "run-1") is None


def test_reads_lazily_and_stops_at_the_first_match() -> None:
    newest = history(*[("deploy", f"v{i}", "succeeded") for i in range(1000)])
    consumed = 0

    def counting():  # type: ignore[no-untyped-def]
        nonlocal consumed
        for rec in newest:
            consumed += 1
            yield rec

    assert previous_good(counting(), "v999") is not None
    assert consumed == 2
