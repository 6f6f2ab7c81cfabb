"""Apps served beside the receiver, on its port and behind the same TLS proxy."""

from __future__ import annotations

from starlette.routing import BaseRoute

from releasegate.config import Config


def beside(settings: Config) -> list[BaseRoute]:
    """The routes mounted next to `/webhooks/github` and `/healthz`. The dashboard's
    Prometheus app goes here: `Route("/metrics", metrics_app(open_store(settings),
    settings.pipeline()))`."""
    return []
