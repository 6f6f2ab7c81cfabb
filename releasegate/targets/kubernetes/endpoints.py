"""Routing facts before traffic decisions: what a Service sends to, and probes that count.

A Service selector change or a new pod reaches the traffic in two hops: the EndpointSlice
controller rewrites the Service's EndpointSlices, then kube-proxy, ingress controllers and
load balancers follow. Probing right after a selector patch reaches whatever the Service
routed to before: a `/health`-only check then passes against the old release.

So before a probe counts, `settle` waits until the Service's ready endpoints are exactly
the expected pods (by ReplicaSet: pods are named `<replicaset>-<suffix>`), as far as the
API can tell; `passes` then asks for several consecutive passes spread over
`probe_interval`, to outlast what follows the EndpointSlices (see docs/kubernetes.md for a
load balancer's own lag).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping

from releasegate.targets.base import Probe, TargetError
from releasegate.targets.kubernetes.client import Kube
from releasegate.targets.kubernetes.settings import KubernetesSettings


def ready_pods(kube: Kube, service: str) -> list[str]:
    """Names of the pods `service` lists as ready endpoints (unset `ready` means ready)."""
    return [
        (endpoint.get("targetRef") or {}).get("name", "?")
        for eps in kube.list_endpointslices(service)
        for endpoint in eps.get("endpoints") or []
        if (endpoint.get("conditions") or {}).get("ready", True) is not False
    ]


def _by_replicaset(pods: list[str], expected: Mapping[str, int]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for pod in pods:
        owner = next((rs for rs in expected if pod.startswith(f"{rs}-")), "other")
        counts[owner] += 1
    return counts


def settle(
    kube: Kube, settings: KubernetesSettings, service: str, expected: Mapping[str, int]
) -> None:
    """Until `service`'s ready endpoints are exactly `expected[rs]` pods of each ReplicaSet rs."""
    want = Counter({rs: n for rs, n in expected.items() if n})
    deadline = time.monotonic() + settings.rollout_timeout
    while True:
        pods = ready_pods(kube, service)
        if _by_replicaset(pods, expected) == want:
            return
        if time.monotonic() >= deadline:
            listed = ", ".join(sorted(pods)[:6]) + (" …" if len(pods) > 6 else "") or "none"
            wanted = ", ".join(f"{n} of {rs}" for rs, n in want.items()) or "none"
            raise TargetError(
                f"service {service!r} does not route to exactly {wanted} after "
                f"{settings.rollout_timeout:g}s; its ready endpoints: {listed} (endpoints lag, "
                "or its selector also matches other pods)"
            )
        time.sleep(settings.poll_interval)


def passes(probe: Probe, url: str, settings: KubernetesSettings) -> bool:
    """`probe_passes` consecutive passes, `probe_interval` apart; the first failure is final."""
    for attempt in range(settings.probe_passes):
        if attempt:
            time.sleep(settings.probe_interval)
        if not probe(url):
            return False
    return True
