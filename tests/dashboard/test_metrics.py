"""`/metrics`: mounted in a Starlette app (as the webhook receiver will mount it), served by
uvicorn on 127.0.0.1, scraped over real HTTP and parsed with prometheus_client's parser."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from releasegate.audit.file import FileAuditStore
from releasegate.metrics import metrics_app
from tests.support.bulk import write_history
from tests.support.histories import D, History, a_week

START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> FileAuditStore:
    store = FileAuditStore(tmp_path / "audit")
    write_history(store, a_week(START).entries)
    return store


@pytest.fixture
def served(store: FileAuditStore) -> Iterator[str]:
    """A receiver-like app with the metrics at /metrics (a Route) and /mounted (a Mount)."""
    metrics = metrics_app(store, ["staging", "production"])
    app = Starlette(
        routes=[
            Route("/healthz", lambda request: PlainTextResponse("ok")),
            Route("/metrics", metrics),
            Mount("/mounted", metrics),
        ]
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_scraped_metrics_count_the_trail_and_follow_its_growth(
    served: str, store: FileAuditStore
) -> None:
    m = scrape(f"{served}/metrics")
    prod = (("environment", "production"),)

    def deploys(outcome: str) -> float:
        return m["releasegate_deploys_total", (*prod, ("outcome", outcome))]

    assert (deploys("succeeded"), deploys("failed")) == (3, 2)
    assert m["releasegate_rollbacks_total", (*prod, ("outcome", "succeeded"))] == 2
    assert m["releasegate_gate_blocks_total", (*prod, ("gate", "freeze"))] == 1
    refused = (*prod, ("reason", "not-member"), ("status", "refused"))
    assert m["releasegate_approval_decisions_total", refused] == 1
    # Waits of 30m and 1h: neither within 15m, both within an hour.
    assert m["releasegate_approval_wait_seconds_count", prod] == 2
    assert m["releasegate_approval_wait_seconds_sum", prod] == 5400
    assert m["releasegate_approval_wait_seconds_bucket", (*prod, ("le", "900.0"))] == 0
    assert m["releasegate_approval_wait_seconds_bucket", (*prod, ("le", "3600.0"))] == 2
    last = START + 4 * D  # r6, the last successful deploy
    assert m["releasegate_last_successful_deploy_timestamp_seconds", prod] == last.timestamp()
    assert m["releasegate_audit_read_ok", ()] == 1

    # New records are counted once, by the next scrape (of either path).
    head = next(store.newest("production"))
    grown = History().change(START + 6 * D, "r8", "v6")
    write_history(store, grown.entries, head=head)
    m = scrape(f"{served}/mounted/")  # Starlette redirects a Mount's bare path here
    assert deploys("succeeded") == 4
    assert (
        m["releasegate_last_successful_deploy_timestamp_seconds", prod]
        == (START + 6 * D).timestamp()
    )
    assert scrape(f"{served}/metrics") == m
    assert httpx.get(f"{served}/healthz").text == "ok"


def test_concurrent_scrapes_count_each_record_once(served: str) -> None:
    results: list[dict[tuple[str, tuple[tuple[str, str], ...]], float]] = []
    threads = [
        threading.Thread(target=lambda: results.append(scrape(f"{served}/metrics")))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    key = ("releasegate_deploys_total", (("environment", "production"), ("outcome", "succeeded")))
    assert [r[key] for r in results] == [3] * 6


def test_an_unreadable_trail_keeps_the_figures_and_says_so(
    served: str, store: FileAuditStore
) -> None:
    before = scrape(f"{served}/metrics")
    assert before["releasegate_audit_read_ok", ()] == 1
    records = store.record_path("production", 0).parent
    aside = records.with_name("records-aside")
    records.rename(aside)
    # A symbolic link to itself: listing it fails for real (ELOOP), even as root.
    records.symlink_to(records.name)
    try:
        during = scrape(f"{served}/metrics")
    finally:
        records.unlink()
        aside.rename(records)
    assert during["releasegate_audit_read_ok", ()] == 0
    assert {k: v for k, v in during.items() if k[0] != "releasegate_audit_read_ok"} == {
        k: v for k, v in before.items() if k[0] != "releasegate_audit_read_ok"
    }
    assert scrape(f"{served}/metrics")["releasegate_audit_read_ok", ()] == 1


def test_only_get_is_answered(served: str) -> None:
    assert httpx.post(f"{served}/metrics").status_code == 405
    assert httpx.head(f"{served}/metrics").status_code == 200
