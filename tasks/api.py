"""The Prefect client the tasks use: Prefect's own, its transport wrapped in PromptRetries
(releasegate/prompt_retries.py), so that a SQLite server's momentary "database is locked"
costs milliseconds instead of the client's 2 s back-off."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prefect.client.orchestration import PrefectClient, SyncPrefectClient, get_client

from releasegate.prompt_retries import AsyncPromptRetries, PromptRetries


@contextmanager
def prefect_client() -> Iterator[SyncPrefectClient]:
    """Prefect's sync client (its URL, auth, TLS, proxies and own retries), its transport
    wrapped. Prefect's client takes a transport, but one passed in would lose the TLS and
    proxy settings it gives its own, and it has no public hook to wrap that one, hence the
    attributes; `tests/flows/test_lock.py` fails if Prefect moves them."""
    client = get_client(sync_client=True)
    http = client._client  # Prefect's httpx.Client
    http._transport = PromptRetries(http._transport)
    with client:
        yield client


def async_prefect_client() -> PrefectClient:
    """Prefect's async client, its transport wrapped likewise, not yet entered: for the
    webhook receiver, which keeps one open while it runs."""
    client = get_client()
    http = client._client  # Prefect's httpx.AsyncClient
    http._transport = AsyncPromptRetries(http._transport)
    return client
