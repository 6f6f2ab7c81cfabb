"""What an API server's refusal means, told apart the way a human needs it.

- 403 from RBAC ("User … cannot patch resource …") names the missing verb and rbac.yaml;
- a refusal by admission control — a validating webhook (Kyverno, Gatekeeper: "admission
  webhook "…" denied the request") or a ValidatingAdmissionPolicy — is not an RBAC
  problem, whatever its status code (400, 403 or 422), and is never retried;
- 422 with `details.causes` is an invalid object (validation), named field by field;
- 422 without causes on a JSON Patch is the API server's only answer to a failed `test` op
  or a missing path (patch.go drops the detail): the object changed under us, so a
  `Conflict`, as is 409 (stale resourceVersion).
"""

from __future__ import annotations

import json
import re
from typing import Any

from kubernetes.client.exceptions import ApiException

from releasegate.targets.base import TargetError

GROUPS = {
    "deployments": "apps",
    "replicasets": "apps",
    "services": "",
    "namespaces": "",
    "endpointslices": "discovery.k8s.io",
}
_ADMISSION = re.compile(r"admission webhook .* denied the request|ValidatingAdmissionPolicy")


class Conflict(TargetError):
    """The object changed between our read and our write (409, or a failed JSON Patch `test`)."""


class NotFound(TargetError):
    """A named object (or its namespace) does not exist."""


class AdmissionDenied(TargetError):
    """Admission control (a webhook or a ValidatingAdmissionPolicy) refused the change."""


def qualified(resource: str) -> str:
    group = GROUPS.get(resource, "")
    return f"{resource}.{group}" if group else resource


def status_of(e: ApiException) -> dict[str, Any]:
    """The Status object the server sent, or {} if the body is not one."""
    try:
        body = json.loads(e.body or "")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def translate(
    e: ApiException, verb: str, resource: str, namespace: str, name: str | None, host: str
) -> TargetError:
    """The TargetError a refusal means (a subclass where the caller acts on the kind)."""
    status = status_of(e)
    message = str(status.get("message") or e.reason)
    what = qualified(resource) + (f" {name!r}" if name else "")
    where = f"in namespace {namespace!r}"
    if _ADMISSION.search(message):
        return AdmissionDenied(
            f"{verb} {what} {where} was refused by admission control (a policy webhook or "
            f"ValidatingAdmissionPolicy in the cluster, not RBAC): {message}"
        )
    if e.status == 403:
        if f" cannot {verb} resource " in message:
            return TargetError(
                f"forbidden: cannot {verb} {qualified(resource)} {where} (needs verb {verb!r} "
                f"on resource {resource!r} of API group {GROUPS[resource] or 'core'!r}"
                + (f" for name {name!r}" if name else "")
                + "; see deployments/kubernetes/rbac.yaml: its ClusterRole, and a RoleBinding "
                "in this namespace). A namespace without that RoleBinding, or that does not "
                f"exist, also answers 403. Server: {message}"
            )
        return TargetError(f"forbidden: {verb} {what} {where}: {message}")
    if e.status == 404 and name is not None:
        return NotFound(f"{what} not found {where}")
    causes = (status.get("details") or {}).get("causes") or []
    if e.status == 422 and causes:
        fields = "; ".join(f"{c.get('field', '?')}: {c.get('message', '')}" for c in causes)
        return TargetError(f"the API server refused {verb} {what} {where} as invalid: {fields}")
    if e.status == 409 or (e.status == 422 and verb == "patch"):
        return Conflict(f"{verb} {what} {where}: {message}")
    if e.status == 401:
        return TargetError(
            f"unauthorized at {host}: the API server rejected the credentials ({message})"
        )
    return TargetError(f"{verb} {what} {where} failed: HTTP {e.status} {message}")
