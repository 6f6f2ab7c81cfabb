"""The GitHub webhook receiver: an ASGI app (Starlette, served by uvicorn).

`POST /webhooks/github`, in this order, each step before reading or trusting more:

1. headers over `MAX_HEADERS` bytes are refused (**431**); the body is read up to
   `[webhook] max_body` bytes, else **413** (a `Content-Length` over it is refused before a
   byte is read);
2. `X-Hub-Signature-256` must be GitHub's HMAC of exactly those bytes under the secret,
   compared in constant time, else **401** (nothing about the body is parsed or answered);
3. `Content-Type: application/json`, else **415** (GitHub's form encoding is not read);
4. `X-GitHub-Event`: `ping` answers **200**; any event other than `push` is acknowledged
   and ignored (**202**); `X-GitHub-Delivery` must be a delivery id, else **400**;
5. the push (`receiver.push`): ignored ones (tags, deletions, other branches or
   repositories) **202** with the reason; malformed ones **400**/**422**;
6. the deploy run is created (`receiver.runs`): **202** `{"flow_run_id": ...}`, or **200**
   with the same id and `"duplicate": true` for a push delivered before; **503** if the
   Prefect server cannot take it (GitHub shows the failed delivery; redeliver it).

`GET /healthz` answers 200. Errors are one JSON line; no traceback ever reaches a client.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
from prefect.exceptions import PrefectHTTPStatusError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from releasegate.config import Webhook
from releasegate.errors import UsageError
from releasegate.receiver import push as pushes
from releasegate.receiver.runs import NotDeployed, Starter
from releasegate.signing.webhook import github_signed
from releasegate.vocabulary import NONCE_RULE

PATH = "/webhooks/github"
MAX_HEADERS = 16 * 1024
"""Bytes of header names and values (GitHub sends about 1 KiB). uvicorn's own limit applies
only to headers that arrive in pieces, so the receiver counts them itself."""
logger = logging.getLogger("releasegate.receiver")


class TooLarge(UsageError):
    """A delivery over the size limit."""


def create_app(
    settings: Webhook, secret: str, starter: Starter, routes: Sequence[BaseRoute] = ()
) -> Starlette:
    """The receiver; `routes` are mounted beside it (the dashboard's `/metrics`)."""

    async def github(request: Request) -> JSONResponse:
        if sum(len(k) + len(v) for k, v in request.headers.raw) > MAX_HEADERS:
            return _answer(431, error=f"the headers are over {MAX_HEADERS} bytes")
        try:
            body = await _body(request, settings.max_body)
        except TooLarge:
            return _answer(413, error=f"the body is over {settings.max_body} bytes")
        if not github_signed(secret, body, request.headers.get("x-hub-signature-256")):
            logger.warning("refused a delivery: X-Hub-Signature-256 missing or wrong")
            return _answer(401, error="X-Hub-Signature-256 does not verify")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _answer(415, error="set the webhook's content type to application/json")
        event = request.headers.get("x-github-event", "")
        if event == "ping":
            return _answer(200, pong=True)
        if event != "push":
            return _answer(202, ignored=f"event {event[:40]!r} is not a push")
        delivery = request.headers.get("x-github-delivery", "")
        if not NONCE_RULE.regex.fullmatch(delivery):
            return _answer(400, error="X-GitHub-Delivery is missing or not a delivery id")
        try:
            wanted = pushes.read(body, settings)
        except pushes.Malformed as exc:
            return _answer(exc.status, error=str(exc))
        if isinstance(wanted, pushes.Ignored):
            logger.info("delivery %s ignored: %s", delivery, wanted.reason)
            return _answer(202, ignored=wanted.reason)
        return await _start(wanted, delivery, hashlib.sha256(body).hexdigest())

    async def _start(wanted: pushes.Push, delivery: str, digest: str) -> JSONResponse:
        try:
            started = await starter.start(wanted, delivery, digest)
        except NotDeployed as exc:
            logger.error("delivery %s: %s", delivery, exc)
            return _answer(503, error=str(exc))
        except (httpx.HTTPError, PrefectHTTPStatusError, OSError) as exc:
            logger.error("delivery %s: the Prefect server did not take the run: %r", delivery, exc)
            return _answer(503, error="the Prefect server did not take the run; redeliver")
        logger.info(
            "delivery %s: %s %s by %s -> flow run %s%s",
            delivery,
            wanted.branch,
            wanted.version,
            wanted.pusher,
            started.flow_run_id,
            " (delivered before)" if started.duplicate else "",
        )
        status = 200 if started.duplicate else 202
        return _answer(
            status,
            flow_run_id=started.flow_run_id,
            version=wanted.version,
            duplicate=started.duplicate,
        )

    async def healthz(request: Request) -> JSONResponse:
        return _answer(200, ok=True)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with starter:
            yield

    return Starlette(
        routes=[
            Route(PATH, github, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            *routes,
        ],
        exception_handlers={Exception: _internal_error},
        lifespan=lifespan,
    )


async def _body(request: Request, limit: int) -> bytes:
    """The raw body, refused once it passes `limit` bytes (a lying Content-Length too)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("internal error on %s", request.url.path, exc_info=exc)
    return _answer(500, error="internal error (see the receiver's log)")


def _answer(status: int, **content: object) -> JSONResponse:
    return JSONResponse(content, status_code=status)
