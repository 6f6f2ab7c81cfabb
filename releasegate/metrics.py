"""Prometheus metrics from the audit trail: an ASGI app to serve at `/metrics`.

Each scrape first reads what each environment's chain gained since the last scrape
(`store.chain(environment, start=next seq)`: the first scrape reads the whole trail once,
later ones only the new records), feeds it to the same observer the report uses
(`policy/observations.py`), and updates prometheus_client's instruments. So the counters
count the whole trail, the same way `releasegate report` does, and cost nothing to keep.

Put it in any Starlette/FastAPI app, e.g. the webhook receiver:
`Route("/metrics", metrics_app(open_store(config), config.pipeline()))`. It answers on
whatever path it is given, so `Mount("/metrics", ...)` works too (Starlette then answers
`/metrics` with a redirect to `/metrics/`, which Prometheus follows).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import anyio
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from releasegate.audit.store import AuditStore, AuditUnavailable
from releasegate.policy.observations import (
    ApprovalDecided,
    ApprovalWaited,
    ChangeDone,
    GateBlocked,
    Observation,
    Observer,
)

log = logging.getLogger("releasegate.metrics")
WAIT_BUCKETS = (60, 300, 900, 3600, 4 * 3600, 86400)
"""Approval wait histogram buckets (seconds): the report's buckets."""


class TrailMetrics:
    """The instruments, and where each environment's chain was read up to."""

    def __init__(self, store: AuditStore, environments: Sequence[str]) -> None:
        self.store, self.environments = store, list(environments)
        self.registry = CollectorRegistry(auto_describe=True)
        by_outcome = ["environment", "outcome"]
        self.deploys = Counter(
            "releasegate_deploys",
            "Deploys that reached an outcome.",
            by_outcome,
            registry=self.registry,
        )
        self.rollbacks = Counter(
            "releasegate_rollbacks",
            "Rollbacks that reached an outcome.",
            by_outcome,
            registry=self.registry,
        )
        self.approval_wait = Histogram(
            "releasegate_approval_wait_seconds",
            "From a run asking for approvals to the last approval it counted.",
            ["environment"],
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.approvals = Counter(
            "releasegate_approval_decisions",
            "Approval decisions recorded.",
            ["environment", "status", "reason"],
            registry=self.registry,
        )
        self.gate_blocks = Counter(
            "releasegate_gate_blocks",
            "Runs a gate blocked.",
            ["environment", "gate"],
            registry=self.registry,
        )
        self.last_deploy = Gauge(
            "releasegate_last_successful_deploy_timestamp_seconds",
            "When the environment's last successful deploy finished (Unix time).",
            ["environment"],
            registry=self.registry,
        )
        self.trail_ok = Gauge(
            "releasegate_audit_read_ok",
            "1 if the last scrape could read the audit trail, else 0.",
            registry=self.registry,
        )
        self._observers = {env: Observer() for env in self.environments}
        self._next = dict.fromkeys(self.environments, 0)
        self._lock = threading.Lock()

    def catch_up(self) -> None:
        """Read each environment's new records. An unreadable trail keeps the figures as
        they were and sets `releasegate_audit_read_ok` to 0, with a warning in the log."""
        with self._lock:  # two scrapes at once must not count a record twice
            try:
                for env in self.environments:
                    for record in self.store.chain(env, start=self._next[env]):
                        self._next[env] = record.seq + 1
                        for seen in self._observers[env].feed(record):
                            self._count(env, seen)
            except AuditUnavailable as exc:
                log.warning("metrics: the audit trail cannot be read: %s", exc)
                self.trail_ok.set(0)
            else:
                self.trail_ok.set(1)

    def _count(self, env: str, seen: Observation) -> None:
        match seen:
            case ChangeDone(kind="deploy", outcome=outcome, at=at):
                self.deploys.labels(env, outcome).inc()
                if outcome == "succeeded":
                    self.last_deploy.labels(env).set(at.timestamp())
            case ChangeDone(kind="rollback", outcome=outcome):
                self.rollbacks.labels(env, outcome).inc()
            case ApprovalWaited(took=took):
                self.approval_wait.labels(env).observe(took.total_seconds())
            case ApprovalDecided(status=status, reason=reason):
                self.approvals.labels(env, status, reason or "").inc()
            case GateBlocked(gate=gate):
                self.gate_blocks.labels(env, gate).inc()

    def render(self) -> bytes:
        self.catch_up()
        return bytes(generate_latest(self.registry))


class MetricsApp:
    """The ASGI app: GET (or HEAD) on any path it is given answers the metrics."""

    def __init__(self, metrics: TrailMetrics) -> None:
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # served on its own: nothing to start or stop
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        response: Response
        if scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse("method not allowed", 405, {"Allow": "GET, HEAD"})
        else:
            # Reading the trail is blocking I/O: off the event loop, so other routes of the
            # app it is mounted in (the webhook receiver) keep answering meanwhile.
            body = await anyio.to_thread.run_sync(self.metrics.render)
            response = Response(body, media_type=CONTENT_TYPE_LATEST)
        await response(scope, receive, send)


def metrics_app(store: AuditStore, environments: Sequence[str]) -> MetricsApp:
    """The metrics of `environments` in `store`, as an ASGI app (see the module docstring)."""
    return MetricsApp(TrailMetrics(store, environments))


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message: dict[str, Any] = dict(await receive())
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
