"""A SQLite Prefect server's momentary 503 ("database is locked") is retried within
milliseconds, by every client releasegate opens on the Prefect API, against real servers:
a JSON server that answers 503 on cue, and the session's Prefect server."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from releasegate.prompt_retries import PAUSES, AsyncPromptRetries, PromptRetries
from releasegate.receiver.runs import Starter
from releasegate.tasks.api import async_prefect_client, prefect_client
from tests.support.jsonhttp import JsonServer


def answering(*statuses: int) -> JsonServer:
    """Answers each status in turn, then 503 for good."""
    left = list(statuses)
    return JsonServer(lambda path: (left.pop(0) if left else 503, {"ok": True}))


def test_a_503_is_retried_promptly_with_the_same_body_then_handed_back() -> None:
    server = answering(503, 503, 503, 200)
    try:
        with httpx.Client(transport=PromptRetries()) as client:
            done = client.post(f"{server.url}/v2/increment", json={"slots": 1})
            assert done.status_code == 200 and done.json() == {"ok": True}
            assert server.posted == [{"slots": 1}] * 4
            server.posted.clear()
            refused = client.post(f"{server.url}/v2/increment", json={"slots": 2})
        # A 503 that persists reaches the caller as it is (Prefect's client then backs off).
        assert refused.status_code == 503
        assert server.posted == [{"slots": 2}] * (len(PAUSES) + 1)
    finally:
        server.close()


def test_the_async_transport_does_the_same() -> None:
    server = answering(503, 503, 201)

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=AsyncPromptRetries()) as client:
            return await client.post(f"{server.url}/x", json={"n": 1})

    try:
        assert asyncio.run(post()).status_code == 201
        assert server.posted == [{"n": 1}] * 3
    finally:
        server.close()


def test_other_answers_are_never_retried() -> None:
    server = answering(500, 200)
    try:
        with httpx.Client(transport=PromptRetries()) as client:
            assert client.post(f"{server.url}/x", json={}).status_code == 500
        assert len(server.posted) == 1
    finally:
        server.close()


def test_the_tasks_and_the_receiver_talk_to_prefect_through_prompt_retries(
    prefect_api: str,
) -> None:
    """Fails if Prefect's clients stop keeping their httpx client and transport where
    tasks/api.py wraps them."""
    with prefect_client() as client:
        assert isinstance(client._client._transport, PromptRetries)
        assert client.read_variable_by_name(f"absent-{uuid.uuid4().hex[:8]}") is None

    async def receiver() -> None:
        async with Starter("webapp", "s" * 32) as starter:
            assert starter._client is not None
            assert isinstance(starter._client._client._transport, AsyncPromptRetries)
        async with async_prefect_client() as client:
            assert await client.read_variable_by_name(f"absent-{uuid.uuid4().hex[:8]}") is None

    asyncio.run(receiver())
