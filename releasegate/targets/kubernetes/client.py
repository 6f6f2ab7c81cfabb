"""The Kubernetes API as raw dicts, with errors a human can act on.

Raw JSON (`_preload_content=False`) keeps us independent of the client's model classes and
lets JSON Patch paths be computed from exactly what the server returned.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from releasegate.targets.base import TargetError
from releasegate.targets.kubernetes.settings import KubernetesSettings

Patch = list[dict[str, Any]] | dict[str, Any]
"""A JSON Patch (list of operations) or a JSON merge patch (dict)."""

_GROUPS = {"deployments": "apps", "replicasets": "apps", "services": "", "namespaces": ""}


class Conflict(TargetError):
    """The object changed between our read and our write (409, or a failed JSON Patch `test`)."""


class NotFound(TargetError):
    """A named object (or its namespace) does not exist."""


def api_client(settings: KubernetesSettings) -> client.ApiClient:
    """An API client for the configured cluster: in-cluster service account or a kubeconfig."""
    cfg = client.Configuration()
    try:
        if settings.in_cluster:
            config.load_incluster_config(client_configuration=cfg)
        else:
            config.load_kube_config(
                config_file=str(settings.kubeconfig) if settings.kubeconfig else None,
                context=settings.context,
                client_configuration=cfg,
            )
    except (config.ConfigException, OSError) as e:
        raise TargetError(f"cannot load Kubernetes credentials: {e}") from e
    return client.ApiClient(cfg)


class Kube:
    """The few calls the target makes, in one namespace. Every call knows its verb and resource."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self._apps = client.AppsV1Api(api)
        self._core = client.CoreV1Api(api)
        self._host = api.configuration.host

    def get_deployment(self, name: str) -> dict[str, Any]:
        return self._call("get", "deployments", name, self._apps.read_namespaced_deployment)

    def patch_deployment(self, name: str, patch: Patch) -> dict[str, Any]:
        return self._patch("deployments", name, self._apps.patch_namespaced_deployment, patch)

    def get_service(self, name: str) -> dict[str, Any]:
        return self._call("get", "services", name, self._core.read_namespaced_service)

    def patch_service(self, name: str, patch: Patch) -> dict[str, Any]:
        return self._patch("services", name, self._core.patch_namespaced_service, patch)

    def list_replicasets(self, label_selector: str) -> list[dict[str, Any]]:
        found = self._call(
            "list",
            "replicasets",
            None,
            lambda namespace, **kw: self._apps.list_namespaced_replica_set(
                namespace, label_selector=label_selector, **kw
            ),
        )
        return found.get("items") or []

    # -- plumbing ---------------------------------------------------------------------------

    def _patch(self, resource: str, name: str, method: Callable[..., Any], patch: Patch) -> Any:
        # Never strategic merge: a real server merges lists by key, the emulator replaces them.
        kind = (
            "application/json-patch+json"
            if isinstance(patch, list)
            else "application/merge-patch+json"
        )
        return self._call(
            "patch",
            resource,
            name,
            lambda *a, **kw: method(*a, body=patch, _content_type=kind, **kw),
        )

    def _call(self, verb: str, resource: str, name: str | None, method: Callable[..., Any]) -> Any:
        args = (self.namespace,) if name is None else (name, self.namespace)
        try:
            response = method(*args, _preload_content=False)
            return json.loads(response.data)
        except ApiException as e:
            raise self._translate(e, verb, resource, name) from e
        except urllib3.exceptions.HTTPError as e:
            raise TargetError(f"cannot reach the Kubernetes API at {self._host}: {e}") from e

    def _translate(
        self, e: ApiException, verb: str, resource: str, name: str | None
    ) -> TargetError:
        what = _qualified(resource) + (f" {name!r}" if name else "")
        message = _server_message(e)
        if e.status == 403:
            return TargetError(
                f"forbidden: cannot {verb} {_qualified(resource)} in namespace {self.namespace!r}"
                f" (needs verb {verb!r} on resource {resource!r} of API group "
                f"{_GROUPS[resource] or 'core'!r}; see deployments/kubernetes/rbac.yaml). "
                f"A namespace that does not exist also answers 403 to a namespaced Role. "
                f"Server: {message}"
            )
        if e.status == 404 and name is not None:
            return NotFound(self._missing(what))
        if e.status == 409 or (e.status == 422 and verb == "patch"):
            return Conflict(f"{verb} {what} in namespace {self.namespace!r}: {message}")
        if e.status == 401:
            return TargetError(f"unauthorized at {self._host}: credentials rejected ({message})")
        return TargetError(
            f"{verb} {what} in namespace {self.namespace!r} failed: HTTP {e.status} {message}"
        )

    def _missing(self, what: str) -> str:
        # A namespaced 404 does not say whether the object or its namespace is missing: ask.
        # (A Role may grant `get` on its own namespace object; without it we say we could not tell.)
        try:
            self._core.read_namespace(self.namespace, _preload_content=False)
        except ApiException as e:
            if e.status == 404:
                return f"namespace {self.namespace!r} does not exist (looking for {what})"
            return f"{what} not found in namespace {self.namespace!r} (or the namespace is missing)"
        except urllib3.exceptions.HTTPError:
            pass
        return f"{what} not found in namespace {self.namespace!r}"


def _qualified(resource: str) -> str:
    group = _GROUPS.get(resource, "")
    return f"{resource}.{group}" if group else resource


def _server_message(e: ApiException) -> str:
    try:
        return json.loads(e.body)["message"]
    except (TypeError, ValueError, KeyError):
        return str(e.reason)
