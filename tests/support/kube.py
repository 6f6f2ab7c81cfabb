"""A Kubernetes API for tests: kmock's emulator plus a small Deployment controller of ours.

    with KubeCluster() as cluster:
        cluster.kubeconfig          # a kubeconfig file (context "emulator") for the official client
        cluster.add_namespace("ns")
        cluster.put("deployments", "ns", {...})
        cluster.broken_images.add(digest)       # rollouts to it get stuck: ProgressDeadlineExceeded
        cluster.forbidden.add(("patch", "services"))     # that verb on that resource answers 403

kmock (a real HTTP server, run on its own event loop in a thread) stores objects and serves
GET/LIST/POST. On top, `ClusterEmulator` does what a real API server and controller manager
would and kmock does not:

- PATCH of deployments and services: JSON Patch (a failed `test` op → 422, like the real
  server) and merge patch (a stale `metadata.resourceVersion` → 409 Conflict); strategic
  merge is refused (415) because its meaning differs from a real server's;
- `metadata.generation` bumped synchronously inside the request when the spec changes,
  `metadata.resourceVersion` on every write;
- after each Deployment change, a controller task: a ReplicaSet per pod template with the
  `deployment.kubernetes.io/revision` annotation, then status (observedGeneration,
  updated/available replicas, conditions) a moment later — or, for a template using an
  image in `broken_images`, a rollout that never completes and reports
  `ProgressDeadlineExceeded`;
- namespaces that must exist (`GET /api/v1/namespaces/NAME`, and 404 inside a missing one);
- RBAC: `forbidden` (verb, resource) pairs answer 403 with the real server's message;
- `calls`: every request as (verb, resource, name) for assertions (e.g. one selector patch);
- `after_get`: one-shot mutations run right after a GET — a concurrent writer, on cue.

`Ingress` is a loopback HTTP server that routes `/<namespace>/<service>/...` the way a
Service would: to the Deployments whose pod labels match the selector, answering 503 when
any of them runs an image in `unhealthy_images`. Probes hit it over real HTTP.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp.web
import jsonpatch
import kmock
from kmock._internal.dicts import merge_patch_dict

from tests.support.jsonhttp import JsonServer

REVISION = "deployment.kubernetes.io/revision"
_GROUPS = {"deployments": "apps", "replicasets": "apps"}
_API_VERSION = {"deployments": "apps/v1", "replicasets": "apps/v1", "services": "v1"}


def object_key(
    resource: str, namespace: str | None, name: str | None
) -> tuple[Any, str | None, str]:
    """kmock's object key; parsed, because `in` does not parse string resource keys."""
    group = _GROUPS.get(resource, "")
    return (kmock.resource(group, "v1", resource), namespace, name or "")


@dataclass(frozen=True)
class Call:
    verb: str
    resource: str | None
    namespace: str | None
    name: str | None
    body: Any


def _verb(request: kmock.Request) -> str:
    action = request.action.value if request.action else request.method.value
    return {"FETCH": "get", "UPDATE": "patch"}.get(action, action.lower())


def _status(code: int, reason: str, message: str) -> aiohttp.web.Response:
    body = {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
            "code": code, "reason": reason, "message": message}  # fmt: skip
    return aiohttp.web.json_response(body, status=code)


class ClusterEmulator(kmock.KubernetesEmulator):
    """kmock's emulator with generation, resourceVersion, patch semantics, RBAC and a controller."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.namespaces: set[str] = set()
        self.broken_images: set[str] = set()
        self.forbidden: set[tuple[str, str]] = set()
        self.calls: list[Call] = []
        self.after_get: dict[tuple[str, str, str], Callable[[dict[str, Any]], None]] = {}
        self.step_delay = 0.05  # how long the controller takes per step
        self._version = 0

    # -- request handling (runs on the emulator's event loop) -----------------------------------

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        verb = _verb(request)
        resource = request.resource.plural if request.resource else None
        path = request.url.path
        if (
            request.method.value == "GET"
            and path.startswith("/api/v1/namespaces/")
            and path.count("/") == 4
        ):
            resource, name = "namespaces", path.rsplit("/", 1)[1]  # kmock reads this as a LIST
        else:
            name = request.name
        self.calls.append(Call(verb, resource, request.namespace, name, request.data))
        if resource is None:
            return await super()._handle(request)
        group = _GROUPS.get(resource, "")
        if (verb, resource) in self.forbidden:
            qualified = f"{resource}.{group}" if group else resource
            return _status(
                403,
                "Forbidden",
                f'{qualified} "{name or ""}" is forbidden: User "system:serviceaccount:releasegate:'
                f'deployer" cannot {verb} resource "{resource}" in API group "{group}" '
                f'in the namespace "{request.namespace}"',
            )
        if resource == "namespaces":
            if name in self.namespaces:
                return aiohttp.web.json_response(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                )
            return _status(404, "NotFound", f'namespaces "{name}" not found')
        if request.namespace is not None and request.namespace not in self.namespaces:
            return _status(404, "NotFound", f'{resource} "{name}" not found')
        if verb == "patch" and resource in ("deployments", "services"):
            return await self._patch(request, resource)
        response = await super()._handle(request)
        hook = self.after_get.pop((resource, request.namespace or "", name or ""), None)
        if verb == "get" and hook is not None:
            async with self._lock:
                self._write(resource, request.namespace, name or "", hook)
        return response

    async def _patch(self, request: kmock.Request, resource: str) -> aiohttp.web.StreamResponse:
        content_type = request.headers.get("Content-Type", "").split(";")[0]
        key = object_key(resource, request.namespace, request.name)
        async with self._lock:
            if key not in self.objects or self.objects[key].deleted:
                return _status(404, "NotFound", f'{resource} "{request.name}" not found')
            old = copy.deepcopy(self.objects[key].raw)
            if content_type == "application/json-patch+json":
                try:
                    new = jsonpatch.apply_patch(old, request.data, in_place=False)
                except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
                    return _status(422, "Invalid", f"the server rejected our request: {e}")
            elif content_type == "application/merge-patch+json":
                wanted = (request.data.get("metadata") or {}).get("resourceVersion")
                if wanted is not None and wanted != old["metadata"].get("resourceVersion"):
                    return _status(
                        409,
                        "Conflict",
                        f'Operation cannot be fulfilled on {resource} "{request.name}": the object '
                        "has been modified; please apply your changes to the latest version and "
                        "try again",
                    )
                new = dict(merge_patch_dict(old, request.data))
            else:
                return _status(415, "UnsupportedMediaType", f"emulator refuses {content_type}")
            new["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion")
            self._store(key, new, old)
            stored = copy.deepcopy(self.objects[key].raw)
        if resource == "deployments" and stored["spec"] != old["spec"]:
            asyncio.get_running_loop().create_task(self._reconcile(request.namespace, request.name))
        return aiohttp.web.json_response(stored)

    def _store(self, key: Any, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        meta = new.setdefault("metadata", {})
        if old is None:
            meta["generation"] = 1
            meta["uid"] = hashlib.sha1(repr(key).encode()).hexdigest()
        elif new.get("spec") != old.get("spec"):
            meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
        self._version += 1
        meta["resourceVersion"] = str(self._version)
        self.objects[key] = new

    def _write(self, resource: str, namespace: str | None, name: str, change: Callable) -> None:
        key = object_key(resource, namespace, name)
        old = self.objects[key].raw
        new = copy.deepcopy(old)
        change(new)
        self._store(key, new, old)

    # -- the controller -----------------------------------------------------------------------

    async def _reconcile(self, namespace: str, name: str) -> None:
        """One pass of a Deployment controller for the Deployment's current generation."""
        key = object_key("deployments", namespace, name)
        await asyncio.sleep(self.step_delay)
        async with self._lock:
            dep = copy.deepcopy(self.objects[key].raw)
            generation = dep["metadata"]["generation"]
            replicas = dep["spec"].get("replicas", 1)
            revision, rs_name = self._replicaset_for(dep)
            images = {c.get("image") for c in dep["spec"]["template"]["spec"]["containers"]}
            stuck = bool(images & self.broken_images) and replicas > 0

            def observed(d: dict[str, Any]) -> None:
                d["metadata"].setdefault("annotations", {})[REVISION] = str(revision)
                old = (d.get("status") or {}).get("availableReplicas", 0)
                d["status"] = {
                    "observedGeneration": generation,
                    "replicas": replicas + (1 if stuck else 0),
                    "updatedReplicas": min(1, replicas) if stuck else replicas,
                    "readyReplicas": min(old, replicas) if stuck else replicas,
                    "availableReplicas": min(old, replicas) if stuck else replicas,
                    "conditions": [
                        {"type": "Available", "status": "True", "reason": "MinimumReplicas"},
                        {"type": "Progressing", "status": "True",
                         "reason": "ReplicaSetUpdated" if stuck else "NewReplicaSetAvailable",
                         "message": f'ReplicaSet "{rs_name}" is progressing.'},
                    ],
                }  # fmt: skip

            if self.objects[key].raw["metadata"]["generation"] != generation:
                return  # a newer change arrived; its own pass will handle it
            self._write("deployments", namespace, name, observed)
        if not stuck:
            return
        await asyncio.sleep(self.step_delay * 4)  # the progress deadline, compressed

        def timed_out(d: dict[str, Any]) -> None:
            d["status"]["conditions"][1] = {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": f'ReplicaSet "{rs_name}" has timed out progressing.',
            }

        async with self._lock:
            if self.objects[key].raw["metadata"]["generation"] == generation:
                self._write("deployments", namespace, name, timed_out)

    def _replicaset_for(self, dep: dict[str, Any]) -> tuple[int, str]:
        """Find or create the ReplicaSet of the current template; give it the newest revision."""
        namespace, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        template = dep["spec"]["template"]
        owned = {
            rs_name: obj.raw
            for (res, ns, rs_name), obj in self.objects.items()
            if res.plural == "replicasets" and ns == namespace and not obj.deleted
            if any(o.get("name") == name for o in obj.raw["metadata"].get("ownerReferences", []))
        }
        newest = max(
            (int(rs["metadata"]["annotations"][REVISION]) for rs in owned.values()), default=0
        )
        pod_hash = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
        rs_name = f"{name}-{pod_hash}"
        current = owned.get(rs_name)
        if current is not None and int(current["metadata"]["annotations"][REVISION]) == newest:
            revision = newest
        else:
            revision = (
                newest + 1
            )  # a reused template (a rollback) gets the next revision, as in k8s
        replicas = dep["spec"].get("replicas", 1)
        for other, rs in owned.items():
            if other != rs_name and rs["spec"].get("replicas"):
                self._write("replicasets", namespace, other, lambda r: r["spec"].update(replicas=0))
        self._store(
            object_key("replicasets", namespace, rs_name),
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": rs_name,
                    "namespace": namespace,
                    "labels": dict(template["metadata"].get("labels") or {}),
                    "annotations": {REVISION: str(revision)},
                    "ownerReferences": [
                        {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
                    ],
                },
                "spec": {"replicas": replicas, "template": template},
            },
            current,
        )
        return revision, rs_name

    # -- seeding from the test thread -----------------------------------------------------------

    def seed(self, resource: str, namespace: str, obj: dict[str, Any]) -> None:
        obj = copy.deepcopy(obj)
        obj.setdefault("apiVersion", _API_VERSION[resource])
        obj["metadata"]["namespace"] = namespace
        key = object_key(resource, namespace, obj["metadata"]["name"])
        self._store(key, obj, None)


class KubeCluster:
    """Run `ClusterEmulator` on 127.0.0.1 in a background thread; use as a context manager."""

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
                ready.set()
                await self._stop.wait()

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
        self.kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "emulator",
                    "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
                    "users": [{"name": "deployer", "user": {"token": "test-token"}}],
                    "contexts": [
                        {"name": "emulator", "context": {"cluster": "emulator", "user": "deployer"}}
                    ],
                }
            )
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run(self, fn: Callable[[ClusterEmulator], Any]) -> Any:
        """Run `fn(emulator)` on the emulator's loop, under its lock; return its result."""
        assert self._loop is not None and self.emulator is not None
        emulator = self.emulator

        async def locked() -> Any:
            async with emulator._lock:
                return fn(emulator)

        return asyncio.run_coroutine_threadsafe(locked(), self._loop).result(timeout=10)

    @property
    def api(self) -> ClusterEmulator:
        assert self.emulator is not None
        return self.emulator

    def add_namespace(self, namespace: str) -> None:
        self.run(lambda e: e.namespaces.add(namespace))

    def put(self, resource: str, namespace: str, obj: dict[str, Any]) -> None:
        self.run(lambda e: e.seed(resource, namespace, obj))

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        key = object_key(resource, namespace, name)
        return self.run(lambda e: copy.deepcopy(e.objects[key].raw))

    def replicasets(self, namespace: str, owner: str) -> list[dict[str, Any]]:
        def find(e: ClusterEmulator) -> list[dict[str, Any]]:
            return [
                copy.deepcopy(obj.raw)
                for (res, ns, _), obj in e.objects.items()
                if res.plural == "replicasets" and ns == namespace and not obj.deleted
                if obj.raw["metadata"]["ownerReferences"][0]["name"] == owner
            ]

        return self.run(find)

    def calls(self, verb: str | None = None, resource: str | None = None) -> list[Call]:
        return [
            c
            for c in list(self.api.calls)
            if (verb is None or c.verb == verb) and (resource is None or c.resource == resource)
        ]


def deployment(
    name: str, container: str, image: str, *, labels: dict[str, str], replicas: int = 2
) -> dict[str, Any]:
    """A Deployment manifest as a platform team would apply it (already rolled out)."""
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {"containers": [{"name": container, "image": image}]},
            },
        },
        "status": {
            "observedGeneration": 1,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        },
    }


def service(name: str, selector: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": dict(selector), "ports": [{"port": 80, "targetPort": 8080}]},
    }


class Ingress:
    """Loopback HTTP: `/<namespace>/<service>/...` answers as the pods behind that Service would."""

    def __init__(self, cluster: KubeCluster) -> None:
        self.cluster = cluster
        self.unhealthy_images: set[str] = set()
        self.hits: list[str] = []
        self._server: JsonServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    def route(self, namespace: str, service_name: str) -> tuple[int, list[str]]:
        """(status, images of the ready pods the Service selects)."""

        def images(e: ClusterEmulator) -> list[str]:
            svc = e.objects[object_key("services", namespace, service_name)].raw
            selector = svc["spec"].get("selector") or {}
            found = []
            for (res, ns, _), obj in e.objects.items():
                if res.plural != "deployments" or ns != namespace or obj.deleted:
                    continue
                d = obj.raw
                labels = d["spec"]["template"]["metadata"].get("labels") or {}
                ready = (d.get("status") or {}).get("availableReplicas", 0)
                if ready and all(labels.get(k) == v for k, v in selector.items()):
                    found += [c["image"] for c in d["spec"]["template"]["spec"]["containers"]]
            return found

        pods = self.cluster.run(images)
        healthy = bool(pods) and not set(pods) & self.unhealthy_images
        return (200 if healthy else 503), pods

    @contextmanager
    def serving(self) -> Iterator[Ingress]:
        def respond(path: str) -> tuple[int, dict[str, Any]]:
            parts = path.strip("/").split("/")
            self.hits.append(path)
            code, pods = self.route(parts[0], parts[1])
            return code, {"images": pods}

        self._server = JsonServer(respond)
        try:
            yield self
        finally:
            self._server.close()
