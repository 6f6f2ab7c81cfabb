"""`releasegate`: the command line. Exit codes: 0 done, 1 failed, 2 usage/config, 3 blocked.

One module per command group; a new command goes into the group it belongs to (or a new
module added below). Prefect is imported only inside the commands that need it: it reads
its settings on import, after `prefect_server.ensure` has chosen the server.
"""

from __future__ import annotations

import typer

from releasegate.cli import (
    admin,
    audit,
    inspect,
    pipeline,
    quarantine,
    report,
    webhook,
    windows,
)

app = typer.Typer(
    help="Deployment orchestrator on Prefect: staging, gates, approvals, production, rollback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(pipeline.app)
app.add_typer(inspect.app)
app.add_typer(windows.app)
app.add_typer(report.app)
app.add_typer(audit.app, name="audit")
app.add_typer(quarantine.app, name="quarantine")
app.add_typer(admin.app)
app.add_typer(webhook.app, name="webhook")


def main() -> None:
    app()
