"""A change that happened is recorded as having happened, whatever fails afterwards.

A run reads the trail before it changes anything (the trigger order, the outdated gate,
what a crash left), so a store that cannot be read stops a run before any change: shown
with an S3 identity that may list and write but not read (real, on the real server). A
read that fails *after* the change (the history table, the dashboard's figures) is injected
into releasegate's own readers for them, the one place it can be made to fail alone.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.logging.configuration import ensure_logging_setup

from releasegate.audit.s3 import S3AuditStore
from releasegate.audit.store import AuditUnavailable
from tests.flows.conftest import serving

# Prefect configures logging once, on first use, replacing the root logger's handlers (and
# with them pytest's log capture): done now, before the test's capture starts.
ensure_logging_setup()


def test_a_trail_that_cannot_be_read_stops_a_run_before_any_change(
    make_setup: Any, seaweedfs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"audit-{uuid.uuid4().hex[:12]}"
    seaweedfs.client().create_bucket(Bucket=bucket)
    for name, value in seaweedfs.env(blind=True).items():
        monkeypatch.setenv(name, value)
    setup = make_setup(top={"audit": f"s3://{bucket}/trail"})

    code, out = setup.cli("deploy", "v1", "--actor", "dave")

    assert code == 1 and "access denied" in out and "Traceback" not in out
    trail = S3AuditStore(bucket, "trail", client=seaweedfs.client())  # full rights, to read
    assert [r for r in trail.newest("production") if r.kind == "deploy"] == []
    for url in setup.urls.values():  # nothing was started anywhere
        with pytest.raises(httpx.ConnectError):
            serving(url)


def test_a_failing_history_table_after_the_change_leaves_a_completed_run(
    make_setup: Any,
    seaweedfs: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bucket = f"audit-{uuid.uuid4().hex[:12]}"
    seaweedfs.client().create_bucket(Bucket=bucket)
    for name, value in seaweedfs.env().items():
        monkeypatch.setenv(name, value)
    setup = make_setup(top={"audit": f"s3://{bucket}/trail"})

    def unreadable(*_: Any, **__: Any) -> Any:
        raise AuditUnavailable(
            f"audit store s3://{bucket}/trail/: cannot read a record: access denied"
        )

    monkeypatch.setattr("releasegate.tasks.audit.latest", unreadable)
    monkeypatch.setattr("releasegate.tasks.audit.build", unreadable)
    code, out = setup.cli("deploy", "v1", "--actor", "dave")

    assert code == 0, out
    assert "deployed v1" in out
    assert serving(setup.urls["production"]) == "v1"
    trail = S3AuditStore(bucket, "trail", client=seaweedfs.client())  # full rights, to read
    records = list(trail.newest("production"))
    done = records[0]
    assert (done.kind, done.status, done.version) == ("deploy", "succeeded", "v1")
    assert [r.status for r in records if r.kind == "deploy"] == ["succeeded", "started"]
    assert done.flow_run_id is not None
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(uuid.UUID(done.flow_run_id))
        assert run.state is not None and run.state.type == StateType.COMPLETED
    # Said in the run log, as a warning, and nowhere turned into a failure.
    history = [
        r.getMessage()
        for r in caplog.records
        if r.name == "prefect.task_runs"
        and r.levelname == "WARNING"
        and "publish_history failed" in r.getMessage()
    ]
    assert len(history) == 1, caplog.text
    assert f"audit store s3://{bucket}/trail/: cannot" in history[0]
    assert "access denied" in history[0] and "Traceback" not in out
    figures = [
        r.getMessage()
        for r in caplog.records
        if r.levelname == "WARNING" and "publish_figures failed" in r.getMessage()
    ]
    assert len(figures) == 1 and "access denied" in figures[0], caplog.text
