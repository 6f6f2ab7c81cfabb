"""The witness on Prefect: each chain head is a version of a keyed table artifact.

Prefect keeps every version of a keyed artifact, so a head, once published, stays visible
in the artifact's history in the UI; the store's writer (S3 or filesystem credentials)
cannot rewrite it. Someone who can also write to the Prefect API can publish a lower head
or delete artifacts: the witness raises the bar to both, it does not make tampering
impossible (README, "What an attacker can hide").

One key per store and environment: ``audit-head-<env>-<sha256(store url, env)[:16]>``,
so many stores (and tests) can share one Prefect server.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import ValidationError

from releasegate.audit.witness import WitnessedHead, WitnessUnavailable

TIMEOUT = 10.0
"""Seconds per Prefect API call: a witness that hangs must not hold up an append."""


class PrefectWitness:
    """Witness (see `witness.py`) on Prefect artifacts."""

    def __init__(self, scope: str, *, api_url: str | None = None, timeout: float = TIMEOUT) -> None:
        self.scope = scope
        self.api_url = api_url
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"PrefectWitness({self.scope!r})"

    def key(self, environment: str) -> str:
        """The artifact key of `environment`'s heads (lowercase letters, digits, dashes)."""
        slug = re.sub(r"[^a-z0-9]+", "-", environment.lower()).strip("-")[:40] or "env"
        digest = hashlib.sha256(f"{self.scope}\0{environment}".encode()).hexdigest()[:16]
        return f"audit-head-{slug}-{digest}"

    def publish(self, head: WitnessedHead) -> None:
        from prefect.client.schemas.actions import ArtifactCreate

        # Not attached to the run that appended (the record names it): a run would otherwise
        # list one head artifact per record it wrote.
        row = {**head.model_dump(mode="json"), "store": self.scope}
        artifact = ArtifactCreate(
            type="table",
            key=self.key(head.environment),
            description=(
                f"Audit chain head of {head.environment} in {self.scope}: #{head.seq} "
                f"{head.hash[:16]}…"
                + (f" — DISCREPANCY: {head.discrepancy}" if head.discrepancy else "")
            ),
            data=json.dumps([row]),
        )
        self._call("publish", lambda client: client.create_artifact(artifact=artifact))

    def newest(self, environment: str) -> WitnessedHead | None:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
        from prefect.client.schemas.sorting import ArtifactSort

        found = self._call(
            "read",
            lambda client: client.read_artifacts(
                limit=1,
                sort=ArtifactSort.CREATED_DESC,
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[self.key(environment)])),
            ),
        )
        if not found:
            return None
        try:
            row = dict(json.loads(found[0].data)[0])
            row.pop("store", None)
            head = WitnessedHead.model_validate(row)
        except (ValueError, TypeError, IndexError, KeyError, ValidationError) as exc:
            raise WitnessUnavailable(
                f"the newest witnessed head of {environment!r} ({self.key(environment)}) "
                f"is unreadable: {exc}"
            ) from None
        if head.environment != environment:
            raise WitnessUnavailable(
                f"the witnessed head under {self.key(environment)} is not {environment!r}'s"
            )
        return head

    def _call(self, what: str, fn: Any) -> Any:
        from prefect.client.orchestration import SyncPrefectClient, get_client

        settings = {"timeout": self.timeout}
        try:
            client = (
                SyncPrefectClient(self.api_url, httpx_settings=settings)
                if self.api_url
                else get_client(sync_client=True, httpx_settings=settings)
            )
            with client:
                return fn(client)
        except Exception as exc:  # any failure of the witness: the caller decides what it means
            raise WitnessUnavailable(
                f"Prefect witness: cannot {what}: {type(exc).__name__}: {exc}"
            ) from None
