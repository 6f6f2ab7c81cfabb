"""How the local target starts one instance of an app: `[app] command`, checked at load.

A list of arguments (never a shell string) whose placeholders are filled in per instance:
`{python}` the interpreter running releasegate, `{fd}` the file descriptor of the instance's
listening socket, `{port}` its port. The placeholders say how the instance listens:

- **socket** (the command names `{fd}`, or neither `{fd}` nor `{port}`): releasegate binds
  127.0.0.1 on a port the kernel picks and the instance inherits the listening socket as fd 3,
  with `LISTEN_FDS=1` and `LISTEN_PID` set as systemd does. The port is taken before the
  instance exists and stays taken until it exits: nothing else can get it in between.
  `uvicorn --fd {fd}`, `gunicorn --bind fd://{fd}`, `hypercorn --bind fd://{fd}` and apps
  that call `sd_listen_fds()` (no placeholder needed) all take a socket this way.
- **port** (`{port}` without `{fd}`): the instance binds the port itself. Between the choice
  and its bind another process could take the port; see `ports.py` for how the choice
  keeps clear of this home's URLs and of other deployers.

Pure: no I/O.
"""

from __future__ import annotations

from string import Formatter
from typing import Annotated, Literal

from pydantic import AfterValidator

Listening = Literal["socket", "port"]
PLACEHOLDERS = ("python", "fd", "port")
DEFAULT_COMMAND = ("{python}", "app.py", "--fd", "{fd}")


def placeholders(command: tuple[str, ...]) -> set[str]:
    """The placeholders `command` uses; ValueError naming the part that is not understood."""
    used: set[str] = set()
    known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    for part in command:
        try:
            fields = [(name, spec, conv) for _, name, spec, conv in Formatter().parse(part)]
        except ValueError as exc:
            raise ValueError(
                f"{part!r}: {exc} (write a literal brace as '{{{{' or '}}}}')"
            ) from None
        for name, spec, conversion in fields:
            if name is None:
                continue  # trailing literal text
            if name not in PLACEHOLDERS or spec or conversion:
                whole = (
                    name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
                )
                raise ValueError(f"{part!r}: unknown placeholder {{{whole}}}; use {known}")
            used.add(name)
    return used


def _checked(command: tuple[str, ...]) -> tuple[str, ...]:
    if not command or not command[0]:
        raise ValueError("the command must name a program")
    placeholders(command)
    return command


Command = Annotated[tuple[str, ...], AfterValidator(_checked)]
"""`[app] command`: the arguments that start one instance, with known placeholders only."""


def listening(command: tuple[str, ...]) -> Listening:
    """How an instance started by `command` listens (see the module's docstring)."""
    used = placeholders(command)
    return "port" if "port" in used and "fd" not in used else "socket"


def render(command: tuple[str, ...], *, python: str, fd: int, port: int) -> list[str]:
    """The argv of one instance."""
    return [part.format(python=python, fd=fd, port=port) for part in command]
