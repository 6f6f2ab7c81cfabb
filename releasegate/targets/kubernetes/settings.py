"""Configuration of one environment's Kubernetes target (`[environments.X.kubernetes]`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from releasegate.vocabulary import CanarySteps, HttpUrl, Strategy

MIN_SCALE_DOWN_DELAY = 30.0
"""Seconds the old blue-green colour stays up at least: endpoints, kube-proxy and load
balancers keep sending it traffic for a while after the switch (Argo Rollouts' default)."""

# A repository reference without tag or digest: [registry[:port]/]path/name
_IMAGE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$")
DnsLabel = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
]
"""An object or container name as Kubernetes checks it (RFC 1123 label, at most 63)."""


class KubernetesSettings(BaseModel):
    """Where and how an environment runs on Kubernetes.

    Durations are seconds. Credentials never live here: the registry's user name and
    password are read from the environment variables named below, at resolve time.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Cluster access: a kubeconfig context (default: current context) or the pod's service account.
    context: str | None = None
    kubeconfig: Path | None = None
    in_cluster: bool = False

    # The workload.
    namespace: DnsLabel
    deployment: DnsLabel
    """rolling/recreate/canary: the Deployment; blue-green: the prefix of `<name>-blue`/`-green`."""
    container: DnsLabel
    service: DnsLabel | None = None
    """The live Service (blue-green switches its selector)."""
    preview_service: DnsLabel | None = None
    """blue-green: the Service pointed at the colour under test."""
    canary_service: DnsLabel | None = None
    """canary: the Service selecting only the canary's pods (default `<deployment>-canary`)."""
    replicas: int | None = Field(default=None, ge=1)
    """Replicas of the new colour / basis of canary ratios; default: what runs now."""

    # The image: a repository without tag; a release deploys `image@sha256:...`.
    image: str
    registry_insecure: bool = False
    """Talk plain HTTP to the registry (local test registries only)."""
    registry_username_env: str = "RELEASEGATE_REGISTRY_USERNAME"
    registry_password_env: str = "RELEASEGATE_REGISTRY_PASSWORD"
    build_command: list[str] | None = None
    """Run before resolving, e.g.
    ["docker", "buildx", "build", "--push", "-t", "{image}:{tag}", "."].

    `{image}` and `{tag}` are replaced inside each argument; no shell is involved.
    """
    build_timeout: float = Field(default=1800.0, gt=0)

    # Strategy parameters.
    rollout_timeout: float = Field(default=600.0, gt=0)
    poll_interval: float = Field(default=1.0, gt=0)
    scale_down_delay: float = 1800.0
    """blue-green: seconds the old colour stays up after the switch (at least 30)."""
    canary_steps: CanarySteps = (10, 50, 100)
    preview_url: HttpUrl | None = None
    """Base URL that reaches the preview Service (ingress, port-forward) for the probe."""
    canary_url: HttpUrl | None = None
    """Base URL reaching only the canary pods (a Service on `releasegate.io/track: canary`)."""
    probe_passes: int = Field(default=3, ge=1)
    """A candidate counts as fit after this many consecutive passing probes..."""
    probe_interval: float = Field(default=2.0, gt=0)
    """...this many seconds apart, once its Service routes to the new pods only."""
    conflict_retries: int = Field(default=5, ge=1)

    @field_validator("image")
    @classmethod
    def _repository_only(cls, value: str) -> str:
        if "@" in value or not _IMAGE.fullmatch(value):  # `$` alone takes a final newline
            raise ValueError(
                f"{value!r} is not an image repository without tag or digest "
                "(e.g. 'registry.example.com/team/webapp')"
            )
        return value

    @field_validator("scale_down_delay")
    @classmethod
    def _old_colour_outlives_the_routes(cls, value: float) -> float:
        if value < MIN_SCALE_DOWN_DELAY:
            raise ValueError(
                f"must be at least {MIN_SCALE_DOWN_DELAY:g} seconds, not {value:g}: endpoints, "
                "kube-proxy and load balancers keep routing to the old colour for a while "
                "after the switch"
            )
        return value

    @model_validator(mode="after")
    def _one_way_in(self) -> KubernetesSettings:
        if self.in_cluster and (self.context or self.kubeconfig):
            raise ValueError("in_cluster excludes context and kubeconfig")
        return self

    def check_strategy(self, strategy: Strategy) -> None:
        """Raise ValueError naming the keys `strategy` needs but this configuration lacks.

        Called when the configuration is loaded; the target trusts what it is given.
        """
        needs = {
            "blue-green": ("service", "preview_service", "preview_url"),
            "canary": ("canary_url",),
        }.get(strategy, ())
        missing = [key for key in needs if getattr(self, key) is None]
        if missing:
            raise ValueError(
                f"strategy {strategy!r} needs kubernetes.{', kubernetes.'.join(missing)}"
            )
