"""Pods: each started pod of the emulator is a real HTTP server on its own loopback port.

A kubelet would pull the image, start the container, run its readiness probe and, on
deletion, run the preStop hook before SIGTERM. Here:

- a pod starts `start_delay` seconds after it is created, unless its image is in
  `Images.broken` (it then stays Pending, as in ImagePullBackOff, and never becomes ready);
- a started pod is ready at once (readiness passes) and answers every path with the
  version its image was registered with: `GET /version` → `{"version": ...}`,
  `GET /health` → `{"status": "ok"}`, `GET /hostname` → its name, `GET /slow?ms=N` (after
  N ms) and `POST /echo` (the body back) as the example app answers them (an image in
  `Images.unhealthy` answers 503 everywhere, while its readiness still passes: the smoke
  check is what must catch it);
- a deleted pod keeps serving for its template's preStop sleep (capped by
  `terminationGracePeriodSeconds`), then its server stops: connections are refused.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from dataclasses import dataclass, field
from typing import Any

import aiohttp.web

_IPS = itertools.count(1)


@dataclass
class Images:
    """What each image does when a pod runs it."""

    versions: dict[str, str] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    unhealthy: set[str] = field(default_factory=set)

    def clear(self) -> None:
        self.broken.clear()
        self.unhealthy.clear()


@dataclass
class Pod:
    namespace: str
    name: str
    owner: str
    labels: dict[str, str]
    images: tuple[str, ...]
    pre_stop: float
    ip: str = field(default_factory=lambda: _pod_ip(next(_IPS)))
    port: int | None = None
    running: bool = False
    deleting: bool = False
    gone: bool = False
    _runner: aiohttp.web.AppRunner | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        """Counted as ready by its ReplicaSet and listed as a ready endpoint."""
        return self.running and not self.deleting


def _pod_ip(n: int) -> str:
    return f"10.244.{n // 250}.{n % 250 + 1}"


def pre_stop_seconds(template: dict[str, Any]) -> float:
    """How long a deleted pod of `template` keeps serving: its preStop sleep, within its grace."""
    spec = template.get("spec") or {}
    longest = 0.0
    for container in spec.get("containers") or []:
        hook = ((container.get("lifecycle") or {}).get("preStop")) or {}
        if "sleep" in hook:
            longest = max(longest, float(hook["sleep"].get("seconds", 0)))
        command = (hook.get("exec") or {}).get("command") or []
        if command and command[0].endswith("sleep") and len(command) == 2:
            longest = max(longest, float(command[1]))
    return min(longest, float(spec.get("terminationGracePeriodSeconds", 30)))


class Kubelet:
    """Starts and stops pod servers on the emulator's event loop."""

    def __init__(self, images: Images, start_delay: float = 0.15) -> None:
        self.images = images
        self.start_delay = start_delay
        self.pods: dict[tuple[str, str], Pod] = {}
        # Kept after a pod is gone: a stale route must reach a closed port and be refused.
        self.ports: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Stop every pod at once (the emulator is shutting down)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pod in list(self.pods.values()):
            await self._shutdown(pod)

    def create(self, pod: Pod) -> None:
        self.pods[pod.namespace, pod.name] = pod
        pod._task = self._spawn(self._start(pod))

    def delete(self, pod: Pod) -> None:
        """Mark `pod` terminating; it stops serving after its preStop time."""
        if pod.deleting:
            return
        pod.deleting = True
        if pod._task is not None and not pod.running:
            pod._task.cancel()  # never started: nothing to drain
            self._forget(pod)
            return
        self._spawn(self._stop(pod))

    def owned_by(self, namespace: str, owner: str) -> list[Pod]:
        return [p for p in self.pods.values() if p.namespace == namespace and p.owner == owner]

    async def remove_namespace(self, namespace: str) -> None:
        for pod in [p for p in self.pods.values() if p.namespace == namespace]:
            if pod._task is not None:
                pod._task.cancel()
            await self._shutdown(pod)
            self._forget(pod)
            self.ports.pop(pod.ip, None)

    async def _start(self, pod: Pod) -> None:
        await asyncio.sleep(self.start_delay)
        if set(pod.images) & self.images.broken:
            return  # ImagePullBackOff: stays Pending
        app = aiohttp.web.Application()
        app.router.add_route("*", "/{path:.*}", self._handler(pod))
        runner = aiohttp.web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await aiohttp.web.SockSite(runner, sock).start()
        pod.port = sock.getsockname()[1]
        self.ports[pod.ip] = pod.port
        pod._runner = runner
        pod.running = not pod.deleting

    def _handler(self, pod: Pod) -> Any:
        async def respond(request: aiohttp.web.Request) -> aiohttp.web.Response:
            if set(pod.images) & self.images.unhealthy:
                return aiohttp.web.json_response({"error": "unhealthy"}, status=503)
            known = [self.images.versions[i] for i in pod.images if i in self.images.versions]
            version = known[0] if known else "unknown"
            if request.path == "/health":
                return aiohttp.web.json_response({"status": "ok"})
            if request.path == "/hostname":  # as agnhost netexec answers
                return aiohttp.web.Response(text=pod.name)
            answer: dict[str, Any] = {"version": version, "pod": pod.name}
            if request.path == "/slow":  # as the example app: in flight for a while
                answer["slept_ms"] = int(request.query.get("ms", "0"))
                await asyncio.sleep(answer["slept_ms"] / 1000)
            elif request.path == "/echo" and request.method == "POST":
                answer["body"] = (await request.read()).decode()
            return aiohttp.web.json_response(answer)

        return respond

    async def _stop(self, pod: Pod) -> None:
        await asyncio.sleep(pod.pre_stop)
        await self._shutdown(pod)
        self._forget(pod)

    async def _shutdown(self, pod: Pod) -> None:
        pod.running = False
        if pod._runner is not None:
            runner, pod._runner = pod._runner, None
            await runner.cleanup()

    def _forget(self, pod: Pod) -> None:
        pod.gone = True
        self.pods.pop((pod.namespace, pod.name), None)
