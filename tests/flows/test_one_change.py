"""One change per environment at a time, with real flows on the real Prefect server: runs
racing for production, a rollback during a deploy, the automatic rollback inside the
deploy's hold, and what a waiting `releasegate` prints."""

from __future__ import annotations

import itertools
import logging
import os
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from releasegate import processes
from releasegate.audit.record import AuditRecord
from releasegate.demo import in_background
from releasegate.errors import Blocked, DeployFailed
from releasegate.flows.deploy import deploy
from releasegate.flows.rollback import rollback
from releasegate.tasks.lock import Holder, hold, holder_variable
from releasegate.wiring import open_store
from tests.flows.conftest import Setup, broken_source, serving
from tests.support.answering import SMOKE
from tests.support.people import pinned_app


def holder(environment: str = "production") -> Holder | None:
    with get_client(sync_client=True) as client:
        found = client.read_variable_by_name(holder_variable(pinned_app(), environment))
    return Holder.model_validate(found.value) if found else None


def wait_for_holder(purpose: str) -> Holder:
    processes.wait_until(
        lambda: (h := holder()) is not None and h.purpose == purpose,
        timeout=60,
        interval=0.1,
        what=f"{purpose} to hold production",
    )
    found = holder()
    assert found is not None
    return found


def changes(setup: Setup, environment: str = "production") -> list[list[AuditRecord]]:
    """Each deploy or rollback as [started, outcome], in chain order."""
    by_operation: dict[str, list[AuditRecord]] = {}
    for rec in open_store(setup.load()).chain(environment):
        if rec.kind in ("deploy", "rollback"):
            by_operation.setdefault(rec.operation_id or rec.id, []).append(rec)
    return sorted(by_operation.values(), key=lambda pair: pair[0].seq)


def assert_one_at_a_time(operations: list[list[AuditRecord]]) -> None:
    """No change starts before the one before it has its outcome; each records as its
    "before" state the version the previous change left live."""
    for before, after in itertools.pairwise(operations):
        assert after[0].seq > before[-1].seq, f"{after[0].version} started during {before}"
        done = before[-1]
        live = done.version if done.status == "succeeded" else before[0].previous_version
        assert after[0].previous_version == live


def waiting_runs(caplog: pytest.LogCaptureFixture, needle: str) -> set[str]:
    return {str(getattr(r, "flow_run_id", "")) for r in caplog.records if needle in r.getMessage()}


def test_two_deploys_racing_for_production_change_it_one_at_a_time(
    make_setup, caplog: pytest.LogCaptureFixture
) -> None:
    """Both runs reach the final check together (a third party holds production while they
    arrive); exactly one changes it at a time and each records the right "before" state."""
    caplog.set_level(logging.INFO, logger="prefect.flow_runs")
    # The outdated gate would block v2 if v3 went first: allowed here, to test the lock alone.
    setup = make_setup(production={"outdated": "allow"})
    setup.call(deploy, version="v1", actor="dave")
    said: list[str] = []
    with hold(setup.app, "production", "a test's hold", "tester", say=said.append):
        runs = [
            in_background(setup.call, flow=deploy, version=v, actor="dave") for v in ("v2", "v3")
        ]
        processes.wait_until(
            lambda: len(waiting_runs(caplog, "production is locked by a test's hold")) == 2,
            timeout=60,
            interval=0.1,
            what="both runs waiting for production",
        )
    for run in runs:
        run.result(timeout=120)
    operations = changes(setup)
    assert (operations[0][0].version, operations[0][-1].status) == ("v1", "succeeded")
    assert sorted((op[0].version, op[-1].status) for op in operations[1:]) == [
        ("v2", "succeeded"),
        ("v3", "succeeded"),
    ]
    assert_one_at_a_time(operations)
    # The final gate check is inside the lock too: each after the previous change's outcome.
    chain = list(open_store(setup.load()).chain("production"))
    final_checks = [r for r in chain if r.kind == "gate" and r.details["stage"] == "before rollout"]
    assert len(final_checks) == len(operations) == 3  # so that the loop below checks two
    for check, previous in zip(final_checks[1:], operations, strict=False):
        assert check.seq > previous[-1].seq
    # What the second change found before it started: the first one's instances, live.
    second = operations[2][0]
    routed = {i["version"] for i in second.details["before"]["instances"] if i["weight"]}
    assert routed == {operations[1][0].version}
    assert serving(setup.urls["production"]) == operations[2][0].version
    assert said == [] and holder() is None


def test_a_rollback_started_during_a_deploy_waits_and_the_deploy_verifies(make_setup) -> None:
    """Without the lock, the rollback's switch lands in the middle of the deploy's checks,
    its verification fails and it rolls back a healthy version."""
    setup = make_setup()
    for version in ("v1", "v2"):
        setup.call(deploy, version=version, actor="dave")
    # v3's checks take a while: a slow request against each candidate and the live URL.
    slow = make_setup(
        production={"smoke": [*SMOKE, {"path": "/slow?ms=1500", "status": 200}]},
        name="slow.toml",
        urls=setup.urls,
    )
    running = in_background(slow.call, flow=deploy, version="v3", actor="dave")
    wait_for_holder("deploy v3")
    restored = setup.call(rollback, environment="production", reason="v3 is bad", actor="carol")
    running.result(timeout=120)
    operations = changes(setup)
    assert [(op[0].kind, op[0].version, op[-1].status) for op in operations][-2:] == [
        ("deploy", "v3", "succeeded"),
        ("rollback", "v2", "succeeded"),
    ]
    verifies = [r for r in open_store(setup.load()).newest("production") if r.kind == "verify"]
    assert verifies and all(v.status == "passed" for v in verifies)
    assert_one_at_a_time(operations)
    # Chosen from what was live once the deploy was done: v3 -> the one before it.
    assert restored == "v2" and serving(setup.urls["production"]) == "v2"


def test_the_automatic_rollback_happens_inside_the_failed_deploys_hold(
    make_setup, tmp_path: Path
) -> None:
    """A deploy waiting for production cannot slip in between a failed deploy and its
    automatic rollback, and the rollback does not try to take the lock a second time."""
    good = make_setup()
    good.call(deploy, version="v1", actor="dave")
    broken = make_setup(
        app={"source": str(broken_source(tmp_path, good))},
        production={"smoke_timeout": "3s"},
        name="broken.toml",
        urls=good.urls,
    )
    failing = in_background(broken.call, flow=deploy, version="v2", actor="dave")
    wait_for_holder("deploy v2")
    waiting = in_background(good.call, flow=deploy, version="v3", actor="erin")
    with pytest.raises(DeployFailed, match="v2 to production failed"):
        failing.result(timeout=120)
    waiting.result(timeout=120)
    operations = changes(good)
    assert [(op[0].kind, op[0].version, op[-1].status) for op in operations] == [
        ("deploy", "v1", "succeeded"),
        ("deploy", "v2", "failed"),
        ("rollback", "v1", "succeeded"),
        ("deploy", "v3", "succeeded"),
    ]
    assert_one_at_a_time(operations)
    lease = [op[0].details["lock"]["lease_id"] for op in operations]
    assert lease[1] == lease[2] != lease[3]  # the same hold: never released in between
    assert serving(good.urls["production"]) == "v3"


def test_a_waiting_cli_says_who_holds_the_environment_and_since_when(
    make_setup, tmp_path: Path
) -> None:
    setup = make_setup()
    setup.call(deploy, version="v1", actor="dave")
    setup.call(deploy, version="v2", actor="dave")
    log = tmp_path / "rollback.log"
    cli = str(Path(sys.executable).with_name("releasegate"))
    argv = [cli, "rollback", "production", "--reason", "r", "--config", str(setup.path)]
    with hold(setup.app, "production", "deploy v9", "erin", say=print) as held:
        waiter = processes.spawn(argv, log=log, env={**os.environ, "PREFECT_LOGGING_LEVEL": "INFO"})
        processes.wait_until(
            lambda: "waiting for it to finish" in log.read_text(),
            timeout=60,
            interval=0.2,
            what="the waiting message",
        )
        since = f"since {held.holder.since:%Y-%m-%d %H:%M:%S} UTC"
        assert (
            f"production is locked by deploy v9 by erin (no flow run, pid {os.getpid()} on "
            in log.read_text()
        )
        assert since in log.read_text()
        assert waiter.poll() is None
    assert waiter.wait(timeout=120) == 0, log.read_text()
    assert "rolled back production to v1" in log.read_text()


def test_two_rollbacks_at_once_never_bring_back_what_both_rolled_away_from(
    make_setup, caplog: pytest.LogCaptureFixture
) -> None:
    """Two on-call engineers roll back a bad v3 at the same moment. The second waits for the
    first's hold, finds production no longer serving v3, and changes nothing (exit 3) instead
    of rolling the first one back: "the newest success that is not live" was v3 again."""
    caplog.set_level(logging.INFO, logger="prefect.flow_runs")
    setup = make_setup()
    for version in ("v1", "v2", "v3"):
        setup.call(deploy, version=version, actor="dave")
    with hold(setup.app, "production", "a test's hold", "tester", say=lambda _: None):
        runs = [
            in_background(
                setup.call, flow=rollback, environment="production", reason="v3 is bad", actor=who
            )
            for who in ("carol", "erin")
        ]
        processes.wait_until(
            lambda: len(waiting_runs(caplog, "production is locked by a test's hold")) == 2,
            timeout=60,
            interval=0.1,
            what="both rollbacks waiting for production",
        )
    outcomes = []
    for run in runs:
        try:
            outcomes.append(run.result(timeout=120))
        except Blocked as exc:
            outcomes.append(str(exc))
    restored = [o for o in outcomes if o == "v2"]
    refused = [o for o in outcomes if "changed while this rollback waited" in o]
    assert (len(restored), len(refused)) == (1, 1), outcomes
    assert "served v3 when the rollback was asked for and serves v2 now" in refused[0]
    assert serving(setup.urls["production"]) == "v2"
    assert [r.version for r in setup.records("rollback") if r.status == "succeeded"] == ["v2"]
