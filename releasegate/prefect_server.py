"""The Prefect server releasegate talks to: the one PREFECT_API_URL names, or a local one.

When PREFECT_API_URL is unset, releasegate starts (once) a Prefect server on 127.0.0.1
with SQLite under `<home>/prefect`, records its PID, and reuses it afterwards. This must
run before `prefect` is imported: Prefect reads its settings at import time.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from releasegate import processes
from releasegate.errors import Failed

DEFAULT_PORT = 4200
STARTUP_TIMEOUT = 180.0  # a fresh SQLite database is migrated on first start


def _info_file(home: Path) -> Path:
    return home / "prefect" / "server.json"


def quiet_env() -> dict[str, str]:
    """No telemetry: these machines (and many production networks) have no way out."""
    return {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def running(home: Path) -> dict[str, Any] | None:
    """The server releasegate started under `home`, if it is still up."""
    try:
        info = json.loads(_info_file(home).read_text())
    except (OSError, ValueError):
        return None
    ours = processes.owns(int(info["pid"]), info["argv"])
    up = ours and processes.http_ok(f"{info['api_url']}/health")
    return info if up else None


def ensure(home: Path) -> str:
    """The API URL to use, starting a local server first if there is none."""
    if url := os.environ.get("PREFECT_API_URL"):
        return url
    info = running(home) or start(home)
    url = str(info["api_url"])
    os.environ["PREFECT_API_URL"] = url
    os.environ.update(quiet_env())
    return url


def start(home: Path, port: int | None = None) -> dict[str, Any]:
    """Start a Prefect server on 127.0.0.1 (on `port`, else 4200 if free) and wait until
    it is healthy. Its SQLite database and log live under `<home>/prefect`."""
    root = (home / "prefect").resolve()
    root.mkdir(parents=True, exist_ok=True)
    if port is None:
        port = DEFAULT_PORT if processes.port_free(DEFAULT_PORT) else processes.free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**quiet_env(), "PREFECT_HOME": str(root)}
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
            "--port", str(port)]  # fmt: skip
    proc = processes.spawn(argv, log=root / "server.log", env=env)
    try:
        processes.wait_until(
            lambda: proc.poll() is None and processes.http_ok(f"{api_url}/health"),
            timeout=STARTUP_TIMEOUT,
            interval=0.5,
            what="Prefect server health",
        )
    except processes.Timeout:
        processes.stop(proc.pid)
        tail = (root / "server.log").read_text(errors="replace")[-2000:]
        raise Failed(f"the Prefect server did not start; its log ends:\n{tail}") from None
    info: dict[str, Any] = {
        "pid": proc.pid,
        "argv": argv,
        "api_url": api_url,
        "ui_url": f"http://127.0.0.1:{port}",
    }
    _info_file(home).write_text(json.dumps(info))
    return info


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
    """The Prefect UI for the API in use."""
    api = os.environ.get("PREFECT_API_URL", "")
    return os.environ.get("PREFECT_UI_URL") or api.removesuffix("/api")
