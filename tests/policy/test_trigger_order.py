"""Trigger order and signed requests, judged on records: what runs now and in which order,
whether a request is fresh, and whether a run already used it. Pure: no store, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from releasegate.audit.record import GENESIS, AuditRecord, seal
from releasegate.policy.order import live_change
from releasegate.policy.triggers import MAX_AGE, earlier_use, own_trigger, recorded, timing
from tests.support.records import make_entry

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def chain(*entries: dict[str, Any]) -> list[AuditRecord]:
    """Entries oldest first -> sealed records, newest first."""
    records, prev = [], GENESIS
    for seq, fields in enumerate(entries):
        rec = seal(make_entry(**fields), seq=seq, prev_hash=prev)
        records.append(rec)
        prev = rec.hash
    return records[::-1]


def change(version: str, status: str, order: int | None, op: str, kind: str = "deploy") -> dict:
    return {
        "kind": kind,
        "version": version,
        "status": status,
        "trigger_seq": order,
        "operation_id": op,
    }


def test_live_change_is_the_newest_success_unless_a_later_change_is_in_flight() -> None:
    assert live_change([]) is None
    done = chain(change("v1", "started", 1, "a"), change("v1", "succeeded", 1, "a"))
    found = live_change(done)
    assert found is not None and (found.version, found.state, found.trigger_seq) == (
        "v1",
        "live",
        1,
    )

    in_flight = chain(*[change("v1", "started", 1, "a"), change("v1", "succeeded", 1, "a")],
                      change("v2", "started", 4, "b"))  # fmt: skip
    found = live_change(in_flight)
    assert found is not None and (found.version, found.state) == ("v2", "deploying")


def test_failed_changes_are_not_what_runs_and_gates_are_skipped() -> None:
    records = chain(
        change("v1", "succeeded", 1, "a"),
        change("v3", "started", 3, "c"),
        change("v3", "failed", 3, "c"),
        {"kind": "gate", "status": "passed", "trigger_seq": 9},
    )
    found = live_change(records)
    assert found is not None and (found.version, found.trigger_seq) == ("v1", 1)


def test_a_rollback_runs_in_its_own_order() -> None:
    records = chain(
        change("v2", "succeeded", 2, "a"), change("v1", "succeeded", 7, "b", "rollback")
    )
    found = live_change(records)
    assert found is not None and (found.kind, found.version, found.trigger_seq) == (
        "rollback",
        "v1",
        7,
    )


@pytest.mark.parametrize(
    ("issued", "code"),
    [
        (NOW, None),
        (NOW - MAX_AGE + timedelta(seconds=1), None),
        (NOW - MAX_AGE - timedelta(seconds=1), "stale"),
        (NOW + timedelta(minutes=1), None),  # a signer's clock a little ahead
        (NOW + timedelta(minutes=3), "future"),
    ],
)
def test_a_signed_request_is_good_for_a_bounded_time(issued: datetime, code: str | None) -> None:
    refusal = timing(issued, NOW)
    assert (refusal.code if refusal else None) == code


def trigger(nonce: str, status: str = "accepted", at: datetime = NOW, run: str = "r1") -> dict:
    return {
        "kind": "trigger",
        "environment": "_triggers",
        "status": status,
        "started_at": at,
        "flow_run_id": run,
        "details": {"nonce": nonce},
    }


def test_a_nonce_an_accepted_trigger_used_is_found_and_refusals_do_not_count() -> None:
    records = chain(trigger("n1"), trigger("n2", status="refused"), trigger("n3"))
    assert earlier_use(records, "n1", now=NOW) is not None
    # A refused attempt (a forged copy that raced ahead) does not burn the genuine nonce.
    assert earlier_use(records, "n2", now=NOW) is None
    # After appending our own record (#2), only records before it count: lowest wins.
    assert earlier_use(records, "n3", now=NOW, before=2) is None
    assert earlier_use(records, "n3", now=NOW) is not None


def test_the_search_for_an_earlier_use_stops_where_no_fresh_request_could_reach() -> None:
    old = NOW - timedelta(hours=1)
    records = chain(trigger("n1", at=old), trigger("n2"))
    assert earlier_use(records, "n1", now=NOW) is None


def test_a_retried_run_finds_its_first_trigger() -> None:
    created = NOW - timedelta(days=3)
    records = chain(trigger("n1", run="r1", at=created), trigger("n2", run="r2"))
    found = own_trigger(records, "r1", since=created)
    assert found is not None and found.seq == 0
    assert own_trigger(records, "r3", since=created) is None


def test_which_earlier_push_runs_have_taken_their_place() -> None:
    early = NOW - timedelta(hours=2)
    records = chain(
        trigger("n1", run="r1", at=early),
        trigger("n2", run="r2", status="refused"),
        trigger("n3", run="r3"),
    )
    # Refused or accepted, a run that recorded its trigger has its place in the order.
    assert recorded(records, {"r2", "r3", "r9"}, since=NOW) == {"r2", "r3"}
    # The search stops at `since` (less the clock margin): r1 is older than that.
    assert recorded(records, {"r1"}, since=NOW) == set()
    assert recorded(records, {"r1"}, since=early) == {"r1"}
