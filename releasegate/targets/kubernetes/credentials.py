"""Cluster credentials, and a failed kubeconfig exec plugin named as such.

On EKS the kubeconfig runs `aws eks get-token` (an exec credential plugin) for every token.
When that command is missing or its login has expired, the official client logs the error
and carries on without credentials (kube_config.py: `_load_from_exec_plugin` catches it),
so the API server answers 401 and the real cause is lost. `plugin_failures()` collects
what the client logs in the calling thread, so the target can say what went wrong.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from kubernetes import client, config

from releasegate.targets.base import TargetError
from releasegate.targets.kubernetes.settings import KubernetesSettings

_MISSING_COMMAND = re.compile(r"No such file or directory: '([^']+)'")


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread and record.module == "kube_config":
            self.messages.append(record.getMessage())


@contextmanager
def plugin_failures() -> Iterator[list[str]]:
    """The errors the client logs (and swallows) while loading or refreshing credentials."""
    collector = _Collector()
    root = logging.getLogger()
    root.addHandler(collector)
    try:
        yield collector.messages
    finally:
        root.removeHandler(collector)


def plugin_failure(message: str) -> str:
    """What a failed exec credential plugin means, for a human."""
    missing = _MISSING_COMMAND.search(message)
    if missing:
        return (
            f"the kubeconfig's exec credential plugin {missing.group(1)!r} was not found: "
            "install it on this worker (for EKS: the AWS CLI) or put it on PATH"
        )
    return (
        f"the kubeconfig's exec credential plugin failed ({message}); it is the command under "
        "users[].user.exec, e.g. `aws eks get-token`: check that it runs for this worker's "
        "identity and that its login has not expired (e.g. `aws sso login`)"
    )


def api_client(settings: KubernetesSettings) -> client.ApiClient:
    """An API client for the configured cluster: in-cluster service account or a kubeconfig."""
    cfg = client.Configuration()
    with plugin_failures() as failures:
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
    if failures:
        raise TargetError(f"cannot load Kubernetes credentials: {plugin_failure(failures[-1])}")
    return client.ApiClient(cfg)
