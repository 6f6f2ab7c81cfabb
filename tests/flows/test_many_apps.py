"""Twenty apps deploying at once through the real deploy flow, on one Prefect server and one
home: no instance port clashes with another app's instance or with a configured URL.

Each app has one environment of its own (blue-green, 2 replicas, no approvals, one smoke
check): 20 proxies and 40 instances start at once.

Meanwhile CLAIMED other environments are configured on this machine and not up yet: a
production waiting for its approvals, an app that was stopped, another team's app. Their URLs
were picked as every URL in this suite is (`free_port`: free now, below the ephemeral range),
and their proxies will bind them later. An instance must never take one. Before issue 11 the
local target drew instance ports from that same range, checked free, and let the app bind
them: with this many claimed ports (13% of the range) each instance missed them all with
p = 0.87, so that code passes this test once in ~300 runs (0.87^40); it failed all three runs
tried, with 5, 4 and 1 instances on claimed ports.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from releasegate import config as configuration
from releasegate.flows.deploy import deploy
from releasegate.processes import free_port
from releasegate.targets.local.target import down
from releasegate.wiring import open_target
from tests.conftest import REPO
from tests.flows.conftest import serving
from tests.support.toml import table

APPS = 20
REPLICAS = 2
CLAIMED = 3000


@dataclass(frozen=True)
class App:
    name: str
    environment: str
    url: str
    config: Path


def write_app(folder: Path, home: Path, index: int, url: str) -> App:
    app = App(f"app-{index:02d}", f"env-{index:02d}", url, folder / f"app-{index:02d}.toml")
    lines = table(None, {"home": home})
    lines += table("app", {"name": app.name, "source": REPO / "examples" / "webapp"})
    lines += table(
        f"environments.{app.environment}",
        {
            "url": url,
            "replicas": REPLICAS,
            "smoke": [{"path": "/version", "json": {"version": "{version}"}}],
            "smoke_timeout": "10s",
        },
    )
    app.config.write_text("\n".join(lines) + "\n")
    return app


def deploy_all(apps: list[App], version: str) -> dict[str, str]:
    """Deploy `version` of every app at once; app name -> error, for those that failed."""

    def one(app: App) -> str | None:
        try:
            with configuration.pinned(app.config):  # each thread runs its own app's flow
                deploy(version=version, actor="ci")
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    with ThreadPoolExecutor(max_workers=len(apps)) as pool:
        outcomes = list(pool.map(one, apps))
    return {app.name: error for app, error in zip(apps, outcomes, strict=True) if error}


def instance_ports(app: App) -> list[int]:
    status = open_target(configuration.load(app.config), app.environment).status()
    return [i["port"] for i in status["instances"] if i["running"]]


def test_twenty_apps_deploy_at_once_and_no_instance_takes_a_configured_port(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    claimed: set[int] = set()
    while len(claimed) < CLAIMED:
        claimed.add(free_port())
    urls: list[str] = []
    while len(urls) < APPS:
        if (port := free_port()) not in claimed:
            urls.append(f"http://127.0.0.1:{port}")
    apps = [write_app(tmp_path, home, i, url) for i, url in enumerate(urls)]
    try:
        started = time.monotonic()
        assert deploy_all(apps, "v1") == {}
        print(f"{APPS} apps deployed at once in {time.monotonic() - started:.1f}s")
        assert {app.name: serving(app.url) for app in apps} == {app.name: "v1" for app in apps}

        ports = [port for app in apps for port in instance_ports(app)]
        assert len(ports) == APPS * REPLICAS
        assert len(set(ports)) == len(ports), "no two instances share a port"
        url_ports = {int(url.rsplit(":", 1)[1]) for url in urls}
        assert sorted(set(ports) & (claimed | url_ports)) == [], "an instance took a URL's port"
    finally:
        down(home)
