"""The Prefect links the CLI and the demo print (`serve`, `setup`, `status`, the demo's
approval link) never show the credentials a Prefect address may carry."""

from __future__ import annotations

import pytest

from releasegate import prefect_server

RUN = "0b9c6b8e-3f6a-4d0e-9a57-2f0f7d1b6c11"


@pytest.mark.parametrize(
    ("variables", "shown"),
    [
        (
            {"PREFECT_API_URL": "https://ops:s3cret-pw@prefect.example/api"},
            "https://***@prefect.example",
        ),
        (
            {
                "PREFECT_API_URL": "https://prefect.example/api",
                "PREFECT_UI_URL": "https://ops:s3cret-pw@prefect.example",
            },
            "https://***@prefect.example",
        ),
        ({"PREFECT_API_URL": "http://127.0.0.1:4300/api"}, "http://127.0.0.1:4300"),
    ],
)
def test_prefect_links_never_show_credentials(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], shown: str
) -> None:
    monkeypatch.delenv("PREFECT_UI_URL", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert prefect_server.ui_url() == shown
    assert prefect_server.run_url(RUN) == f"{shown}/v2/runs/flow-run/{RUN}"
    assert "s3cret" not in prefect_server.run_url(RUN)
