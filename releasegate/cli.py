"""`releasegate`: the command line. Exit codes: 0 done, 1 failed, 2 usage/config, 3 blocked."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from releasegate import config as configuration
from releasegate import history as hist
from releasegate import prefect_server
from releasegate.audit import open_store
from releasegate.audit.proofs import verify_signatures
from releasegate.audit.store import AuditUnavailable
from releasegate.errors import Failed, ReleasegateError, UsageError
from releasegate.status import environment_status, status_table

app = typer.Typer(
    help="Deployment orchestrator on Prefect: staging, gates, approvals, production, rollback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
audit_app = typer.Typer(help="The audit trail: verify the hash chains, export records.")
app.add_typer(audit_app, name="audit")
# Piped output (CI logs) gets 140 columns rather than 80: tables stay readable.
out = Console(soft_wrap=True, width=shutil.get_terminal_size((140, 24)).columns)
err = Console(stderr=True, soft_wrap=True)

ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file [env: RELEASEGATE_CONFIG; default: deployments/releasegate.toml]",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print data as JSON.")]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who is acting [env: RELEASEGATE_ACTOR; default: OS user]"),
]

# How each exit code introduces its one line on stderr.
LABELS = {2: "[red]error:[/red]", 3: "[yellow]blocked:[/yellow]"}


@contextmanager
def outcome() -> Iterator[None]:
    """Map how a command ended onto its exit code, with one clear line on stderr."""
    try:
        yield
    except ReleasegateError as exc:
        label = LABELS.get(exc.exit_code, "[red]failed:[/red]")
        err.print(f"{label} {exc}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


def load(path: str | None) -> configuration.Config:
    return configuration.load(path)


@contextmanager
def on_prefect(config: str | None) -> Iterator[configuration.Config]:
    """For commands that talk to Prefect: exit codes, the configuration, and the server
    (starting a local one if needed) set up before Prefect is imported."""
    with outcome():
        settings = load(config)
        with err.status("Connecting to the Prefect server…"):
            prefect_server.ensure(settings.home)
        yield settings


@app.command()
def deploy(
    version: Annotated[str, typer.Argument(help="The version to build and promote.")],
    branch: Annotated[str, typer.Option(help="Branch the version was built from.")] = "main",
    commit: Annotated[str | None, typer.Option(help="Commit id, for the record.")] = None,
    actor: ActorOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the whole pipeline for VERSION: build, staging, gates, approvals, production."""
    with on_prefect(config):
        from releasegate.flows.deploy import deploy as deploy_flow

        digest = deploy_flow(
            version=version, branch=branch, commit=commit, actor=actor, config=config
        )
        out.print(f"[green]deployed[/green] {version} ({digest})")


@app.command()
def rollback(
    environment: Annotated[str, typer.Argument(help="The environment to roll back.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (required; recorded).")],
    to: Annotated[
        str | None,
        typer.Option(help="A version or a past flow-run id [default: the previous good version]"),
    ] = None,
    actor: ActorOption = None,
    config: ConfigOption = None,
) -> None:
    """Restore an earlier version of ENVIRONMENT (default: the previous good one)."""
    with on_prefect(config):
        from releasegate.flows.rollback import rollback as rollback_flow

        version = rollback_flow(
            environment=environment, reason=reason, to=to, actor=actor, config=config
        )
        out.print(f"[green]rolled back[/green] {environment} to {version}")


@app.command()
def approve(
    run_id: Annotated[str, typer.Argument(help="The paused flow run's id.")],
    reviewer: Annotated[str, typer.Option("--as", help="Your name, as in the approvers' group.")],
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approve.")] = False,
    comment: Annotated[str, typer.Option(help="Why; recorded with the decision.")] = "",
    key: Annotated[
        Path | None,
        typer.Option(help="SSH key to sign with (signed mode) [default: the key in ssh-agent]"),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Give one decision on a run waiting for approval (signed with your SSH key when the
    environment requires signed approvals)."""
    with on_prefect(config):
        from releasegate import review

        asked = review.decide(run_id, reviewer, reject=reject, comment=comment, key=key)
        verb = "rejected" if reject else "approved"
        out.print(
            f"{reviewer} {verb} {asked.app} {asked.version} for {asked.environment} "
            f"(run {run_id}); the run records whether the decision counts."
        )


@app.command()
def pending(json_: JsonOption = False, config: ConfigOption = None) -> None:
    """Runs waiting for an approval."""
    with on_prefect(config):
        from releasegate import review

        requests = review.pending()
        if json_:
            print(json.dumps([r.model_dump(mode="json") for r in requests], indent=2))
            return
        table = Table("run", "environment", "version", "digest", "triggered by", "still needed")
        for r in requests:
            needs = ", ".join(f"{n} from {g}" for g, n in r.missing.items())
            table.add_row(r.flow_run_id, r.environment, r.version, r.digest[:19], r.actor, needs)
        out.print(table)


@app.command()
def history(
    environment: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    limit: Annotated[int, typer.Option(help="How many entries.")] = 20,
    everything: Annotated[
        bool, typer.Option("--all", help="Include gate, approval and verify records.")
    ] = False,
    json_: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Deploys and rollbacks, newest first, from the audit store."""
    with outcome():
        settings = load(config)
        store = open_store(settings)
        names = (
            [environment]
            if environment
            else sorted(set(settings.environments) | set(store.environments()))
        )
        if environment and environment not in settings.environments:
            raise UsageError(f"no environment {environment!r}")
        rows = sorted(
            (
                r
                for name in names
                for r in hist.latest(store.newest(name), limit, everything=everything)
            ),
            key=lambda r: (r.started_at, r.finished_at or r.started_at, r.seq),
            reverse=True,
        )[:limit]
        if json_:
            print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
            return
        out.print(hist.table(rows))


@app.command()
def status(json_: JsonOption = False, config: ConfigOption = None) -> None:
    """What each environment serves now."""
    with outcome():
        settings = load(config)
        report = environment_status(settings)
        if json_:
            print(json.dumps(report, indent=2, default=str))
            return
        out.print(status_table(report))


@app.command()
def down(config: ConfigOption = None) -> None:
    """Stop everything releasegate started here: apps, proxies, the local Prefect server."""
    with outcome():
        settings = load(config)
        from releasegate.targets.local.target import down as stop_local

        stopped = stop_local(settings.home)
        if server := prefect_server.stop(settings.home):
            stopped.append(server)
        for line in stopped:
            out.print(f"stopped {line}")
        if not stopped:
            out.print("nothing was running")


@audit_app.command("verify")
def audit_verify(
    environment: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    config: ConfigOption = None,
) -> None:
    """Re-check every hash chain and every approval signature; exit 1 naming each bad record."""
    with outcome():
        settings = load(config)
        store = open_store(settings)
        names = [environment] if environment else store.environments()
        problems = []
        for name in names:
            problems += store.verify(name)
            if settings.allowed_signers is not None:
                try:
                    problems += verify_signatures(store.chain(name), settings.allowed_signers)
                except AuditUnavailable as exc:
                    problems.append(f"{name}: approval signatures not checked: {exc}")
        for problem in problems:
            err.print(f"[red]BROKEN[/red] {problem}", highlight=False)
        if problems:
            raise typer.Exit(Failed.exit_code)
        out.print(f"audit trail intact: {', '.join(names) or 'no records'}")


@audit_app.command("export")
def audit_export(
    environment: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="One JSON record per line.")] = True,
    config: ConfigOption = None,
) -> None:
    """Stream every record, oldest first per environment, for a SIEM."""
    with outcome():
        store = open_store(load(config))
        for name in [environment] if environment else store.environments():
            for rec in store.chain(name):
                sys.stdout.write(json.dumps(rec.model_dump(mode="json")) + "\n")


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Serve the deploy and rollback flows as Prefect deployments (UI quick runs, push events)."""
    with on_prefect(config) as settings:
        from releasegate import serving

        production = settings.pipeline()[-1]
        out.print(
            f"serving deploy/releasegate and rollback/releasegate ({production}) on "
            f"{prefect_server.ui_url()}"
        )
        serving.run(configuration.config_path(config).resolve(), production)


@app.command()
def demo(config: ConfigOption = None) -> None:
    """Run the whole pipeline locally: v1 and v2 to production with two approvers, then a
    rollback to v1. Starts a local Prefect server if none is running."""
    from releasegate import demo as demo_script

    with outcome():
        demo_script.run(config, out)


# Commands kept in modules of their own register here, after the helpers they import.
from releasegate.cli_windows import windows  # noqa: E402

app.command()(windows)


def main() -> None:
    app()
