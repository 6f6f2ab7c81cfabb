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
import threading
import weakref
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from releasegate.audit.witness import WitnessedHead, WitnessUnavailable

TIMEOUT = 10.0
"""Seconds per Prefect API call: a witness that hangs must not hold up an append."""


class PrefectWitness:
    """Witness (see `witness.py`) on Prefect artifacts.

    `api_url` is the Prefect API, or a function that finds it when the witness is first
    used (and raises WitnessUnavailable when there is none): a store opened only to be
    read never looks for a server. There is no default: a Prefect client without a URL
    starts a temporary server of its own, which would witness nothing.
    """

    def __init__(
        self, scope: str, *, api_url: str | Callable[[], str], timeout: float = TIMEOUT
    ) -> None:
        self.scope = scope
        self._api_url = api_url
        self.timeout = timeout
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def api_url(self) -> str:
        """The Prefect API the heads go to (found on first use; WitnessUnavailable if none)."""
        if callable(self._api_url):
            self._api_url = self._api_url()
        return self._api_url

    def __repr__(self) -> str:
        return f"PrefectWitness({self.scope!r})"

    def key(self, environment: str) -> str:
        """The artifact key of `environment`'s heads (lowercase letters, digits, dashes)."""
        slug = re.sub(r"[^a-z0-9]+", "-", environment.lower()).strip("-")[:40] or "env"
        digest = hashlib.sha256(f"{self.scope}\0{environment}".encode()).hexdigest()[:16]
        return f"audit-head-{slug}-{digest}"

    def publish(self, head: WitnessedHead) -> None:
        url = self.api_url  # first: with no server to witness on, Prefect is never loaded
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
        self._call(url, "publish", lambda client: client.create_artifact(artifact=artifact))

    def newest(self, environment: str) -> WitnessedHead | None:
        url = self.api_url  # first: with no server to witness on, Prefect is never loaded
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
        from prefect.client.schemas.sorting import ArtifactSort

        found = self._call(
            url,
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

    def _call(self, url: str, what: str, fn: Any) -> Any:
        try:
            return fn(self._open(url))
        except Exception as exc:  # any failure of the witness: the caller decides what it means
            raise WitnessUnavailable(
                f"Prefect witness at {url}: cannot {what}: {type(exc).__name__}: {exc}"
            ) from None

    def _open(self, url: str) -> Any:
        """One client for the witness's life: a new one per call costs more than the call
        (~17 ms against ~3 ms), twice per append. Closed with the witness."""
        with self._lock:
            if self._client is None:
                from prefect.client.orchestration import SyncPrefectClient

                client = SyncPrefectClient(url, httpx_settings={"timeout": self.timeout})
                client.__enter__()
                weakref.finalize(self, client.__exit__, None, None, None)
                self._client = client
            return self._client
