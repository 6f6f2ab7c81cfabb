"""A change that happened is recorded as having happened, whatever fails afterwards.

The audit store below is an S3 bucket the pipeline may list and write but not read (a real
identity on the real server): every record is stored, but publishing the history table,
which reads the trail back after the change, fails for real.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.logging.configuration import ensure_logging_setup

from releasegate.audit.s3 import S3AuditStore
from tests.flows.conftest import serving

# Prefect configures logging once, on first use, replacing the root logger's handlers (and
# with them pytest's log capture): done now, before the test's capture starts.
ensure_logging_setup()


def test_a_failing_history_table_after_the_change_leaves_a_completed_run(
    make_setup: Any,
    seaweedfs: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bucket = f"audit-{uuid.uuid4().hex[:12]}"
    seaweedfs.client().create_bucket(Bucket=bucket)
    for name, value in seaweedfs.env(blind=True).items():
        monkeypatch.setenv(name, value)
    setup = make_setup(top={"audit": f"s3://{bucket}/trail"})

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
