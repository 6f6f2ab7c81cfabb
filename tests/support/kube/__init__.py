"""A Kubernetes cluster for tests: kmock's API emulator plus controllers, pods and Services of ours.

There is no real API server on the machines the suite runs on. This package is the
suite's stand-in, built to disagree with the target wherever a real cluster would:
see docs/kubernetes.md ("The emulator") for exactly what it models and what it cannot.

- `server`: authentication, RBAC from deployments/kubernetes/rbac.yaml, patches,
  validation, admission denials — answered as the API server words them;
- `controller`, `conditions`: the Deployment and ReplicaSet controllers (surge/unavailable,
  Recreate's gap, revisions, progress deadline, stale conditions, pause);
- `pods`: each pod a real HTTP server answering with its image's version;
- `network`: EndpointSlices and routes that lag behind selectors and pods, and the
  Service proxy that requests go through;
- `cluster`: `KubeCluster`, the emulator in a thread, driven from tests.
"""

from tests.support.kube.cluster import KubeCluster
from tests.support.kube.manifests import deployment, service
from tests.support.kube.server import Call, ClusterEmulator
from tests.support.kube.store import object_key

__all__ = ["Call", "ClusterEmulator", "KubeCluster", "deployment", "object_key", "service"]
