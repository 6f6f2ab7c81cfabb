"""Build: the app at a version becomes one immutable Release that every environment gets."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from releasegate.config import Config
from releasegate.release import Release
from releasegate.wiring import open_builder


@task(retries=2, retry_delay_seconds=[2, 5], cache_policy=NO_CACHE)
def build(config: Config, version: str, commit: str | None, branch: str | None) -> Release:
    """Build (local bundle) or resolve (image tag -> digest) the release. Retried: a registry
    can fail transiently; a missing tag fails the same way each time and ends the run."""
    return open_builder(config).build(version, commit=commit, branch=branch)
