"""The Prefect server releasegate talks to: the one PREFECT_API_URL names, or a local one.

When PREFECT_API_URL is unset, releasegate starts (once) a Prefect server on 127.0.0.1
with SQLite under `<home>/prefect`, records its PID, and reuses it afterwards. This must
run before `prefect` is imported: Prefect reads its settings at import time.

The UI that server serves must call *that* server: Prefect's UI takes its API address
from the server's settings (PREFECT_UI_API_URL, else PREFECT_API_URL, else
PREFECT_SERVER_API_HOST/PORT), never from `--port`. Started on another port with none of
them set, its pages call 127.0.0.1:4200 and show "Can't connect to Server API" or another
server's runs. `start` sets them and checks `/ui-settings` before handing the server out.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from releasegate import processes
from releasegate.errors import Failed
from releasegate.redaction import redact_url
from releasegate.targets.local.state import locked

DEFAULT_PORT = 4200
LEASE_STORAGE = "prefect.server.concurrency.lease_storage.filesystem"
LEASES_ON_DISK = {"PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": LEASE_STORAGE}
"""Concurrency leases kept under the server's PREFECT_HOME, not in its memory (Prefect's
default): a server restarted while a change holds an environment's lock then frees the slot
when the lease expires, instead of leaving the environment locked for good."""
STARTUP_TIMEOUT = 180.0  # a fresh SQLite database is migrated on first start
V2_RUN_PAGE = "/v2/runs/flow-run/{id}"  # the default (V2) UI's page for one flow run


def _info_file(home: Path) -> Path:
    return home / "prefect" / "server.json"


def quiet_env() -> dict[str, str]:
    """No telemetry: these machines (and many production networks) have no way out."""
    return {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def server_env(root: Path, port: int) -> dict[str, str]:
    """The settings of a server on 127.0.0.1:`port` whose home is `root`. Every address
    is set: ones inherited from the caller (a test run, a shell) may name another server."""
    api_url = f"http://127.0.0.1:{port}/api"
    return {
        **quiet_env(),
        **LEASES_ON_DISK,
        "PREFECT_HOME": str(root),
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_API_URL": api_url,  # the server's own services call it
        "PREFECT_UI_API_URL": api_url,  # what the UI's pages call
        "PREFECT_UI_URL": f"http://127.0.0.1:{port}",  # links the server writes
    }


def running(home: Path) -> dict[str, Any] | None:
    """The server releasegate started under `home`, if it is still up."""
    try:
        info = json.loads(_info_file(home).read_text())
    except (OSError, ValueError):
        return None
    ours = processes.owns(int(info["pid"]), info["argv"])
    up = ours and processes.http_ok(f"{info['api_url']}/health")
    return info if up else None


def connect(home: Path) -> str | None:
    """The API URL of a server that is already there (PREFECT_API_URL, or the one started
    under `home`), set up for Prefect's import; None if there is none. Starts nothing."""
    if url := os.environ.get("PREFECT_API_URL"):
        return url
    info = running(home)
    return _use(info) if info else None


def ensure(home: Path) -> str:
    """The API URL to use, starting a local server first if there is none.

    Under `<home>/prefect/server.lock`: two commands run at once on a fresh home (two
    terminals, the demo and a `deploy`) would each start a server, both on 4200 while it is
    free; one fails to bind, and server.json could name that dead one, orphaning the server
    that runs (`down` would not know it, the next command would start another)."""
    if url := os.environ.get("PREFECT_API_URL"):
        return url
    with locked(home / "prefect" / "server.lock"):
        info = running(home)
        if info and misdirected_ui(info):  # started before releasegate set the UI's address
            stop(home)
            info = None
        return _use(info or start(home))


def _use(info: dict[str, Any]) -> str:
    url = str(info["api_url"])
    os.environ["PREFECT_API_URL"] = url
    os.environ.update(quiet_env())
    return url


def start(home: Path, port: int | None = None) -> dict[str, Any]:
    """Start a Prefect server on 127.0.0.1 (on `port`, else 4200 if free) and wait until
    it is healthy and its UI calls it. Its SQLite database and log live under `<home>/prefect`."""
    root = (home / "prefect").resolve()
    root.mkdir(parents=True, exist_ok=True)
    if port is None:
        port = DEFAULT_PORT if processes.port_free(DEFAULT_PORT) else processes.free_port()
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
            "--port", str(port)]  # fmt: skip
    info: dict[str, Any] = {
        "argv": argv,
        "api_url": f"http://127.0.0.1:{port}/api",
        "ui_url": f"http://127.0.0.1:{port}",
        "home": str(root),
    }
    proc = processes.spawn(argv, log=root / "server.log", env=server_env(root, port))
    info["pid"] = proc.pid
    try:
        processes.wait_until(
            lambda: proc.poll() is None and processes.http_ok(f"{info['api_url']}/health"),
            timeout=STARTUP_TIMEOUT,
            interval=0.5,
            what="Prefect server health",
        )
        problem = not_ours(info) or misdirected_ui(info)
    except processes.Timeout:
        tail = (root / "server.log").read_text(errors="replace")[-2000:]
        problem = f"the Prefect server did not start; its log ends:\n{tail}"
    if problem:
        processes.stop(proc.pid)
        raise Failed(problem)
    _info_file(home).write_text(json.dumps(info))
    return info


def not_ours(info: dict[str, Any]) -> str | None:
    """Why the server answering at `info['api_url']` is not the one started with `info`
    (another process may have taken the port between our check and our server's bind)."""
    try:
        home = httpx.get(f"{info['api_url']}/admin/settings", timeout=5).json()["home"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return f"cannot read the settings of the Prefect server at {info['api_url']}: {exc}"
    if Path(home) != Path(info["home"]):
        return f"{info['api_url']} is answered by another Prefect server (home {home})"
    return None


def misdirected_ui(info: dict[str, Any]) -> str | None:
    """Why the UI at `info['ui_url']` would not show this server's runs, if it would not:
    `/ui-settings` names the API address its pages call."""
    try:
        api_url = httpx.get(f"{info['ui_url']}/ui-settings", timeout=5).json()["api_url"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return f"cannot read {info['ui_url']}/ui-settings: {exc}"
    if api_url != info["api_url"]:
        return f"the Prefect UI at {info['ui_url']} would call {api_url}, not {info['api_url']}"
    return None


def stop(home: Path) -> str | None:
    """Stop the server releasegate started under `home`, if any; say what was stopped."""
    info = running(home)
    _info_file(home).unlink(missing_ok=True)
    if info is None:
        return None
    pid = int(info["pid"])
    if processes.stop_if_ours(pid, info["argv"]):  # a reused PID is left alone
        return f"Prefect server (pid {pid}, {info['ui_url']})"
    return None


def ui_url() -> str:
    """The Prefect UI for the API in use, as shown to a person: without the credentials a
    PREFECT_API_URL or PREFECT_UI_URL may carry (`https://user:password@prefect.example/api`)."""
    api = os.environ.get("PREFECT_API_URL", "")
    return redact_url(os.environ.get("PREFECT_UI_URL") or api.removesuffix("/api"))


def run_url(flow_run_id: str) -> str:
    """A direct link to one flow run in the Prefect UI (its default, V2, pages)."""
    return ui_url() + V2_RUN_PAGE.format(id=flow_run_id)
