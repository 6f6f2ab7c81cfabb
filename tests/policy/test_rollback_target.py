"""The rollback target: the previous *successful* version that differs from the current one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from releasegate.audit.record import GENESIS, AuditRecord, release_of, seal
from releasegate.errors import DeployFailed, UsageError
from releasegate.policy.rollback import (
    by_flow_run,
    by_version,
    choose,
    current_version,
    moved_on,
    previous_good,
)
from tests.support.records import make_entry


def digest(version: str) -> str:
    """The artifact digest of `version` in these histories (one build per version)."""
    return "sha256:" + version.encode().hex().ljust(64, "0")


def history(*events: tuple[str, str, str]) -> list[AuditRecord]:
    """(kind, version, status) oldest first -> sealed records, newest first."""
    records, prev = [], GENESIS
    for seq, (kind, version, status) in enumerate(events):
        entry = make_entry(
            kind=kind,
            version=version,
            artifact=digest(version),
            status=status,
            flow_run_id=f"run-{seq}",
        )
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


class OneShot:
    """A store's newest-first iterator that may be read once, counting what was read."""

    def __init__(self, records: list[AuditRecord]) -> None:
        self.records, self.read, self.opened = records, 0, 0

    def __iter__(self) -> Iterator[AuditRecord]:
        self.opened += 1
        assert self.opened == 1, "the history was read twice"
        for rec in self.records:
            self.read += 1
            yield rec


def test_choose_reads_the_history_once_and_only_as_far_as_it_must() -> None:
    newest = OneShot(
        history(
            *[("deploy", "v0", "succeeded")] * 50,
            ("deploy", "v1", "succeeded"),
            ("deploy", "v2", "succeeded"),
            ("rollback", "v1", "succeeded"),
            ("deploy", "v3", "failed"),
        )
    )
    target = choose(newest, "production", None, live=digest("v1"))
    assert target.version == "v2" and newest.read == 3


def test_the_default_target_follows_what_the_target_serves_not_the_trail() -> None:
    """A deploy of v3 killed between its traffic switch and its record: the trail's newest
    success is v2 but v3 is live. Rolling back means going to v2, not two releases back."""
    newest = history(
        ("deploy", "v1", "succeeded"),
        ("deploy", "v2", "succeeded"),
        ("deploy", "v3", "started"),
        ("deploy", "v3", "interrupted"),
    )
    assert choose(newest, "production", None, live=digest("v3")).version == "v2"
    # The same trail with v3 never switched to: v2 serves, so back to v1.
    assert choose(newest, "production", None, live=digest("v2")).version == "v1"
    # Nothing live at all: the newest good version is restored.
    assert choose(newest, "production", None, live=None).version == "v2"
    # An interrupted change is never a target itself: it was not verified.
    with pytest.raises(UsageError, match="no successful deploy of version v3"):
        choose(newest, "production", "v3", live=digest("v2"))


def test_choose_by_version_or_flow_run_and_says_what_is_missing() -> None:
    newest = history(("deploy", "v1", "succeeded"), ("deploy", "v2", "succeeded"))
    assert choose(newest, "production", "v1", live=digest("v2")).version == "v1"
    run = "0b6f9c1e-6a1f-4c3e-9d7a-2f0e5b8c1a11"
    with pytest.raises(UsageError, match=f"production has no successful deploy of flow run {run}"):
        choose(newest, "production", run, live=digest("v2"))
    with pytest.raises(UsageError, match="of version v9 to roll back to"):
        choose(newest, "production", "v9", live=digest("v2"))
    with pytest.raises(UsageError, match="an earlier successful version"):
        choose(history(("deploy", "v1", "succeeded")), "production", None, live=digest("v1"))


def test_release_of_a_change_needs_its_recorded_artifact() -> None:
    change = history(("deploy", "v1", "succeeded"))[0]
    with pytest.raises(DeployFailed, match="does not say which artifact v1 was"):
        release_of(change)
    release = {
        "app": "webapp",
        "version": "v1",
        "digest": "sha256:" + "a" * 64,
        "artifact": "/bundles/a",
        "built_at": "2026-11-27T12:00:00Z",
    }
    recorded = change.model_copy(update={"details": {"release": release}})
    assert release_of(recorded).digest == "sha256:" + "a" * 64


def test_a_default_rollback_goes_ahead_only_from_what_it_was_asked_against() -> None:
    v3, v2 = ("v3", digest("v3")), ("v2", digest("v2"))
    assert moved_on("production", v3, v3) is None
    assert moved_on("production", None, None) is None
    said = moved_on("production", v3, v2)
    assert said is not None and "served v3 when the rollback was asked for and serves v2" in said
    # The same label rebuilt is another release: the digest decides.
    assert moved_on("production", v3, ("v3", digest("v3-rebuilt"))) is not None
    assert moved_on("production", None, v2) is not None


def by(run: str, records: list[AuditRecord]) -> list[AuditRecord]:
    return [r.model_copy(update={"flow_run_id": run}) for r in records]


def test_a_rollback_asked_for_during_a_deploy_undoes_that_deploy_if_it_is_still_live() -> None:
    v2, v3 = ("v2", digest("v2")), ("v3", digest("v3"))
    # "deploying" held production (deploying v3) when the rollback was asked for, v2 serving.
    went_live = by("deploying", history(("deploy", "v3", "started"), ("deploy", "v3", "succeeded")))
    went_live += history(("deploy", "v2", "succeeded"))
    assert moved_on("production", v2, v3, under_way="deploying", newest=went_live) is None
    # Its verify failed and it rolled itself back: nothing left to undo (not v2 -> v1).
    undid_itself = by(
        "deploying",
        history(
            ("deploy", "v3", "started"), ("deploy", "v3", "failed"), ("rollback", "v2", "succeeded")
        ),
    )
    said = moved_on("production", v2, v2, under_way="deploying", newest=undid_itself)
    assert said is not None and "deploy under way" in said and "not live any more" in said
    # Killed before its switch (closed as interrupted by the next holder): nothing of it is
    # live, so the rollback goes back from what was served when asked.
    killed = by("deploying", history(("deploy", "v3", "started"), ("deploy", "v3", "interrupted")))
    assert moved_on("production", v2, v2, under_way="deploying", newest=killed) is None
    # Killed after its switch: v3 serves, and it is what the rollback undoes.
    assert moved_on("production", v3, v3, under_way="deploying", newest=killed) is None
    # Another change after that deploy: the general rule (what was served then is gone).
    later = history(("rollback", "v2", "succeeded")) + went_live
    assert moved_on("production", v2, v2, under_way="deploying", newest=later) is None
    said = moved_on("production", v3, v2, under_way="deploying", newest=later)
    assert said is not None and "changed while this rollback waited" in said
    # The holder then was someone else's rollback: the general rule too.
    rolling_back = by(
        "other", history(("rollback", "v2", "started"), ("rollback", "v2", "succeeded"))
    )
    assert moved_on("production", v3, v2, under_way="other", newest=rolling_back) is not None
