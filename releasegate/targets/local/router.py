"""The deployer's side of an environment's proxy: keep it running, wait until routes apply.

The deployer binds the environment's URL itself and hands the listening socket to the proxy
it starts: a port in use fails at once and says so, nothing can take the port while the
proxy starts, and requests that arrive meanwhile wait in the socket's queue.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from releasegate import processes
from releasegate.targets.base import TargetError
from releasegate.targets.local import supervisor
from releasegate.targets.local.state import EnvState, ProxyProcess, StateFile

PROXY_STARTUP_TIMEOUT = 20.0


def proxy_argv(env_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "releasegate.targets.local.proxy",
        "--fd",
        str(processes.LISTEN_FD),
        "--env-dir",
        str(env_dir),
    ]


def stop_proxy(proxy: ProxyProcess, env_dir: Path) -> bool:
    """Stop the proxy if it is still ours; True if it was."""
    return processes.stop_if_ours(proxy.pid, proxy.argv, env_dir)


def ensure_proxy(state: EnvState, store: StateFile, port: int) -> None:
    """Make sure the environment's proxy runs on `port`; record it in `state` (and save)."""
    proxy = state.proxy
    # Compare the port, not the argv: callers reach the same venv as `python` or `python3`
    # (a console script's shebang), and that must not restart a healthy proxy.
    if (
        proxy is not None
        and proxy.port == port
        and processes.owns(proxy.pid, proxy.argv, store.dir)
    ):
        return
    if proxy is not None:
        stop_proxy(proxy, store.dir)  # the environment's URL changed, or it died
    try:
        listener = processes.listen(port)
    except OSError as exc:
        raise TargetError(
            f"127.0.0.1:{port} (the URL of {state.environment}) is used by another process "
            f"({exc.strerror or exc})"
        ) from None
    argv = proxy_argv(store.dir)
    log = store.dir / "logs" / "proxy.log"
    try:
        pid = supervisor.launch(argv, cwd=store.dir, log=log, listener=listener)
    finally:
        listener.close()  # the proxy has its own copy
    state.proxy = ProxyProcess(pid=pid, port=port, argv=argv)
    store.write(state)

    # The port listens already; the proxy acks the routes it loaded once it is ready to serve.
    def up() -> bool:
        return _acked(store, pid, state.generation)

    with contextlib.suppress(processes.Timeout):  # judged just below
        processes.wait_until(
            lambda: not processes.alive(pid) or up(),
            timeout=PROXY_STARTUP_TIMEOUT,
            what=f"proxy on port {port}",
        )
    if not (processes.alive(pid) and up()):
        stop_proxy(state.proxy, store.dir)
        state.proxy = None
        store.write(state)
        raise TargetError(
            f"the proxy for {state.environment} did not start on 127.0.0.1:{port}; "
            f"its log ends:\n{supervisor.tail(log)}"
        )


def wait_applied(state: EnvState, store: StateFile, timeout: float) -> bool:
    """Wait until the proxy routes by `state.generation` with nothing in flight elsewhere.

    False if the proxy died, or after `timeout` (e.g. a request still streaming from a backend
    that left the routes: stopping it is still graceful, an instance finishes in-flight
    requests on SIGTERM).
    """
    if state.proxy is None:
        return False
    pid = state.proxy.pid
    with contextlib.suppress(processes.Timeout):  # judged just below
        processes.wait_until(
            lambda: _acked(store, pid, state.generation) or not processes.alive(pid),
            timeout=timeout,
            interval=0.01,
            what="proxy to apply the routes",
        )
    return _acked(store, pid, state.generation)


def _acked(store: StateFile, pid: int, generation: int) -> bool:
    """True if the proxy `pid` (not an earlier one) has applied `generation` or later."""
    ack = store.read_ack()
    return ack is not None and ack.pid == pid and ack.generation >= generation
