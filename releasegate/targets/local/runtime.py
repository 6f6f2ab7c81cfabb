"""One environment's runtime: the vocabulary the strategies are written in.

A `Runtime` lives for one locked deploy or rollback. Every change is saved to the state
file at once, so a crash mid-deploy still leaves every started PID on record for `down`.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from releasegate import failpoints, processes
from releasegate.release import Release
from releasegate.targets.base import Probe, TargetError
from releasegate.targets.local import router, supervisor
from releasegate.targets.local.ports import PortBook
from releasegate.targets.local.settings import listening, render
from releasegate.targets.local.state import EnvState, Instance, Role, StateFile

log = logging.getLogger(__name__)

DRAIN_TIMEOUT = 30.0


@dataclass(frozen=True)
class EnvConfig:
    """How one environment runs its releases (see LocalTarget)."""

    env_dir: Path
    port: int
    replicas: int
    health_path: str
    command: tuple[str, ...]
    startup_timeout: float
    canary_steps: tuple[int, ...]

    @property
    def logs(self) -> Path:
        return self.env_dir / "logs"


class Runtime:
    """Start, check, route and retire instances of one environment, recording each step."""

    def __init__(
        self, config: EnvConfig, state: EnvState, store: StateFile, ports: PortBook
    ) -> None:
        self.config = config
        self.state = state
        self._store = store
        self._ports = ports
        self._held: list[int] = []  # ports of instances that bind their own, until they are up

    def by_role(self, *roles: Role) -> list[Instance]:
        return [i for i in self.state.instances if i.role in roles]

    def start(
        self, release: Release, count: int, probe: Probe, *, role: Role, colour: str | None = None
    ) -> list[Instance]:
        """Start `count` instances of `release` and check them all (health, then probe).

        They run unrouted. If any is unfit, all of them are stopped and TargetError says why.
        """
        started: list[Instance] = []
        try:
            for _ in range(count):
                started.append(self._launch(release, role, colour))
            for instance in started:
                self.check(instance, probe)
        except TargetError:
            self.stop(started)
            raise
        finally:
            # Up (bound) or stopped: either way nobody else could take their ports now.
            self._ports.release(self._held)
            self._held.clear()
        return started

    def check(self, instance: Instance, probe: Probe) -> None:
        """Raise TargetError (with the log's last lines) unless `instance` is fit for traffic."""
        c = self.config
        reason = supervisor.readiness(
            instance.pid, instance.url, c.health_path, probe, c.startup_timeout
        )
        if reason is not None:
            log_tail = supervisor.tail(self._log(instance))
            raise TargetError(
                f"{instance.version} ({instance.digest[:19]}) is not fit for traffic in "
                f"{self.state.environment}: {reason}. Its log ends:\n{log_tail}"
            )

    def route(self, weights: Mapping[str, int]) -> None:
        """Send traffic by `weights` (instance id -> weight; absent = none) and wait until the
        proxy applies it and requests to instances that lost traffic have drained."""
        failpoints.hit("before-switch")
        for instance in self.state.instances:
            instance.weight = weights.get(instance.id, 0)
            if instance.weight and instance.role in ("starting", "warm"):
                instance.role = "live"
            elif not instance.weight and instance.role in ("live", "canary"):
                instance.role = "warm"
        self.state.generation += 1
        self._save()
        if not router.wait_applied(self.state, self._store, DRAIN_TIMEOUT):
            log.warning("%s: proxy did not confirm routes in time", self.state.environment)

    def stop(self, instances: Iterable[Instance]) -> None:
        """Take `instances` out of the routes (draining them), stop them, forget them."""
        doomed = {i.id for i in instances}
        if any(i.weight for i in self.state.instances if i.id in doomed):
            self.route({i.id: i.weight for i in self.state.instances if i.id not in doomed})
        for instance in [i for i in self.state.instances if i.id in doomed]:
            processes.stop_if_ours(instance.pid, instance.argv, Path(instance.artifact))
            self.state.instances.remove(instance)
            self._save()

    def keep_only(self, keep: Sequence[Instance]) -> None:
        """Stop every instance not in `keep`."""
        ids = {i.id for i in keep}
        self.stop([i for i in self.state.instances if i.id not in ids])

    def _launch(self, release: Release, role: Role, colour: str | None) -> Instance:
        bundle = Path(release.artifact)
        if not bundle.is_dir():
            raise TargetError(f"the bundle of {release.version} is missing: {bundle}")
        listener, port = self._listen()
        argv = render(self.config.command, python=sys.executable, fd=processes.LISTEN_FD, port=port)
        instance = Instance(
            id=f"{release.digest.removeprefix('sha256:')[:12]}-{port}",
            version=release.version,
            digest=release.digest,
            artifact=release.artifact,
            pid=0,
            port=port,
            argv=argv,
            role=role,
            colour=colour,
            started_at=datetime.now(UTC),
        )
        try:
            instance.pid = supervisor.launch(
                argv, cwd=bundle, log=self._log(instance), listener=listener
            )
        finally:
            if listener is not None:
                listener.close()  # the instance has its own copy: the port lives as long as it
        self.state.instances.append(instance)
        self._save()
        return instance

    def _listen(self) -> tuple[socket.socket | None, int]:
        """Where the next instance listens: a socket it inherits, or a port it binds itself
        (held in the port book until `start` is done with it)."""
        purpose = f"an instance of {self.state.app} in {self.state.environment}"
        if listening(self.config.command) == "port":
            port = self._ports.hold(purpose)
            self._held.append(port)
            return None, port
        listener = self._ports.listener(purpose)
        return listener, listener.getsockname()[1]

    def _log(self, instance: Instance) -> Path:
        return self.config.logs / f"{instance.id}.log"

    def _save(self) -> None:
        self._store.write(self.state)
