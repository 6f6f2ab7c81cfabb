"""Release trains through the real flows: a push stops before the train's environment; the
`promote` flow takes the newest version that passed upstream (its digest, not a rebuild),
skips a quarantined one, and ends Completed with one line when there is nothing new."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, FlowRunFilter
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.states import Scheduled, State

from releasegate import processes
from releasegate.audit.record import AuditRecord
from releasegate.deployment_names import promote_name, reconcile_name
from releasegate.flows.deploy import deploy
from releasegate.flows.promote import promote
from releasegate.policy.quarantine import QUARANTINE
from releasegate.wiring import open_store
from tests.flows.conftest import serving
from tests.support.records import make_entry

TRAIN = {"schedule": {"cron": "0 10 * * 1-4", "timezone": "Europe/Berlin"}}


def promoted(setup: Any) -> State:
    state = setup.call(promote, environment="production", return_state=True)
    assert isinstance(state, State)
    return state


def succeeded(setup: Any, environment: str) -> list[AuditRecord]:
    return [r for r in setup.records("deploy", environment) if r.status == "succeeded"]


def test_promote_takes_what_passed_staging_and_skips_quarantine(make_setup) -> None:
    setup = make_setup(staging={}, production=TRAIN)
    prod = setup.urls["production"]

    nothing = promoted(setup)
    assert nothing.is_completed()
    assert nothing.message == "nothing new to promote: no version has passed staging yet"

    setup.call(deploy, version="v1", actor="dave")
    assert serving(setup.urls["staging"]) == "v1"
    assert not setup.records("deploy")  # the push stopped before the train's environment

    first = promoted(setup)
    assert first.is_completed() and first.result() == "v1"
    assert serving(prod) == "v1"
    built, shipped = succeeded(setup, "staging")[0], succeeded(setup, "production")[0]
    assert shipped.artifact == built.artifact  # staging's verified digest, not rebuilt
    # The version keeps its author (self-review prevention) and its place in the order.
    assert shipped.actor == built.actor == "dave"
    assert shipped.trigger_seq == built.trigger_seq is not None

    again = promoted(setup)
    assert again.is_completed() and again.message == (
        "nothing new to promote: production already runs v1"
    )

    for version in ("v2", "v3"):
        setup.call(deploy, version=version, actor="dave")
    # v3 quarantined in production, as a rollback there records it (a real rollback would
    # come later in the trigger order than v2, leaving nothing newer to promote).
    open_store(setup.load()).append(
        make_entry(
            QUARANTINE,
            kind="quarantine",
            status="quarantined",
            version="v3",
            artifact=succeeded(setup, "staging")[0].artifact,
            reason="rolled back from production by carol",
            details={"environment": "production"},
        )
    )
    skipping = promoted(setup)
    assert skipping.is_completed() and skipping.result() == "v2"
    assert serving(prod) == "v2"

    last = promoted(setup)
    assert last.message == (
        "nothing new to promote: production already runs v2; v3 is quarantined in "
        "production (rolled back from production by carol)"
    )
    code, out = setup.cli("audit", "verify")
    assert code == 0, out


def served(name: str) -> bool:
    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(name)
        except ObjectNotFound:
            return False
    return True


def schedules_of(name: str) -> list[Any]:
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(name)
    return [  # what each schedule says (an interval's anchor is the time it was made)
        (s.schedule.cron, s.schedule.timezone)
        if isinstance(s.schedule, CronSchedule)
        else s.schedule.interval
        if isinstance(s.schedule, IntervalSchedule)
        else s.schedule
        for s in deployment.schedules
        if s.active
    ]


def scheduled_runs(deployment_id: Any) -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id={"any_": [deployment_id]}),
            flow_run_filter=FlowRunFilter(state={"type": {"any_": ["SCHEDULED"]}}),
        )
    return sorted(runs, key=lambda r: r.expected_start_time or datetime.max.replace(tzinfo=UTC))


def finished(run_id: Any) -> FlowRun | None:
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
    return run if run.state is not None and run.state.is_final() else None


def test_serve_runs_the_train_on_its_schedule(make_setup, tmp_path: Path) -> None:
    """`releasegate serve` registers `promote/<app>-production` (its environment frozen)
    with the configured cron schedule and `reconcile/<app>` with its interval (both from
    `serving.specs`, as `releasegate setup` registers them); the Prefect server schedules runs at
    exactly the train's times (10:00 Berlin, Monday to Thursday). The first scheduled run,
    made due now, is run by serve and ends Completed with its one-line reason; a manual
    (quick) run of the same deployment promotes."""
    setup = make_setup(staging={}, production=TRAIN, top={"reconcile": {"every": "1h"}})
    berlin = ZoneInfo("Europe/Berlin")
    server = processes.spawn(
        [str(Path(sys.executable).with_name("releasegate")), "serve", "--config", str(setup.path)],
        log=tmp_path / "serve.log",
        env={**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": "1", "RELEASEGATE_ACTOR": "train"},
    )
    train_name = promote_name(setup.app, "production")
    try:
        expected_schedules = {
            train_name: ("0 10 * * 1-4", "Europe/Berlin"),
            reconcile_name(setup.app): timedelta(hours=1),
        }
        # Another test's serve may have left these names; reconcile's 1h is this serve's,
        # and it registers reconcile last.
        processes.wait_until(
            lambda: all(
                served(name) and schedules_of(name) == [schedule]
                for name, schedule in expected_schedules.items()
            ),
            timeout=60,
            interval=0.5,
            what="the train and reconcile deployments registered by releasegate serve",
        )
        with get_client(sync_client=True) as client:
            train = client.read_deployment_by_name(train_name)
        assert train.parameters == {"environment": "production"}
        with pytest.raises(PrefectHTTPStatusError, match="409"):  # frozen: no other environment
            run_deployment(train_name, parameters={"environment": "staging"}, timeout=0)

        found: list[FlowRun] = []
        processes.wait_until(
            lambda: bool(found.extend(scheduled_runs(train.id)) or found),
            timeout=60,
            interval=0.5,
            what="runs scheduled by the Prefect server for the train",
        )
        times = [  # as standard datetimes (Prefect's are Pendulum's)
            datetime.fromtimestamp(r.expected_start_time.timestamp(), berlin)
            for r in found
            if r.expected_start_time
        ]
        expected = CronSim("0 10 * * 1-4", datetime.now(berlin).replace(tzinfo=None))
        assert times[0].replace(tzinfo=None) == next(expected)
        assert all((t.hour, t.minute, t.second) == (10, 0, 0) for t in times)
        assert {t.isoweekday() for t in times} <= {1, 2, 3, 4}

        # The train's next run, made due now: serve runs it, and there is nothing to take.
        first = found[0]
        with get_client(sync_client=True) as client:
            soon = datetime.now(UTC) + timedelta(seconds=2)
            client.set_flow_run_state(first.id, Scheduled(scheduled_time=soon), force=True)
        done: list[FlowRun] = []
        processes.wait_until(
            lambda: bool((run := finished(first.id)) and done.append(run) is None),
            timeout=90,
            interval=0.5,
            what="the scheduled promote run to finish",
        )
        state = done[0].state
        assert state is not None and state.is_completed(), (tmp_path / "serve.log").read_text()
        assert state.message == "nothing new to promote: no version has passed staging yet"

        setup.call(deploy, version="v1", actor="dave")
        manual = run_deployment(train_name, timeout=120)
        assert manual.state is not None and manual.state.is_completed()
        assert serving(setup.urls["production"]) == "v1"
    finally:
        processes.stop(server.pid)
