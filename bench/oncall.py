"""Benchmark: the on-call paths, on real processes against a real Prefect server.

Measures, each from the request to the URL answering the expected version (polled every
5 ms by this process):

* a UI quick run of the served `rollback` deployment (the API call the UI makes,
  `POST /deployments/{id}/create_flow_run`), run by `releasegate serve`;
* the same rollback flow called in-process (the floor: the traffic switch, its checks and
  the audit records);
* `releasegate rollback production` started as a new process from a terminal;
* a push, until staging answers the pushed version: a run of the served `deploy`
  deployment (as a webhook receiver starts one), and a `releasegate.push` event (a Prefect
  automation starts the run).

The served paths are measured after one unmeasured quick run: `releasegate serve` has
been up for a while when on-call needs it.

Prints a table and ends with exactly one line:
`oncall: served_rollback_p95_s=A inprocess_rollback_p50_s=B push_to_staging_p50_s=C
cli_rollback_p50_s=D` (one line; push: the run of the deploy deployment).

    .venv/bin/python bench/oncall.py [--rounds 10]

Targets (issue 11): served and CLI rollbacks within 2.5 s at p95 and within 5x of the
in-process rollback; a push has staging answering within 4 s at the median. Timing on a
shared machine is noisy: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support

from releasegate import prefect_server, processes  # noqa: E402
from releasegate.deployment_names import deploy_name, rollback_name  # noqa: E402
from tests.support.answering import SMOKE, percentile, seconds_until, version_of  # noqa: E402
from tests.support.toml import table  # noqa: E402

RELEASEGATE = str(Path(sys.executable).with_name("releasegate"))
INPROCESS = "rollback: flow called in-process"
SERVED = "rollback: UI quick run, served"
CLI = "rollback: `releasegate rollback`, new process"
PUSH = "push: run of deploy/webapp -> staging"
NAMES = {"deploy": deploy_name("webapp"), "rollback": rollback_name("webapp", "production")}
EVENT = "push: releasegate.push event -> staging"


def write_config(work: Path) -> tuple[Path, dict[str, str]]:
    urls = {env: f"http://127.0.0.1:{processes.free_port()}" for env in ("staging", "production")}
    lines = table(None, {"home": work / "home"})
    lines += table("app", {"name": "webapp", "source": ROOT / "examples/webapp"})
    lines += table("environments.staging", {"url": urls["staging"], "smoke": SMOKE})
    lines += table(
        "environments.production",
        {"url": urls["production"], "requires": "staging", "smoke": SMOKE},
    )
    path = work / "oncall.toml"
    path.write_text("\n".join(lines) + "\n")
    return path, urls


def rolled_back(prod: str, tag: str, action: Callable[[], Any]) -> float:
    """Deploy a new version (not timed), then seconds from `action` until `prod` answers the
    version before it again. A new version each round: a rolled-back version is quarantined,
    so rolling back and forth between two would be refused (issue 13). The deploy's logs and
    events are sent before the clock starts: on-call rolls back a deploy made earlier, not
    one whose last writes still race the rollback's on a SQLite server."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    from releasegate.flows.deploy import deploy

    before = version_of(prod)
    assert before is not None, f"{prod} answers no version"
    deploy(version=tag, actor="dave")
    APILogWorker.drain_all()
    EventsWorker.drain_all()
    return seconds_until(prod, before, action)


def settle(run_id: Any) -> None:
    """Wait until a flow run is final, so the next round starts from a quiet state."""
    from prefect.client.orchestration import get_client

    def final() -> bool:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(run_id).state
        return state is not None and state.is_final()

    processes.wait_until(final, timeout=180, interval=0.1, what=f"flow run {run_id}")


def run_of(deployment_id: Any, **parameters: Any) -> Any:
    """What the UI's Run -> Quick run does (and a webhook receiver): a flow run of the
    deployment, its defaults plus the parameters given."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.create_flow_run_from_deployment(deployment_id, parameters=parameters).id


def push(deployment_id: Any | None, version: str) -> None:
    """A push of `version`: a run of the deploy deployment (as a webhook receiver starts
    one), or with no deployment id, a `releasegate.push` event."""
    from prefect.events import emit_event

    payload = {"version": version, "branch": "main", "commit": f"c-{version}", "actor": "dave"}
    if deployment_id is not None:
        run_of(deployment_id, **payload)
    else:
        emit_event(
            event="releasegate.push",
            resource={"prefect.resource.id": "releasegate.repo.webapp"},
            payload=payload,
        )


def pushed(urls: dict[str, str], deployment_id: Any | None, version: str) -> float:
    """Seconds until staging answers `version`; returns once production does too."""
    seconds = seconds_until(urls["staging"], version, lambda: push(deployment_id, version))
    processes.wait_until(
        lambda: version_of(urls["production"]) == version, timeout=180, interval=0.1, what=version
    )
    return seconds


def quick_rollback(prod: str, tag: str, deployment_id: Any) -> float:
    run: list[Any] = []
    seconds = rolled_back(
        prod, tag, lambda: run.append(run_of(deployment_id, reason="on-call bench"))
    )
    settle(run[0])
    return seconds


def serve(config: Path, log: Path) -> tuple[Any, dict[str, Any]]:
    """`releasegate serve` on `config`; its process and deployment ids, once registered."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    server = processes.spawn([RELEASEGATE, "serve", "--config", str(config)], log=log)
    ids: dict[str, Any] = {}

    def registered() -> bool:
        with get_client(sync_client=True) as client:
            try:
                for kind, name in NAMES.items():
                    ids[kind] = client.read_deployment_by_name(name).id
            except ObjectNotFound:  # not registered yet; any other error is the bench's
                return False
        return True

    processes.wait_until(registered, timeout=120, interval=0.5, what="releasegate serve")
    return server, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    rounds = range(args.rounds)
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="releasegate-oncall-"))
    os.environ.pop("PREFECT_API_URL", None)
    info = prefect_server.start(work, port=processes.free_port())
    os.environ.update(
        {
            "PREFECT_API_URL": str(info["api_url"]),
            **prefect_server.quiet_env(),
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_HOME": str(work / "client"),
            "RELEASEGATE_ACTOR": "oncall",
        }
    )
    from releasegate.flows.deploy import deploy
    from releasegate.flows.rollback import rollback
    from releasegate.targets.local.target import down

    config, urls = write_config(work)
    os.environ["RELEASEGATE_CONFIG"] = str(config)
    prod = urls["production"]
    cli = [RELEASEGATE, "rollback", "production", "-r", "on-call bench", "--config", str(config)]
    results: dict[str, list[float]] = {}
    server = None
    try:
        deploy(version="v1", actor="dave")
        results[INPROCESS] = [
            rolled_back(prod, f"i{n}", lambda: rollback("production", "on-call bench"))
            for n in rounds
        ]
        server, ids = serve(config, work / "serve.log")
        deploy(version="warm", actor="dave")
        settle(run_of(ids["rollback"], reason="warm-up"))
        results[SERVED] = [quick_rollback(prod, f"q{n}", ids["rollback"]) for n in rounds]
        results[CLI] = [
            rolled_back(prod, f"c{n}", lambda: subprocess.run(cli, check=True, capture_output=True))
            for n in rounds
        ]
        results[PUSH] = [pushed(urls, ids["deploy"], f"r{n}") for n in rounds]
        results[EVENT] = [pushed(urls, None, f"e{n}") for n in rounds]
    finally:
        if server is not None:
            processes.stop(server.pid)
        down(work / "home")
        prefect_server.stop(work)
    report(results, load_before, os.getloadavg(), args.rounds)


def report(
    results: dict[str, list[float]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    rounds: int,
) -> None:
    inprocess = statistics.median(results[INPROCESS])
    print(f"\nOn-call paths, request -> the URL answering the expected version ({rounds} rounds)")
    print(f"  {'path':<50} {'median':>7} {'p95':>7} {'worst':>7} {'x in-process':>13}")
    for name, values in results.items():
        median = statistics.median(values)
        print(
            f"  {name:<50} {median:7.2f} {percentile(values, 0.95):7.2f} {max(values):7.2f}"
            f" {median / inprocess:12.1f}x"
        )
    print(
        "  targets: served and CLI rollback p95 <= 2.5 s and <= 5x in-process; "
        "push -> staging median <= 4 s"
    )
    print(
        f"  load average (1/5/15 min, 2 cores shared with other work): before "
        f"{load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, after "
        f"{load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f}: figures are noisy"
    )
    served = percentile(results[SERVED], 0.95)
    push = statistics.median(results[PUSH])
    cli = statistics.median(results[CLI])
    print(
        f"oncall: served_rollback_p95_s={served:.2f} inprocess_rollback_p50_s={inprocess:.2f} "
        f"push_to_staging_p50_s={push:.2f} cli_rollback_p50_s={cli:.2f}"
    )


if __name__ == "__main__":
    main()
