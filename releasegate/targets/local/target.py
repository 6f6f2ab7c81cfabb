"""LocalTarget: an environment whose releases run as processes on 127.0.0.1.

Each environment has a stable URL served by its own detached proxy; its instances and routes
are recorded in `home/envs/<environment>/state.json`, its logs kept in `.../logs/`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from releasegate import processes
from releasegate.redaction import redact_url
from releasegate.release import Release
from releasegate.targets.base import Deployed, Probe, TargetError
from releasegate.targets.local import bluegreen, canary, recreate, rolling, router
from releasegate.targets.local.ports import PortBook
from releasegate.targets.local.runtime import EnvConfig, Runtime
from releasegate.targets.local.settings import DEFAULT_COMMAND
from releasegate.targets.local.state import EnvState, Instance, StateFile
from releasegate.vocabulary import Strategy

STRATEGIES: dict[Strategy, Callable[[Runtime, Release, Probe], None]] = {
    "rolling": rolling.deploy,
    "blue-green": bluegreen.deploy,
    "canary": canary.deploy,
    "recreate": recreate.deploy,
}
STATUS_FIELDS = {"id", "version", "digest", "pid", "port", "role", "colour", "weight"}


class LocalTarget:
    """One environment of `app` on this machine, reachable at `url` (http://127.0.0.1:<port>)."""

    def __init__(
        self,
        home: Path,
        app: str,
        environment: str,
        url: str,
        strategy: Strategy = "blue-green",
        replicas: int = 2,
        health_path: str = "/health",
        command: Sequence[str] = DEFAULT_COMMAND,
        startup_timeout: float = 30.0,
        canary_steps: Sequence[int] = (10, 50, 100),
        sibling_urls: Mapping[str, str] | None = None,
    ) -> None:
        """`sibling_urls`: the URLs of the app's other environments (name -> URL); no
        instance of this home ever gets their ports, whether their proxies run or not."""
        # Trusted: the configuration checked urls (loopback http with a port), command,
        # strategy, replicas, canary steps and environment names when it was loaded.
        self.app = app
        self.environment = environment
        self.url = url.rstrip("/")
        self.strategy = strategy
        home = Path(home).resolve()
        self._store = StateFile(home / "envs" / environment)
        self._ports = PortBook(home)
        self._urls = {
            f"{app}/{env}": _port(address)
            for env, address in {**(sibling_urls or {}), environment: url}.items()
        }
        self._config = EnvConfig(
            env_dir=self._store.dir,
            port=_port(url),
            replicas=replicas,
            health_path=health_path,
            command=tuple(command),
            startup_timeout=startup_timeout,
            canary_steps=tuple(canary_steps),
        )

    def current(self) -> Deployed | None:
        """The release taking (most of) the traffic, or None if nothing live runs."""
        state = self._store.read()
        live = [i for i in state.instances if i.weight and _running(i)] if state else []
        if not live:
            return None
        shares = Counter[str]()
        for instance in live:
            shares[instance.digest] += instance.weight
        top = next(i for i in live if i.digest == shares.most_common(1)[0][0])
        return Deployed(
            version=top.version,
            digest=top.digest,
            detail={
                "environment": self.environment,
                "url": redact_url(self.url),
                "artifact": top.artifact,
            },
        )

    def status(self) -> dict[str, Any]:
        """What runs for this environment: the proxy and every instance with its role."""
        state = self._store.read()
        proxy: dict[str, Any] | None = None
        if state and state.proxy:
            running = processes.owns(state.proxy.pid, state.proxy.argv, self._store.dir)
            proxy = {"pid": state.proxy.pid, "port": state.proxy.port, "running": running}
        return {
            "app": self.app,
            "environment": self.environment,
            "url": redact_url(self.url),
            "strategy": self.strategy,
            "proxy": proxy,
            "instances": [
                {
                    **instance.model_dump(mode="json", include=STATUS_FIELDS),
                    "url": instance.url,
                    "running": _running(instance),
                }
                for instance in (state.instances if state else [])
            ],
        }

    def snapshot(self) -> dict[str, Any]:
        """The status before a change, for the audit record."""
        return self.status()

    def deploy(self, release: Release, probe: Probe) -> None:
        """Roll `release` out with the environment's strategy."""
        with self._session() as rt:
            STRATEGIES[self.strategy](rt, release, probe)

    def rollback(self, release: Release, probe: Probe) -> None:
        """Make `release` live again: a route switch if it is still warm, else a deploy."""
        with self._session() as rt:
            live = rt.by_role("live", "canary")
            if live and all(i.digest == release.digest for i in live):
                return
            warm = [i for i in rt.by_role("warm") if i.digest == release.digest]
            try:
                for instance in warm:
                    rt.check(instance, probe)
            except TargetError:
                rt.stop(warm)  # unfit after all: fall back to starting it afresh
                warm = []
            if warm:
                bluegreen.switch(rt, warm, keep_warm=live)
            else:
                STRATEGIES[self.strategy](rt, release, probe)

    @contextmanager
    def _session(self) -> Iterator[Runtime]:
        """The locked state, with dead instances forgotten and the proxy running."""
        store = self._store
        self._ports.note(self._urls)
        with store.locked():
            state = store.read() or EnvState(app=self.app, environment=self.environment)
            if state.app != self.app and (state.proxy or state.instances):
                raise TargetError(
                    f"{store.dir} runs environment {self.environment} of app {state.app!r}, "
                    f"not {self.app!r}: give each app its own environment names or home "
                    "(or stop it first: releasegate down)"
                )
            state.app = self.app
            router.ensure_proxy(state, store, self._config.port)
            rt = Runtime(self._config, state, store, self._ports)
            rt.stop([i for i in state.instances if not _running(i)])
            yield rt


def down(home: Path) -> list[str]:
    """Stop every process releasegate started under `home`; what was stopped, one line each."""
    stopped: list[str] = []
    for env_dir in sorted((Path(home).resolve() / "envs").glob("*/")):
        store = StateFile(env_dir)
        with store.locked():
            state = store.read()
            if state is None:
                continue
            env = state.environment
            if state.proxy and router.stop_proxy(state.proxy, env_dir):
                stopped.append(f"{env}: proxy pid {state.proxy.pid} on port {state.proxy.port}")
            for i in state.instances:
                if processes.stop_if_ours(i.pid, i.argv, Path(i.artifact)):
                    stopped.append(f"{env}: {i.version} pid {i.pid} on port {i.port} ({i.role})")
            state.proxy, state.instances = None, []
            state.generation += 1
            store.write(state)
    return stopped


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None  # the configuration requires one
    return port


def _running(instance: Instance) -> bool:
    return processes.owns(instance.pid, instance.argv, Path(instance.artifact))
