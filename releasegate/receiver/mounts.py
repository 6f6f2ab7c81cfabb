"""Apps served beside the receiver, on its port and behind the same TLS proxy."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from releasegate.config import Config
from releasegate.metrics import metrics_app
from releasegate.wiring import open_store


def beside(settings: Config) -> list[BaseRoute]:
    """The routes mounted next to `/webhooks/github` and `/healthz`: the dashboard's
    Prometheus metrics at `/metrics`, read from the configuration's audit trail."""
    return [Route("/metrics", metrics_app(open_store(settings), settings.pipeline()))]
