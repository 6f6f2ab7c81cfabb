"""Ports that cannot collide: instances and proxies serve sockets the deployer bound; apps
that bind their own `{port}` draw it from the home's port book, never a configured URL's."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from releasegate import processes
from releasegate.targets.base import TargetError
from releasegate.targets.local.bundle import LocalBuilder
from releasegate.targets.local.ports import PortBook
from releasegate.targets.local.target import LocalTarget, down

from .conftest import MakeTarget, Probe, broken_copy, get_version

PORT_MODE = ("{python}", "app.py", "--port", "{port}")
SLOW_START = "def main(argv: list[str] | None = None) -> int:\n"
SLEEP_FIRST = SLOW_START + (
    "    import os\n\n    time.sleep(float(os.environ.get('START_DELAY', '60')))  # slow imports\n"
)


def socket_inode(pid: int, fd: int) -> int:
    """The inode of the socket `pid` has as `fd` (ValueError if it is not a socket)."""
    link = os.readlink(f"/proc/{pid}/fd/{fd}")
    assert link.startswith("socket:["), link
    return int(link.removeprefix("socket:[").removesuffix("]"))


def listening_inode(port: int) -> int | None:
    """The inode of the socket listening on 127.0.0.1:`port`, from /proc/net/tcp."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == f"0100007F:{port:04X}" and fields[3] == "0A":  # 0A: LISTEN
            return int(fields[9])
    return None


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def held_by_me(inode: int) -> bool:
    return any(
        os.readlink(f"/proc/self/fd/{fd}") == f"socket:[{inode}]"
        for fd in os.listdir("/proc/self/fd")
        if os.path.exists(f"/proc/self/fd/{fd}")
    )


def test_instances_and_proxy_serve_the_sockets_the_deployer_bound(
    home: Path, builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(replicas=2)
    target.deploy(builder.build("1.0.0"), probe)
    status = target.status()
    url_port = int(target.url.rsplit(":", 1)[1])

    served = [(status["proxy"]["pid"], url_port)]
    served += [(i["pid"], i["port"]) for i in status["instances"]]
    for pid, port in served:
        inode = socket_inode(pid, 3)
        assert listening_inode(port) == inode, "the socket it inherited is the one listening"
        assert not held_by_me(inode), "the deployer closed its copy"
        assert {k: v for k, v in environ(pid).items() if k.startswith("LISTEN_")} == {
            "LISTEN_FDS": "1",
            "LISTEN_PID": str(pid),
        }
    for instance in status["instances"]:
        assert instance["port"] >= processes.ephemeral_low(), "the kernel picked it"
        assert instance["port"] != url_port
    assert get_version(target.url) == "1.0.0"


def test_the_port_is_taken_before_the_app_runs_and_early_requests_wait(
    source: Path, tmp_path: Path, home: Path
) -> None:
    slow = broken_copy(source, tmp_path / "slow", SLOW_START, SLEEP_FIRST)
    bundle = Path(LocalBuilder(home, "webapp", slow).build("1.0.0").artifact)
    listener = processes.listen()
    port = listener.getsockname()[1]
    argv = [sys.executable, "app.py", "--fd", "3"]
    app = processes.spawn(
        argv, log=tmp_path / "app.log", cwd=bundle, listener=listener, env={"START_DELAY": "1"}
    )
    listener.close()
    try:
        assert not processes.port_free(port), "nobody can bind the port while the app starts"
        asked = time.monotonic()
        response = httpx.get(f"http://127.0.0.1:{port}/version", timeout=30, trust_env=False)
        assert response.json() == {"version": "1.0.0"}, "queued, then answered: never refused"
        assert time.monotonic() - asked > 0.5
    finally:
        processes.stop(app.pid)
    assert processes.port_free(port), "the port went with the app"


def test_an_app_that_binds_its_own_port_never_gets_a_configured_one(
    home: Path, builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    production = f"http://127.0.0.1:{processes.free_port()}"
    target = make_target(command=PORT_MODE, replicas=2, sibling_urls={"production": production})
    target.deploy(builder.build("1.0.0"), probe)

    book = json.loads((home / "ports.json").read_text())
    urls = {"webapp/staging": int(target.url.rsplit(":", 1)[1])}
    urls["webapp/production"] = int(production.rsplit(":", 1)[1])
    assert book == {"urls": urls, "held": {}}, "holds end once the instances are up"
    ports = [i["port"] for i in target.status()["instances"]]
    assert all(10_000 <= port < processes.ephemeral_low() for port in ports)
    assert not set(ports) & set(urls.values())
    assert get_version(target.url) == "1.0.0"


def free_block(size: int) -> range:
    """`size` consecutive ports below the ephemeral range, all free right now."""
    for _ in range(100):
        start = processes.free_port()
        block = range(start, start + size)
        if block.stop < processes.ephemeral_low() and all(map(processes.port_free, block)):
            return block
    raise AssertionError("no block of free ports")


def test_the_port_book_draws_around_configured_urls_and_holds(home: Path) -> None:
    span = free_block(40)
    allowed = {span[5], span[17], span[33]}
    book = PortBook(home, span)
    book.note({f"app/env-{port}": port for port in span if port not in allowed})

    drawn = {book.hold("an instance") for _ in allowed}

    assert drawn == allowed
    with pytest.raises(TargetError, match=rf"no free port for more in {span.start}-"):
        book.hold("more")
    book.release([span[17]])
    assert book.hold("again") == span[17]


def test_a_kernel_picked_port_on_a_configured_url_is_refused() -> None:
    offered: list[int] = []

    class FirstThreeRefused:
        """Says the first three ports it is asked about belong to configured URLs."""

        def __contains__(self, port: object) -> bool:
            offered.append(int(str(port)))
            return len(offered) <= 3

    fds = len(os.listdir("/proc/self/fd"))
    with processes.listen(avoid=FirstThreeRefused()) as listener:
        assert listener.getsockname()[1] == offered[3] not in offered[:3]
        assert len(set(offered)) == 4, "a refused port stays bound until another is found"
        assert len(os.listdir("/proc/self/fd")) == fds + 1, "refused sockets are closed"


@pytest.mark.parametrize("mode", ["socket", "port"])
def test_a_deployer_killed_mid_start_leaves_nothing_reserved(
    mode: str, home: Path, source: Path, tmp_path: Path, builder: LocalBuilder, probe: Probe
) -> None:
    slow = broken_copy(source, tmp_path / "slow", SLOW_START, SLEEP_FIRST)
    url = f"http://127.0.0.1:{processes.free_port()}"
    command = PORT_MODE if mode == "port" else ("{python}", "app.py", "--fd", "{fd}")
    script = f"""
from pathlib import Path
from releasegate.targets.local.bundle import LocalBuilder
from releasegate.targets.local.target import LocalTarget
home = Path({str(home)!r})
release = LocalBuilder(home, "webapp", Path({str(slow)!r})).build("1.0.0")
target = LocalTarget(home, "webapp", "staging", {url!r}, command={command!r}, replicas=1)
target.deploy(release, lambda url: True)
"""
    deployer = subprocess.Popen([sys.executable, "-c", script])
    state = home / "envs" / "staging" / "state.json"

    def starting() -> bool:
        return bool(json.loads(state.read_text())["instances"])

    try:
        processes.wait_until(starting, timeout=30, what="an instance starting")
    finally:
        deployer.send_signal(signal.SIGKILL)
        deployer.wait()
    [orphan] = json.loads(state.read_text())["instances"]
    if mode == "port":
        [port] = json.loads((home / "ports.json").read_text())["held"]
        assert int(port) == orphan["port"], "held by the deployer that was killed"
        # The only port of this span is held by a dead process: it is given out again.
        book = PortBook(home, range(orphan["port"], orphan["port"] + 1))
        assert book.hold("the next run") == orphan["port"]
        book.release([orphan["port"]])
    else:
        assert not processes.port_free(orphan["port"]), "the orphan still has its socket"

    assert any(str(orphan["pid"]) in line for line in down(home)), "on record, so stopped"
    assert processes.port_free(orphan["port"])
    target = LocalTarget(home, "webapp", "staging", url, replicas=1)
    target.deploy(builder.build("1.0.0"), probe)
    assert get_version(url) == "1.0.0"


def test_a_url_in_use_fails_at_once_and_says_so(
    make_target: MakeTarget, builder: LocalBuilder, probe: Probe, home: Path
) -> None:
    target = make_target()
    port = int(target.url.rsplit(":", 1)[1])
    in_use = rf"127.0.0.1:{port} \(the URL of staging\) is used by another process"
    with socket.create_server(("127.0.0.1", port)), pytest.raises(TargetError, match=in_use):
        target.deploy(builder.build("1.0.0"), probe)
    assert target.status()["instances"] == [] and target.status()["proxy"] is None


def test_an_environment_of_another_app_in_the_same_home_is_refused(
    home: Path, builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    first = make_target(replicas=1)
    first.deploy(builder.build("1.0.0"), probe)
    other = LocalTarget(home, "other-app", "staging", first.url, replicas=1)

    with pytest.raises(
        TargetError, match="runs environment staging of app 'webapp', not 'other-app'"
    ):
        other.deploy(builder.build("2.0.0"), probe)
    assert get_version(first.url) == "1.0.0"
    down(home)  # once nothing runs there, the environment may change hands
    other.deploy(builder.build("2.0.0"), probe)
    assert get_version(first.url) == "2.0.0"


def test_a_corrupt_port_book_is_started_afresh(
    home: Path, builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    home.mkdir(parents=True)
    (home / "ports.json").write_text('{"urls": {"webapp/staging": "not a port"')
    target = make_target(command=PORT_MODE, replicas=1)
    target.deploy(builder.build("1.0.0"), probe)
    assert get_version(target.url) == "1.0.0"
    book = json.loads((home / "ports.json").read_text())
    assert book["urls"] == {"webapp/staging": int(target.url.rsplit(":", 1)[1])}
