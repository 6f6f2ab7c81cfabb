"""Configuration: the app, reviewer groups and environments, from TOML in `deployments/`.

Loaded with pydantic-settings: the file named by `--config` / `RELEASEGATE_CONFIG`, then
`RELEASEGATE_*` variables on top (nested keys with `__`, e.g.
`RELEASEGATE_ENVIRONMENTS__PRODUCTION__WAIT_TIMER=0s`). Everything is validated at load
time; a bad file raises ConfigError naming the file, the key and the reason.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
    SettingsError,
)

from releasegate import variables
from releasegate.duration import Duration
from releasegate.errors import ConfigError
from releasegate.notifiers.settings import NotifyUrl, urls_from_env
from releasegate.policy.approvals import ApprovalPolicy
from releasegate.policy.break_glass import BreakGlass
from releasegate.policy.calendar import Calendar
from releasegate.policy.train import ReleaseTrain
from releasegate.policy.windows import Window
from releasegate.sources.settings import IncidentCheck, SmokeCheck
from releasegate.targets.kubernetes.settings import KubernetesSettings
from releasegate.targets.local.settings import DEFAULT_COMMAND, Command
from releasegate.vocabulary import (
    AuditLocation,
    BaseUrl,
    Branch,
    CanarySteps,
    EnvironmentName,
    Name,
    OutdatedPolicy,
    RequestPath,
    Strategy,
    TargetKind,
    loopback_url,
    same_place,
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
    url: BaseUrl
    """The environment's stable URL: smoke checks and verification go here."""
    requires: str | None = None
    branches: list[str] = []
    strategy: Strategy = "blue-green"
    replicas: int = Field(default=2, ge=1)
    canary_steps: CanarySteps = (10, 50, 100)
    health_path: RequestPath = "/health"
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
    break_glass: BreakGlass | None = None
    """Who may go through a freeze, with how many signed approvals, for how long."""
    notify: tuple[NotifyUrl, ...] = ()
    """Apprise URLs, each from an environment variable, that hear about this environment."""
    outdated: OutdatedPolicy = "block"
    """Whether a run may deploy here a version triggered before the one running here."""
    schedule: ReleaseTrain | None = None
    """A release train: pushes stop before this environment; the `promote` deployment takes
    what passed `requires` at these times."""
    self_heal: bool = False
    """Drift found by `reconcile` is reverted: the recorded version is restored (a rollback)."""

    @property
    def calendar(self) -> Calendar:
        """When deploying here is open: this environment's deny and allow windows."""
        return Calendar(freeze=self.freeze, allow=self.allow)

    _notify_from_env = field_validator("notify", mode="before")(urls_from_env)

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


class Webhook(BaseModel):
    """What the GitHub receiver (`releasegate webhook serve`) acts on. Its secret is never
    here: it comes from RELEASEGATE_WEBHOOK_SECRET (`secret.webhook_secret`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    branches: tuple[Branch, ...] = ("main",)
    """A push to another branch is acknowledged and ignored."""
    repository: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$"
    )
    """`owner/name`: a push from any other repository is ignored (one secret may serve an
    organisation's hooks). Unset: any repository the secret's deliveries come from."""
    max_body: int = Field(default=5 * 1024 * 1024, ge=1024, le=25 * 1024 * 1024)
    """Bytes; a larger delivery is refused (413) before it is read whole. GitHub caps a
    payload at 25 MB."""


class Reconcile(BaseModel):
    """The `reconcile` deployment: how often every environment is compared with the trail."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    every: Duration = Field(default=timedelta(minutes=5), gt=timedelta(0))


class Config(BaseSettings):
    """The whole configuration, as loaded from one file plus RELEASEGATE_* overrides."""

    model_config = SettingsConfigDict(
        env_prefix="RELEASEGATE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    app: App
    groups: dict[str, list[Name]] = {}
    environments: dict[EnvironmentName, Environment]
    audit: AuditLocation | None = None
    """Where the audit trail lives: a directory (default `<home>/audit`) or `s3://bucket/prefix`."""
    audit_retention_days: int | None = Field(default=None, ge=1)
    allowed_signers: Path | None = None
    """OpenSSH allowed_signers file for signed approvals (relative to the config file)."""
    home: Path = Path(".releasegate")
    """State directory: releases, running processes, logs, the default audit store."""
    webhook: Webhook = Webhook()
    reconcile: Reconcile = Reconcile()

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

    @field_validator("groups")
    @classmethod
    def _distinct_members(cls, groups: dict[str, list[str]]) -> dict[str, list[str]]:
        for group, members in groups.items():
            if twice := sorted({m for m in members if members.count(m) > 1}):
                raise ValueError(f"group {group!r} lists {', '.join(twice)} more than once")
        return groups

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        if not self.environments:
            raise ValueError("at least one environment is needed")
        for name, env in self.environments.items():
            if env.requires is not None and env.requires not in self.environments:
                raise ValueError(f"environments.{name}.requires: no environment {env.requires!r}")
            if env.approvals:
                self._can_be_met(name, env.approvals)
            if env.schedule is not None and env.requires is None:
                raise ValueError(
                    f"environments.{name}.schedule: a release train takes what passed the "
                    "environment it requires: set requires"
                )
            if env.approvals and env.approvals.signed and self.allowed_signers is None:
                raise ValueError(f"environments.{name}.approvals.signed needs allowed_signers")
            if env.break_glass is not None:
                self._break_glass(name, env.break_glass)
        if len({env.target for env in self.environments.values()}) > 1:
            # One build feeds every environment, so they must run the same kind of artifact.
            raise ValueError("all environments must use the same target kind")
        self._one_url_each()
        self.pipeline()  # raises on a cycle
        return self

    def _can_be_met(self, name: str, policy: ApprovalPolicy) -> None:
        """Each rule must be satisfiable for every actor. One person's approval counts for
        every group they are in and any number may approve, so the rules are independent;
        the worst actor for a rule is one of its own members when self-review is prevented:
        they cannot approve their own run, leaving one member fewer."""
        for i, rule in enumerate(policy.rules):
            where = f"environments.{name}.approvals.rules.{i}"
            if rule.group not in self.groups:
                raise ValueError(f"{where}: no group {rule.group!r}")
            members = len(self.groups[rule.group])
            if rule.required > members:
                raise ValueError(
                    f"{where}: {rule.required} approvals from {rule.group!r} can never be "
                    f"given: it has {members} member(s)"
                )
            if policy.prevent_self_review and rule.required > members - 1:
                raise ValueError(
                    f"{where}: {rule.required} approvals from {rule.group!r} ({members} "
                    "members) can never be given on a run one of them triggers: "
                    "prevent_self_review leaves the others only; add a member or require fewer"
                )

    def _break_glass(self, name: str, rule: BreakGlass) -> None:
        where = f"environments.{name}.break_glass"
        for group in (rule.who, rule.group):
            if group is not None and group not in self.groups:
                raise ValueError(f"{where}: no group {group!r}")
        if rule.required and rule.group is None:
            raise ValueError(f"{where}: required approvals need 'from' (a group)")
        if (approvals := rule.approvals(None)) is not None:
            self._can_be_met(name, approvals)
            if self.allowed_signers is None:
                raise ValueError(f"{where}: signed break-glass approvals need allowed_signers")

    def _one_url_each(self) -> None:
        seen: dict[str, str] = {}
        for name, env in self.environments.items():
            place = same_place(env.url)
            if place in seen:
                raise ValueError(
                    f"environments.{name}.url: {env.url!r} is also the url of "
                    f"environments.{seen[place]}: each environment needs its own"
                )
            seen[place] = name

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

    def stretch(self, start: str | None = None) -> list[str]:
        """The environments one run goes through, in order: from `start` (None: the first)
        up to the next environment with a release train of its own, which waits for it."""
        order = self.pipeline()
        rest = order[order.index(start) :] if start is not None else order
        until = next(
            (i for i, name in enumerate(rest) if i and self.environments[name].schedule), None
        )
        return rest[:until] if until is not None else rest


_PINNED: ContextVar[Path | None] = ContextVar("releasegate_config", default=None)


@contextmanager
def pinned(path: str | Path) -> Iterator[None]:
    """Flows called in this thread (and context) read `path`: how a process that runs flows
    of several configurations at once gives each call its own. Like RELEASEGATE_CONFIG, it
    belongs to the process running the flow: no run parameter can reach it."""
    token = _PINNED.set(Path(path))
    try:
        yield
    finally:
        _PINNED.reset(token)


def config_path(explicit: str | Path | None = None) -> Path:
    """`--config`, else the configuration pinned for this context, else RELEASEGATE_CONFIG,
    else deployments/releasegate.toml."""
    return Path(explicit or _PINNED.get() or os.environ.get("RELEASEGATE_CONFIG") or DEFAULT_CONFIG)


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
    overrides = variables.overrides(Config)
    variables.no_new_environments(file, data.get("environments"), overrides)
    try:
        config = Config(**data)
    except ValidationError as exc:
        raise ConfigError(_explain(file, exc, overrides)) from None
    except SettingsError:
        bad = variables.unparsable(Config, overrides)
        lines = [f"  {name}: {why}" for name, why in bad.items()] or ["  (unknown variable)"]
        raise ConfigError("\n".join([f"{file}: invalid RELEASEGATE_* variable", *lines])) from None
    resolved = _resolve_paths(config, file.resolve().parent)
    _readable_signers(file, resolved, overrides)
    return resolved


def _explain(file: Path, exc: ValidationError, overrides: dict[str, tuple[str, ...]]) -> str:
    lines = [f"{file}: invalid configuration"]
    for error in exc.errors():
        loc: tuple[str | int, ...] = error["loc"]
        reason = error["msg"].removeprefix("Value error, ")
        if not loc and (named := _KEYED.match(reason)):
            # A whole-configuration check names the key in its message: lift it out.
            loc, reason = tuple(named["key"].split(".")), named["reason"]
        key = ".".join(str(part) for part in loc) or "(top level)"
        variable = variables.culprit(loc, overrides)
        lines.append(f"  {variable} ({key}): {reason}" if variable else f"  {key}: {reason}")
    return "\n".join(lines)


_KEYED = re.compile(r"^(?P<key>environments\.[\w.-]+): (?P<reason>.*)$", re.DOTALL)


def _readable_signers(file: Path, config: Config, overrides: dict[str, tuple[str, ...]]) -> None:
    """allowed_signers, when named, must be a readable file that lists at least one key."""
    if config.allowed_signers is None:
        return
    variable = variables.culprit(("allowed_signers",), overrides)
    key = f"{variable} (allowed_signers)" if variable else "allowed_signers"
    try:
        text = config.allowed_signers.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        reason = f"cannot read {config.allowed_signers}: {exc.strerror or exc}"
        raise ConfigError(f"{file}: invalid configuration\n  {key}: {reason}") from None
    if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in text.splitlines()):
        reason = f"{config.allowed_signers} lists no keys"
        raise ConfigError(f"{file}: invalid configuration\n  {key}: {reason}")


def _resolve_paths(config: Config, base: Path) -> Config:
    # Paths in the file are relative to the file, so a config works from any directory.
    app = config.app.model_copy(update={"source": base / config.app.source})
    signers = base / config.allowed_signers if config.allowed_signers else None
    return config.model_copy(update={"app": app, "allowed_signers": signers})
