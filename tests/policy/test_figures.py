"""The dashboard's figures on histories built for the test, with known answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from releasegate.policy.figures import EnvironmentFigures, Tally, percentile
from releasegate.policy.observations import MAX_WAITING, ApprovalWaited, Observer, quarantines
from releasegate.policy.quarantine import QUARANTINE
from tests.support.histories import History, a_week

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def figures(
    history: History, since: datetime, until: datetime, kept: History | None = None
) -> EnvironmentFigures:
    """As `report.environment_figures` computes them; `kept`: the quarantine chain."""
    observer, tally = Observer(), Tally(history.environment, since, until)
    for record in history.records():
        tally.add(observer.feed(record))
    tally.add(quarantines(kept.records() if kept else [], history.environment))
    return tally.figures(trail_start=observer.first, unrestored_since=observer.failing_since)


def test_a_week_of_production_gives_the_known_figures() -> None:
    f = figures(a_week(T0), since=T0 - D, until=T0 + 6 * D)

    assert f.since == T0  # the trail's first record, later than the start asked for
    assert f.deploys_per_day == pytest.approx(0.5)  # 3 in 6 days
    assert (f.deploys, f.changes, f.failed_changes, f.rollbacks) == (3, 5, 3, 2)
    assert f.change_failure_rate == pytest.approx(0.6)
    assert (f.lead_time.count, f.without_commit_time) == (2, 1)
    assert (f.lead_time.p50_seconds, f.lead_time.p90_seconds) == (1800, 5580)
    assert f.time_to_restore.count == 2
    assert (f.time_to_restore.p50_seconds, f.time_to_restore.p90_seconds) == (120, 7140)
    assert f.unrestored_since == T0 + 5 * D
    assert (f.approval_wait.p50_seconds, f.approval_wait.p90_seconds) == (1800, 3600)
    assert f.approval_wait_buckets["15m-1h"] == 1 and f.approval_wait_buckets["1-4h"] == 1
    assert f.approvals == {"accepted": 4, "refused": 1}
    assert f.refusals_by_reason == {"not-member": 1}
    assert f.blocks_by_gate == {"freeze": 1}
    assert f.recorded == {"override": 0, "quarantine": 0}
    assert [(d.day.day, d.deploys, d.failed_changes, d.restores) for d in f.days] == [
        (2, 1, 0, 0),
        (4, 1, 1, 1),
        (5, 0, 1, 1),
        (6, 1, 0, 0),
        (7, 0, 1, 0),
    ]


def test_the_period_counts_what_happened_in_it_and_nothing_before() -> None:
    f = figures(a_week(T0), since=T0 + 2 * D, until=T0 + 6 * D)

    # r3 (rolled back), r5 (failed), r6, r7 (failed); r1 is before the period.
    assert (f.deploys, f.changes, f.failed_changes) == (2, 4, 3)
    assert f.approval_wait.count == 1 and f.approval_wait.p50_seconds == 3600
    assert f.blocks_by_gate == {} and f.refusals_by_reason == {}


def test_missing_inputs_are_said_not_guessed() -> None:
    h = History()
    h.change(T0, "r1", "v1")
    h.change(T0 + H, "r2", "v2")
    said = dict(figures(h, since=T0 - D, until=T0 + D).say())

    assert said["lead time for changes"] == "unknown: 2 changes have no commit time"
    assert said["time to restore"] == "no data: nothing to restore in this period"
    assert said["approval wait"] == "no data: no approvals in this period"
    assert said["change failure rate"] == "0% (0 of 2 changes failed or were rolled back)"
    assert said["overrides"] == said["quarantines"] == "0"

    empty = dict(figures(History(), since=T0 - D, until=T0).say())
    assert empty["change failure rate"] == "no data: no deploy reached an outcome in this period"
    assert empty["lead time for changes"] == "no data: no successful deploy in this period"


def test_a_commit_time_that_cannot_be_right_is_not_used() -> None:
    h = History()
    h.change(T0, "r1", "v1", committed_at=T0 + H)  # after it went live
    h.add(T0 + D, "r2", kind="deploy", status="succeeded", finished_at=T0 + D,
          details={"committed_at": "2026-11-01T09:00:00"})  # no time zone  # fmt: skip
    f = figures(h, since=T0 - D, until=T0 + 2 * D)
    assert (f.lead_time.count, f.without_commit_time) == (0, 2)


def test_said_figures_read_like_sentences() -> None:
    said = dict(figures(a_week(T0), since=T0 - D, until=T0 + 6 * D).say())
    assert said["deployment frequency"] == "3 deploys in 6d (0.50 per day)"
    assert said["lead time for changes"] == (
        "p50 30m, p90 1h 33m (2 measured) (1 more have no commit time)"
    )
    assert said["change failure rate"] == "60% (3 of 5 changes failed or were rolled back)"
    assert said["time to restore"] == (
        "p50 2m, p90 1h 59m (2 measured); not restored since 2026-11-07 10:00 UTC"
    )
    assert said["blocks per gate"] == "freeze: 1"
    assert said["refused approvals"] == "not-member: 1"


def test_a_blocked_gate_recorded_without_results_counts_as_unknown() -> None:
    h = History().add(T0, "r1", kind="gate", status="blocked")
    assert figures(h, since=T0 - D, until=T0 + D).blocks_by_gate == {"unknown": 1}


def test_runs_that_never_finish_waiting_are_forgotten_beyond_a_bound() -> None:
    h = History()
    for n in range(MAX_WAITING + 5):
        h.gate(T0 + n * M, f"crashed-{n}", "before approvals")
    observer = Observer()
    for record in h.records():
        observer.feed(record)
    assert len(observer.waiting) == MAX_WAITING
    assert "crashed-0" not in observer.waiting and f"crashed-{MAX_WAITING + 4}" in observer.waiting


def test_a_run_without_approvals_has_no_approval_wait() -> None:
    h = History()
    h.gate(T0, "r1", "before approvals")
    h.gate(T0 + M, "r1", "before rollout")
    h.change(T0 + 3 * M, "r1", "v1")
    seen = [o for r in h.records() for o in Observer().feed(r)]
    assert not any(isinstance(o, ApprovalWaited) for o in seen)


def test_percentiles_are_values_that_occurred() -> None:
    assert percentile([], 0.5) is None
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.9) == 4.0
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == 9.0


# ---------------------------------------------------------------- against a plain reference

OPS = st.lists(st.sampled_from(["ok", "fail", "rollback", "rollback-fails"]), max_size=40)


def reference(ops: list[str]) -> tuple[int, int, int, list[int]]:
    """Deploys, changes, failed changes and restore times (in steps), the slow way: by
    looking at the whole list at once."""
    deploys = sum(op == "ok" for op in ops)
    changes = sum(op in ("ok", "fail") for op in ops)
    failed, restores, broken_at = 0, [], None
    for i, op in enumerate(ops):
        if op in ("ok", "rollback") and broken_at is not None:
            restores.append(i - broken_at)
            broken_at = None
        rest = ops[i + 1 :]
        upto = next((j for j, o in enumerate(rest) if o in ("ok", "fail")), len(rest))
        rolled_back = op == "ok" and any(o.startswith("rollback") for o in rest[:upto])
        if op == "fail" or rolled_back:
            failed += 1
            broken_at = i if broken_at is None else broken_at
    return deploys, changes, failed, restores


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_streamed_figures_agree_with_a_reference_over_the_whole_list(ops: list[str]) -> None:
    h = History()
    for i, op in enumerate(ops):
        at = T0 + i * H
        if op in ("ok", "fail"):
            h.change(at, f"r{i}", f"v{i}", "succeeded" if op == "ok" else "failed")
        else:
            status = "succeeded" if op == "rollback" else "failed"
            h.change(at, f"r{i}", "v0", status, kind="rollback")
    f = figures(h, since=T0 - D, until=T0 + len(ops) * H)
    deploys, changes, failed, restores = reference(ops)

    assert (f.deploys, f.changes, f.failed_changes) == (deploys, changes, failed)
    assert f.time_to_restore.count == len(restores)
    assert f.time_to_restore.p50_seconds == percentile([r * 3600.0 for r in restores], 0.5)
    if f.change_failure_rate is not None:
        assert 0 <= f.change_failure_rate <= 1


def test_an_interrupted_change_is_neither_a_success_nor_a_failure() -> None:
    h = History()
    h.change(T0, "r1", "v1")
    h.change(T0 + H, "r2", "v2", "interrupted")  # its run died; the next change closed it
    h.change(T0 + 2 * H, "r3", "v3")
    f = figures(h, since=T0 - D, until=T0 + D)
    assert (f.deploys, f.changes, f.failed_changes, f.time_to_restore.count) == (2, 2, 0, 0)


def test_overrides_and_quarantines_are_counted() -> None:
    """An override is a gate let through by break-glass (status `overridden`); quarantines
    are read from their own chain, the environment's only, releases not counted."""
    h = History()
    h.change(T0, "r1", "v1")
    for stage in ("before approvals", "before rollout"):  # one run, one override
        h.add(T0 + H, "r2", kind="gate", status="overridden", details={"stage": stage})
    kept = History(QUARANTINE)
    for at, run, status, where in [
        (T0 + 2 * H, "r3", "quarantined", "production"),
        (T0 + 3 * H, "r4", "released", "production"),
        (T0 + 3 * H, "r5", "quarantined", "staging"),
        (T0 + 2 * D, "r6", "quarantined", "production"),  # after the period
    ]:
        kept.add(at, run, kind="quarantine", status=status, details={"environment": where})
    f = figures(h, since=T0 - D, until=T0 + D, kept=kept)
    assert f.recorded == {"override": 1, "quarantine": 1}
