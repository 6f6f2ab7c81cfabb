"""`releasegate quarantine list|release`: versions kept out of an environment after a
rollback, and letting one back in (recorded, with a reason)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from releasegate.cli.common import (
    ActorOption,
    ConfigOption,
    JsonOption,
    at_the_door,
    load,
    on_prefect,
    out,
    outcome,
)
from releasegate.vocabulary import EnvironmentName, Reason, Version

app = typer.Typer(
    help="Versions kept out of an environment after a rollback.", no_args_is_help=True
)


@app.command("list")
def list_(
    environment: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    json_: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """The versions quarantined now, newest first."""
    from releasegate.policy.quarantine import QUARANTINE, active
    from releasegate.views import quarantine_table
    from releasegate.wiring import open_store

    with outcome():
        found = active(open_store(load(config)).newest(QUARANTINE), environment)
        if json_:
            print(json.dumps([q.model_dump(mode="json") for q in found], indent=2))
            return
        out.print(quarantine_table(found) if found else "Nothing is quarantined.")


@app.command()
@at_the_door
def release(
    environment: Annotated[
        EnvironmentName,
        typer.Argument(parser=str, metavar="ENVIRONMENT", help="Where it is quarantined."),
    ],
    version: Annotated[
        Version, typer.Argument(parser=str, metavar="VERSION", help="The quarantined version.")
    ],
    reason: Annotated[
        Reason,
        typer.Option("--reason", "-r", parser=str, metavar="TEXT", help="Why (recorded)."),
    ],
    actor: ActorOption = None,
    config: ConfigOption = None,
) -> None:
    """Let VERSION be deployed to ENVIRONMENT again (every quarantined build of it)."""
    with on_prefect(config) as settings:
        from releasegate.errors import UsageError
        from releasegate.policy.quarantine import QUARANTINE, active, released
        from releasegate.trigger import default_actor
        from releasegate.wiring import open_store

        if environment not in settings.environments:
            raise UsageError(f"no environment {environment!r}")
        store = open_store(settings)
        held = [q for q in active(store.newest(QUARANTINE), environment) if q.version == version]
        if not held:
            raise UsageError(f"{version} is not quarantined in {environment}")
        for q in held:
            store.append(released(q, settings.app.name, actor or default_actor(), reason))
            out.print(f"released {version} ({q.artifact[:19]}) from quarantine in {environment}")
