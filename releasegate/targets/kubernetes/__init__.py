"""The Kubernetes target: images by digest, rolling/recreate/blue-green/canary, instant rollback."""

from releasegate.targets.kubernetes.builder import RegistryBuilder
from releasegate.targets.kubernetes.settings import KubernetesSettings
from releasegate.targets.kubernetes.target import KubernetesTarget

__all__ = ["KubernetesSettings", "KubernetesTarget", "RegistryBuilder"]
