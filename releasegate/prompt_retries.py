"""An httpx transport that retries a 503 promptly, for every caller of the Prefect API.

A Prefect server on SQLite (the embedded default) answers 503 ("database is locked") to a
write that lost a race: its transaction began by reading (SQLite's DEFERRED mode) and
another connection wrote first. Nothing was changed, and the same request goes through a
few milliseconds later. Prefect's client waits 2 s before its first retry (then 4, 8...).
On a served rollback that wait was the slow round in three: 2 s of a 3 s rollback, spent
taking the environment's lock (`increment-with-lease`) or giving it back (the holder
variable's delete), the two calls that raced the run's own logs and task-run writes
(issue 11; found with the server's PREFECT_API_LOG_RETRYABLE_ERRORS).

Here a 503 is retried at once, then after 10 ms, 20 ms, ... up to 320 ms, before the
caller sees it (AsyncPromptRetries: the same for an async client). A server still
answering 503 after those (0.6 s) gets the caller's own retries, unchanged. Retrying a 503
is what Prefect's client does anyway: sooner, not differently.
"""

from __future__ import annotations

import asyncio
import time

import httpx

PAUSES = (0.0, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)
"""Seconds before each prompt retry of a 503."""


class PromptRetries(httpx.BaseTransport):
    """Wraps a transport: a 503 answer is retried after each of PAUSES, then whatever the
    server answers is returned."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for pause in PAUSES:
            response = self._inner.handle_request(request)
            if response.status_code != 503:
                return response
            response.close()  # gives its connection back to the pool
            time.sleep(pause)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class AsyncPromptRetries(httpx.AsyncBaseTransport):
    """PromptRetries for an async client (the webhook receiver's)."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for pause in PAUSES:
            response = await self._inner.handle_async_request(request)
            if response.status_code != 503:
                return response
            await response.aclose()
            await asyncio.sleep(pause)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
