"""The RELEASEGATE_* variables that override configuration keys, so an error names the
variable that caused it, not only the key (pydantic-settings knows only the key).

`RELEASEGATE_ENVIRONMENTS__PRODUCTION__WAIT_TIMER` sets `environments.production.wait_timer`:
the prefix is dropped, `__` separates nesting levels, names are case-insensitive.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel
from pydantic_settings import EnvSettingsSource, SettingsError

from releasegate.errors import ConfigError

PREFIX = "RELEASEGATE_"
NESTED = "__"


def overrides(model: type[BaseModel]) -> dict[str, tuple[str, ...]]:
    """Each variable that sets a key of `model`, with the key's path (lower case)."""
    found = {}
    for name in os.environ:
        if not name.upper().startswith(PREFIX):
            continue
        path = tuple(name[len(PREFIX) :].lower().split(NESTED))
        if path[0] in model.model_fields:
            found[name] = path
    return found


def culprit(loc: tuple[str | int, ...], variables: dict[str, tuple[str, ...]]) -> str | None:
    """The variable that set the key at `loc`, or a key above it, if one did."""
    where = tuple(str(part).lower() for part in loc)
    return next((name for name, path in variables.items() if where[: len(path)] == path), None)


def unparsable(model: type[BaseModel], variables: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """The variables pydantic-settings cannot parse on their own (a list or a table must be
    JSON), each with the parser's complaint. Asked only after parsing failed."""
    bad = {}
    for name in variables:
        source = _OneVariable(model, name)
        try:
            source()
        except SettingsError as exc:
            bad[name] = (
                "cannot be parsed: a list or a table is written as JSON "
                f"(e.g. '[\"main\"]'): {exc.__cause__ or exc}"
            )
    return bad


class _OneVariable(EnvSettingsSource):
    """The environment source, reading one variable only."""

    def __init__(self, model: type[BaseModel], variable: str) -> None:
        self._variable = variable
        super().__init__(
            model,  # type: ignore[arg-type]
            case_sensitive=False,
            env_prefix=PREFIX,
            env_nested_delimiter=NESTED,
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {self._variable.lower(): os.environ.get(self._variable)}


def no_new_environments(
    file: Path, declared: object, variables: dict[str, tuple[str, ...]]
) -> None:
    """Variables override the file's environments (`declared`); they never add one (a typo
    in a variable name would otherwise add an environment to the pipeline). ConfigError
    naming the variable otherwise."""
    names = [str(n) for n in declared] if isinstance(declared, dict) else []
    for variable, path in variables.items():
        if path[0] != "environments":
            continue
        for name in _environments_set(variable, path):
            if name in names:
                continue
            # Variable names are read in lower case: `..._PRODUCTION__URL` sets `production`,
            # and merged beside `Production` it would be a new environment, without its gates.
            like = [n for n in names if n.lower() == name.lower()]
            unreachable = (
                f" (variable names are read in lower case: set {like[0]!r} with "
                f"{PREFIX}ENVIRONMENTS='{{\"{like[0]}\": {{...}}}}')"
                if like
                else ""
            )
            raise ConfigError(
                f"{file}: invalid configuration\n  {variable}: no environment {name!r} "
                f"in {file}: variables override environments, they do not add any{unreachable}"
            )


def _environments_set(variable: str, path: tuple[str, ...]) -> list[str]:
    """The environments a variable sets: the one its name names, or the keys of its JSON
    table (`RELEASEGATE_ENVIRONMENTS='{...}'`; if it is not JSON, loading says so)."""
    if len(path) > 1:
        return [path[1]]
    try:
        table = json.loads(os.environ.get(variable, ""))
    except ValueError:
        return []
    return [str(name) for name in table] if isinstance(table, dict) else []
