"""`releasegate serve`: the flows as Prefect deployments, run by this process.

This is what makes the Prefect UI a front door: a quick run of
`rollback/<app>-<environment>` restores that environment's previous good version (one
click: only a reason is asked; the environment is frozen into the deployment), and a
`releasegate.push` event (from a webhook receiver, CI, or `prefect event emit`) starts
`deploy/<app>` for the pushed version; each release train's `promote/<app>-<environment>`
runs on its schedule and `reconcile/<app>` looks for drift at its interval. `specs` is the
one place these are named, described and scheduled: `serve` runs them here, `releasegate
setup` (provision) registers them for workers.

The configuration is pinned by this process: flows take no `config` parameter and read
RELEASEGATE_CONFIG, which their runs (subprocesses of this one) inherit. Every parameter a
deployment does take is typed with the vocabulary's rules, so the Prefect server refuses a
run with a bad one (the schema) and the flow refuses it again (pydantic) before any change.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any, NamedTuple

from prefect import Flow
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.events import DeploymentEventTrigger
from prefect.exceptions import TerminationSignal
from prefect.runner import Runner
from prefect.utilities.annotations import freeze

from releasegate import handoff, warm_start
from releasegate.config import Config
from releasegate.deployment_names import deploy_name, promote_name, reconcile_name, rollback_name
from releasegate.duration import format_duration
from releasegate.flows.deploy import deploy
from releasegate.flows.promote import promote
from releasegate.flows.reconcile import reconcile
from releasegate.flows.rollback import rollback
from releasegate.tasks.lock import ensure_limits
from releasegate.tasks.zombies import ensure_zombie_detection

PUSH_EVENT = "releasegate.push"
POLL_SECONDS = 0.5
"""How often the runner asks the Prefect server for runs to start (one cheap query), unless
PREFECT_RUNNER_POLL_FREQUENCY says otherwise: Prefect's default, 10 s, is on average 5 s
(and up to 10 s) between an on-call engineer's click and the rollback starting."""


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


class Spec(NamedTuple):
    """One deployment: its flow, its entrypoint in a checkout, its full name, its options."""

    flow: Flow[..., Any]
    entrypoint: str
    full_name: str
    options: dict[str, Any]

    @property
    def name(self) -> str:
        """The deployment's own name (after `flow/`)."""
        flow_name, _, name = self.full_name.partition("/")
        assert flow_name == self.flow.name, (flow_name, self.flow.name)
        return name


def run(config: Path, settings: Config) -> None:
    """Serve every deployment until interrupted (SIGTERM/Ctrl-C pauses their triggers), on
    `config` (pinned for every run: never a run parameter).

    First the server side is made ready: every environment's lock and the automation that
    marks dead runs Crashed (the flows make sure of both again, idempotently). Runs start
    within about POLL_SECONDS of being scheduled, in a process forked from a warm one.
    """
    os.environ["RELEASEGATE_CONFIG"] = str(config)
    ensure_limits(settings)
    ensure_zombie_detection()
    warm_start.install()
    poll = float(os.environ.get("PREFECT_RUNNER_POLL_FREQUENCY") or POLL_SECONDS)
    # `Runner.add_flow`, not `serve(flow.to_deployment(...))`: only a runner that holds the
    # flow object starts its runs in a forked process (`run_flow_in_subprocess`); a
    # deployment alone is run by `python -m prefect.engine`, a fresh interpreter per run.
    runner = Runner(query_seconds=poll, pause_on_shutdown=True)
    # Which configuration this process pins: `releasegate rollback` on the same one hands
    # its rollback to this process (releasegate/handoff.py).
    tags = [handoff.config_tag(config)]
    for spec in specs(settings):
        runner.add_flow(spec.flow, name=spec.name, tags=tags, **spec.options)
    # Stopped by a signal: the runner pauses the deployments' triggers on its way out.
    with contextlib.suppress(KeyboardInterrupt, TerminationSignal):
        asyncio.run(runner.start())


def names(settings: Config) -> list[str]:
    """The full names of every deployment of `settings`' app."""
    return [spec.full_name for spec in specs(settings)]


def specs(settings: Config) -> list[Spec]:
    """Each deployment, named for what it does: `deploy/<app>`, and one
    `rollback/<app>-<environment>` per environment whose environment is frozen (the form
    shows it read-only and the server refuses any other), so a quick run asks only for a
    reason; `promote/<app>-<environment>` per release train (`schedule` on an environment,
    its environment frozen too) at the train's cron times, and `reconcile/<app>` every
    `[reconcile] every`. `serve` runs them here; `releasegate setup` registers them for a
    worker; `prefect.yaml` declares the same for the demo app (a test keeps the three in
    agreement)."""
    app = settings.app.name
    made = [
        Spec(
            deploy,
            "flows/deploy.py:deploy",
            deploy_name(app),
            {
                "triggers": [push_trigger()],
                "description": f"Build {app} at a version and promote it through every "
                "environment, behind their gates and approvals.",
            },
        )
    ]
    for environment in settings.pipeline():
        made.append(
            Spec(
                rollback,
                "flows/rollback.py:rollback",
                rollback_name(app, environment),
                {
                    "parameters": {"environment": freeze(environment)},
                    "description": f"Restore {app} on {environment} to its previous good "
                    "version (or `to`: a version or run id). A reason is required.",
                },
            )
        )
    for environment, env in settings.environments.items():
        if env.schedule is not None:
            made.append(
                Spec(
                    promote,
                    "flows/promote.py:promote",
                    promote_name(app, environment),
                    {
                        "parameters": {"environment": freeze(environment)},
                        "schedules": [
                            CronSchedule(cron=env.schedule.cron, timezone=env.schedule.timezone)
                        ],
                        "description": f"Release train into {environment}: promote what "
                        f"passed {env.requires} ({env.schedule.describe()}); a quick run "
                        "promotes now.",
                    },
                )
            )
    every = settings.reconcile.every
    made.append(
        Spec(
            reconcile,
            "flows/reconcile.py:reconcile",
            reconcile_name(app),
            {
                "schedules": [IntervalSchedule(interval=every)],
                "description": f"Every {format_duration(every)}: compare what each target "
                "serves with the audit trail; record drift (and restore the recorded version where "
                "self_heal is on).",
            },
        )
    )
    return made
