"""Benchmark: how fast the webhook receiver answers a signed push (target: 2xx within 100 ms).

Starts a Prefect server (SQLite, or PostgreSQL with --postgres), `releasegate setup`, and
`releasegate webhook serve`; no worker, so the runs it creates stay scheduled and nothing
else competes. Posts N distinct signed pushes one after another, then each again (GitHub's
redelivery: the run found by its idempotency key), then N pushes to another branch (the
receiver's own share: verified, read and ignored, no Prefect call), over one kept-alive HTTP
connection, and prints the answer times. The last line is exactly:

    webhook: push_answer_p50_ms=A push_answer_p95_ms=B duplicate_answer_p50_ms=C

    .venv/bin/python bench/webhook.py [--pushes 40] [--postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support

from releasegate import prefect_server, processes  # noqa: E402
from releasegate.signing.webhook import github_signature  # noqa: E402
from tests.support.answering import percentile  # noqa: E402
from tests.support.github import push  # noqa: E402
from tests.support.postgres import PostgreSQL, PrefectOnPostgres  # noqa: E402
from tests.support.toml import table  # noqa: E402

SECRET = "bench-webhook-secret-" + uuid.uuid4().hex
BIN = Path(sys.executable).parent


@contextlib.contextmanager
def prefect(work: Path, postgres: bool) -> Iterator[str]:
    """A Prefect server for the bench: its API URL."""
    if postgres:
        with PostgreSQL() as pg, PrefectOnPostgres(pg) as server:
            yield server.api_url
        return
    info = prefect_server.start(work, port=processes.free_port())
    try:
        yield str(info["api_url"])
    finally:
        processes.stop(int(info["pid"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=40)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rg-bench-webhook-"))
    config = work / "bench.toml"
    lines = table(None, {"home": work / "home"})
    lines += table("app", {"name": "webapp", "source": ROOT / "examples/webapp"})
    lines += table("environments.staging", {"url": f"http://127.0.0.1:{processes.free_port()}"})
    config.write_text("\n".join(lines) + "\n")
    with prefect(work, args.postgres) as api_url:
        env = {
            **os.environ,
            **prefect_server.quiet_env(),
            "PREFECT_API_URL": api_url,
            "RELEASEGATE_WEBHOOK_SECRET": SECRET,
        }
        setup = [str(BIN / "releasegate"), "setup", "--config", str(config)]
        subprocess.run(setup, env=env, check=True, capture_output=True, timeout=300)
        port = processes.free_port()
        serve = ["webhook", "serve", "--config", str(config), "--port", str(port)]
        receiver = processes.spawn([str(BIN / "releasegate"), *serve], log=work / "r.log", env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            processes.wait_until(lambda: processes.http_ok(f"{url}/healthz"), timeout=60)
            bodies = [push(uuid.uuid4().hex + uuid.uuid4().hex[:8]) for _ in range(args.pushes)]
            with httpx.Client(base_url=url, timeout=30) as client:
                first = [answer_ms(client, body, 202) for body in bodies]
                again = [answer_ms(client, body, 200) for body in bodies]
                ignored = [
                    answer_ms(client, push(uuid.uuid4().hex * 2, branch="other"), 202)
                    for _ in bodies
                ]
        finally:
            processes.stop(receiver.pid)
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"Prefect server on {database}; {args.pushes} pushes, one at a time (2 cores, shared)")
    print(f"{'answer':<28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    rows = (
        ("new push (run created)", first),
        ("same push again", again),
        ("other branch (no Prefect)", ignored),
    )
    for name, values in rows:
        row = [statistics.median(values), percentile(values, 0.95), max(values)]
        print(f"{name:<28} " + " ".join(f"{v:>8.1f}" for v in row))
    print(
        f"webhook: push_answer_p50_ms={statistics.median(first):.1f} "
        f"push_answer_p95_ms={percentile(first, 0.95):.1f} "
        f"duplicate_answer_p50_ms={statistics.median(again):.1f}"
    )


def answer_ms(client: httpx.Client, body: bytes, status: int) -> float:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": github_signature(SECRET, body),
    }
    began = time.perf_counter()
    answer = client.post("/webhooks/github", content=body, headers=headers)
    took = (time.perf_counter() - began) * 1000
    assert answer.status_code == status, answer.text
    return took


if __name__ == "__main__":
    main()
