"""The terminal's hand-off to `releasegate serve` rides out a busy Prefect API.

A SQLite-backed Prefect server answers 503 when writes pile up (seen by bench/oncall.py under
load: the terminal died with a traceback). The busy server is played by a real HTTP server
on 127.0.0.1, because a real Prefect server cannot be made to answer 503 on cue.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from releasegate import handoff
from releasegate.errors import Failed
from releasegate.signing.trigger import Asked

RUN = "0b0e0d1c-0000-4000-8000-000000000001"
ASKED = Asked(request="rollback", environment="production", reason="paged")


class BusyApi:
    """Answers each path with its queued statuses first (503s), then with `final`."""

    def __init__(self, busy: dict[str, int]) -> None:
        self.busy = dict(busy)
        self.bodies: list[dict[str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, payload: dict[str, Any]) -> None:
                route = "create" if self.path.endswith("/create_flow_run") else "read"
                if api.busy.get(route, 0) > 0:
                    api.busy[route] -= 1
                    status, payload = 503, {"detail": "busy"}
                else:
                    status = 201 if route == "create" else 200
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                api.bodies.append(json.loads(self.rfile.read(length)))
                self._answer({"id": RUN})

            def do_GET(self) -> None:
                self._answer({"id": RUN, "state": {"type": "COMPLETED"}})

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(handoff, "RETRY_AFTER", (0.01, 0.01, 0.01, 0.01))
    yield


def test_a_busy_api_is_retried_and_a_retried_create_carries_one_key(fast_retries: None) -> None:
    api = BusyApi({"create": 2, "read": 1})
    try:
        assert handoff.rollback(api.url, "dep", ASKED, "carol", None, timeout=30) == RUN
    finally:
        api.close()
    keys = {body["idempotency_key"] for body in api.bodies}
    assert len(api.bodies) == 3 and len(keys) == 1  # the same run, however often it is asked
    assert api.bodies[0]["parameters"]["actor"] == "carol"


def test_an_api_that_stays_busy_is_one_clear_failure(fast_retries: None) -> None:
    api = BusyApi({"create": 99})
    try:
        with pytest.raises(Failed, match=r"did not answer POST .*create_flow_run: HTTP 503"):
            handoff.rollback(api.url, "dep", ASKED, "carol", None, timeout=30)
    finally:
        api.close()
    assert len(api.bodies) == len(handoff.RETRY_AFTER) + 1
