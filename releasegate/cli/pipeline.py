"""The pipeline's commands: deploy, rollback, approve, pending.

Their arguments are typed with the vocabulary's input rules, the same types the flows take,
and checked before anything runs (`at_the_door`): a bad version never starts a run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import AwareDatetime

from releasegate.cli.common import (
    ActorOption,
    ConfigOption,
    JsonOption,
    KeyOption,
    SignOption,
    at_the_door,
    on_prefect,
    one_line_errors,
    out,
    outcome,
)
from releasegate.signing.trigger import Asked
from releasegate.trigger import TriggerProof
from releasegate.vocabulary import Branch, Comment, Commit, EnvironmentName, Name, Reason, Version

app = typer.Typer()
HANDOFF_TIMEOUT = 600.0
"""How long `rollback` follows a run it handed to `releasegate serve` (it may wait for the
environment's lock while another change finishes)."""


@app.command()
@at_the_door
def deploy(
    version: Annotated[
        Version,
        typer.Argument(parser=str, metavar="VERSION", help="The version to build and promote."),
    ],
    branch: Annotated[
        Branch, typer.Option(parser=str, metavar="BRANCH", help="Branch it was built from.")
    ] = "main",
    commit: Annotated[
        Commit | None, typer.Option(parser=str, metavar="COMMIT", help="Commit id, for the record.")
    ] = None,
    override_freeze: Annotated[
        Reason | None,
        typer.Option(
            parser=str,
            metavar="REASON",
            help="Break-glass: go through a freeze, for this reason (needs --sign, and the "
            "environment's break-glass approvers).",
        ),
    ] = None,
    committed_at: Annotated[
        AwareDatetime | None,
        typer.Option(
            parser=str,
            metavar="TIME",
            help="When the commit was made (ISO 8601 with a zone): where lead time starts.",
        ),
    ] = None,
    actor: ActorOption = None,
    sign: SignOption = False,
    key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the whole pipeline for VERSION: build, staging, gates, approvals, production."""
    with on_prefect(config) as settings:
        from releasegate.flows.deploy import deploy as deploy_flow

        asked = Asked(
            request="deploy", version=version, branch=branch, commit=commit, reason=override_freeze
        )
        actor, proof = _prove(asked, actor, settings.app.name, key) if sign else (actor, None)
        digest = deploy_flow(
            version=version,
            branch=branch,
            commit=commit,
            actor=actor,
            proof=proof,
            override_freeze=override_freeze,
            committed_at=committed_at,
        )
        out.print(f"[green]deployed[/green] {version} ({digest})")


@app.command()
@at_the_door
def rollback(
    environment: Annotated[
        EnvironmentName,
        typer.Argument(parser=str, metavar="ENVIRONMENT", help="The environment to roll back."),
    ],
    reason: Annotated[
        Reason,
        typer.Option(
            "--reason", "-r", parser=str, metavar="TEXT", help="Why (required; recorded)."
        ),
    ],
    to: Annotated[
        Version | None,
        typer.Option(
            parser=str,
            metavar="VERSION|RUN",
            help="A version or a past flow-run id [default: the previous good version]",
        ),
    ] = None,
    release_quarantine: Annotated[
        bool,
        typer.Option(
            "--release-quarantine",
            help="--to names a quarantined version: roll back to it anyway, releasing it.",
        ),
    ] = False,
    actor: ActorOption = None,
    sign: SignOption = False,
    key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """Restore an earlier version of ENVIRONMENT (default: the previous good one that is
    not quarantined); the version rolled back from is quarantined there. When
    `releasegate serve` runs for the same configuration, it runs the rollback (warm); else
    this process does."""
    with on_prefect(config, imports_prefect=False) as settings:
        from releasegate import handoff
        from releasegate.config import config_path
        from releasegate.trigger import default_actor

        asked = Asked(request="rollback", environment=environment, version=to, reason=reason)
        actor, proof = _prove(asked, actor, settings.app.name, key) if sign else (actor, None)
        api = os.environ["PREFECT_API_URL"]
        served = handoff.served_rollback(api, config_path(config), settings.app.name, environment)
        # The serving process's own default actor is not whoever is at this terminal.
        who = actor or default_actor()
        run_id = served and handoff.rollback(
            api, served, asked, who, proof, HANDOFF_TIMEOUT, release_quarantine=release_quarantine
        )
        if run_id is not None:
            version = handoff.restored(settings, environment, run_id)
            out.print(
                f"[green]rolled back[/green] {environment} to {version} "
                f"(flow run {run_id}, run by releasegate serve)"
            )
            return
        one_line_errors()
        from releasegate.flows.rollback import rollback as rollback_flow

        version = rollback_flow(
            environment=environment,
            reason=reason,
            to=to,
            actor=actor,
            proof=proof,
            release_quarantine=release_quarantine,
        )
        out.print(f"[green]rolled back[/green] {environment} to {version}")


def _prove(asked: Asked, actor: str | None, app: str, key: Path | None) -> tuple[str, TriggerProof]:
    """The actor (default: RELEASEGATE_ACTOR or the OS user) and their signed request."""
    from releasegate.request import signed
    from releasegate.trigger import default_actor

    who = actor or default_actor()
    return who, signed(asked, who, app, key)


@app.command()
@at_the_door
def approve(
    run_id: Annotated[str, typer.Argument(help="The paused flow run's id.")],
    reviewer: Annotated[
        Name,
        typer.Option(
            "--as", parser=str, metavar="NAME", help="Your name, as in the approvers' group."
        ),
    ],
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approve.")] = False,
    comment: Annotated[
        Comment,
        typer.Option(parser=str, metavar="TEXT", help="Why; recorded with the decision."),
    ] = "",
    key: KeyOption = None,
    wait: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the run's verdict.")
    ] = 60.0,
    not_before: Annotated[
        str | None,
        typer.Option(
            "--not-before",
            metavar="TIME",
            help="Approve now, roll out no earlier than TIME: 22:00 (the next one) or "
            "2026-11-27T22:00, in --tz. Signed with the decision.",
        ),
    ] = None,
    tz: Annotated[
        str, typer.Option("--tz", metavar="ZONE", help="Time zone of --not-before.")
    ] = "UTC",
    config: ConfigOption = None,
) -> None:
    """Give one decision on a run waiting for approval (signed with your SSH key when the
    environment requires signed approvals: for the pause it answers, as of now), then wait
    for the run's verdict: exit 0 if the decision counts, 3 if the run refused it (the
    reason is printed)."""
    from datetime import UTC, datetime

    from releasegate.approval import deferral
    from releasegate.errors import UsageError

    with outcome():
        try:
            when = deferral(not_before, tz, datetime.now(UTC)) if not_before else None
        except ValueError as exc:
            raise UsageError(f"--not-before: {exc}") from None
    with on_prefect(config):
        from releasegate import review
        from releasegate.errors import Blocked

        asked, verdict = review.decide(
            run_id, reviewer, reject=reject, comment=comment, key=key, wait=wait, not_before=when
        )
        what = f"{asked.app} {asked.version} for {asked.environment} (run {run_id})"
        if not verdict.counts:
            raise Blocked(f"the run refused {reviewer}'s decision on {what}: {verdict.reason}")
        verb = "rejected" if reject else "approved"
        later = f"; no rollout before {when:%Y-%m-%d %H:%M:%S %Z}" if when else ""
        out.print(f"{reviewer} {verb} {what}: the decision counts ({verdict.status}){later}.")


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
