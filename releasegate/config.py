"""Configuration: the app, reviewer groups and environments, from TOML in `deployments/`.

Loaded with pydantic-settings: the file named by `--config` / `RELEASEGATE_CONFIG`, then
`RELEASEGATE_*` variables on top (nested keys with `__`, e.g.
`RELEASEGATE_ENVIRONMENTS__PRODUCTION__WAIT_TIMER=0s`). Everything is validated at load
time; a bad file raises ConfigError naming the file, the key and the reason.
"""

from __future__ import annotations

import os
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from releasegate.duration import Duration
from releasegate.errors import ConfigError
from releasegate.policy.approvals import ApprovalPolicy
from releasegate.policy.calendar import Calendar
from releasegate.policy.windows import Window
from releasegate.sources.settings import IncidentCheck, SmokeCheck
from releasegate.targets.kubernetes.settings import KubernetesSettings
from releasegate.targets.local.settings import DEFAULT_COMMAND, Command
from releasegate.vocabulary import (
    AuditLocation,
    CanarySteps,
    EnvironmentName,
    HttpUrl,
    Strategy,
    TargetKind,
    loopback_url,
)

DEFAULT_CONFIG = Path("deployments/releasegate.toml")


class App(BaseModel):
    """The application being released."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    source: Path = Path("examples/webapp")
    """Local target: the app's source tree (relative to the config file)."""
    command: Command = DEFAULT_COMMAND
    """Local target: how to start one instance; `{python}`, `{fd}` (the instance inherits its
    listening socket) or `{port}` (it binds the port itself) are filled in."""


class Environment(BaseModel):
    """Where a release runs, and what must hold before it may."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: TargetKind = "local"
    url: HttpUrl
    """The environment's stable URL: smoke checks and verification go here."""
    requires: str | None = None
    branches: list[str] = []
    strategy: Strategy = "blue-green"
    replicas: int = Field(default=2, ge=1)
    canary_steps: CanarySteps = (10, 50, 100)
    health_path: str = "/health"
    smoke: tuple[SmokeCheck, ...] = ()
    smoke_timeout: Duration = timedelta(seconds=30)
    wait_timer: Duration = timedelta(0)
    on_verify_failure: Literal["rollback", "fail"] = "rollback"
    approvals: ApprovalPolicy | None = None
    freeze: tuple[Window, ...] = ()
    """Deny windows: no deploy while one is active."""
    allow: tuple[Window, ...] = ()
    """Allow windows: if any are listed, deploys only while one is active (deny beats allow)."""
    incidents: IncidentCheck | None = None
    kubernetes: KubernetesSettings | None = None

    @property
    def calendar(self) -> Calendar:
        """When deploying here is open: this environment's deny and allow windows."""
        return Calendar(freeze=self.freeze, allow=self.allow)

    @field_validator("url")
    @classmethod
    def _served_locally(cls, url: str, info: ValidationInfo) -> str:
        return loopback_url(url) if info.data.get("target") == "local" else url

    @model_validator(mode="after")
    def _target_settings(self) -> Environment:
        if self.target == "kubernetes":
            if self.kubernetes is None:
                raise ValueError("target 'kubernetes' needs a [kubernetes] table")
            self.kubernetes.check_strategy(self.strategy)
            if misplaced := {"replicas", "canary_steps"} & self.model_fields_set:
                # The cluster's settings live in one place: the kubernetes table.
                key = sorted(misplaced)[0]
                raise ValueError(f"for a kubernetes target, set kubernetes.{key} instead of {key}")
        return self


class Config(BaseSettings):
    """The whole configuration, as loaded from one file plus RELEASEGATE_* overrides."""

    model_config = SettingsConfigDict(
        env_prefix="RELEASEGATE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    app: App
    groups: dict[str, list[str]] = {}
    environments: dict[EnvironmentName, Environment]
    audit: AuditLocation | None = None
    """Where the audit trail lives: a directory (default `<home>/audit`) or `s3://bucket/prefix`."""
    audit_retention_days: int | None = Field(default=None, ge=1)
    allowed_signers: Path | None = None
    """OpenSSH allowed_signers file for signed approvals (relative to the config file)."""
    home: Path = Path(".releasegate")
    """State directory: releases, running processes, logs, the default audit store."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init holds the parsed TOML (see load); environment variables override it.
        return env_settings, init_settings

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        if not self.environments:
            raise ValueError("at least one environment is needed")
        for name, env in self.environments.items():
            if env.requires is not None and env.requires not in self.environments:
                raise ValueError(f"environments.{name}.requires: no environment {env.requires!r}")
            for rule in env.approvals.rules if env.approvals else ():
                if rule.group not in self.groups:
                    raise ValueError(f"environments.{name}.approvals: no group {rule.group!r}")
            if env.approvals and env.approvals.signed and self.allowed_signers is None:
                raise ValueError(f"environments.{name}.approvals.signed needs allowed_signers")
        if len({env.target for env in self.environments.values()}) > 1:
            # One build feeds every environment, so they must run the same kind of artifact.
            raise ValueError("all environments must use the same target kind")
        self.pipeline()  # raises on a cycle
        return self

    def pipeline(self) -> list[str]:
        """Environment names in promotion order: each after the one it requires."""
        order: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in order:
                return
            if name in visiting:
                raise ValueError(f"environments.{name}.requires forms a cycle")
            visiting.add(name)
            if (upstream := self.environments[name].requires) is not None:
                visit(upstream)
            visiting.discard(name)
            order.append(name)

        for name in self.environments:
            visit(name)
        return order


def config_path(explicit: str | Path | None = None) -> Path:
    """`--config`, else RELEASEGATE_CONFIG, else deployments/releasegate.toml."""
    return Path(explicit or os.environ.get("RELEASEGATE_CONFIG") or DEFAULT_CONFIG)


def load(path: str | Path | None = None) -> Config:
    """Read, override and validate the configuration, or raise ConfigError."""
    file = config_path(path)
    try:
        data = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such configuration file") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    try:
        config = Config(**data)
    except ValidationError as exc:
        raise ConfigError(_explain(file, exc)) from None
    return _resolve_paths(config, file.resolve().parent)


def _explain(file: Path, exc: ValidationError) -> str:
    lines = [f"{file}: invalid configuration"]
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        reason = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {key}: {reason}")
    return "\n".join(lines)


def _resolve_paths(config: Config, base: Path) -> Config:
    # Paths in the file are relative to the file, so a config works from any directory.
    app = config.app.model_copy(update={"source": base / config.app.source})
    signers = base / config.allowed_signers if config.allowed_signers else None
    return config.model_copy(update={"app": app, "allowed_signers": signers})
