"""The environment proxy: retries a refused backend once and counts it, says why when it
cannot serve, and reports what it did at STATS_PATH."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from releasegate import processes
from releasegate.targets.local.bundle import LocalBuilder
from releasegate.targets.local.proxy import MAX_BODY_BYTES, STATS_PATH

from .conftest import MakeTarget, Probe, proxy_stats


def test_a_refused_backend_is_retried_on_another_and_counted(
    builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(replicas=2)
    target.deploy(builder.build("1.0.0"), probe)
    assert proxy_stats(target.url)["retried"] == {"refused": 0, "dropped": 0}
    dead, alive = ({"pid": i["pid"], "url": i["url"]} for i in target.status()["instances"])
    processes.stop(dead["pid"])  # still routed: the proxy learns of it from a refused connection

    with httpx.Client(base_url=target.url, trust_env=False) as client:
        statuses = [client.get("/version").status_code for _ in range(50)]
        statuses += [client.post("/echo", content=b"x").status_code for _ in range(50)]
    assert set(statuses) == {200}
    stats = proxy_stats(target.url)
    assert stats["retried"]["refused"] > 0, "every retry is counted"
    assert stats["retried"]["dropped"] == 0
    assert stats["failed"] == {"no_backend": 0, "backend_failed": 0}
    assert stats["routes"] == {dead["url"]: 1, alive["url"]: 1}


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
    assert proxy_stats(target.url)["failed"] == {"no_backend": 0, "backend_failed": 1}


def test_stats_belong_to_the_proxy_and_answer_get_only(
    builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(replicas=1)
    target.deploy(builder.build("1.0.0"), probe)
    before = proxy_stats(target.url)
    assert before["pid"] == target.status()["proxy"]["pid"]
    assert before["generation"] == before["acknowledged"] > 0
    assert before["in_flight"] == {}

    refused = httpx.post(f"{target.url}{STATS_PATH}", content=b"{}", trust_env=False)
    assert (refused.status_code, "answers GET only" in refused.text) == (405, True)
    httpx.get(f"{target.url}/version", trust_env=False)
    assert proxy_stats(target.url)["requests"] == before["requests"] + 1, "stats are not counted"


def test_request_bodies_over_the_limit_are_refused_whole(
    builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(replicas=1)
    target.deploy(builder.build("1.0.0"), probe)
    over = b"x" * (MAX_BODY_BYTES + 1)

    def chunks(body: bytes) -> Iterator[bytes]:  # no Content-Length: sent chunked
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)]

    with httpx.Client(base_url=target.url, trust_env=False, timeout=30) as client:
        for body in (over, chunks(over)):
            refused = client.post("/echo", content=body)
            assert refused.status_code == 413
            assert f"at most {MAX_BODY_BYTES} bytes" in refused.text
            assert refused.text.startswith("releasegate:"), "the proxy answered, not the app"
        assert client.post("/echo", content=b"ok").json() == {"version": "1.0.0", "body": "ok"}
