"""Starting the deploy run a verified push asks for, on the Prefect server in use.

The run is created from the app's `deploy/<app>` deployment (served by `releasegate serve`
or run by a worker after `releasegate setup`) with the push's version, branch, commit and
pusher, and the receiver's attestation (`signing.webhook`) as the proof: the run checks it
itself and records the pusher as `webhook`-proven.

**Replays.** The run's Prefect idempotency key and the proof's nonce are both the SHA-256 of
the delivery's body, which GitHub's signature covers (the `X-GitHub-Delivery` header is
not signed: someone who captured a delivery could resend it under a new id). The same push
delivered again, after a restart, under any delivery id, gets the run it got the first
time: Prefect returns the existing run for a known key, and a run started on a copied
proof by other means is refused by the run itself (`replayed`).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.exceptions import ObjectNotFound
from pydantic import BaseModel, ConfigDict

from releasegate.deployment_names import deploy_name
from releasegate.errors import ConfigError
from releasegate.receiver.push import Push
from releasegate.signing.trigger import Asked
from releasegate.signing.webhook import attestation
from releasegate.tasks.api import async_prefect_client
from releasegate.trigger import PUSH_TAG, TriggerProof


class NotDeployed(ConfigError):
    """The deploy deployment is not on the Prefect server."""


class Started(BaseModel):
    """The run a push got, and whether an earlier delivery of it had already started it."""

    model_config = ConfigDict(frozen=True)

    flow_run_id: str
    duplicate: bool


class Starter:
    """Creates deploy runs with one open Prefect client (a new client per request costs
    more than the whole answer may take)."""

    def __init__(self, app: str, secret: str) -> None:
        self._app, self._secret = app, secret
        self._client: PrefectClient | None = None
        self._deployment: UUID | None = None

    async def __aenter__(self) -> Starter:
        self._client = async_prefect_client()
        await self._client.__aenter__()
        # Not deployed yet, or the server not up yet: said on each push (503) until it is;
        # the receiver starts all the same.
        with suppress(NotDeployed, httpx.HTTPError):
            await self._deployment_id()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.__aexit__(None, None, None)

    async def start(self, push: Push, delivery: str, digest: str) -> Started:
        """Create (or find, for a delivery seen before) the run of `push`."""
        proof = self.proof(push, delivery, digest, datetime.now(UTC).replace(microsecond=0))
        parameters = {
            "version": push.version,
            "branch": push.branch,
            "commit": push.commit,
            "actor": push.pusher,
            "proof": proof.model_dump(mode="json", exclude_none=True),
        }
        try:
            run = await self._create(await self._deployment_id(), parameters, digest)
        except ObjectNotFound:  # deleted and deployed again since: find it anew
            self._deployment = None
            run = await self._create(await self._deployment_id(), parameters, digest)
        given = (run.parameters.get("proof") or {}).get("attestation")
        return Started(flow_run_id=str(run.id), duplicate=given != proof.attestation)

    def proof(self, push: Push, delivery: str, digest: str, now: datetime) -> TriggerProof:
        """The attestation handed to the run: the pusher asked for exactly this deploy."""
        asked = Asked(
            request="deploy", version=push.version, branch=push.branch, commit=push.commit
        )
        payload = asked.payload(push.pusher, self._app, now, digest)
        return TriggerProof(
            issued_at=now,
            nonce=digest,
            attestation=attestation(self._secret, payload, delivery),
            delivery=delivery,
        )

    async def _create(self, deployment: UUID, parameters: dict[str, Any], digest: str) -> Any:
        assert self._client is not None
        return await self._client.create_flow_run_from_deployment(
            deployment,
            parameters=parameters,
            idempotency_key=f"{PUSH_TAG}-{digest}",
            tags=[PUSH_TAG],  # pushes take their places in arrival order (tasks/push_order.py)
        )

    async def _deployment_id(self) -> UUID:
        if self._deployment is None:
            assert self._client is not None
            name = deploy_name(self._app)
            try:
                found = await self._client.read_deployment_by_name(name)
            except ObjectNotFound:
                raise NotDeployed(
                    f"no deployment {name} on the Prefect server: run `releasegate setup` "
                    "(workers) or `releasegate serve`"
                ) from None
            self._deployment = found.id
        return self._deployment
