"""Writing small TOML configuration files from Python values, for tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def value(v: Any) -> str:
    """One TOML value (inline tables for dicts)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str | Path):
        # A JSON string is a valid TOML basic string, unless it escapes a character outside
        # the BMP as a surrogate pair (TOML refuses those): keep such characters literal.
        return json.dumps(str(v), ensure_ascii=False)
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML for {v!r}")


def table(name: str | None, values: dict[str, Any]) -> list[str]:
    """`[name]` and its `key = value` lines (no header for the top level)."""
    head = [f"[{name}]"] if name else []
    return head + [f"{k} = {value(v)}" for k, v in values.items() if v is not None]
