"""RBAC as an API server evaluates it, over the objects of `deployments/kubernetes/rbac.yaml`.

The emulator takes its permissions from the shipped file itself, as an allowlist: a call
that no rule of a bound Role or ClusterRole grants answers 403, whatever the object.
`bind(namespace)` does what the file tells the platform team to do for each environment
namespace (apply its RoleBinding there); the worker's identity is the file's ServiceAccount.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SHIPPED = Path(__file__).resolve().parents[3] / "deployments" / "kubernetes" / "rbac.yaml"


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ("system:authenticated",)
    admin: bool = False


@dataclass(frozen=True)
class Request:
    verb: str
    group: str
    resource: str
    namespace: str | None
    name: str | None


def _matches(rule: dict[str, Any], r: Request) -> bool:
    def has(key: str, value: str) -> bool:
        values = rule.get(key) or []
        return "*" in values or value in values

    names = rule.get("resourceNames") or []
    return (
        has("verbs", r.verb)
        and has("apiGroups", r.group)
        and has("resources", r.resource)
        and (not names or (r.name is not None and r.name in names))
    )


@dataclass
class Rbac:
    """Roles, ClusterRoles and their bindings; `allows` answers as the RBAC authorizer would."""

    documents: list[dict[str, Any]]
    bindings: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path = SHIPPED) -> Rbac:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        return cls(docs, [d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")])

    def worker(self) -> Identity:
        """The identity a worker runs as: the file's ServiceAccount."""
        sa = next(d for d in self.documents if d["kind"] == "ServiceAccount")
        namespace, name = sa["metadata"]["namespace"], sa["metadata"]["name"]
        return Identity(
            f"system:serviceaccount:{namespace}:{name}",
            ("system:serviceaccounts", f"system:serviceaccounts:{namespace}",
             "system:authenticated"),
        )  # fmt: skip

    def bind(self, namespace: str) -> None:
        """Apply the file's RoleBinding(s) in `namespace`, as its header instructs."""
        for doc in self.documents:
            if doc["kind"] == "RoleBinding":
                copied = copy.deepcopy(doc)
                copied["metadata"]["namespace"] = namespace
                self.bindings.append(copied)

    def allows(self, who: Identity, r: Request) -> bool:
        if who.admin:
            return True
        for binding in self.bindings:
            if not any(self._subject(s, who) for s in binding.get("subjects") or []):
                continue
            scope = binding["metadata"].get("namespace")
            if binding["kind"] == "RoleBinding" and scope != r.namespace:
                continue
            for rule in self._rules(binding["roleRef"], scope):
                if _matches(rule, r):
                    return True
        return False

    def _rules(self, ref: dict[str, Any], namespace: str | None) -> list[dict[str, Any]]:
        for doc in self.documents:
            if doc["kind"] != ref["kind"] or doc["metadata"]["name"] != ref["name"]:
                continue
            if doc["kind"] == "ClusterRole" or doc["metadata"].get("namespace") == namespace:
                return list(doc.get("rules") or [])
        return []

    @staticmethod
    def _subject(subject: dict[str, Any], who: Identity) -> bool:
        if subject["kind"] == "ServiceAccount":
            sa = f"system:serviceaccount:{subject.get('namespace')}:{subject['name']}"
            return who.user == sa
        if subject["kind"] == "User":
            return bool(who.user == subject["name"])
        return subject["name"] in who.groups


def forbidden_message(who: Identity, r: Request) -> str:
    """The apiserver's 403 text (endpoints/handlers/responsewriters: forbiddenMessage)."""
    qualified = f"{r.resource}.{r.group}" if r.group else r.resource
    target = f'{qualified} "{r.name}"' if r.name else qualified
    scope = f'in the namespace "{r.namespace}"' if r.namespace else "at the cluster scope"
    return (
        f'{target} is forbidden: User "{who.user}" cannot {r.verb} resource "{r.resource}" '
        f'in API group "{r.group}" {scope}'
    )
