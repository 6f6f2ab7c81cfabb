"""Wiring: the one place that turns a Config into adapters.

Stores (and their witness), targets, builders, sources and the signature verifier are
chosen here, by configuration, and imported only when chosen: a local setup never loads
the Kubernetes client, a file store never loads boto3. Adapters import nothing above
them; whatever needs an adapter asks here.
"""

from __future__ import annotations

from pathlib import Path

from releasegate.audit.chainstore import ChainStore
from releasegate.audit.witness import Witness, WitnessUnavailable
from releasegate.config import Config
from releasegate.notifiers.base import Notifier
from releasegate.signing.verifier import Verifier
from releasegate.sources.base import IncidentSource, SmokeRunner
from releasegate.sources.settings import IncidentCheck
from releasegate.targets.base import Builder, Target


def open_store(config: Config, location: str | None = None) -> ChainStore:
    """The audit store at `location` (a folder or `s3://bucket/prefix`; default: the
    configuration's `audit`, else `<home>/audit`), with its witness (`audit_witness`)."""
    spec = location if location is not None else config.audit
    store: ChainStore
    if spec and spec.startswith("s3://"):
        from releasegate.audit.s3 import S3AuditStore

        store = S3AuditStore.from_url(spec, retention_days=config.audit_retention_days)
    else:
        from releasegate.audit.file import FileAuditStore

        store = FileAuditStore(Path(spec) if spec else config.home / "audit")
    store.witness = audit_witness(config, store.url)
    return store


def audit_witness(config: Config, scope: str) -> Witness:
    """Where the heads of the store at `scope` are witnessed: the Prefect server in use.

    That is PREFECT_API_URL, else the local server releasegate started under `home`
    (`prefect_server`). The server is looked for when the witness is first used, so a
    store opened only to be read never does. With neither, the witness is unavailable and
    `audit verify` reports the tail as unwitnessed: a Prefect client without a URL would
    start a temporary server of its own, which witnesses nothing.
    """
    from releasegate.audit.prefect_witness import PrefectWitness

    def api_url() -> str:
        from releasegate import prefect_server

        if url := prefect_server.connect(config.home):  # starts nothing
            return url
        raise WitnessUnavailable(
            "no Prefect server: PREFECT_API_URL is unset and releasegate runs none under "
            f"{config.home} (any command that runs a flow starts one)"
        )

    return PrefectWitness(scope, api_url=api_url)


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
    """Where an environment's incident state is read (any JSON status endpoint)."""
    from releasegate.sources.jsonstatus import JsonStatus

    return JsonStatus(check)


def notifier(config: Config, environment: str) -> Notifier | None:
    """Where `environment`'s notices go (its apprise URLs), or None if nowhere."""
    urls = config.environments[environment].notify
    if not urls:
        return None
    from releasegate.notifiers.apprise_urls import AppriseNotifier

    return AppriseNotifier(urls)


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
