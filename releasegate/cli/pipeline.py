"""The pipeline's commands: deploy, rollback, approve, pending."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from releasegate.cli.common import ActorOption, ConfigOption, JsonOption, on_prefect, out

app = typer.Typer()


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
        from releasegate.views import pending_table

        requests = review.pending()
        if json_:
            print(json.dumps([r.model_dump(mode="json") for r in requests], indent=2))
            return
        out.print(pending_table(requests))
