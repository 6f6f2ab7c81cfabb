"""Reading what happened and what runs: history, status."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from releasegate.cli.common import ConfigOption, JsonOption, load, out, outcome

app = typer.Typer()


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
    from releasegate.errors import UsageError
    from releasegate.history import latest_of_all
    from releasegate.views import history_table
    from releasegate.wiring import open_store

    with outcome():
        settings = load(config)
        if environment and environment not in settings.environments:
            raise UsageError(f"no environment {environment!r}")
        store = open_store(settings)
        names = (
            [environment]
            if environment
            else sorted(set(settings.environments) | set(store.environments()))
        )
        rows = latest_of_all((store.newest(name) for name in names), limit, everything=everything)
        if json_:
            print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
            return
        out.print(history_table(rows))


@app.command()
def status(json_: JsonOption = False, config: ConfigOption = None) -> None:
    """What each environment serves now, the Prefect UI, and a link to each run waiting
    for approval. Starts no Prefect server."""
    from releasegate.status import environment_status, prefect_ui
    from releasegate.views import awaiting_lines, status_table

    with outcome():
        settings = load(config)
        report = environment_status(settings)
        if json_:
            print(json.dumps(report, indent=2, default=str))
            return
        out.print(status_table(report))
        for line in awaiting_lines(prefect_ui(settings.home), report):
            out.print(line, markup=False, highlight=False)
