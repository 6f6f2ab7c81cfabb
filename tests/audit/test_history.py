"""History for people: one row per change, and a crash mid-deploy shows, not vanishes."""

from __future__ import annotations

from pathlib import Path

from releasegate.audit.file import FileAuditStore
from releasegate.history import changes
from tests.support.records import make_entry


def test_each_change_shows_once_and_an_unfinished_one_shows_as_started(tmp_path: Path) -> None:
    store = FileAuditStore(tmp_path)

    def add(kind: str, version: str, status: str, op: str | None) -> None:
        store.append(make_entry(kind=kind, version=version, status=status, operation_id=op))

    add("deploy", "v1", "started", "a")
    add("deploy", "v1", "succeeded", "a")
    add("approval", "v2", "accepted", None)
    add("deploy", "v2", "started", "b")  # the run crashed here: no outcome record
    rows = [(r.kind, r.version, r.status) for r in changes(store.newest("production"))]
    assert rows == [("deploy", "v2", "started"), ("deploy", "v1", "succeeded")]
    everything = [r.kind for r in changes(store.newest("production"), everything=True)]
    assert everything == ["deploy", "approval", "deploy"]
