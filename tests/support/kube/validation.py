"""What a real API server validates in the objects the target writes, and how it says no.

Deployments (apps/v1 ValidateDeployment, the parts a patch can break): an immutable
selector, template labels matching it, a known strategy type, no `rollingUpdate` under
Recreate, maxSurge and maxUnavailable not both zero, non-negative replicas,
progressDeadlineSeconds above minReadySeconds, containers present, uniquely and validly
named, each with an image, annotation keys that are qualified names. Services: selector
keys and values that are valid labels. A refusal is a 422 `Invalid` Status whose message
is `Kind.group "name" is invalid: field: Type: detail` and whose details list the causes.

Admission control is here too: `Denial`s refuse matching writes as a webhook (Kyverno,
Gatekeeper) or a ValidatingAdmissionPolicy would, with the body the API server sends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

Cause = tuple[str, str, str]
"""(field, reason, message), e.g. ("spec.replicas", "FieldValueInvalid", "Invalid value: -1: …")."""


def _invalid(field: str, value: Any, detail: str) -> Cause:
    return field, "FieldValueInvalid", f"Invalid value: {json.dumps(value)}: {detail}"


def _qualified_name(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _SUBDOMAIN.match(prefix)):
        return False
    return len(name) <= 63 and bool(_NAME.match(name))


def _labels(field: str, labels: dict[str, Any]) -> list[Cause]:
    causes = []
    for key, value in labels.items():
        if not _qualified_name(key):
            causes.append(_invalid(field, key, "name part must consist of alphanumeric characters"))
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.append(_invalid(field, value, "a valid label must be 63 characters or less"))
    return causes


def deployment(new: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = new.get("spec") or {}
    causes: list[Cause] = []
    for key in new["metadata"].get("annotations") or {}:
        if not _qualified_name(key):
            causes.append(
                _invalid("metadata.annotations", key, "name part must be a qualified name")
            )
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or replicas < 0:
        causes.append(_invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    if not selector:
        causes.append(
            _invalid("spec.selector", selector, "empty selector is invalid for deployment")
        )
    if old is not None and spec.get("selector") != (old.get("spec") or {}).get("selector"):
        causes.append(_invalid("spec.selector", spec.get("selector"), "field is immutable"))
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        causes.append(_invalid("spec.template.metadata.labels", labels,
                               "`selector` does not match template `labels`"))  # fmt: skip
    causes += _labels("spec.template.metadata.labels", labels)
    causes += _strategy(spec.get("strategy") or {})
    deadline, min_ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds", 0)
    if deadline is not None and deadline <= min_ready:
        causes.append(_invalid("spec.progressDeadlineSeconds", deadline,
                               "must be greater than minReadySeconds"))  # fmt: skip
    return causes + _containers((spec.get("template") or {}).get("spec") or {})


def _strategy(strategy: dict[str, Any]) -> list[Cause]:
    kind = strategy.get("type", "RollingUpdate")
    if kind not in ("RollingUpdate", "Recreate"):
        supported = 'supported values: "Recreate", "RollingUpdate"'
        return [("spec.strategy.type", "FieldValueNotSupported",
                 f'Unsupported value: "{kind}": {supported}')]  # fmt: skip
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate" and rolling is not None:
        return [("spec.strategy.rollingUpdate", "FieldValueForbidden",
                 "Forbidden: may not be specified when strategy `type` is 'Recreate'")]  # fmt: skip
    if rolling and rolling.get("maxSurge") in (0, "0%") and rolling.get("maxUnavailable") in (
        0, "0%",
    ):  # fmt: skip
        return [_invalid("spec.strategy.rollingUpdate.maxUnavailable", 0,
                         "may not be 0 when `maxSurge` is 0")]  # fmt: skip
    return []


def _containers(pod: dict[str, Any]) -> list[Cause]:
    containers = pod.get("containers") or []
    if not containers:
        return [("spec.template.spec.containers", "FieldValueRequired", "Required value")]
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, c in enumerate(containers):
        at = f"spec.template.spec.containers[{i}]"
        name = c.get("name", "")
        if not _DNS_LABEL.match(name) or len(name) > 63:
            causes.append(_invalid(f"{at}.name", name, "a lowercase RFC 1123 label must consist of "
                                   "lower case alphanumeric characters or '-'"))  # fmt: skip
        elif name in seen:
            causes.append((f"{at}.name", "FieldValueDuplicate", f'Duplicate value: "{name}"'))
        seen.add(name)
        image = c.get("image")
        if not image or image != image.strip():
            causes.append((f"{at}.image", "FieldValueRequired", "Required value"))
    return causes


def service(new: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    return _labels("spec.selector", (new.get("spec") or {}).get("selector") or {})


def invalid_body(kind: str, group: str, name: str, causes: list[Cause]) -> dict[str, Any]:
    qualified = f"{kind}.{group}" if group else kind
    errors = [f"{field}: {message}" for field, _, message in causes]
    summary = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'{qualified} "{name}" is invalid: {summary}', "reason": "Invalid",
        "details": {"name": name, "group": group, "kind": kind,
                    "causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]},
        "code": 422,
    }  # fmt: skip


@dataclass(frozen=True)
class Denial:
    """An admission controller refusing some writes.

    `webhook`: a validating webhook (Gatekeeper answers 403, Kyverno 400), message
    `admission webhook "NAME" denied the request: ...`. `policy`: a
    ValidatingAdmissionPolicy, 422 Invalid by default, with the denial as the one cause.
    """

    style: Literal["webhook", "policy"]
    name: str
    message: str
    applies: Callable[[str, str, dict[str, Any]], bool]
    """(verb, resource, the object as it would be stored) → refuse?"""
    code: int = 403

    def body(self, resource: str, group: str, name: str) -> dict[str, Any]:
        reason = {400: "BadRequest", 403: "Forbidden", 422: "Invalid"}.get(self.code, "Failure")
        if self.style == "webhook":
            message = f'admission webhook "{self.name}" denied the request: {self.message}'
            details: dict[str, Any] = {}
        else:
            cause = (f"ValidatingAdmissionPolicy '{self.name}' with binding "
                     f"'{self.name}-binding' denied request: {self.message}")  # fmt: skip
            qualified = f"{resource}.{group}" if group else resource
            message = f'{qualified} "{name}" is forbidden: {cause}'
            details = {"name": name, "group": group, "kind": resource,
                       "causes": [{"message": cause}]}  # fmt: skip
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "details": details,
                "code": self.code}  # fmt: skip
