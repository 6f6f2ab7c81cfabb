"""Served flow runs start from a warm fork server (releasegate/warm_start.py): the run's
process is forked from a process that already imported Prefect and the flows, not spawned.
This fails if Prefect stops asking `multiprocessing` for a context where it starts a run."""

from __future__ import annotations

import multiprocessing.context
import os
import sys
from pathlib import Path

import pytest
from prefect import flow, flow_engine

from releasegate import warm_start


@flow
def note_the_process(path: str) -> None:
    """What a served run's process looks like from inside."""
    loaded = "releasegate.flows.rollback" in sys.modules
    Path(path).write_text(f"{os.getpid()} {os.getppid()} {loaded}")


def test_a_run_started_the_way_the_runner_starts_one_comes_from_the_warm_fork_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not a mock: install() replaces Prefect's module global; this puts the original back
    # after the test, so later tests start their runs the way Prefect does by default.
    monkeypatch.setattr(flow_engine, "multiprocessing", flow_engine.multiprocessing)
    warm_start.install()
    warm_start.install()  # idempotent
    seen = tmp_path / "seen"
    process = flow_engine.run_flow_in_subprocess(note_the_process, parameters={"path": str(seen)})
    assert isinstance(process, multiprocessing.context.ForkServerProcess)
    process.join(timeout=120)
    assert process.exitcode == 0
    pid, parent, loaded = seen.read_text().split()
    assert int(pid) == process.pid
    assert int(parent) != os.getpid()  # forked by the fork server, not by this process
    assert loaded == "True"  # the flows were imported before the run began
