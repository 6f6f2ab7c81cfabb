"""Fixtures for the local target: a private home, builders, targets on free ports.

Every process a test starts through a target is stopped by PID in teardown (`down`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from releasegate.processes import free_port
from releasegate.targets.local.bundle import LocalBuilder
from releasegate.targets.local.proxy import STATS_PATH
from releasegate.targets.local.target import LocalTarget, down

WEBAPP = Path(__file__).resolve().parents[2] / "examples" / "webapp"

MakeTarget = Callable[..., LocalTarget]


def get_version(url: str) -> str:
    """The version `url` serves now."""
    return httpx.get(f"{url}/version", timeout=5.0, trust_env=False).json()["version"]


def proxy_stats(url: str) -> dict[str, Any]:
    """What the environment proxy at `url` reports about itself (requests, retries, routes)."""
    response = httpx.get(f"{url}{STATS_PATH}", timeout=5.0, trust_env=False)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A releasegate home; every process started under it is stopped afterwards."""
    home = tmp_path / "home"
    yield home
    down(home)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A private copy of the example app, safe to modify."""
    copy = tmp_path / "src"
    shutil.copytree(WEBAPP, copy, ignore=shutil.ignore_patterns("__pycache__", "VERSION"))
    return copy


@pytest.fixture
def builder(home: Path, source: Path) -> LocalBuilder:
    return LocalBuilder(home, "webapp", source)


@pytest.fixture
def make_target(home: Path) -> MakeTarget:
    """LocalTarget factory: environment "staging" on a free port unless told otherwise."""

    def make(environment: str = "staging", **options: Any) -> LocalTarget:
        url = f"http://127.0.0.1:{free_port()}"
        return LocalTarget(home, "webapp", environment, url, **options)

    return make


class Probe:
    """A probe that checks `/version` answers and records the URLs it was asked about."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, base_url: str) -> bool:
        self.calls.append(base_url)
        return httpx.get(f"{base_url}/version", timeout=5.0, trust_env=False).is_success


@pytest.fixture
def probe() -> Probe:
    return Probe()


def broken_copy(source: Path, dest: Path, old: str, new: str) -> Path:
    """A copy of the app source with `old` replaced by `new` in app.py (which must contain it)."""
    shutil.copytree(source, dest)
    app = dest / "app.py"
    text = app.read_text()
    assert old in text, f"{old!r} not in app.py"
    app.write_text(text.replace(old, new))
    return dest
