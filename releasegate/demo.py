"""`releasegate demo`: the whole pipeline on this machine, start to finish, no prompts.

v1 and then v2 go through staging and production, each triggered by the demo developer
dave with a signed request (`releasegate deploy --sign`) and approved by the two demo
reviewers through the same path a person uses (`releasegate approve`); then carol, on
call, rolls production back to v1 with a signed request. Everything runs against a real
Prefect server, with the demo keys in examples/keys.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

from releasegate import config as configuration
from releasegate import prefect_server, processes
from releasegate.errors import DeployFailed
from releasegate.history import latest
from releasegate.policy.quarantine import QUARANTINE, active, released
from releasegate.redaction import redact_url
from releasegate.report import build
from releasegate.report_page import write
from releasegate.request import signed
from releasegate.signing.trigger import Asked
from releasegate.status import environment_status
from releasegate.views import history_table, status_table
from releasegate.wiring import open_store

DEVELOPER = "dave"  # pushes to main; may not approve his own deploy
REVIEWERS = ("alice", "bob")
ON_CALL = "carol"
APPROVAL_WAIT = 300.0
T = TypeVar("T")


def run(path: str | None, out: Console) -> None:
    config = configuration.load(path)
    with out.status("Starting the Prefect server (first start migrates its database)…"):
        api = prefect_server.ensure(config.home)
    out.print(f"Prefect UI: {prefect_server.ui_url()} (API {redact_url(api)})")
    # The flows read the configuration as served ones do (they take no config parameter).
    os.environ["RELEASEGATE_CONFIG"] = str(configuration.config_path(path).resolve())
    # Prefect reads its settings on import: only now may it be imported.
    from releasegate.flows.deploy import deploy
    from releasegate.flows.rollback import rollback

    keys = config.allowed_signers.parent if config.allowed_signers else None
    _start_again(config, out)
    for version in ("v1", "v2"):
        out.rule(f"deploy {version}")
        asked = Asked(request="deploy", version=version, branch="main", commit=f"demo-{version}")
        run = in_background(
            deploy,
            **asked.model_dump(include={"version", "branch", "commit"}),
            committed_at=datetime.now(UTC),  # the demo pushes each commit as it deploys it
            actor=DEVELOPER,
            proof=signed(asked, DEVELOPER, config.app.name, _key(keys, DEVELOPER)),
        )
        try:
            _review(config, version, run, out)
        except processes.Timeout as exc:
            raise DeployFailed(f"the demo reviewers gave up: {exc}") from None
        run.result()
    out.rule("rollback production")
    asked = Asked(
        request="rollback", environment="production", reason="demo: v2 misbehaves, back to v1"
    )
    rollback(
        **asked.model_dump(include={"environment", "reason"}),
        actor=ON_CALL,
        proof=signed(asked, ON_CALL, config.app.name, _key(keys, ON_CALL)),
    )
    _report(config, path, out)


def _start_again(config: configuration.Config, out: Console) -> None:
    """An earlier demo rolled v2 back, which quarantined it: let it back in (recorded), so
    the demo can deploy it again."""
    store = open_store(config)
    for held in active(store.newest(QUARANTINE)):
        store.append(released(held, config.app.name, ON_CALL, "demo: run again"))
        out.print(f"{held.version} released from quarantine in {held.environment} (demo)")


def _key(folder: Path | None, name: str) -> Path | None:
    """A demo person's key, kept beside the demo's allowed_signers."""
    return folder / name if folder else None


def in_background(fn: Callable[..., T], **kwargs: Any) -> Future[T]:
    """Run `fn` in a daemon thread: the reviewers act meanwhile, and if they fail the
    process can still exit (the paused run then expires on the server)."""
    future: Future[T] = Future()

    def work() -> None:
        try:
            future.set_result(fn(**kwargs))
        except BaseException as exc:  # handed to the caller by future.result()
            future.set_exception(exc)

    threading.Thread(target=work, name="demo-deploy", daemon=True).start()
    return future


def _review(config: configuration.Config, version: str, run: Future[str], out: Console) -> None:
    """Each demo reviewer approves the production request for `version` once it appears,
    signing with their demo key (kept beside the demo's allowed_signers)."""
    from releasegate import review as reviews

    keys = config.allowed_signers.parent if config.allowed_signers else None
    answered: set[str] = set()
    for reviewer in REVIEWERS:
        asked = reviews.next_request(
            version,
            "production",
            answered,
            timeout=APPROVAL_WAIT,
            unless=run.done,
            app=config.app.name,
        )
        if asked is None:
            return  # the run ended (run.result() says how)
        if not answered:  # what a person would open to approve it in the UI
            out.print(f"{version} waits for approval: {prefect_server.run_url(asked.flow_run_id)}")
        answered.add(asked.pause_key)
        _, verdict = reviews.decide(
            asked.flow_run_id,
            reviewer,
            comment=f"demo: {reviewer} checked {version} on staging",
            key=_key(keys, reviewer),
        )
        if not verdict.counts:
            raise DeployFailed(f"the run refused {reviewer}'s demo approval: {verdict.reason}")
        out.print(f"[cyan]{reviewer}[/cyan] approved {version} (run {asked.flow_run_id})")


def _report(config: configuration.Config, path: str | None, out: Console) -> None:
    out.rule("where things stand")
    out.print(status_table(environment_status(config)))
    production = config.pipeline()[-1]
    out.print(history_table(latest(open_store(config).newest(production), 10)))
    out.print(f"Prefect UI: {prefect_server.ui_url()}")
    page = _write_report(config)
    cfg = f" --config {path}" if path else ""
    out.print(
        f"Try: releasegate history production --json{cfg} · releasegate status{cfg} · "
        f"releasegate down{cfg}"
    )
    out.print(f"The dashboard (DORA and gate figures, charts): {page}")


def _write_report(config: configuration.Config) -> Path:
    """`releasegate report --html`: the figures of the last 30 days as one page in home."""
    now = datetime.now(UTC)
    report = build(open_store(config), config.pipeline(), since=now - timedelta(days=30), now=now)
    return write(report, config.home / "report.html")
