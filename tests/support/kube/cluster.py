"""`KubeCluster`: the emulator on 127.0.0.1, in a thread of its own, driven from tests.

with KubeCluster() as cluster:
    cluster.kubeconfig                   # context "emulator": rbac.yaml's worker
    cluster.add_namespace("ns")          # exists, with rbac.yaml's RoleBinding applied in it
    cluster.put("deployments", "ns", deployment(...))
    cluster.wait_settled("ns")           # rolled out, endpoints and routes caught up
    cluster.proxy_url + "/ns/webapp/version"     # through the Service, over real HTTP
"""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kmock

from releasegate.processes import wait_until
from tests.support.kube.network import SERVICE_NAME, endpoints_for
from tests.support.kube.server import Call, ClusterEmulator


class KubeCluster:
    """Run `ClusterEmulator` (API, controllers, pods, Services) on one event loop in a thread."""

    def __init__(self) -> None:
        self.emulator: ClusterEmulator | None = None
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._tmp = Path(tempfile.mkdtemp(prefix="releasegate-kube-"))
        self.kubeconfig = self._tmp / "kubeconfig"

    def __enter__(self) -> KubeCluster:
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            self._stop = asyncio.Event()
            async with ClusterEmulator() as emulator, kmock.Server(emulator) as server:
                self.emulator = emulator
                self.url = str(server.url).rstrip("/")
                loop = asyncio.get_running_loop().create_task(emulator.run())
                while not emulator.proxy.url and not loop.done():
                    await asyncio.sleep(0.01)
                ready.set()
                await self._stop.wait()
                loop.cancel()
                await asyncio.gather(loop, return_exceptions=True)

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(serve())
            except BaseException as e:  # surfaced to the starting thread
                failure.append(e)
                ready.set()
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=run, name="kube-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=20) or failure:
            raise RuntimeError(f"Kubernetes emulator did not start: {failure}")
        self.write_kubeconfig(self.kubeconfig, "deployer-token")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def write_kubeconfig(
        self, path: Path, token: str | None, exec_: dict[str, Any] | None = None
    ) -> Path:
        """A kubeconfig for this API: a static token, or an exec credential plugin."""
        user: dict[str, Any] = {"token": token} if token else {"exec": exec_}
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "emulator",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "deployer", "user": user},
                      {"name": "admin", "user": {"token": "admin-token"}}],
            "contexts": [{"name": "emulator",
                          "context": {"cluster": "emulator", "user": "deployer"}},
                         {"name": "emulator-admin",
                          "context": {"cluster": "emulator", "user": "admin"}}],
        }))  # fmt: skip
        return path

    # -- driving the emulator from the test thread ------------------------------------------

    @property
    def api(self) -> ClusterEmulator:
        assert self.emulator is not None
        return self.emulator

    @property
    def proxy_url(self) -> str:
        return self.api.proxy.url

    def run(self, fn: Callable[[ClusterEmulator], Any]) -> Any:
        """Run `fn(emulator)` on the emulator's loop, under its lock; return its result."""
        assert self._loop is not None
        emulator = self.api

        async def locked() -> Any:
            async with emulator._lock:
                return fn(emulator)

        return asyncio.run_coroutine_threadsafe(locked(), self._loop).result(timeout=10)

    def add_namespace(self, namespace: str, *, bind: bool = True) -> None:
        """Create `namespace`; `bind`: apply rbac.yaml's RoleBinding in it, as the docs say."""

        def add(e: ClusterEmulator) -> None:
            e.namespaces.add(namespace)
            if bind:
                e.rbac.bind(namespace)

        self.run(add)

    def drop_namespace(self, namespace: str) -> None:
        assert self._loop is not None
        drop = self.api.drop_namespace(namespace)
        asyncio.run_coroutine_threadsafe(drop, self._loop).result(timeout=30)

    def put(self, resource: str, namespace: str, obj: dict[str, Any]) -> None:
        self.run(lambda e: e.store.put(resource, namespace, copy.deepcopy(obj)))

    def change(self, resource: str, namespace: str, name: str, fn: Callable[[dict], None]) -> None:
        """Someone else's write (e.g. `kubectl edit`), straight into the store."""
        self.run(lambda e: e.store.update(resource, namespace, name, fn))

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        return self.run(lambda e: copy.deepcopy(e.store.get(resource, namespace, name)))

    def replicasets(self, namespace: str, owner: str) -> list[dict[str, Any]]:
        def find(e: ClusterEmulator) -> list[dict[str, Any]]:
            return [
                copy.deepcopy(rs)
                for rs in e.store.list("replicasets", namespace)
                if rs["metadata"]["ownerReferences"][0]["name"] == owner
            ]

        return self.run(find)

    def endpoints(self, namespace: str, service: str) -> list[str]:
        """The pods Service `service`'s EndpointSlice lists as ready, as the API serves it."""

        def ready(e: ClusterEmulator) -> list[str]:
            return [
                ep["targetRef"]["name"]
                for s in e.store.list("endpointslices", namespace)
                if s["metadata"]["labels"][SERVICE_NAME] == service
                for ep in s["endpoints"]
                if ep["conditions"]["ready"]
            ]

        return sorted(self.run(ready))

    def calls(self, verb: str | None = None, resource: str | None = None) -> list[Call]:
        return [
            c
            for c in list(self.api.calls)
            if (verb is None or c.verb == verb) and (resource is None or c.resource == resource)
        ]

    def wait_settled(self, namespace: str, timeout: float = 15) -> None:
        """Until every Deployment is rolled out and every Service routes to what it selects."""

        def settled(e: ClusterEmulator) -> bool:
            for dep in e.store.list("deployments", namespace):
                want, status = dep["spec"].get("replicas", 1), dep.get("status") or {}
                if status.get("observedGeneration") != dep["metadata"]["generation"] or any(
                    status.get(k) != want
                    for k in ("replicas", "updatedReplicas", "availableReplicas")
                ):
                    return False
            pods = list(e.kubelet.pods.values())
            for svc in e.store.list("services", namespace):
                wanted = endpoints_for(svc["spec"].get("selector") or {}, namespace, pods)
                if e.network.routing(namespace, svc["metadata"]["name"]) != (wanted, False):
                    return False
            return True

        wait_until(lambda: self.run(settled), timeout=timeout, what=f"{namespace} settled")
