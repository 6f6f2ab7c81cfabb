"""What every command shares: the consoles, the common options, and how a command's
outcome becomes its exit code."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from releasegate.errors import ReleasegateError

if TYPE_CHECKING:  # the configuration is imported when a command runs, not for --help
    from releasegate.config import Config

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
    """Map how a command ended onto its exit code, with one clear line on stderr; the audit
    store's warnings (a damaged record skipped, a record not witnessed) are one line each
    on stderr too, never on stdout, where `--json` output goes."""
    with _audit_warnings():
        try:
            yield
        except ReleasegateError as exc:
            label = LABELS.get(exc.exit_code, "[red]failed:[/red]")
            err.print(f"{label} {escape(str(exc))}", highlight=False)  # "[rule: ...]" is text
            raise typer.Exit(exc.exit_code) from None


class _WarningLine(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"[yellow]warning:[/yellow] {escape(record.getMessage())}", highlight=False)


@contextmanager
def _audit_warnings() -> Iterator[None]:
    logger = logging.getLogger("releasegate.audit")
    handler, propagate = _WarningLine(logging.WARNING), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False  # not printed a second time by Prefect's console handler
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def load(path: str | None) -> Config:
    """The configuration (`--config`, RELEASEGATE_CONFIG or the default file)."""
    from releasegate import config

    return config.load(path)


@contextmanager
def on_prefect(config: str | None) -> Iterator[Config]:
    """For commands that talk to Prefect: exit codes, the configuration, and the server
    (starting a local one if needed) set up before Prefect is imported."""
    from releasegate import prefect_server

    with outcome():
        settings = load(config)
        with err.status("Connecting to the Prefect server…"):
            prefect_server.ensure(settings.home)
        yield settings
