"""The RELEASEGATE_* variables that override configuration keys, so an error names the
variable that caused it, not only the key (pydantic-settings knows only the key).

`RELEASEGATE_ENVIRONMENTS__PRODUCTION__WAIT_TIMER` sets `environments.production.wait_timer`:
the prefix is dropped, `__` separates nesting levels, names are case-insensitive.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel
from pydantic_settings import EnvSettingsSource, SettingsError

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
