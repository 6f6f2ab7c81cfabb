"""`releasegate rollback` from a terminal hands the rollback to a running `releasegate serve`
of the same configuration (a warm process runs it), and keeps the terminal's identity and
exit codes; with no serving process it rolls back itself."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from prefect.client.orchestration import get_client

from releasegate.flows.deploy import deploy
from tests.flows.conftest import served_by_releasegate, serving


def test_a_terminal_rollback_is_run_by_the_serving_process(make_setup, tmp_path: Path) -> None:
    setup = make_setup()
    prod = setup.urls["production"]
    for version in ("v1", "v2", "v3"):
        deploy(version=version, actor="dave")
    with served_by_releasegate(setup, tmp_path / "serve.log", RELEASEGATE_ACTOR="oncall"):
        code, out = setup.cli("rollback", "production", "-r", "paged at 3am", "--actor", "carol")
        assert code == 0, out
        assert "rolled back production to v2" in out and "run by releasegate serve" in out, (
            out + (tmp_path / "serve.log").read_text()[-3000:]
        )
        assert serving(prod) == "v2"
        rolled = setup.records("rollback")[0]
        # A failure inside the served run comes back as the same error and exit code.
        code, out = setup.cli("rollback", "production", "-r", "typo", "--to", "v9")
        assert code == 2 and "no successful deploy of version v9" in out, out
        # v3 was rolled back from, so quarantined: refused (exit 3) unless the terminal says
        # --release-quarantine, which reaches the served run.
        code, out = setup.cli("rollback", "production", "-r", "v3 after all", "--to", "v3")
        assert code == 3 and "--release-quarantine" in out, out
        code, out = setup.cli(
            "rollback", "production", "-r", "v3 after all", "--to", "v3", "--release-quarantine"
        )
        assert code == 0 and "to v3" in out and "run by releasegate serve" in out, out
    assert serving(prod) == "v3"
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(rolled.flow_run_id))
    assert run.deployment_id is not None  # a run of the served deployment, not in-process
    # The terminal's actor, not the serving process's (a claim either way).
    assert (rolled.actor, rolled.actor_proof, rolled.reason) == ("carol", "claimed", "paged at 3am")
    released = setup.records("quarantine", "_quarantine")[1]  # then v2 was quarantined
    assert (released.status, released.version) == ("released", "v3")

    # Nobody serves it any more: the terminal rolls back itself (v2 is quarantined: to v1).
    code, out = setup.cli("rollback", "production", "-r", "serve is down", "--actor", "carol")
    assert code == 0 and "rolled back production to v1" in out and "releasegate serve" not in out
