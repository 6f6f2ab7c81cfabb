"""What a rerun (Prefect's Retry: same flow-run id) finds of its earlier attempts, and
look-ups by flow-run id once a run has several attempts. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from releasegate.audit.record import GENESIS, AuditRecord, seal
from releasegate.policy.rerun import chosen, reached
from releasegate.policy.rollback import AUTOMATIC, by_flow_run, choose
from tests.support.records import make_entry

RUN = "0b7c5a3e-51f2-4f55-9d39-8b1e1f0d2a11"
OTHER = "5d0f2c1a-0000-4000-8000-000000000001"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def trail(*entries: dict[str, Any]) -> list[AuditRecord]:
    """Records oldest first, one minute apart -> sealed, newest first."""
    records, prev = [], GENESIS
    for seq, fields in enumerate(entries):
        fields = {"started_at": T0 + timedelta(minutes=seq), **fields}
        record = seal(make_entry(**fields), seq=seq, prev_hash=prev)
        records.append(record)
        prev = record.hash
    return records[::-1]


def test_a_rerun_finds_the_release_its_run_made_live_and_nothing_of_other_runs() -> None:
    newest = trail(
        {"version": "v3", "flow_run_id": RUN, "status": "started", "attempt": 1},
        {"version": "v3", "flow_run_id": RUN, "status": "succeeded", "attempt": 1},
        {"version": "v4", "flow_run_id": OTHER, "status": "succeeded", "attempt": 1},
    )
    found = reached(newest, RUN, since=T0)
    assert found is not None and (found.version, found.status) == ("v3", "succeeded")
    assert reached(newest, "another-run", since=T0) is None


def test_a_run_that_never_went_live_here_reached_nothing() -> None:
    newest = trail(
        {"version": "v3", "flow_run_id": RUN, "status": "started"},
        {"version": "v3", "flow_run_id": RUN, "status": "failed"},
        {"kind": "rollback", "version": "v2", "flow_run_id": RUN, "reason": f"{AUTOMATIC}: v3"},
    )
    assert reached(newest, RUN, since=T0) is None


def test_the_search_stops_at_the_runs_creation() -> None:
    """Records older than the run (bar a margin for clocks) are never read: a long trail costs
    a rerun only what was written since its run was created."""
    newest = trail({"version": "v3", "flow_run_id": RUN}, *[{"version": "v9"}] * 20)

    def counted() -> Any:
        for n, record in enumerate(newest, start=1):
            read.append(n)
            yield record

    read: list[int] = []
    assert reached(counted(), RUN, since=T0 + timedelta(minutes=15)) is None
    assert len(read) < len(newest)
    assert reached(newest, RUN, since=T0) is not None


def test_a_rerun_rollback_restores_what_its_first_attempt_chose() -> None:
    newest = trail(
        {"version": "v1", "flow_run_id": OTHER},
        {"version": "v2", "flow_run_id": OTHER},
        {"kind": "rollback", "version": "v1", "flow_run_id": RUN, "status": "started"},
        {"kind": "rollback", "version": "v1", "flow_run_id": RUN, "status": "failed"},
        {"version": "v3", "flow_run_id": OTHER},
    )
    target = chosen(newest, RUN, since=T0)
    assert target is not None and target.version == "v1"
    assert chosen(newest, OTHER, since=T0) is None  # a deploy run chose no rollback target


def test_a_run_id_means_the_release_that_run_made_live_on_any_attempt() -> None:
    newest = trail(
        {"version": "v2", "flow_run_id": OTHER},
        {"version": "v3", "flow_run_id": RUN, "status": "failed", "attempt": 1},
        # The first attempt's automatic rollback put back *another* run's release.
        {"kind": "rollback", "version": "v2", "flow_run_id": RUN, "reason": f"{AUTOMATIC}: v3"},
        {"version": "v4", "flow_run_id": OTHER},
    )
    assert by_flow_run(newest, RUN) is None
    rerun = trail(*[{"version": "v3", "flow_run_id": RUN, "attempt": 3}])
    found = by_flow_run(rerun + newest, RUN)
    assert found is not None and found.version == "v3"
    # Any spelling of the id (Prefect's `.hex`, capitals) finds the same run.
    for spelling in (RUN, RUN.replace("-", ""), RUN.upper()):
        assert choose(rerun + newest, "production", spelling, live=None).version == "v3"
