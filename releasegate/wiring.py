"""Wiring: the one place that turns a Config into adapters.

Stores, targets, builders, sources and the signature verifier are chosen here, by
configuration, and imported only when chosen: a local setup never loads the Kubernetes
client, a file store never loads boto3. Adapters import nothing above them; whatever
needs an adapter asks here.
"""

from __future__ import annotations

from pathlib import Path

from releasegate.audit.store import AuditStore
from releasegate.config import Config
from releasegate.signing.verifier import Verifier
from releasegate.sources.base import IncidentSource, SmokeRunner
from releasegate.sources.settings import IncidentCheck
from releasegate.targets.base import Builder, Target


def open_store(config: Config) -> AuditStore:
    """The store `config.audit` names: `s3://bucket/prefix` -> S3; a path -> a file store;
    unset -> `<home>/audit`."""
    spec = config.audit
    if spec and spec.startswith("s3://"):
        from releasegate.audit.s3 import S3AuditStore

        return S3AuditStore.from_url(spec, retention_days=config.audit_retention_days)
    from releasegate.audit.file import FileAuditStore

    return FileAuditStore(Path(spec) if spec else config.home / "audit")


def open_builder(config: Config) -> Builder:
    """The builder for the configuration's target kind (one build feeds every environment)."""
    env = config.environments[config.pipeline()[0]]
    if env.target == "kubernetes":
        from releasegate.targets.kubernetes.builder import RegistryBuilder

        assert env.kubernetes is not None  # checked when the config was loaded
        return RegistryBuilder(config.app.name, env.kubernetes)
    from releasegate.targets.local.bundle import LocalBuilder

    return LocalBuilder(config.home, config.app.name, config.app.source)


def open_target(config: Config, environment: str) -> Target:
    """The target serving `environment`."""
    env = config.environments[environment]
    if env.target == "kubernetes":
        from releasegate.targets.kubernetes.target import KubernetesTarget

        assert env.kubernetes is not None
        return KubernetesTarget(env.kubernetes, config.app.name, environment, env.strategy)
    from releasegate.targets.local.target import LocalTarget

    return LocalTarget(
        config.home,
        config.app.name,
        environment,
        env.url,
        strategy=env.strategy,
        replicas=env.replicas,
        health_path=env.health_path,
        command=config.app.command,
        canary_steps=env.canary_steps,
        sibling_urls={
            name: e.url for name, e in config.environments.items() if name != environment
        },
    )


def incident_source(check: IncidentCheck) -> IncidentSource:
    """Where an environment's open incidents are read (a status page)."""
    from releasegate.sources.statuspage import StatusPage

    return StatusPage(check)


def smoke_runner(config: Config, environment: str) -> SmokeRunner:
    """The environment's smoke checks, over HTTP."""
    from releasegate.sources.smoke import HttpSmoke

    env = config.environments[environment]
    return HttpSmoke(env.smoke, timeout=env.smoke_timeout.total_seconds())


def signature_verifier(config: Config) -> Verifier | None:
    """What checks approval signatures against `allowed_signers` (None when the
    configuration names none, so nothing can be verified): in-process, with ssh-keygen for
    the key types it does not check itself. It reads the file once: ask again per use."""
    if config.allowed_signers is None:
        return None
    from releasegate.signing.inprocess import InProcessVerifier
    from releasegate.signing.keygen import KeygenVerifier

    path = config.allowed_signers
    return InProcessVerifier(path, fallback=KeygenVerifier(path))
