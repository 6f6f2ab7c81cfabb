"""`releasegate report`: DORA and gate figures per environment, from the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from releasegate.cli.common import ConfigOption, JsonOption, err, load, out, outcome

app = typer.Typer()


@app.command()
def report(
    environment: Annotated[
        str | None, typer.Argument(help="Only this environment [default: every one].")
    ] = None,
    since: Annotated[
        str, typer.Option(help="How far back, as a duration: 30d, 12h, 1d12h.")
    ] = "30d",
    json_: JsonOption = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the report, with charts, as one HTML page."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Deployment frequency, lead time, change failure rate, time to restore, and the gates'
    figures (approval wait, blocks, refusals), streamed from the audit trail."""
    from releasegate.duration import parse_duration
    from releasegate.errors import UsageError
    from releasegate.report import build
    from releasegate.views import report_tables
    from releasegate.wiring import open_store

    with outcome():
        settings = load(config)
        if environment is not None and environment not in settings.environments:
            known = ", ".join(settings.environments)
            raise UsageError(f"no environment {environment!r} (configured: {known})")
        try:
            period = parse_duration(since)
        except ValueError as exc:
            raise UsageError(f"--since: {exc}") from None
        now = datetime.now(UTC)
        names = [environment] if environment else settings.pipeline()
        figures = build(open_store(settings), names, since=now - period, now=now)
        if html is not None:
            from releasegate.report_page import write

            err.print(f"report written to {write(figures, html)}", highlight=False)
        if json_:
            print(figures.model_dump_json(indent=2))
            return
        for table in report_tables(figures):
            out.print(table)
