"""Benchmark: the whole pipeline on the local target, against a real Prefect server.

Prints:
* the wall time of one deploy (staging + production, two signed approvals), split into
  configured waits (wait timer), approval time (paused), app start-up and smoke checks
  (the rollout and verify task runs), build, and the rest: Prefect's own overhead;
* the rollback time, from the request to the previous version answering on the URL,
  for the flow called in-process and for `releasegate rollback` as a new process;
* requests and failed requests under continuous load across a deploy and a rollback.

    .venv/bin/python bench/pipeline.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support

from releasegate import prefect_server, processes  # noqa: E402
from tests.support.answering import SMOKE, seconds_until  # noqa: E402
from tests.support.people import approve_all, proof  # noqa: E402
from tests.support.toml import table  # noqa: E402
from tests.support.traffic import Traffic  # noqa: E402

WAIT_TIMER = 2.0


def write_config(work: Path) -> tuple[Path, dict[str, str]]:
    urls = {env: f"http://127.0.0.1:{processes.free_port()}" for env in ("staging", "production")}
    lines = table(
        None, {"home": work / "home", "allowed_signers": ROOT / "examples/keys/allowed_signers"}
    )
    lines += table("app", {"name": "webapp", "source": ROOT / "examples/webapp"})
    lines += table("groups", {"release-managers": ["alice", "bob", "carol"]})
    lines += table("environments.staging", {"url": urls["staging"], "smoke": SMOKE})
    lines += table("environments.production", {
        "url": urls["production"], "requires": "staging", "smoke": SMOKE,
        "wait_timer": f"{WAIT_TIMER:g}s",
        "approvals": {"required": 2, "from": "release-managers", "signed": True},
    })  # fmt: skip
    path = work / "bench.toml"
    path.write_text("\n".join(lines) + "\n")
    return path, urls


def split(flow_run_id: Any) -> dict[str, float]:
    """Seconds per part of one deploy run, from Prefect's own records of its task runs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
        states = client.read_flow_run_states(flow_run_id)
    paused = 0.0
    for state, after in itertools.pairwise(states):
        if state.type.value == "PAUSED":
            paused += (after.timestamp - state.timestamp).total_seconds()
    by_task: dict[str, float] = {}
    for task in tasks:
        name = task.name.rsplit("-", 1)[0]
        by_task[name] = by_task.get(name, 0.0) + task.total_run_time.total_seconds()
    total = run.total_run_time.total_seconds() + paused
    parts = {
        "wait timer (configured)": WAIT_TIMER,
        "approvals (paused, 2 signed)": paused,
        "app start-up + candidate smoke (roll_out)": by_task.get("roll_out", 0.0),
        "verify on the live URL": by_task.get("verify", 0.0),
        "build": by_task.get("build", 0.0),
    }
    parts["Prefect overhead + audit writes (rest)"] = total - sum(parts.values())
    parts["total"] = total
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="releasegate-bench-"))
    os.environ.pop("PREFECT_API_URL", None)
    info = prefect_server.start(work)
    os.environ.update(
        {
            "PREFECT_API_URL": str(info["api_url"]),
            **prefect_server.quiet_env(),
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_HOME": str(work / "client"),
        }
    )
    from releasegate.flows.deploy import deploy
    from releasegate.flows.rollback import rollback
    from releasegate.targets.local.target import down

    config, urls = write_config(work)
    os.environ["RELEASEGATE_CONFIG"] = str(config)  # the flows read it, as served ones do
    prod = urls["production"]
    walls: list[dict[str, float]] = []
    rollbacks_flow, rollbacks_cli = [], []
    failures, requests = 0, 0
    try:
        # Production must be serving before the load starts: a first deploy, not measured.
        reviewers = approve_all("base", "alice", "bob", patience=120)
        deploy(version="base", actor="dave", proof=proof("base"))
        reviewers.join()
        for i in range(args.rounds):
            for version in (f"r{i}a", f"r{i}b"):
                reviewers = approve_all(version, "alice", "bob", patience=120)
                with Traffic(prod, max_seconds=300).running() as load:
                    started = time.perf_counter()
                    state = deploy(
                        version=version,
                        actor="dave",
                        proof=proof(version),
                        return_state=True,
                    )
                    wall = time.perf_counter() - started
                reviewers.join()
                requests += load.count
                failures += len(load.failures)
                if load.failures:
                    print("deploy", version, len(load.failures), load.failures[:3])
                parts = split(state.state_details.flow_run_id)
                parts["wall clock (caller)"] = wall
                walls.append(parts)
            with Traffic(prod, max_seconds=300).running() as load:
                rollbacks_flow.append(
                    seconds_until(
                        prod,
                        f"r{i}a",
                        lambda: rollback(environment="production", reason="bench"),
                    )
                )
                rollbacks_cli.append(
                    seconds_until(
                        prod,
                        f"r{i}b",
                        lambda: subprocess.run(
                            [
                                str(Path(sys.executable).parent / "releasegate"),
                                "rollback",
                                "production",
                                "--reason",
                                "bench",
                                "--config",
                                str(config),
                            ],
                            check=True,
                            capture_output=True,
                        ),
                    )
                )
            requests += load.count
            failures += len(load.failures)
            if load.failures:
                print("rollback", len(load.failures), load.failures[:3])
    finally:
        down(work / "home")
        prefect_server.stop(work)

    print(
        f"\nPipeline: staging + production, 2 signed approvals, wait timer {WAIT_TIMER:g}s "
        f"(median of {len(walls)} deploys, seconds)"
    )
    for key in walls[0]:
        print(f"  {key:<44} {statistics.median(w[key] for w in walls):8.2f}")
    print("\nRollback, request -> previous version answering on the production URL (seconds)")
    print(f"  {'flow called in-process (median)':<44} {statistics.median(rollbacks_flow):8.2f}")
    print(
        f"  {'releasegate rollback, new process (median)':<44} "
        f"{statistics.median(rollbacks_cli):8.2f}"
    )
    print("\nContinuous load on the production URL across every deploy and rollback above")
    print(f"  {'requests':<44} {requests:8d}")
    print(f"  {'failed requests':<44} {failures:8d}")


if __name__ == "__main__":
    main()
