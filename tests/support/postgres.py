"""Debian's PostgreSQL for tests: a throw-away cluster on 127.0.0.1, and a Prefect server on it.

    with PostgreSQL() as pg, PrefectOnPostgres(pg) as prefect:
        prefect.env()   # PREFECT_API_URL (and quiet settings) for processes that use it

initdb refuses to run as root, so the cluster belongs to the `postgres` user (`runuser`);
it listens on 127.0.0.1 and a socket in its own directory, with fsync off, and is stopped
(`pg_ctl stop -m immediate`) and removed afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releasegate import prefect_server, processes

BIN = Path("/usr/lib/postgresql/15/bin")
OWNER = "postgres"


def _as_owner(*argv: str) -> None:
    done = subprocess.run(
        ["runuser", "-u", OWNER, "--", *argv], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {done.stdout}{done.stderr}")


@dataclass
class PostgreSQL:
    """One PostgreSQL cluster with a `prefect` database."""

    port: int = field(default_factory=processes.free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rg-pg-")))

    def __enter__(self) -> PostgreSQL:
        shutil.chown(self.root, OWNER)
        data = str(self.root / "data")
        _as_owner(str(BIN / "initdb"), "-D", data, "-U", OWNER, "--auth=trust", "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        _as_owner(str(BIN / "pg_ctl"), "-D", data, "-l", str(self.root / "log"), "-w",
                  "-o", options, "start")  # fmt: skip
        _as_owner(str(BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "prefect")
        return self

    def __exit__(self, *exc: object) -> None:
        _as_owner(str(BIN / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self) -> str:
        return f"postgresql+asyncpg://{OWNER}@127.0.0.1:{self.port}/prefect"


@dataclass
class PrefectOnPostgres:
    """A Prefect server whose database is `pg`, on 127.0.0.1, stopped by its PID."""

    pg: PostgreSQL
    port: int = field(default_factory=processes.free_port)
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rg-prefect-pg-")))
    pid: int | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def env(self) -> dict[str, str]:
        """What a client process (worker, receiver, CLI) of this server needs."""
        return {**prefect_server.quiet_env(), "PREFECT_API_URL": self.api_url}

    def __enter__(self) -> PrefectOnPostgres:
        argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                "--port", str(self.port)]  # fmt: skip
        env = {
            **prefect_server.server_env(self.home, self.port),
            "PREFECT_API_DATABASE_CONNECTION_URL": self.pg.url(),
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        proc = processes.spawn(argv, log=self.home / "server.log", env=env)
        self.pid = proc.pid
        try:
            processes.wait_until(
                lambda: proc.poll() is None and processes.http_ok(f"{self.api_url}/health"),
                timeout=prefect_server.STARTUP_TIMEOUT,
                interval=0.5,
                what="Prefect server on PostgreSQL",
            )
        except processes.Timeout:
            processes.stop(proc.pid)
            tail = (self.home / "server.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"Prefect on PostgreSQL did not start:\n{tail}") from None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.pid is not None:
            processes.stop(self.pid)
        shutil.rmtree(self.home, ignore_errors=True)

    def log(self) -> str:
        return (self.home / "server.log").read_text(errors="replace") if self.home.exists() else ""
