"""The right server: with port 4200 taken, the Prefect server releasegate starts elsewhere
serves a UI that calls *it*, and a person sees that server's runs.

Prefect's UI takes its API address from the server's settings, not from `--port`: started
on another port without them, its pages call 127.0.0.1:4200 ("Can't connect to Server
API", or another server's runs). The test holds 4200 itself, starts a second server the way
releasegate does (`prefect_server.start` with no port: the demo's and the CLI's path), from
this process, whose PREFECT_API_URL names the session's server (an inherited address that
must not leak into the new server), and browses it.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request

from releasegate import prefect_server, processes
from tests.support.prefect_ui import PrefectUI


@pytest.fixture(scope="module")
def port_4200_taken() -> Iterator[None]:
    """127.0.0.1:4200 held by this test (or already taken by someone else: the same case)."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", prefect_server.DEFAULT_PORT))
        holder.listen()
    except OSError:
        pass  # another process has it: exactly the situation under test
    assert not processes.port_free(prefect_server.DEFAULT_PORT)
    yield
    holder.close()


@pytest.fixture(scope="module")
def own_server(
    port_4200_taken: None, prefect_api: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A second Prefect server, started as releasegate starts one, stopped by its PID.
    (After the session's server: both copy the UI's files into the same venv on first start.)"""
    info = prefect_server.start(tmp_path_factory.mktemp("own-server"))
    yield info
    processes.stop(int(info["pid"]))


def flow_run(api_url: str, name: str) -> str:
    """A finished flow run created on the server at `api_url`; its id."""
    with httpx.Client(base_url=api_url, timeout=10) as api:
        flow = api.post("/flows/", json={"name": "made-by-the-ui-test"}).raise_for_status()
        run = api.post(
            "/flow_runs/",
            json={
                "flow_id": flow.json()["id"],
                "name": name,
                "state": {"type": "COMPLETED", "name": "Completed"},
            },
        ).raise_for_status()
    return str(run.json()["id"])


def test_the_server_started_beside_a_taken_4200_serves_a_ui_that_calls_it(
    own_server: dict[str, Any], prefect_api: str
) -> None:
    assert own_server["ui_url"] != f"http://127.0.0.1:{prefect_server.DEFAULT_PORT}"
    assert own_server["api_url"] != prefect_api  # this process's PREFECT_API_URL did not leak
    ui_settings = httpx.get(f"{own_server['ui_url']}/ui-settings", timeout=10).json()
    assert ui_settings["api_url"] == own_server["api_url"]
    assert ui_settings["default_ui"] == "v2"
    assert prefect_server.misdirected_ui(own_server) is None
    assert prefect_server.not_ours(own_server) is None


def test_start_would_refuse_another_server_on_its_port_or_a_ui_calling_elsewhere(
    own_server: dict[str, Any], prefect_api: str
) -> None:
    """What `start` checks before handing a server out, shown on two real servers."""
    session = {**own_server, "api_url": prefect_api, "ui_url": prefect_api.removesuffix("/api")}
    assert "is answered by another Prefect server" in str(prefect_server.not_ours(session))
    elsewhere = {**own_server, "api_url": prefect_api}  # own UI, but expected to call the other
    assert f"would call {own_server['api_url']}, not {prefect_api}" in str(
        prefect_server.misdirected_ui(elsewhere)
    )


def test_with_4200_taken_the_ui_of_releasegates_server_shows_its_runs(
    own_server: dict[str, Any], page: Page
) -> None:
    name = f"ui-test-{uuid.uuid4().hex[:8]}"
    run_id = flow_run(own_server["api_url"], name)
    called: list[str] = []

    def note(request: Request) -> None:  # a call to this machine, to another server
        local = request.url.startswith(("http://127.0.0.1:", "http://localhost:"))
        if local and not request.url.startswith(own_server["ui_url"] + "/"):
            called.append(request.url)

    page.on("request", note)
    ui = PrefectUI(page, own_server["ui_url"])
    ui.open_home()
    page.wait_for_url(f"{own_server['ui_url']}/v2/**")  # the root redirects to the V2 UI
    ui.open_runs()
    ui.open_listed_run(name)
    assert page.url.split("?")[0] == ui.run_url(run_id)
    ui.wait_for_state("Completed")
    assert called == []  # not one call to 4200, nor to the session's server
