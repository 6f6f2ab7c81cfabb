"""Services: EndpointSlices lagging behind pods and selectors, and routes lagging behind them.

On a real cluster a Service selector change, a pod becoming ready or a pod being deleted
reaches the traffic in two hops, each taking time: the EndpointSlice controller rewrites
the Service's EndpointSlice (what the API shows), then kube-proxy or an ingress controller
reprograms the data path from it. Both hops are delay lines here:

- `endpoint_delay`: from a change of pods/selector to the EndpointSlice in the API;
- `proxy_delay`: from the EndpointSlice to the routes `ServiceProxy` uses.

`ServiceProxy` is a loopback HTTP server; `/<namespace>/<service>/<path>` is that Service's
virtual IP. Each request goes to the next *ready* endpoint in turn (to serving terminating
ones only when none is ready, as kube-proxy ≥ 1.28 does) over a new connection to the pod's
own server, with no retry: a pod that has stopped answers "connection refused", seen as 502;
a Service without endpoints answers 503.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import aiohttp.web

from tests.support.kube.pods import Kubelet, Pod

SERVICE_NAME = "kubernetes.io/service-name"


@dataclass(frozen=True, order=True)
class Endpoint:
    pod: str
    ip: str
    ready: bool
    serving: bool
    terminating: bool


Endpoints = tuple[Endpoint, ...]


@dataclass(frozen=True)
class Hit:
    """One request through the Service proxy: which pod answered (None: none did) and how."""

    path: str
    pod: str | None
    status: int


def endpoints_for(selector: dict[str, str], namespace: str, pods: list[Pod]) -> Endpoints:
    """What the EndpointSlice controller would list now for a Service with `selector`."""
    if not selector:
        return ()
    return tuple(
        sorted(
            Endpoint(p.name, p.ip, p.ready, p.running, p.deleting)
            for p in pods
            if p.namespace == namespace and p.running
            if all(p.labels.get(k) == v for k, v in selector.items())
        )
    )


@dataclass
class DelayLine:
    """Values become current `delay` seconds after they were offered, in order."""

    delay: Callable[[], float]
    current: Endpoints = ()
    _queue: list[tuple[float, Endpoints]] = field(default_factory=list)

    def offer(self, value: Endpoints, now: float) -> None:
        latest = self._queue[-1][1] if self._queue else self.current
        if value != latest:
            self._queue.append((now + self.delay(), value))

    @property
    def pending(self) -> bool:
        return bool(self._queue)

    def advance(self, now: float) -> bool:
        """Apply what is due; True if `current` changed."""
        changed = False
        while self._queue and self._queue[0][0] <= now:
            _, value = self._queue.pop(0)
            changed = changed or value != self.current
            self.current = value
        return changed


def endpoint_slice(svc: dict[str, Any], endpoints: Endpoints) -> dict[str, Any]:
    """The EndpointSlice object the API serves for Service `svc`."""
    namespace, service = svc["metadata"]["namespace"], svc["metadata"]["name"]
    port = (svc["spec"].get("ports") or [{}])[0].get("targetPort", 80)
    owner = {"apiVersion": "v1", "kind": "Service", "name": service, "uid": svc["metadata"]["uid"]}
    suffix = hashlib.sha256(f"{namespace}/{service}".encode()).hexdigest()[:5]
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service}-{suffix}",
            "namespace": namespace,
            "labels": {
                SERVICE_NAME: service,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
            "ownerReferences": [owner],
        },
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": [e.ip],
                "conditions": {
                    "ready": e.ready,
                    "serving": e.serving,
                    "terminating": e.terminating,
                },
                "targetRef": {"kind": "Pod", "name": e.pod, "namespace": namespace},
            }
            for e in endpoints
        ],
        "ports": [{"name": "", "port": port, "protocol": "TCP"}],
    }


class Network:
    """Per Service: its EndpointSlice (after `endpoint_delay`), its routes (after `proxy_delay`)."""

    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet
        self.endpoint_delay = 0.3
        self.proxy_delay = 0.2
        self._slices: dict[tuple[str, str], DelayLine] = {}
        self._routes: dict[tuple[str, str], DelayLine] = {}
        self._turn: dict[tuple[str, str], itertools.count[int]] = {}
        self._published: set[tuple[str, str]] = set()

    def sync(
        self, services: list[dict[str, Any]], publish: Callable[[dict[str, Any]], None]
    ) -> None:
        """One pass: offer what each Service should route to, publish and route what is due."""
        now = time.monotonic()
        pods = list(self.kubelet.pods.values())
        for svc in services:
            key = (svc["metadata"]["namespace"], svc["metadata"]["name"])
            slices = self._slices.setdefault(key, DelayLine(lambda: self.endpoint_delay))
            routes = self._routes.setdefault(key, DelayLine(lambda: self.proxy_delay))
            selector = svc["spec"].get("selector") or {}
            slices.offer(endpoints_for(selector, key[0], pods), now)
            if slices.advance(now) or key not in self._published:
                self._published.add(key)
                publish(endpoint_slice(svc, slices.current))
            routes.offer(slices.current, now)
            routes.advance(now)

    def forget(self, namespace: str) -> None:
        for table in (self._slices, self._routes, self._turn):
            for key in [k for k in table if k[0] == namespace]:
                del table[key]
        self._published = {k for k in self._published if k[0] != namespace}

    def routing(self, namespace: str, service: str) -> tuple[Endpoints, bool] | None:
        """(what the data path routes to now, whether a change is still on its way)."""
        slices, routes = (
            self._slices.get((namespace, service)),
            self._routes.get((namespace, service)),
        )
        if slices is None or routes is None:
            return None
        return routes.current, bool(slices.pending or routes.pending)

    def pick(self, namespace: str, service: str) -> Endpoint | None:
        routes = self._routes.get((namespace, service))
        endpoints = routes.current if routes else ()
        candidates = [e for e in endpoints if e.ready] or [e for e in endpoints if e.serving]
        if not candidates:
            return None
        turn = self._turn.setdefault((namespace, service), itertools.count())
        return candidates[next(turn) % len(candidates)]


class ServiceProxy:
    """Loopback HTTP: `/<namespace>/<service>/<path>` is sent to one endpoint of that Service."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.hits: list[Hit] = []
        self.url = ""
        self._runner: aiohttp.web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # A new connection per request: no pooled connection hides a pod that went away.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True),
            timeout=aiohttp.ClientTimeout(total=10),
        )
        app = aiohttp.web.Application()
        app.router.add_route("*", "/{namespace}/{service}/{path:.*}", self._forward)
        self._runner = aiohttp.web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = aiohttp.web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        namespace, service = request.match_info["namespace"], request.match_info["service"]
        endpoint = self.network.pick(namespace, service)
        if endpoint is None:
            self.hits.append(Hit(request.path, None, 503))
            return aiohttp.web.json_response(
                {"error": f"no endpoints available for service {namespace}/{service}"}, status=503
            )
        port = self.network.kubelet.ports.get(endpoint.ip)
        assert self._session is not None
        try:
            if port is None:
                raise aiohttp.ClientConnectionError(f"{endpoint.ip} has no open port")
            url = f"http://127.0.0.1:{port}/{request.match_info['path']}"
            body = await request.read()
            async with self._session.request(
                request.method, url, params=request.query, data=body or None
            ) as upstream:
                body = await upstream.read()
                self.hits.append(Hit(request.path, endpoint.pod, upstream.status))
                return aiohttp.web.Response(
                    status=upstream.status, body=body, content_type=upstream.content_type
                )
        except (aiohttp.ClientError, TimeoutError) as e:
            self.hits.append(Hit(request.path, None, 502))
            return aiohttp.web.json_response(
                {"error": f"upstream {endpoint.pod} ({endpoint.ip}): {e!r}"}, status=502
            )
