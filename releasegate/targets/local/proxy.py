"""The stable URL of an environment: a reverse proxy in front of its live instances.

Run detached, one per environment: `python -m releasegate.targets.local.proxy --fd 3
--env-dir DIR`, serving the listening socket it inherits (the deployer binds the
environment's URL, see router.py). It routes by the environment's state file, re-read
whenever it changes (a stat per request and a short poll), so a routing change needs no
restart or signal.

Why switching loses no request:
- a request picks its backend from the newest routes when it starts;
- after a routing change the proxy writes a ProxyAck only once no request is still in flight
  to a backend that left the routes; the deployer waits for that ack before stopping one;
- a refused (or, for idempotent methods, dropped) backend connection is retried once on
  another live backend. That retry is a safety net, not part of a switch: a correct switch
  needs none, so every retry is counted, with its reason, at STATS_PATH.
Request bodies (POST included) are read whole before anything is sent, so that they can be
resent, and are limited to MAX_BODY_BYTES (16 MiB; 413 beyond); responses stream.

`GET /-/releasegate/stats` is answered by the proxy itself (never forwarded), as JSON: its
pid, the routes in force and the generation it acknowledged, requests in flight per backend,
requests received, retries by reason ("refused": nothing reached the backend; "dropped": a
kept-alive backend connection closed under an idempotent request) and the requests it
answered itself ("no_backend": 503, "backend_failed": 502). The proxy listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from releasegate.targets.local.state import ProxyAck, StateFile

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

POLL_INTERVAL = 0.02
STATS_PATH = "/-/releasegate/stats"
ATTEMPTS = 2  # the request, and one retry on another backend
# Request bodies are held in memory whole, so that a refused request can be resent.
MAX_BODY_BYTES = 16 * 1024 * 1024
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
    }
)
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Nothing reached the backend: safe to resend whatever the method.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
# A kept-alive connection the backend closed as we reused it: resend if idempotent.
DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class Routes:
    """The routed backends of the state file, reloaded when the file is replaced."""

    def __init__(self, store: StateFile) -> None:
        self._store = store
        self._stamp: tuple[int, int] | None = None
        self.environment = store.dir.name
        self.generation = -1
        self.weights: dict[str, int] = {}
        self.inflight: Counter[str] = Counter()

    def refresh(self) -> None:
        try:
            st = os.stat(self._store.path)
        except FileNotFoundError:
            return
        stamp = (st.st_ino, st.st_mtime_ns)
        if stamp == self._stamp:
            return
        state = self._store.read()
        if state is not None:
            self.generation, self.weights = state.generation, state.routes()
        # Set last: if the file was replaced again meanwhile, the next stat reloads it.
        self._stamp = stamp

    def pick(self, avoid: set[str]) -> str | None:
        """A backend by weight, preferring one not in `avoid`; None if nothing is routed."""
        self.refresh()
        others = {url: w for url, w in self.weights.items() if url not in avoid}
        pool = others or self.weights
        if not pool:
            return None
        return random.choices(list(pool), weights=list(pool.values()))[0]

    def acquire(self, backend: str) -> None:
        self.inflight[backend] += 1

    def release(self, backend: str) -> None:
        self.inflight[backend] -= 1
        if not self.inflight[backend]:
            del self.inflight[backend]  # backends come and go: keep only busy ones

    def drained(self) -> bool:
        """No request is in flight to a backend outside the routes."""
        return all(url in self.weights for url in self.inflight)


class Stats:
    """What the proxy did since it started (served at STATS_PATH)."""

    def __init__(self) -> None:
        self.requests = 0
        self.retried: Counter[str] = Counter(refused=0, dropped=0)
        self.failed: Counter[str] = Counter(no_backend=0, backend_failed=0)

    def report(self, routes: Routes, acked: int) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "environment": routes.environment,
            "generation": routes.generation,
            "acknowledged": acked,
            "routes": routes.weights,
            "in_flight": dict(routes.inflight),
            "requests": self.requests,
            "retried": dict(self.retried),
            "failed": dict(self.failed),
        }


class Proxy:
    """The ASGI application: forwards every HTTP request to a routed backend."""

    def __init__(self, env_dir: Path) -> None:
        self._store = StateFile(env_dir)
        self.routes = Routes(self._store)
        self.stats = Stats()
        self.acked = -1
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http" and scope["path"] == STATS_PATH:
            await self._report(scope, send)
        elif scope["type"] == "http":
            await self._forward(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(300.0, connect=5.0),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
            trust_env=False,  # backends are on loopback: never via an HTTP(S)_PROXY
        )
        watcher = asyncio.create_task(self._acknowledge())
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        watcher.cancel()
        await self._client.aclose()
        await send({"type": "lifespan.shutdown.complete"})

    async def _acknowledge(self) -> None:
        """Tell the deployer which routes are in force once old ones have drained."""
        while True:
            self.routes.refresh()
            if self.routes.generation > self.acked and self.routes.drained():
                self.acked = self.routes.generation
                self._store.write_ack(ProxyAck(pid=os.getpid(), generation=self.acked))
            await asyncio.sleep(POLL_INTERVAL)

    async def _report(self, scope: Scope, send: Send) -> None:
        if scope["method"] != "GET":
            await _plain(send, 405, f"releasegate: {STATS_PATH} answers GET only")
            return
        self.routes.refresh()
        body = json.dumps(self.stats.report(self.routes, self.acked)).encode() + b"\n"
        await _reply(send, 200, b"application/json", body)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self._client is not None
        self.stats.requests += 1
        method, target, headers = _outgoing(scope)
        body = await _read_body(scope, receive)
        if body is None:
            limit = f"releasegate: a request body may hold at most {MAX_BODY_BYTES} bytes"
            await _plain(send, 413, limit)
            return
        tried: set[str] = set()
        error: httpx.HTTPError | None = None
        retry: str | None = None  # why the previous attempt may be resent
        for _ in range(ATTEMPTS):
            backend = self.routes.pick(avoid=tried)
            if backend is None:
                break
            if retry is not None:
                self.stats.retried[retry] += 1
            tried.add(backend)
            request = self._client.build_request(
                method, backend + target, headers=headers, content=body
            )
            self.routes.acquire(backend)
            try:
                response = await self._client.send(request, stream=True)
            except httpx.HTTPError as exc:
                self.routes.release(backend)
                error, retry = exc, _retry_reason(exc, method)
                if retry is None:
                    break
                continue
            try:
                await _relay(response, send)
            except httpx.HTTPError:
                self.stats.failed["backend_failed"] += 1  # cut off mid-response
                raise
            finally:
                await response.aclose()
                self.routes.release(backend)
            return
        if error is None:
            self.stats.failed["no_backend"] += 1
            message = f"releasegate: no live backend for environment {self.routes.environment}"
            await _plain(send, 503, message)
        else:
            self.stats.failed["backend_failed"] += 1
            await _plain(send, 502, f"releasegate: backend failed: {error!r}")


def _retry_reason(error: httpx.HTTPError, method: str) -> str | None:
    """Why the request may be resent to another backend after `error`; None if it may not."""
    if isinstance(error, NOT_SENT):
        return "refused"
    if isinstance(error, DROPPED) and method in IDEMPOTENT:
        return "dropped"
    return None


def _outgoing(scope: Scope) -> tuple[str, str, list[tuple[bytes, bytes]]]:
    """Method, path with query, and headers of the request to send on to a backend."""
    path = scope["raw_path"] or scope["path"].encode()
    query = scope["query_string"]
    target = (path + b"?" + query if query else path).decode("latin-1")
    client_host = (scope.get("client") or ("", 0))[0]
    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
    headers += [
        (b"x-forwarded-for", client_host.encode()),
        (b"x-forwarded-host", dict(scope["headers"]).get(b"host", b"")),
        (b"x-forwarded-proto", scope["scheme"].encode()),
    ]
    return scope["method"], target, headers


async def _read_body(scope: Scope, receive: Receive) -> bytes | None:
    """The whole request body; None if it is larger than MAX_BODY_BYTES."""
    declared = dict(scope["headers"]).get(b"content-length", b"0")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None  # refused before reading any of it
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _relay(response: httpx.Response, send: Send) -> None:
    headers = [(k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    async for chunk in response.aiter_raw():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _plain(send: Send, status: int, message: str) -> None:
    await _reply(send, status, b"text/plain; charset=utf-8", message.encode() + b"\n")


async def _reply(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="releasegate environment proxy")
    parser.add_argument("--fd", type=int, required=True, help="the listening socket to serve")
    parser.add_argument("--env-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    # Not uvicorn's own `fd` option: it takes the socket for AF_UNIX, and client addresses
    # (X-Forwarded-For) would come out garbled. socket(fileno=) reads the real family.
    listener = socket.socket(fileno=args.fd)
    config = uvicorn.Config(
        Proxy(args.env_dir),
        log_level="warning",
        access_log=False,
        lifespan="on",
        # Longer than client pools keep idle connections (httpx: 5 s), so clients close first.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=30,
    )
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
