"""The terminal's hand-off to `releasegate serve` rides out a busy Prefect API.

A SQLite-backed Prefect server answers 503 when writes pile up (seen by bench/oncall.py under
load: the terminal died with a traceback). The busy server is played by a real HTTP server
on 127.0.0.1, because a real Prefect server cannot be made to answer 503 on cue.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from releasegate import handoff
from releasegate.errors import Failed
from releasegate.prompt_retries import PAUSES
from releasegate.signing.trigger import Asked
from tests.support.jsonhttp import JsonServer

RUN = "0b0e0d1c-0000-4000-8000-000000000001"
ASKED = Asked(request="rollback", environment="production", reason="paged")


class BusyApi(JsonServer):
    """Answers each route with its queued 503s first, then as Prefect would."""

    def __init__(self, busy: dict[str, int]) -> None:
        self.busy = dict(busy)
        super().__init__(self._answer)
        self.api = f"{self.url}/api"

    def _answer(self, path: str) -> tuple[int, dict[str, Any]]:
        route = "create" if path.endswith("/create_flow_run") else "read"
        if self.busy.get(route, 0) > 0:
            self.busy[route] -= 1
            return 503, {"detail": "busy"}
        if route == "create":
            return 201, {"id": RUN}
        return 200, {"id": RUN, "state": {"type": "COMPLETED"}}


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(handoff, "RETRY_AFTER", (0.01, 0.01, 0.01, 0.01))
    yield


def test_a_busy_api_is_retried_and_a_retried_create_carries_one_key(fast_retries: None) -> None:
    api = BusyApi({"create": 2, "read": 1})
    try:
        assert handoff.rollback(api.api, "dep", ASKED, "carol", None, timeout=30) == RUN
    finally:
        api.close()
    keys = {body["idempotency_key"] for body in api.posted}
    assert len(api.posted) == 3 and len(keys) == 1  # the same run, however often it is asked
    assert api.posted[0]["parameters"]["actor"] == "carol"


def test_an_api_that_stays_busy_is_one_clear_failure(fast_retries: None) -> None:
    api = BusyApi({"create": 99})
    try:
        with pytest.raises(Failed, match=r"did not answer POST .*create_flow_run: HTTP 503"):
            handoff.rollback(api.api, "dep", ASKED, "carol", None, timeout=30)
    finally:
        api.close()
    # Each of the hand-off's attempts is retried promptly by its transport first.
    assert len(api.posted) == (len(handoff.RETRY_AFTER) + 1) * (len(PAUSES) + 1)
