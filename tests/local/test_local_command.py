"""`[app] command`: its placeholders say how an instance listens; anything else fails at load."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from releasegate import config
from releasegate.cli import app
from releasegate.targets.local.settings import DEFAULT_COMMAND, listening, render
from tests.support.toml import table


def write(tmp_path: Path, command: list[str] | None) -> Path:
    lines = table("app", {"name": "webapp", "command": command})
    lines += table("environments.staging", {"url": "http://127.0.0.1:18080"})
    path = tmp_path / "releasegate.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("command", "listens"),
    [
        (DEFAULT_COMMAND, "socket"),
        (("uvicorn", "--fd", "{fd}", "app:app"), "socket"),
        (("gunicorn", "--bind", "fd://{fd}", "--bind-note={port}", "app:app"), "socket"),
        (("./server",), "socket"),  # reads LISTEN_FDS itself, as sd_listen_fds() does
        (("{python}", "app.py", "--port", "{port}"), "port"),
        (("{python}", "-c", "print({{'port': 1}})", "--port={port}"), "port"),
    ],
)
def test_placeholders_say_how_an_instance_listens(
    tmp_path: Path, command: tuple[str, ...], listens: str
) -> None:
    loaded = config.load(write(tmp_path, list(command))).app.command
    assert loaded == command and listening(loaded) == listens


def test_the_default_command_takes_the_socket(tmp_path: Path) -> None:
    loaded = config.load(write(tmp_path, None)).app.command
    assert render(loaded, python="/py", fd=3, port=40000) == ["/py", "app.py", "--fd", "3"]


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (["{python}", "app.py", "--port", "{prot}"], "'{prot}': unknown placeholder {prot}"),
        (["app", "--port={port:>6}"], "unknown placeholder {port:>6}; use {python}, {fd}"),
        (["app", "{port!r}"], "unknown placeholder {port!r}"),
        (["app", "{}"], "unknown placeholder {}"),
        (["app", "{0}"], "unknown placeholder {0}"),
        (["app", "{fd.real}"], "unknown placeholder {fd.real}"),
        (["app", "--fd={fd"], "'--fd={fd': expected '}' before end of string"),
        (["app", "}"], "Single '}' encountered"),
        ([], "the command must name a program"),
        ([""], "the command must name a program"),
    ],
)
def test_a_bad_command_fails_at_load_with_exit_2(
    tmp_path: Path, command: list[str], reason: str
) -> None:
    path = write(tmp_path, command)
    result = CliRunner().invoke(app, ["status", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert str(path) in result.output and "app.command" in result.output
    assert reason in result.output
    assert "Traceback" not in result.output
