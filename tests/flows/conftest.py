"""Fixtures for running the real flows against the session's Prefect server."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from typer.testing import CliRunner

from releasegate import config as configuration
from releasegate import processes
from releasegate.audit.record import AuditRecord
from releasegate.cli import app
from releasegate.wiring import open_store
from tests.conftest import REPO
from tests.support.answering import SMOKE
from tests.support.people import KEYS
from tests.support.toml import table

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _prefect(prefect_api: str) -> str:
    return prefect_api


@dataclass
class Setup:
    """One test's configuration file, state directory and environment URLs."""

    path: Path
    home: Path
    urls: dict[str, str]

    def load(self) -> configuration.Config:
        return configuration.load(self.path)

    @property
    def app(self) -> str:
        return self.load().app.name

    def cli(self, *args: str) -> tuple[int, str]:
        """`releasegate ARGS --config <this>`: exit code and output. (The CLI pins its
        configuration in RELEASEGATE_CONFIG; CliRunner restores what `env` names.)"""
        env = {"RELEASEGATE_CONFIG": str(self.path)}
        result = CliRunner().invoke(app, [*args, "--config", str(self.path)], env=env)
        return result.exit_code, result.output

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Flows called in this process read this configuration (as a served one would
        read its serving process's): RELEASEGATE_CONFIG, for the duration."""
        before = os.environ.get("RELEASEGATE_CONFIG")
        os.environ["RELEASEGATE_CONFIG"] = str(self.path)
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("RELEASEGATE_CONFIG", None)
            else:
                os.environ["RELEASEGATE_CONFIG"] = before

    def call(self, flow: Callable[..., T], **parameters: Any) -> T:
        """`flow(**parameters)` reading this configuration, in any thread (several setups'
        flows may run at once in one test, as in a process serving several apps)."""
        with configuration.pinned(self.path):
            return flow(**parameters)

    def records(self, kind: str, environment: str = "production") -> list[AuditRecord]:
        """The environment's audit records of one kind, newest first."""
        return [r for r in open_store(self.load()).newest(environment) if r.kind == kind]


@contextmanager
def served_by_releasegate(setup: Setup, log: Path, **env: str) -> Iterator[None]:
    """`releasegate serve` on `setup` (polling every second) until the block ends, its
    deployments registered and polled for; stopped by its PID."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from releasegate.handoff import config_tag
    from releasegate.serving import names

    wanted = names(setup.load())

    def registered() -> bool:
        """Its deployments are this process's (tagged with this configuration: an earlier
        test's serve left deployments of the same names) and polled for (READY)."""
        with get_client(sync_client=True) as client:
            try:
                found = [client.read_deployment_by_name(name) for name in wanted]
            except ObjectNotFound:
                return False
        return all(
            config_tag(setup.path) in d.tags and d.status is not None and d.status.value == "READY"
            for d in found
        )

    server = processes.spawn(
        [str(Path(sys.executable).with_name("releasegate")), "serve", "--config", str(setup.path)],
        log=log,
        env={**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": "1", **env},
    )
    try:
        processes.wait_until(
            registered, timeout=60, interval=0.5, what="deployments registered by releasegate serve"
        )
        yield
    finally:
        processes.stop(server.pid)


def retry_like_the_ui(flow_run_id: str) -> None:
    """Press *Retry* on a finished flow run: exactly the call the Prefect UI makes
    (ui-v2 `retry-flow-run-dialog.tsx`): the same run back to Scheduled, named AwaitingRetry."""
    state = {"type": "SCHEDULED", "name": "AwaitingRetry", "message": "Retry from the UI"}
    response = httpx.post(
        f"{os.environ['PREFECT_API_URL']}/flow_runs/{flow_run_id}/set_state",
        json={"state": state, "force": True},
        timeout=10,
    )
    response.raise_for_status()
    assert response.json()["status"] == "ACCEPT", response.text


def rerun_finished(flow_run_id: str, attempt: int = 2) -> Any:
    """Wait until `attempt` of the flow run has finished; the run as Prefect has it then."""
    from uuid import UUID

    from prefect.client.orchestration import get_client

    found: list[Any] = []

    def finished() -> bool:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(flow_run_id))
        found[:] = [run]
        return run.run_count >= attempt and run.state is not None and run.state.is_final()

    processes.wait_until(finished, timeout=120, interval=0.3, what=f"attempt {attempt}")
    return found[0]


def serving(url: str) -> str:
    """The version `url` answers with now."""
    return httpx.get(f"{url}/version", timeout=5).json()["version"]


def own_app_name(nodeid: str) -> str:
    """An app name of the test's own (`t-` and a digest of its id): one Prefect server holds
    every test's runs, approval requests, locks, variables and artifacts, keyed by app."""
    return "t-" + hashlib.sha256(nodeid.encode()).hexdigest()[:12]


@pytest.fixture
def make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Setup]]:
    """Write a config: `make_setup(production={...}, staging={...} or None, top={...})`.
    The newest setup is the one flows called in the test read (RELEASEGATE_CONFIG). The app
    is named after the test unless `app` names it."""
    homes: list[Path] = []
    default_app = own_app_name(request.node.nodeid)

    def make(
        *,
        production: dict[str, Any] | None = None,
        staging: dict[str, Any] | None = None,
        top: dict[str, Any] | None = None,
        app: dict[str, Any] | None = None,
        name: str = "releasegate.toml",
        urls: dict[str, str] | None = None,
    ) -> Setup:
        """`urls` reuses another setup's environments (same home, same processes)."""
        home = tmp_path / "home"
        homes.append(home)
        envs: dict[str, dict[str, Any]] = {}
        if staging is not None:
            envs["staging"] = {"smoke": SMOKE, "smoke_timeout": "10s", **staging}
        envs["production"] = {
            "smoke": SMOKE,
            "smoke_timeout": "10s",
            **({"requires": "staging"} if staging is not None else {}),
            **(production or {}),
        }
        given = urls or {}
        urls = {}
        lines = table(None, {**(top or {}), "home": home})
        lines += table(
            "app", {"name": default_app, "source": REPO / "examples/webapp", **(app or {})}
        )
        lines += table(
            "groups", {"release-managers": ["alice", "bob", "carol"], "security": ["sam", "sasha"]}
        )
        for env, settings in envs.items():
            default = given.get(env) or f"http://127.0.0.1:{processes.free_port()}"
            urls[env] = settings.setdefault("url", default)
            lines += table(f"environments.{env}", settings)
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n")
        monkeypatch.setenv("RELEASEGATE_CONFIG", str(path))
        return Setup(path=path, home=home, urls=urls)

    yield make
    from releasegate.targets.local.target import down

    for home in set(homes):
        down(home)


def assert_given_again(setup: Setup) -> None:
    """The first two approvals outlived max_age in the wait timer (longer than max_age:
    certain) and were voided before the rollout; the deploy relied on two approvals given
    after that, by two people. (How many more rounds max_age voided is the clock's business.)"""
    decisions = setup.records("approval")[::-1]
    first, second = decisions[0], decisions[1]
    assert (first.status, second.status) == ("accepted", "accepted")
    voided = [d for d in decisions if d.status == "expired"]
    assert {d.approvals[0].name for d in voided[:2]} == {
        first.approvals[0].name,
        second.approvals[0].name,
    }
    assert all("older than max_age" in (d.reason or "") for d in voided)
    deployed = setup.records("deploy")[0]
    assert deployed.status == "succeeded" and len(set(deployed.approvers)) == 2
    last_void = max(d.seq for d in voided)
    relied = {(a.name, a.at) for a in deployed.approvals}
    given_after = {
        (d.approvals[0].name, d.approvals[0].at)
        for d in decisions
        if d.status == "accepted" and d.seq > last_void
    }
    assert relied <= given_after


def broken_source(folder: Path, good: Setup) -> Path:
    """The example app's source with its /version answer misspelt: it starts and answers
    /health, but every version check fails."""
    broken = folder / "broken"
    broken.mkdir()
    app = (Path(good.load().app.source) / "app.py").read_text()
    (broken / "app.py").write_text(app.replace('"version"', '"versoin"'))
    return broken


def broken_behind_the_proxy(folder: Path, good: Setup) -> Path:
    """The example app's source changed to answer 404 to every request that reaches it
    through a proxy (X-Forwarded-For): it passes every check made on it directly, so its
    rollout succeeds, and then fails the check of the environment's live URL."""
    broken = folder / "broken-behind-proxy"
    broken.mkdir()
    app = (Path(good.load().app.source) / "app.py").read_text()
    routed = "route = ROUTES.get(parts.path)"
    assert routed in app
    proxied = 'route = None if "X-Forwarded-For" in self.headers else ROUTES.get(parts.path)'
    (broken / "app.py").write_text(app.replace(routed, proxied))
    return broken


def keypair(folder: Path, name: str) -> Path:
    """A fresh ed25519 key (private key path) made with ssh-keygen."""
    key = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"test {name}", "-f", str(key)],
        check=True,
    )
    return key


SIGNED = {"required": 2, "from": "release-managers", "timeout": "90s", "signed": True}


@pytest.fixture
def signers(tmp_path: Path) -> dict[str, Path]:
    """Keys: alice and bob (demo), carol (member), dave (valid key, not a member), eve
    (a key nobody trusts); and an allowed_signers file trusting all but eve."""
    keys = {"alice": KEYS / "alice", "bob": KEYS / "bob"}
    for name in ("carol", "dave", "eve"):
        keys[name] = keypair(tmp_path, name)
    lines = []
    for name in ("alice", "bob", "carol", "dave"):
        public = Path(f"{keys[name]}.pub").read_text().split()
        lines.append(f'{name} namespaces="releasegate,releasegate-trigger" {public[0]} {public[1]}')
    keys["allowed_signers"] = tmp_path / "allowed_signers"
    keys["allowed_signers"].write_text("\n".join(lines) + "\n")
    return keys


def signed(
    reviewer: str, key: Path, decision: str = "approve", comment: str = "", **change: Any
) -> Callable[[Any], tuple[str, datetime]]:
    """A signature by `key` over this run's request (signed now), with some fields changed;
    submitted with the issue time it was signed with."""

    from releasegate.signing.keygen import sign

    def make(asked: Any) -> tuple[str, datetime]:
        now = datetime.now(UTC).replace(microsecond=0)
        payload = asked.payload(reviewer, decision, comment, now).model_copy(update=change)
        return sign(payload.message(), key=key), payload.issued_at

    return make
