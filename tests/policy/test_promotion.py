"""What a release train takes: the newest version that passed upstream, not quarantined,
newer in the trigger order than what runs downstream; otherwise nothing, saying why."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from releasegate.audit.record import AuditRecord, seal
from releasegate.policy.order import LiveChange
from releasegate.policy.promotion import choose
from releasegate.policy.quarantine import Quarantine
from tests.support.records import make_entry


def record(seq: int, **fields: Any) -> AuditRecord:
    version = fields.setdefault("version", f"v{seq}")
    fields.setdefault("artifact", "sha256:" + hashlib.sha256(version.encode()).hexdigest())
    fields.setdefault("trigger_seq", seq)
    return seal(make_entry("staging", **fields), seq=seq, prev_hash="0" * 64)


def held(version: str, reason: str, artifact: str | None = None) -> Quarantine:
    """`version` (by default the artifact STAGING deployed) quarantined in production."""
    return Quarantine(
        environment="production",
        version=version,
        artifact=artifact or record(0, version=version).artifact or "",
        since=datetime(2026, 11, 27, 12, tzinfo=UTC),
        reason=reason,
        by="carol (signed)",
        rollback_run="run-9",
    )


def live(seq: int | None, version: str = "v1") -> LiveChange:
    return LiveChange(kind="deploy", version=version, actor="dave", state="live", trigger_seq=seq)


STAGING = [  # newest first
    record(5, status="failed"),
    record(4),
    record(3, kind="rollback"),
    record(2),
    record(1),
]


def pick(**kwargs: Any) -> Any:
    given: dict[str, Any] = {"live": live(1), "live_digest": None, "quarantine": ()} | kwargs
    return choose(STAGING, upstream="staging", environment="production", **given)


def test_the_newest_version_that_passed_upstream() -> None:
    choice = pick()
    assert choice.origin is not None and choice.origin.version == "v4"  # v5 failed there
    assert choice.reason.startswith("v4 passed staging at ")


def test_a_quarantined_version_is_passed_over_and_named() -> None:
    choice = pick(quarantine=[held("v4", "rolled back by carol")])
    assert choice.origin is not None and choice.origin.version == "v2"
    assert choice.skipped == ("v4 is quarantined in production (rolled back by carol)",)


def test_nothing_new_is_a_reason_not_an_error() -> None:
    runs_v4 = pick(live_digest=record(4).artifact, live=live(4, "v4"))
    assert runs_v4.origin is None
    assert runs_v4.reason == "nothing new to promote: production already runs v4"
    later = pick(live=live(7, "v7"))  # a rollback (or newer deploy) there came after v4
    assert later.origin is None and "v4 (trigger #4), is not newer than v7" in later.reason
    empty = choose([], upstream="staging", environment="production", live=None,
                   live_digest=None, quarantine=())  # fmt: skip
    assert empty.reason == "nothing new to promote: no version has passed staging yet"
    banned = [held("v4", "bad")]
    only_v2_left = pick(live=live(2, "v2"), live_digest=record(2).artifact, quarantine=banned)
    assert only_v2_left.origin is None
    assert only_v2_left.reason.endswith("already runs v2; v4 is quarantined in production (bad)")


def test_nothing_runs_downstream_yet() -> None:
    choice = pick(live=None)
    assert choice.origin is not None and choice.origin.version == "v4"


def test_a_newer_build_of_a_quarantined_version_label_is_not_passed_over() -> None:
    """Quarantine keeps an artifact out: v4 rebuilt from a newer commit is another one."""
    choice = pick(quarantine=[held("v4", "bad", artifact="sha256:" + "0" * 64)])
    assert choice.origin is not None and choice.origin.version == "v4" and not choice.skipped
