"""Any incident source: the documented Statuspage, PagerDuty and Opsgenie examples
(deployments/incidents.example.toml), each read from a real local HTTP server answering as
that service does (its path, query, authorisation header and JSON shape), then judged by
the incident gate; and a deploy blocked by PagerDuty through the real flow."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from releasegate.config import Environment
from releasegate.policy.gates import Facts, IncidentReading, incident_gate
from releasegate.sources.base import SourceError
from releasegate.wiring import incident_source
from tests.conftest import REPO
from tests.support.jsonhttp import JsonServer

EXAMPLES = tomllib.loads((REPO / "deployments/incidents.example.toml").read_text())
TOKENS = {"PAGERDUTY_TOKEN": "pd-token-4f1c9e", "OPSGENIE_API_KEY": "og-key-77a0b2"}
AUTHORIZATION = {
    "statuspage": None,
    "pagerduty": "Token token=pd-token-4f1c9e",
    "opsgenie": "GenieKey og-key-77a0b2",
}


def pagerduty(open_: bool) -> dict[str, Any]:
    """GET /incidents as PagerDuty's REST API v2 answers it (trimmed)."""
    incidents = [
        {"id": "Q1LOW", "type": "incident", "title": "Disk 80% on db-2", "status": "triggered",
         "urgency": "low", "service": {"id": "PSVC", "summary": "db"}},
        {"id": "Q2OLD", "type": "incident", "title": "Old outage", "status": "resolved",
         "urgency": "high", "service": {"id": "PSVC", "summary": "db"}},
    ]  # fmt: skip
    if open_:
        incidents.append(
            {"id": "Q3HIGH", "type": "incident", "title": "Checkout returns 500",
             "status": "acknowledged", "urgency": "high",
             "service": {"id": "PWEB", "summary": "web"}}
        )  # fmt: skip
    return {"incidents": incidents, "limit": 25, "offset": 0, "more": False, "total": None}


def opsgenie(open_: bool) -> dict[str, Any]:
    """GET /v2/alerts as Opsgenie's Alert API answers it (trimmed)."""
    data = [
        {"id": "a1", "tinyId": "17", "message": "Latency above SLO", "status": "open",
         "acknowledged": False, "priority": "P3"},
        {"id": "a2", "tinyId": "18", "message": "Payment API down", "status": "closed",
         "acknowledged": True, "priority": "P1"},
    ]  # fmt: skip
    if open_:
        data.append({"id": "a3", "tinyId": "19", "message": "Primary DB unreachable",
                     "status": "open", "acknowledged": False, "priority": "P1"})  # fmt: skip
    return {"data": data, "took": 0.01, "requestId": "9ae63dd7", "paging": {}}


def statuspage(open_: bool) -> dict[str, Any]:
    incidents = [{"name": "Slow search", "impact": "minor", "status": "monitoring"}]
    if open_:
        incidents.append({"name": "Login failures", "impact": "major", "status": "identified"})
    return {"page": {"id": "p1", "name": "Example"}, "incidents": incidents}


ANSWERS = {"statuspage": statuspage, "pagerduty": pagerduty, "opsgenie": opsgenie}
BLOCKING = {
    "statuspage": "Login failures",
    "pagerduty": "Checkout returns 500",
    "opsgenie": "Primary DB unreachable",
}


@dataclass
class Service:
    """A local server answering like `name` does, to the example's exact path and query,
    and only to the example's authorisation header."""

    name: str
    mode: str = "quiet"  # quiet | open | 500 | html
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.wanted = AUTHORIZATION[self.name]
        self.example = EXAMPLES["environments"][self.name]["incidents"]
        self.server = JsonServer(self.answer, self.authorise)

    def authorise(self, path: str, headers: Message) -> bool:
        self.requests.append(path)
        return headers.get("Authorization") == self.wanted

    def answer(self, path: str) -> tuple[int, Any]:
        if self.mode == "500":
            return 500, {"error": "internal"}
        if self.mode == "html":
            return 200, "<html>maintenance</html>"
        return 200, ANSWERS[self.name](self.mode == "open")

    def environment(self, **changes: Any) -> Environment:
        """The example's environment, its source moved to this server (path and query kept)."""
        parts = urlsplit(self.example["url"])
        url = f"{self.server.url}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        incidents = {**self.example, "url": url, "timeout": "3s", **changes}
        return Environment(url="http://127.0.0.1:28099", incidents=incidents)


@pytest.fixture(params=sorted(ANSWERS))
def service(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    running = Service(request.param)
    yield running
    running.server.close()


def judge(env: Environment) -> tuple[bool, str]:
    """Read the source as a run does (tasks.gates._read), then let the gate judge it."""
    assert env.incidents is not None
    try:
        reading = IncidentReading(answer=incident_source(env.incidents).read())
    except SourceError as exc:
        reading = IncidentReading(error=str(exc))
    facts = Facts(now="2026-11-27T12:00:00Z", branch="main", digest="sha256:x", incidents=reading)
    result = incident_gate(env, facts)
    assert result is not None
    return result.passed, result.reason


def test_each_example_passes_while_quiet_and_blocks_naming_what_is_open(service: Service) -> None:
    env = service.environment()
    assert judge(env) == (True, "the condition holds")
    path = urlsplit(service.example["url"])
    assert service.requests[-1] == path.path + (f"?{path.query}" if path.query else "")
    service.mode = "open"
    passed, reason = judge(env)
    assert not passed and reason == f"open incident: {BLOCKING[service.name]}"


@pytest.mark.parametrize("mode", ["500", "html", "wrong-key", "down"])
def test_each_example_fails_closed_when_its_answer_cannot_be_had(
    service: Service, mode: str
) -> None:
    service.mode = mode
    if mode == "wrong-key":  # the key was rotated (or a private status page wants one)
        service.wanted = "Bearer rotated"
    env = service.environment()
    if mode == "down":
        service.server.close()
    passed, reason = judge(env)
    assert not passed and reason.endswith("failing closed")
    assert "pd-token" not in reason and "og-key" not in reason
    passed, reason = judge(service.environment(unreadable="pass"))
    assert passed and 'unreadable = "pass"' in reason


def test_a_deploy_is_blocked_by_an_open_pagerduty_incident_and_the_outcome_recorded(
    make_setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAGERDUTY_TOKEN", TOKENS["PAGERDUTY_TOKEN"])
    pd = Service("pagerduty", mode="open")
    try:
        incidents = pd.environment().incidents
        assert incidents is not None
        setup = make_setup(
            production={
                "incidents": {
                    "url": incidents.url,
                    "holds": incidents.holds,
                    "show": incidents.show,
                    "headers": {"Authorization": {"env": "PAGERDUTY_TOKEN",
                                                  "prefix": "Token token="}},
                }
            }
        )  # fmt: skip
        code, out = setup.cli("deploy", "v1", "--actor", "dave")
        assert code == 3 and "open incident: Checkout returns 500" in " ".join(out.split())
        with pytest.raises(httpx.ConnectError):
            httpx.get(setup.urls["production"], timeout=2)
        gate = setup.records("gate")[0]
        assert gate.status == "blocked" and "Checkout returns 500" in (gate.reason or "")
        pd.mode = "quiet"
        code, out = setup.cli("deploy", "v1", "--actor", "dave")
        assert code == 0, out
        gate = setup.records("gate")[0]
        results = {r["gate"]: r for r in gate.details["results"]}
        assert results["incident"]["passed"] and "urgency == 'high'" in results["incident"]["rule"]
        assert TOKENS["PAGERDUTY_TOKEN"] not in gate.model_dump_json()
    finally:
        pd.server.close()
