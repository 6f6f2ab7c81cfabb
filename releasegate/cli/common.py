"""What every command shares: the consoles, the common options, input checked at the door,
and how a command's outcome becomes its exit code."""

from __future__ import annotations

import functools
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import pydantic
import typer
from rich.console import Console
from rich.markup import escape

from releasegate.errors import ReleasegateError, UsageError
from releasegate.redaction import redact_text
from releasegate.vocabulary import Name

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
    Name | None,
    typer.Option(
        "--as",
        "--actor",
        parser=str,
        metavar="NAME",
        help="Who is acting; a claim unless --sign proves it "
        "[env: RELEASEGATE_ACTOR; default: OS user]",
    ),
]
SignOption = Annotated[
    bool,
    typer.Option(
        "--sign",
        help="Prove who is acting: sign the request with your SSH key (--key, or ssh-agent).",
    ),
]
KeyOption = Annotated[
    Path | None,
    typer.Option(help="SSH key to sign with [default: the key in ssh-agent]"),
]
F = TypeVar("F", bound=Callable[..., Any])


def at_the_door(command: F) -> F:
    """Check a command's arguments with the types in its signature (the vocabulary's input
    rules, the same types the flows take) before anything runs: one line, exit 2.

    Typer hands over the raw strings (`parser=str` on each checked parameter keeps it from
    printing its own multi-line error box); pydantic checks them here.
    """
    checked = pydantic.validate_call(command)

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return checked(*args, **kwargs)
        except pydantic.ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            reason = error["msg"].removeprefix("Value error, ")
            with outcome():
                raise UsageError(f"{where}: {reason}") from None

    return run  # type: ignore[return-value]


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
            # "[rule: ...]" is text, not markup; a configured URL's credentials are never shown.
            err.print(f"{label} {escape(redact_text(str(exc)))}", highlight=False)
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
def on_prefect(config: str | None, *, imports_prefect: bool = True) -> Iterator[Config]:
    """For commands that talk to Prefect: exit codes, the configuration, and the server
    (starting a local one if needed) set up before Prefect is imported. With
    `imports_prefect=False` the command imports Prefect only if it needs to, and then calls
    `one_line_errors()` first.

    A flow run in this process reads the configuration as a served one does: from
    RELEASEGATE_CONFIG (flows take no `config` parameter), set here to the file loaded.
    """
    from releasegate import prefect_server
    from releasegate.config import config_path

    with outcome():
        settings = load(config)
        os.environ["RELEASEGATE_CONFIG"] = str(config_path(config).resolve())
        with err.status("Connecting to the Prefect server…"):
            prefect_server.ensure(settings.home)
        if imports_prefect:
            one_line_errors()
        yield settings


class _OneLine(logging.Filter):
    """On the console only: an error releasegate raised on purpose is printed by the CLI as
    one line; Prefect's tracebacks of it, and its lines repeating it, are dropped here.
    The run's logs in the Prefect API keep all of them (that handler is not filtered)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ReleasegateError):
            self.seen.add(str(exc))
            return False
        message = record.getMessage()
        return not any(text in message for text in self.seen)


def one_line_errors() -> None:
    """Prefect's console output of a run in this process: errors releasegate raised on
    purpose as one line (`_OneLine`)."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()  # Prefect sets its handlers up lazily: have them now
    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler) and not any(
            isinstance(f, _OneLine) for f in handler.filters
        ):
            handler.addFilter(_OneLine())
