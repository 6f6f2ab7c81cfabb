"""The environment proxy: retries a refused backend once, and says why when it cannot serve."""

from __future__ import annotations

import httpx

from releasegate import processes
from releasegate.targets.local import LocalBuilder

from .conftest import MakeTarget, Probe


def test_a_refused_backend_is_retried_on_another(
    builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(replicas=2)
    target.deploy(builder.build("1.0.0"), probe)
    dead, _ = (i["pid"] for i in target.status()["instances"])
    processes.stop(dead)  # still routed: the proxy learns of it from a refused connection

    with httpx.Client(base_url=target.url, trust_env=False) as client:
        statuses = {client.get("/version").status_code for _ in range(50)}
    assert statuses == {200}


def test_a_lone_refusing_backend_is_a_502(
    builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(replicas=1)
    target.deploy(builder.build("1.0.0"), probe)
    [instance] = target.status()["instances"]
    processes.stop(instance["pid"])

    response = httpx.get(target.url, trust_env=False, timeout=10)
    assert response.status_code == 502
    assert "backend failed" in response.text
    assert target.current() is None
