"""Opening the target and builder an environment is configured for."""

from __future__ import annotations

from releasegate.config import Config
from releasegate.targets.base import Builder, Target


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
    )
