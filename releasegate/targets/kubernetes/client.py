"""The Kubernetes API as raw dicts, with errors a human can act on.

Raw JSON (`_preload_content=False`) keeps us independent of the client's model classes and
lets JSON Patch paths be computed from exactly what the server returned. A write also
returns the server's clock (`Date`), against which the controller's condition times are
compared: both are cluster clocks, ours may be skewed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from releasegate.targets.base import TargetError
from releasegate.targets.kubernetes.apierrors import Conflict, NotFound, qualified, translate
from releasegate.targets.kubernetes.credentials import plugin_failure, plugin_failures

Patch = list[dict[str, Any]] | dict[str, Any]
"""A JSON Patch (list of operations) or a JSON merge patch (dict)."""

__all__ = ["Conflict", "Kube", "NotFound", "Patch", "Written"]


@dataclass(frozen=True)
class Written:
    """An object as the server stored it, and when (the server's clock, whole seconds)."""

    object: dict[str, Any]
    at: datetime


class Kube:
    """The few calls the target makes, in one namespace. Every call knows its verb and resource."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self._apps = client.AppsV1Api(api)
        self._core = client.CoreV1Api(api)
        self._discovery = client.DiscoveryV1Api(api)
        self._host = api.configuration.host

    def get_deployment(self, name: str) -> dict[str, Any]:
        return self._call("get", "deployments", name, self._apps.read_namespaced_deployment)[0]

    def patch_deployment(self, name: str, patch: Patch) -> Written:
        return self._patch("deployments", name, self._apps.patch_namespaced_deployment, patch)

    def get_service(self, name: str) -> dict[str, Any]:
        return self._call("get", "services", name, self._core.read_namespaced_service)[0]

    def patch_service(self, name: str, patch: Patch) -> Written:
        return self._patch("services", name, self._core.patch_namespaced_service, patch)

    def list_replicasets(self, label_selector: str) -> list[dict[str, Any]]:
        return self._list("replicasets", self._apps.list_namespaced_replica_set, label_selector)

    def list_endpointslices(self, service: str) -> list[dict[str, Any]]:
        """The EndpointSlices of Service `service` (what it routes to, as the API knows it)."""
        selector = f"kubernetes.io/service-name={service}"
        return self._list(
            "endpointslices", self._discovery.list_namespaced_endpoint_slice, selector
        )

    # -- plumbing ---------------------------------------------------------------------------

    def _list(
        self, resource: str, method: Callable[..., Any], selector: str
    ) -> list[dict[str, Any]]:
        found = self._call(
            "list",
            resource,
            None,
            lambda namespace, **kw: method(namespace, label_selector=selector, **kw),
        )[0]
        return found.get("items") or []

    def _patch(self, resource: str, name: str, method: Callable[..., Any], patch: Patch) -> Written:
        # Never strategic merge: its list merging is what differs most between servers.
        kind = (
            "application/json-patch+json"
            if isinstance(patch, list)
            else "application/merge-patch+json"
        )
        body, at = self._call(
            "patch",
            resource,
            name,
            lambda *a, **kw: method(*a, body=patch, _content_type=kind, **kw),
        )
        return Written(body, at)

    def _call(
        self, verb: str, resource: str, name: str | None, method: Callable[..., Any]
    ) -> tuple[dict[str, Any], datetime]:
        args = (self.namespace,) if name is None else (name, self.namespace)
        with plugin_failures() as failures:
            try:
                response = method(*args, _preload_content=False)
                return json.loads(response.data), _server_time(response.headers.get("Date"))
            except ApiException as e:
                if failures and e.status in (401, 403):
                    # The token refresh ran the exec plugin, which failed: that is the cause.
                    raise TargetError(plugin_failure(failures[-1])) from e
                error = translate(e, verb, resource, self.namespace, name, self._host)
                if isinstance(error, NotFound):
                    error = NotFound(self._missing(qualified(resource) + f" {name!r}"))
                raise error from e
            except urllib3.exceptions.HTTPError as e:
                raise TargetError(f"cannot reach the Kubernetes API at {self._host}: {e}") from e

    def _missing(self, what: str) -> str:
        # A namespaced 404 does not say whether the object or its namespace is missing: ask.
        try:
            self._core.read_namespace(self.namespace, _preload_content=False)
        except ApiException as e:
            if e.status == 404:
                return f"namespace {self.namespace!r} does not exist (looking for {what})"
            return f"{what} not found in namespace {self.namespace!r} (or the namespace is missing)"
        except urllib3.exceptions.HTTPError:
            pass
        return f"{what} not found in namespace {self.namespace!r}"


def _server_time(date: str | None) -> datetime:
    """The response's `Date` (whole seconds); our clock if a proxy dropped the header."""
    if date:
        try:
            return parsedate_to_datetime(date).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC).replace(microsecond=0)
