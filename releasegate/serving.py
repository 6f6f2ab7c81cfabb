"""`releasegate serve`: the flows as Prefect deployments, run by this process.

This is what makes the Prefect UI a front door: a quick run of `rollback/releasegate`
restores the previous good version of production (one click: only a reason is asked),
and a `releasegate.push` event (from a webhook receiver, CI, or `prefect event emit`)
starts `deploy/releasegate` for the pushed version.

The configuration is pinned by this process: flows take no `config` parameter and read
RELEASEGATE_CONFIG, which their runs (subprocesses of this one) inherit. Every parameter a
deployment does take is typed with the vocabulary's rules, so the Prefect server refuses a
run with a bad one (the schema) and the flow refuses it again (pydantic) before any change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prefect import Flow, serve
from prefect.deployments.runner import RunnerDeployment
from prefect.events import DeploymentEventTrigger

from releasegate.config import Config
from releasegate.flows.deploy import deploy
from releasegate.flows.rollback import rollback
from releasegate.tasks.lock import ensure_limits
from releasegate.tasks.zombies import ensure_zombie_detection

NAME = "releasegate"
PUSH_EVENT = "releasegate.push"


def push_trigger() -> DeploymentEventTrigger:
    """Deploy what a push event names: payload {version, branch, commit, actor}. The actor
    is a claim: an event proves nothing about who pushed."""
    return DeploymentEventTrigger(
        name="deploy on push",
        expect={PUSH_EVENT},
        parameters={
            "version": "{{ event.payload.version }}",
            "branch": "{{ event.payload.branch }}",
            "commit": "{{ event.payload.commit }}",
            "actor": "{{ event.payload.actor }}",
        },
    )


def run(config: Path, settings: Config) -> None:
    """Serve both flows until interrupted (SIGTERM/Ctrl-C pauses their triggers), on
    `config` (pinned for every run: never a run parameter).

    First the server side is made ready: every environment's lock and the automation that
    marks dead runs Crashed (the flows make sure of both again, idempotently).
    """
    os.environ["RELEASEGATE_CONFIG"] = str(config)
    ensure_limits(settings)
    ensure_zombie_detection()
    serve(
        *(_made(flow.to_deployment(name=NAME, **options)) for flow, _, options in specs(settings))
    )


def specs(settings: Config) -> list[tuple[Flow[..., Any], str, dict[str, Any]]]:
    """Each deployment: its flow, its entrypoint in a checkout, and its options. `serve`
    runs them here; `releasegate setup` registers them for a worker; `prefect.yaml`
    declares the same (a test keeps the three in agreement)."""
    production = settings.pipeline()[-1]
    return [
        (
            deploy,
            "flows/deploy.py:deploy",
            {
                "triggers": [push_trigger()],
                "description": "Build and promote a version through every environment.",
            },
        ),
        (
            rollback,
            "flows/rollback.py:rollback",
            {
                "parameters": {"environment": production},
                "description": "Restore the previous good version (or `to`: a version or "
                "run id). A reason is required.",
            },
        ),
    ]


def _made(made: Any) -> RunnerDeployment:
    # Called from synchronous code, Prefect's dual sync/async methods return the value.
    assert isinstance(made, RunnerDeployment)
    return made
