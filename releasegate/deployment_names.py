"""What the Prefect deployments of an app are called, in one place: `releasegate serve` and
`releasegate setup` make them under these names (`serving.specs`), the push receiver
starts runs of the deploy one, and the README and prefect.yaml spell them out for the demo
app. Named for what they do, so a person can tell them apart in the Prefect UI."""

from __future__ import annotations

DEPLOY_FLOW = "deploy"
ROLLBACK_FLOW = "rollback"
PROMOTE_FLOW = "promote"
RECONCILE_FLOW = "reconcile"


def deploy_name(app: str) -> str:
    """The deploy deployment of `app` as Prefect names it (`flow/deployment`):
    `deploy/webapp`."""
    return f"{DEPLOY_FLOW}/{app}"


def rollback_name(app: str, environment: str) -> str:
    """The rollback deployment of one environment of `app`: `rollback/webapp-production`."""
    return f"{ROLLBACK_FLOW}/{app}-{environment}"


def promote_name(app: str, environment: str) -> str:
    """The release train into one environment of `app`: `promote/webapp-production`."""
    return f"{PROMOTE_FLOW}/{app}-{environment}"


def reconcile_name(app: str) -> str:
    """The drift check of every environment of `app`: `reconcile/webapp`."""
    return f"{RECONCILE_FLOW}/{app}"
