"""Planted secrets: a distinct credential in every place the configuration takes one, the
pipeline run through real `releasegate` processes (deploys, blocked runs, a rollback), and
then every place anything is kept or shown is searched for each of them."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import sys
import uuid
from email.message import Message
from pathlib import Path
from typing import Any

import httpx

from releasegate import processes
from releasegate.tasks.context import RunContext
from releasegate.tasks.logs import Redact
from tests.flows.conftest import Setup, serving
from tests.support.inbox import Inbox
from tests.support.jsonhttp import JsonServer

HEADER_ENV = "RELEASEGATE_TEST_STATUSPAGE_KEY"
PLACES = (
    "staging-url-password",
    "production-url-password",
    "incidents-url-password",
    "incidents-url-query",
    "incidents-header",
    "smoke-path-query",
    "notify-url-password",
)
NOTIFY_ENV = "RELEASEGATE_TEST_NOTIFY_URL"


class StatusPage:
    """A status page that answers only a request carrying every credential; `mode` says
    what it answers then: no incident, a critical one, or a malformed list that echoes
    the header's value back (as a careless server might)."""

    def __init__(self, user: str, password: str, query: str, header: str) -> None:
        self.mode, self.authorised = "quiet", 0
        self._basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self._query, self._header = query, header
        self._server = JsonServer(self.answer, self.check)
        self.port = self._server.port

    def check(self, path: str, headers: Message) -> bool:
        ok = (
            headers.get("Authorization") == self._basic
            and headers.get("X-Api-Key") == f"Key {self._header}"
            and path.endswith(f"?api_key={self._query}")
        )
        self.authorised += ok
        return ok

    def answer(self, path: str) -> tuple[int, Any]:
        if self.mode == "incident":
            return 200, {"incidents": [{"name": "database down", "impact": "critical"}]}
        if self.mode == "echo":
            return 200, {"incidents": [{"name": {"you sent": self._header}, "impact": "major"}]}
        return 200, {"incidents": []}

    def close(self) -> None:
        self._server.close()


def run(setup: Setup, log: Path, env: dict[str, str], *command: str) -> tuple[int, str]:
    """A real `releasegate` process; its exit code and everything it printed."""
    cli = str(Path(sys.executable).with_name("releasegate"))
    proc = processes.spawn([cli, *command, "--config", str(setup.path)], log=log, env=env)
    code = proc.wait(timeout=180)
    return code, log.read_text()


def everything_prefect_keeps() -> str:
    """Logs, artifacts, flow runs (parameters, names, states), task runs, events and
    variables, as the API returns them."""
    api = os.environ["PREFECT_API_URL"]
    found: list[Any] = []
    with httpx.Client(base_url=api, timeout=30) as client:
        for path in ("logs", "artifacts", "flow_runs", "task_runs", "variables"):
            offset = 0
            while page := client.post(
                f"/{path}/filter", json={"limit": 200, "offset": offset}
            ).json():
                found += page
                offset += len(page)
        events = client.post("/events/filter", json={"limit": 50}).json()
        while True:
            found += events["events"]
            if not events.get("next_page"):
                break
            events = client.get(events["next_page"]).json()
    return json.dumps(found)


def test_planted_secrets_are_never_recorded_logged_published_or_printed(
    make_setup, tmp_path: Path
) -> None:
    secret = {place: f"planted-{place}-{uuid.uuid4().hex}" for place in PLACES}
    page = StatusPage("pager", secret["incidents-url-password"], secret["incidents-url-query"],
                      secret["incidents-header"])  # fmt: skip
    smoke = [
        {"path": f"/health?auth={secret['smoke-path-query']}", "status": 200},
        {"path": "/version", "json": {"version": "{version}"}},
    ]
    inbox = Inbox()  # the notifications' endpoint: its URL carries a password
    ports = [processes.free_port() for _ in range(2)]
    setup = make_setup(
        staging={"url": f"http://ops:{secret['staging-url-password']}@127.0.0.1:{ports[0]}",
                 "smoke": smoke},
        production={
            "url": f"http://ops:{secret['production-url-password']}@127.0.0.1:{ports[1]}",
            "smoke": smoke,
            "incidents": {
                "url": f"http://pager:{secret['incidents-url-password']}@127.0.0.1:{page.port}"
                f"/api/v2/incidents/unresolved.json?api_key={secret['incidents-url-query']}",
                "headers": {"X-Api-Key": {"env": HEADER_ENV, "prefix": "Key "}},
            },
            "notify": [{"env": NOTIFY_ENV}],
        },
    )  # fmt: skip
    env = {
        **os.environ,
        HEADER_ENV: secret["incidents-header"],
        NOTIFY_ENV: f"json://hook:{secret['notify-url-password']}@127.0.0.1:{inbox.port}/rg",
        "RELEASEGATE_ACTOR": "dave",
        "PREFECT_LOGGING_TO_API_ENABLED": "true",
        "PREFECT_LOGGING_LEVEL": "DEBUG",
    }
    shown: list[str] = []
    try:
        steps = [
            ("quiet", ("deploy", "v1"), 0),
            ("quiet", ("deploy", "v2"), 0),
            ("echo", ("deploy", "v3"), 3),  # unreadable incident list: fails closed
            ("incident", ("deploy", "v3"), 3),  # an open critical incident
            ("quiet", ("rollback", "production", "--reason", "back to v1"), 0),
        ]
        for n, (mode, command, expected) in enumerate(steps):
            page.mode = mode
            code, out = run(setup, tmp_path / f"run-{n}.log", env, *command)
            assert code == expected, out
            shown.append(out)
        assert page.authorised >= 4  # every credential was really sent, each time
        assert len(inbox.posted) >= 5  # the notifier's URL was really used
    finally:
        page.close()
        inbox.close()
    assert serving(setup.urls["production"]) == "v1"
    for command in (("status",), ("status", "--json"), ("history", "--all", "--json"),
                    ("audit", "verify"), ("audit", "export")):  # fmt: skip
        code, out = run(setup, tmp_path / "inspect.log", env, *command)
        assert code == 0, out
        shown.append(out)

    trail = "".join(p.read_text(errors="replace") for p in setup.home.rglob("*") if p.is_file())
    kept = {
        "CLI output": "\n".join(shown),
        "audit trail": trail,
        "Prefect": everything_prefect_keeps(),
    }
    # Any 10 characters of a secret's random part count as a leak: a message that shortens
    # what it quotes ("planted-inc...8da078") must not get a fragment past the search.
    leaks = {f"{place} in {where}" for place, value in secret.items()
             for fragment in fragments(value)
             for where, text in kept.items() if fragment in text}  # fmt: skip
    assert leaks == set()
    # Not vacuous: the URLs and the failures are there, with their credentials masked.
    assert "http://***@127.0.0.1" in kept["CLI output"] and "api_key=***" in kept["audit trail"]
    assert "open incident: the condition does not hold" in kept["audit trail"]  # the echo
    assert "database down" in kept["CLI output"]


def fragments(value: str, size: int = 10) -> set[str]:
    tail = value.rsplit("-", 1)[1]
    return {tail[i : i + size] for i in range(len(tail) - size + 1)}


def test_log_records_are_redacted_message_arguments_and_traceback_alike() -> None:
    """What releasegate does not write itself (an exception Prefect logs with its
    traceback, a library's message) passes the same redaction on its way to a handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(f"releasegate-test-{uuid.uuid4().hex}")
    logger.addHandler(handler)
    handler.addFilter(Redact())
    try:
        raise RuntimeError("GET https://u:hunter22@h/x?token=T0KEN failed")
    except RuntimeError:
        logger.error("calling %s", "https://u:hunter22@h/y?sig=S1G", exc_info=True)
    shown = stream.getvalue()
    assert "hunter22" not in shown and "T0KEN" not in shown and "S1G" not in shown
    assert (
        "calling https://***@h/y?sig=***" in shown and "RuntimeError: GET https://***@h/x" in shown
    )


def test_an_audit_entry_is_redacted_whatever_field_carries_a_url(make_setup) -> None:
    setup = make_setup()
    ctx = RunContext.open(setup.load())
    entry = ctx._entry(
        "gate",
        "production",
        "blocked",
        actor="dave",
        reason="cannot read https://u:hunter22@status/x?api_key=K3Y",
        details={"results": [{"rule": "from https://status/y?api_key=K3Y"}]},
    )
    assert "hunter22" not in entry.model_dump_json() and "K3Y" not in entry.model_dump_json()
    assert entry.reason == "cannot read https://***@status/x?api_key=***"
