"""Drift: the target against the trail's last completed change, recorded once when first
seen, kept open (same first-seen time) while it lasts, closed by a change or a resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from releasegate.audit.record import AuditRecord, seal
from releasegate.policy.drift import Drift, Served, compare, expected
from tests.support.records import make_entry

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
V1 = Served(version="v1", digest="sha256:" + "1" * 64)
V2 = Served(version="v2", digest="sha256:" + "2" * 64)


def record(seq: int, **fields: Any) -> AuditRecord:
    return seal(make_entry(**fields), seq=seq, prev_hash="0" * 64)


def deploy(seq: int, served: Served, status: str = "succeeded") -> AuditRecord:
    return record(seq, version=served.version, artifact=served.digest, status=status)


def drift_record(seq: int, drift: Drift, status: str = "detected") -> AuditRecord:
    return record(
        seq, kind="drift", status=status, details={"drift": drift.model_dump(mode="json")}
    )


def test_agreeing_target_is_no_drift() -> None:
    last, still_open = expected([deploy(1, V2)])
    assert last is not None and still_open is None
    assert compare(V2, last, still_open, NOW) is None


def test_a_difference_is_drift_first_seen_now() -> None:
    last, _ = expected([deploy(3, V1, "failed"), deploy(2, V2, "started"), deploy(1, V2)])
    assert last is not None and last.seq == 1  # failed and unfinished changes are not it
    drift = compare(V1, last, None, NOW)
    assert drift == Drift(live=V1, expected=V2, first_seen=NOW)
    assert drift.describe() == (
        f"drift: the target serves v1 ({V1.digest[:19]}), the trail's last completed change "
        f"is v2 ({V2.digest[:19]}); first seen 2026-11-27 12:00:00 UTC"
    )
    assert compare(Served(), last, None, NOW) == Drift(live=Served(), expected=V2, first_seen=NOW)


def test_an_open_drift_keeps_its_first_seen_time() -> None:
    earlier = Drift(live=V1, expected=V2, first_seen=NOW - timedelta(hours=1))
    last, still_open = expected([drift_record(2, earlier), deploy(1, V2)])
    assert still_open == earlier
    assert compare(V1, last, still_open, NOW) == earlier  # nothing new to record
    other = Served(version="v9", digest="sha256:" + "9" * 64)
    assert compare(other, last, still_open, NOW) == Drift(live=other, expected=V2, first_seen=NOW)


def test_a_resolution_or_a_change_closes_a_drift() -> None:
    earlier = Drift(live=V1, expected=V2, first_seen=NOW)
    _, resolved = expected(
        [drift_record(3, earlier, "resolved"), drift_record(2, earlier), deploy(1, V2)]
    )
    assert resolved is None
    last, after_change = expected([deploy(3, V1), drift_record(2, earlier), deploy(1, V2)])
    assert after_change is None and last is not None and last.version == "v1"
