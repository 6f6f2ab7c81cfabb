"""The object store behind the emulator: kmock's ObjectsArray plus the fields an API server sets.

An API server sets `metadata.resourceVersion` on every write, `metadata.generation` (bumped
when the spec changes), `uid` and `creationTimestamp` on create. kmock stores raw dicts;
`Store` adds those fields so that what the client reads back looks like a real server's.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import kmock

# plural → (group, version, kind); the resources the emulator serves itself.
RESOURCES: dict[str, tuple[str, str, str]] = {
    "deployments": ("apps", "v1", "Deployment"),
    "replicasets": ("apps", "v1", "ReplicaSet"),
    "services": ("", "v1", "Service"),
    "endpointslices": ("discovery.k8s.io", "v1", "EndpointSlice"),
}


def now_rfc3339() -> str:
    """A timestamp as the API serialises metav1.Time: whole seconds, UTC."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_key(resource: str, namespace: str | None, name: str) -> tuple[Any, str | None, str]:
    group, version, _ = RESOURCES[resource]
    return (kmock.resource(group, version, resource), namespace, name)


class Store:
    """Typed access to kmock's objects, with server-set metadata."""

    def __init__(self, objects: Any) -> None:
        self.objects = objects
        self._version = itertools.count(1)

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        key = object_key(resource, namespace, name)
        if key not in self.objects or self.objects[key].deleted:
            return None
        raw: dict[str, Any] = self.objects[key].raw
        return raw

    def list(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            obj.raw
            for (res, ns, _), obj in list(self.objects.items())
            if res.plural == resource and not obj.deleted
            if namespace is None or ns == namespace
        ]

    def put(self, resource: str, namespace: str | None, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace `obj`, setting what the server sets; return the stored object."""
        group, version, kind = RESOURCES[resource]
        obj.setdefault("apiVersion", f"{group}/{version}" if group else version)
        obj.setdefault("kind", kind)
        meta = obj.setdefault("metadata", {})
        meta["namespace"] = namespace
        old = self.get(resource, namespace, meta["name"])
        if old is None:
            meta["generation"] = 1
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
        else:
            meta["uid"] = old["metadata"]["uid"]
            meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
            generation = int(old["metadata"].get("generation", 1))
            meta["generation"] = generation + (obj.get("spec") != old.get("spec"))
        meta["resourceVersion"] = str(next(self._version))
        self.objects[object_key(resource, namespace, meta["name"])] = obj
        return obj

    def update(
        self, resource: str, namespace: str, name: str, change: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        """Apply `change` to a copy; store it only if it differs (no resourceVersion churn)."""
        old = self.get(resource, namespace, name)
        assert old is not None, (resource, namespace, name)
        new = copy.deepcopy(old)
        change(new)
        return old if new == old else self.put(resource, namespace, new)

    def delete(self, resource: str, namespace: str | None, name: str) -> None:
        key = object_key(resource, namespace, name)
        if key in self.objects:
            del self.objects[key]

    def drop_namespace(self, namespace: str) -> None:
        for key in [k for k in self.objects if k[1] == namespace]:
            del self.objects[key]
