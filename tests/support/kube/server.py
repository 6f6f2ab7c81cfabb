"""The API server part of the emulator: authentication, RBAC, patches, validation, admission.

kmock parses each request and holds the objects; `ClusterEmulator` answers the calls the
target makes the way a real API server does, in its order:

1. authentication: a bearer token from `tokens`, else 401 (what EKS answers a client whose
   exec plugin produced no token);
2. authorization: the RBAC objects of `deployments/kubernetes/rbac.yaml` as an allowlist
   (`rbac.Rbac`), 403 with the API server's message otherwise — so a missing object the
   role may not read is 403, and 404 only where the role may read;
3. GET/LIST of deployments, replicasets, services, endpointslices (label selectors
   honoured), the namespace object;
4. PATCH of deployments and services: JSON Patch (a failing `test` or missing path → the
   generic 422 `Invalid` without causes, exactly as the API server words it), merge patch
   (a stale `metadata.resourceVersion` → 409); strategic merge is refused (415: its list
   merging is not modelled); status in the body is ignored; then validation
   (`validation.py`, 422 with causes), then admission `denials`, then the write.

`calls` records every request; `after_get` runs a one-shot change right after a GET, to
play a concurrent writer on cue. The controllers and the network run in `run()`.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp.web
import jsonpatch
import kmock
from kmock._internal.dicts import merge_patch_dict

from tests.support.kube import validation
from tests.support.kube.controller import Controllers
from tests.support.kube.network import Network, ServiceProxy
from tests.support.kube.pods import Images, Kubelet
from tests.support.kube.rbac import Identity, Rbac, Request, forbidden_message
from tests.support.kube.store import RESOURCES, Store

ADMIN = Identity("kubernetes-admin", ("system:masters", "system:authenticated"), admin=True)


@dataclass(frozen=True)
class Call:
    verb: str
    resource: str | None
    namespace: str | None
    name: str | None
    body: Any


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> Any:
    body = {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
            "code": code, "reason": reason, "message": message,
            "details": details or {}}  # fmt: skip
    return aiohttp.web.json_response(body, status=code)


def _verb(request: kmock.Request) -> str:
    method = request.method.value.upper()
    if method == "GET":
        return "watch" if request.params.get("watch") == "true" else (
            "get" if request.name else "list")  # fmt: skip
    return {"PATCH": "patch", "PUT": "update", "POST": "create", "DELETE": "delete"}.get(
        method, method.lower()
    )


def _selected(obj: dict[str, Any], selector: str) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value.lstrip("="):
            return False
    return True


class ClusterEmulator(kmock.KubernetesEmulator):
    """kmock's emulator with an API server's semantics and a controller manager behind it."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.store = Store(self.objects)
        self.images = Images()
        self.kubelet = Kubelet(self.images)
        self.network = Network(self.kubelet)
        self.proxy = ServiceProxy(self.network)
        self.controllers = Controllers(self.store, self.kubelet)
        self.rbac = Rbac.load()
        self.tokens: dict[str, Identity] = {"deployer-token": self.rbac.worker(),
                                            "admin-token": ADMIN}  # fmt: skip
        self.namespaces: set[str] = set()
        self.denials: list[validation.Denial] = []
        self.calls: list[Call] = []
        self.after_get: dict[tuple[str, str, str], Callable[[dict[str, Any]], None]] = {}
        self.sync_period = 0.05

    # -- the control loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Controllers, then endpoints, every `sync_period`, until cancelled."""
        await self.proxy.start()
        try:
            while True:
                async with self._lock:
                    self.controllers.sync()
                    self.network.sync(self.store.list("services"), self._publish)
                await asyncio.sleep(self.sync_period)
        finally:
            await self.proxy.stop()
            await self.kubelet.close()

    def _publish(self, slice_: dict[str, Any]) -> None:
        self.store.put("endpointslices", slice_["metadata"]["namespace"], slice_)

    async def drop_namespace(self, namespace: str) -> None:
        async with self._lock:
            self.namespaces.discard(namespace)
            self.store.drop_namespace(namespace)
            self.network.forget(namespace)
        await self.kubelet.remove_namespace(namespace)

    # -- request handling -------------------------------------------------------------------

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        path = request.url.path
        verb = _verb(request)
        namespace: str | None
        name: str | None
        if path.startswith("/api/v1/namespaces/") and path.count("/") == 4:
            # GET /api/v1/namespaces/X: the apiserver's request namespace is X (kmock: a list).
            resource, namespace = "namespaces", path.rsplit("/", 1)[1]
            name, verb = namespace, "get" if verb == "list" else verb
        elif request.resource is not None and request.resource.plural:
            resource, namespace, name = request.resource.plural, request.namespace, request.name
        else:
            return await super()._handle(request)  # discovery, /version
        self.calls.append(Call(verb, resource, request.namespace, name, request.data))
        token = (request.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        who = self.tokens.get(token)
        if who is None:
            return status(401, "Unauthorized", "Unauthorized")
        group = RESOURCES.get(resource, ("",))[0]
        asked = Request(verb, group, resource, namespace, name)
        if not self.rbac.allows(who, asked):
            details = {"name": name or "", "group": group, "kind": resource}
            return status(403, "Forbidden", forbidden_message(who, asked), details)
        async with self._lock:
            return self._serve(verb, resource, namespace, name, request)

    def _serve(
        self, verb: str, resource: str, namespace: str | None, name: str | None,
        request: kmock.Request,
    ) -> aiohttp.web.StreamResponse:  # fmt: skip
        if resource == "namespaces":
            if name in self.namespaces:
                return aiohttp.web.json_response(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
                     "status": {"phase": "Active"}})  # fmt: skip
            return status(404, "NotFound", f'namespaces "{name}" not found',
                          {"name": name, "kind": "namespaces"})  # fmt: skip
        if resource not in RESOURCES:
            return status(404, "NotFound", "the server could not find the requested resource")
        group, version, kind = RESOURCES[resource]
        if verb == "list":
            items = [o for o in self.store.list(resource, namespace)
                     if _selected(o, request.params.get("labelSelector", ""))]  # fmt: skip
            return aiohttp.web.json_response(
                {"apiVersion": f"{group}/{version}" if group else version, "kind": f"{kind}List",
                 "metadata": {"resourceVersion": "1"}, "items": items})  # fmt: skip
        if verb not in ("get", "patch") or name is None:
            return status(
                405, "MethodNotAllowed", f"the emulator serves get, list and patch, not {verb}"
            )
        found = self.store.get(resource, namespace, name) if namespace in self.namespaces else None
        if found is None:
            qualified = f"{resource}.{group}" if group else resource
            return status(404, "NotFound", f'{qualified} "{name}" not found',
                          {"name": name, "group": group, "kind": resource})  # fmt: skip
        if verb == "patch":
            return self._patch(resource, namespace or "", name, found, request)
        response = aiohttp.web.json_response(found)
        hook = self.after_get.pop((resource, namespace or "", name), None)
        if hook is not None:
            self.store.update(resource, namespace or "", name, hook)
        return response

    def _patch(
        self, resource: str, namespace: str, name: str, old: dict[str, Any],
        request: kmock.Request,
    ) -> aiohttp.web.StreamResponse:  # fmt: skip
        group, _, kind = RESOURCES[resource]
        qualified = f"{resource}.{group}" if group else resource
        content_type = request.headers.get("Content-Type", "").split(";")[0]
        current = copy.deepcopy(old)
        if content_type == "application/json-patch+json":
            try:
                new = jsonpatch.apply_patch(current, request.data, in_place=False)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException):
                # patch.go: NewGenericServerResponse(422, ...) keeps no detail of what failed.
                generic = "the server rejected our request due to an error in our request"
                return status(422, "Invalid", generic)
        elif content_type == "application/merge-patch+json":
            wanted = (request.data.get("metadata") or {}).get("resourceVersion")
            if wanted is not None and wanted != old["metadata"].get("resourceVersion"):
                return status(409, "Conflict",
                              f'Operation cannot be fulfilled on {qualified} "{name}": the object '
                              "has been modified; please apply your changes to the latest "
                              "version and try again", {"name": name, "group": group,
                                                        "kind": resource})  # fmt: skip
            new = dict(merge_patch_dict(current, request.data))
        else:
            refused = f"{content_type}: the emulator does not model strategic merge"
            return status(415, "UnsupportedMediaType", refused)
        new["status"] = copy.deepcopy(old.get("status"))  # the main resource ignores status
        check = validation.deployment if resource == "deployments" else validation.service
        causes = check(new, old)
        if causes:
            body = validation.invalid_body(kind, group, name, causes)
            return aiohttp.web.json_response(body, status=422)
        for denial in self.denials:
            if denial.applies("patch", resource, new):
                return aiohttp.web.json_response(
                    denial.body(resource, group, name), status=denial.code
                )
        return aiohttp.web.json_response(self.store.put(resource, namespace, new))
