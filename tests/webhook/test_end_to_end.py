"""Push to staging for real: PostgreSQL, a Prefect server on it, `releasegate setup`, a
Prefect worker and `releasegate webhook serve`, all started here as separate processes
(one stack for the module). Deliveries are signed as GitHub signs them and posted over HTTP.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from releasegate import config as configuration
from releasegate import processes
from releasegate.audit.record import AuditRecord
from releasegate.signing.webhook import github_signature
from releasegate.wiring import open_store
from tests.conftest import REPO
from tests.support.answering import SMOKE, version_of
from tests.support.github import push
from tests.support.postgres import PostgreSQL, PrefectOnPostgres
from tests.support.toml import table

SECRET = uuid.uuid4().hex + uuid.uuid4().hex  # random: no piece of it is a word
BIN = Path(sys.executable).parent


@dataclass
class Stack:
    prefect: PrefectOnPostgres
    config: Path
    home: Path
    staging: str
    receiver: str
    env: dict[str, str]
    logs: Path

    def records(self, environment: str = "staging") -> list[AuditRecord]:
        """The environment's records, oldest first."""
        return list(reversed(list(open_store(configuration.load(self.config)).newest(environment))))

    def runs(self) -> int:
        """How many deploy runs the Prefect server holds (the reconcile deployment's
        schedule adds runs of its own while the tests run)."""
        answer = httpx.post(
            f"{self.prefect.api_url}/flow_runs/count",
            json={"flows": {"name": {"any_": ["deploy"]}}},
            timeout=10,
        )
        answer.raise_for_status()
        return int(answer.json())

    def deliver(
        self,
        body: bytes,
        *,
        event: str = "push",
        delivery: str | None = None,
        signature: str | bytes | None = "valid",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent: dict[str, str | bytes] = {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "User-Agent": "GitHub-Hookshot/test",
        }
        if signature == "valid":
            sent["X-Hub-Signature-256"] = github_signature(SECRET, body)
        elif signature is not None:
            sent["X-Hub-Signature-256"] = signature
        return httpx.post(
            f"{self.receiver}/webhooks/github", content=body, headers={**sent, **(headers or {})}
        )

    def raw(self, body: bytes, headers: dict[str, str]) -> int:
        """The status of a signed delivery sent byte by byte, with `headers` as given (a
        Content-Length that lies, headers no HTTP client would send)."""
        host, port = self.receiver.removeprefix("http://").split(":")
        fields = {
            "Host": host,
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": github_signature(SECRET, body),
            "Connection": "close",
            **headers,
        }
        head = "POST /webhooks/github HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in fields.items()
        )
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(head.encode() + b"\r\n" + body)
            status_line = conn.makefile("rb").readline()
        return int(status_line.split()[1])

    def log(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs.glob("*")
        )


def commit() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex[:8]


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "releasegate"), *args], env=env, capture_output=True, text=True, timeout=180
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("push-e2e")
    home, logs = root / "home", root / "logs"
    staging = f"http://127.0.0.1:{processes.free_port()}"
    config = root / "releasegate.toml"
    lines = table(None, {"home": home})
    lines += table("app", {"name": "webapp", "source": REPO / "examples/webapp"})
    lines += table("webhook", {"branches": ["main"], "repository": "acme/webapp"})
    lines += table("environments.staging", {"url": staging, "smoke": SMOKE, "smoke_timeout": "10s"})
    # Production exists (prefect.yaml's rollback names it) and refuses main: each push run
    # ends at staging, blocked by the branch gate, without touching production.
    production = f"http://127.0.0.1:{processes.free_port()}"
    lines += table(
        "environments.production",
        {"url": production, "requires": "staging", "branches": ["release"], "smoke": SMOKE},
    )
    config.write_text("\n".join(lines) + "\n")
    started: list[int] = []
    with PostgreSQL() as pg, PrefectOnPostgres(pg) as prefect:
        env = {
            **os.environ,
            **prefect.env(),
            "RELEASEGATE_CONFIG": str(config),
            "RELEASEGATE_WEBHOOK_SECRET": SECRET,
            # Two pushes a second apart then usually land in one poll and start together:
            # their runs race for their places in the trigger order (tasks/push_order.py).
            "PREFECT_WORKER_QUERY_SECONDS": "3",
        }
        try:
            done = run_cli(env, "setup", "--config", str(config))
            assert done.returncode == 0, done.stdout + done.stderr
            worker = processes.spawn(
                [str(BIN / "prefect"), "worker", "start", "--pool", "releasegate"],
                log=logs / "worker.log",
                env=env,
                cwd=root,
            )
            started.append(worker.pid)
            port = processes.free_port()
            serve = ["webhook", "serve", "--config", str(config), "--port", str(port)]
            receiver = processes.spawn(
                [str(BIN / "releasegate"), *serve],
                log=logs / "receiver.log",
                env=env,
            )
            started.append(receiver.pid)
            url = f"http://127.0.0.1:{port}"
            processes.wait_until(
                lambda: processes.http_ok(f"{url}/healthz"), timeout=60, what="the receiver"
            )
            yield Stack(prefect, config, home, staging, url, env, logs)
        finally:
            for pid in reversed(started):
                processes.stop(pid)
            from releasegate.targets.local.target import down

            down(home)


def wait_for_staging(stack: Stack, version: str, timeout: float = 120) -> None:
    try:
        processes.wait_until(
            lambda: version_of(stack.staging) == version and _finished(stack, version),
            timeout=timeout,
            interval=0.2,
            what=f"staging serving {version}, recorded",
        )
    except processes.Timeout:
        pytest.fail(f"staging does not serve {version}\n{stack.log()}")


def _finished(stack: Stack, version: str) -> bool:
    return any(
        r.kind == "deploy" and r.version == version and r.status == "succeeded"
        for r in stack.records()
    )


def test_a_signed_push_reaches_staging_with_the_pusher_proven(stack: Stack) -> None:
    pushed = commit()
    body = push(pushed, pusher="dave")
    delivery = str(uuid.uuid4())
    began = time.perf_counter()
    answer = stack.deliver(body, delivery=delivery)
    took = time.perf_counter() - began
    assert answer.status_code == 202, answer.text
    print(f"receiver answered a push in {took * 1000:.0f} ms")
    flow_run_id = answer.json()["flow_run_id"]
    version = pushed[:12]
    assert answer.json()["version"] == version
    wait_for_staging(stack, version)

    trigger = next(
        r
        for r in open_store(configuration.load(stack.config)).newest("_triggers")
        if r.flow_run_id == flow_run_id
    )
    assert (trigger.actor, trigger.actor_proof, trigger.status) == ("dave", "webhook", "accepted")
    assert trigger.details["delivery"] == delivery
    deployed = next(
        r
        for r in stack.records()
        if r.kind == "deploy" and r.status == "succeeded" and r.flow_run_id == flow_run_id
    )
    assert (deployed.version, deployed.commit, deployed.branch) == (version, pushed, "main")
    assert (deployed.actor, deployed.actor_proof) == ("dave", "webhook")
    assert deployed.flow_run_id == flow_run_id

    # The same delivery again, and the same signed body under a new delivery id (the header
    # is not signed): the run it got the first time, and no second run.
    runs = stack.runs()
    for again in (delivery, str(uuid.uuid4())):
        replay = stack.deliver(body, delivery=again)
        assert replay.status_code == 200, replay.text
        assert replay.json() == {"flow_run_id": flow_run_id, "version": version, "duplicate": True}
    assert stack.runs() == runs


def test_forged_hostile_and_ignored_deliveries_start_no_run(stack: Stack) -> None:
    runs = stack.runs()
    body = push(commit())
    other = push(commit())
    refused = {
        "no signature": stack.deliver(body, signature=None),
        "signature of another body": stack.deliver(body, signature=github_signature(SECRET, other)),
        "another secret": stack.deliver(body, signature=github_signature("x" * 32, body)),
        "sha1 form": stack.deliver(body, signature="sha1=" + "0" * 40),
        "not ascii": stack.deliver(body, signature=b"sha256=" + b"\xe9" * 64),
        "empty": stack.deliver(body, signature=""),
    }
    for what, answer in refused.items():
        assert answer.status_code == 401, (what, answer.text)
        assert answer.json() == {"error": "X-Hub-Signature-256 does not verify"}, what

    huge = b"{" + b" " * (6 * 1024 * 1024) + b"}"
    assert stack.deliver(huge).status_code == 413
    assert stack.raw(body, {"Content-Length": str(10**12)}) == 413  # refused before reading
    assert stack.raw(body, {"X-Padding": "a" * (64 * 1024)}) == 431
    form = stack.deliver(body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    for hostile in (b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe", b"[]", b"{}", b"null"):
        answer = stack.deliver(hostile)
        assert answer.status_code == 400, (hostile[:10], answer.text)
        assert "Traceback" not in answer.text
    bad_commit = stack.deliver(push("not-a-commit"))
    assert bad_commit.status_code == 400 and "not a commit id" in bad_commit.json()["error"]
    bot = stack.deliver(push(commit(), pusher="dependabot[bot]"))
    assert bot.status_code == 422 and "name rule" in bot.json()["error"]
    assert stack.deliver(body, delivery="../../etc").status_code == 400

    ignored = {
        "ping": stack.deliver(b'{"zen": "Keep it logically awesome."}', event="ping"),
        "issues": stack.deliver(b"{}", event="issues"),
        "other branch": stack.deliver(push(commit(), branch="feature/x")),
        "deletion": stack.deliver(push("0" * 40, deleted=True)),
        "tag": stack.deliver(push(commit()).replace(b"refs/heads/main", b"refs/tags/v1")),
        "other repository": stack.deliver(
            push(commit()).replace(b'"acme/webapp"', b'"evil/webapp"')
        ),
    }
    assert ignored.pop("ping").status_code == 200
    for what, answer in ignored.items():
        assert answer.status_code == 202 and "ignored" in answer.json(), (what, answer.text)
    assert stack.runs() == runs


def test_two_pushes_a_second_apart_reach_staging_in_order_one_at_a_time(stack: Stack) -> None:
    first, second = commit(), commit()
    assert stack.deliver(push(first, pusher="erin")).status_code == 202
    time.sleep(1)  # the scenario itself: two pushes one second apart
    assert stack.deliver(push(second, pusher="frank")).status_code == 202
    wait_for_staging(stack, second[:12])
    changes = [
        (r.version, r.status)
        for r in stack.records()
        if r.kind == "deploy" and r.version in (first[:12], second[:12])
    ]
    assert changes == [
        (first[:12], "started"),
        (first[:12], "succeeded"),
        (second[:12], "started"),
        (second[:12], "succeeded"),
    ], changes
    assert version_of(stack.staging) == second[:12]
    order = {
        r.version: r.seq
        for r in open_store(configuration.load(stack.config)).newest("_triggers")
        if r.version in (first[:12], second[:12])
    }
    assert order[first[:12]] < order[second[:12]], order


def test_setup_is_idempotent_and_prefect_yaml_declares_the_same_deployments(stack: Stack) -> None:
    again = run_cli(stack.env, "setup", "--config", str(stack.config))
    assert again.returncode == 0, again.stdout + again.stderr
    by_setup = deployments(stack)
    done = subprocess.run(
        [str(BIN / "prefect"), "--no-prompt", "deploy", "--all"],
        cwd=REPO,
        env={**stack.env, "RELEASEGATE_CHECKOUT": str(REPO)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert deployments(stack) == by_setup


def deployments(stack: Stack) -> dict[str, Any]:
    """What a worker runs, per deployment: entrypoint, where, pool, parameters, triggers."""
    api = stack.prefect.api_url
    found = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
    seen = {}
    for d in found:
        automations = httpx.get(
            f"{api}/automations/related-to/prefect.deployment.{d['id']}", timeout=10
        ).json()
        seen[d["name"] + "@" + d["entrypoint"]] = {
            "entrypoint": d["entrypoint"],
            "pull_steps": d["pull_steps"],
            "work_pool": d["work_pool_name"],
            "parameters": d["parameters"],
            "description": d["description"],
            "triggers": sorted(
                json.dumps(
                    {
                        "expect": a["trigger"]["expect"],
                        "parameters": a["actions"][0]["parameters"],
                        "enabled": a["enabled"],
                    },
                    sort_keys=True,
                )
                for a in automations
            ),
        }
    assert sorted(seen) == [
        "webapp-production@flows/rollback.py:rollback",
        "webapp-staging@flows/rollback.py:rollback",
        "webapp@flows/deploy.py:deploy",
        "webapp@flows/reconcile.py:reconcile",
    ]
    return seen


def test_the_webhook_secret_reaches_no_record_parameter_or_log(stack: Stack) -> None:
    """After a push of its own (tests run in random order): the trail, every flow run
    (parameters included), every log line the Prefect API holds and the processes' own logs
    hold no piece of the secret."""
    pushed = commit()
    assert stack.deliver(push(pushed, pusher="grace")).status_code == 202
    wait_for_staging(stack, pushed[:12])
    api = stack.prefect.api_url
    trail = [
        r.model_dump_json()
        for environment in ("_triggers", "staging", "production")
        for r in open_store(configuration.load(stack.config)).newest(environment)
    ]
    runs = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=10).text
    logs = httpx.post(f"{api}/logs/filter", json={"limit": 200}, timeout=10).text
    assert '"attestation"' in runs and len(trail) > 5  # the places searched are not empty
    everything = "\n".join([*trail, runs, logs, stack.log()])
    pieces = {SECRET[i : i + 10] for i in range(len(SECRET) - 9)}
    assert not [piece for piece in pieces if piece in everything]


def test_the_receiver_serves_the_dashboards_metrics_from_the_same_trail(stack: Stack) -> None:
    answer = httpx.get(f"{stack.receiver}/metrics", timeout=30)
    assert answer.status_code == 200, answer.text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }
    assert samples["releasegate_audit_read_ok", ()] == 1
    staging = stack.records()
    succeeded = sum(r.kind == "deploy" and r.status == "succeeded" for r in staging)
    key = (("environment", "staging"), ("outcome", "succeeded"))
    assert samples.get(("releasegate_deploys_total", key), 0) == succeeded
