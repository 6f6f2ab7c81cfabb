"""Session-wide test setup: one real Prefect server per test run, started on first use.

Prefect reads its settings when it is imported, so the API URL (on a port chosen now) and
a private PREFECT_HOME are set here, before any test module imports Prefect.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from releasegate import prefect_server, processes
from releasegate.prefect_server import quiet_env
from tests.support.seaweedfs import SeaweedFS

_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="releasegate-test-prefect-"))
_PORT = processes.free_port()
os.environ.update(
    {
        "PREFECT_API_URL": f"http://127.0.0.1:{_PORT}/api",
        "PREFECT_HOME": str(_PREFECT_HOME),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        # The server stops before the interpreter exits; no late log shipping to it.
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
        # The SQLite server answers 503 ("retry") while its database is locked; twenty runs
        # at once on two loaded cores outlast the client's default five retries (a full run
        # failed test_many_apps on it). Ten, with the client's own backoff.
        "PREFECT_CLIENT_MAX_RETRIES": "10",
        **quiet_env(),
    }
)
for leaked in ("RELEASEGATE_CONFIG", "RELEASEGATE_HOME", "RELEASEGATE_AUDIT", "RELEASEGATE_ACTOR"):
    os.environ.pop(leaked, None)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """A real Prefect server (SQLite) on 127.0.0.1 for the whole session, stopped by PID."""
    info = prefect_server.start(_PREFECT_HOME, port=_PORT)
    assert info["api_url"] == os.environ["PREFECT_API_URL"]
    yield str(info["api_url"])
    processes.stop(int(info["pid"]))


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    """A real S3 server (SeaweedFS, with credentials) on 127.0.0.1 for the session."""
    with SeaweedFS() as server:
        yield server


@pytest.fixture
def s3(seaweedfs: SeaweedFS) -> Any:
    """An admin boto3 client for the session's S3 server (to create buckets and to tamper)."""
    return seaweedfs.client()


@pytest.fixture
def bucket(s3: Any) -> str:
    """A fresh bucket on the session's S3 server."""
    name = f"audit-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name
