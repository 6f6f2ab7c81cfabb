"""The receiver does not start without a secret that can verify anything (exit 2, one line,
before any Prefect server is contacted), and never shows the value it refused."""

from __future__ import annotations

import pytest

from tests.support import console


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("", "error: RELEASEGATE_WEBHOOK_SECRET is not set: the receiver cannot verify deliveries"),
        ("hunter2-x", "error: RELEASEGATE_WEBHOOK_SECRET is 9 characters long: use at least 16"),
    ],
)
def test_no_secret_no_receiver(secret: str, why: str) -> None:
    done = console.run(
        "webhook", "serve", "--port", "9", timeout=60, RELEASEGATE_WEBHOOK_SECRET=secret
    )
    assert done.returncode == 2, done.stderr
    assert console.one_line(done.stderr).startswith(why)
    assert "receiving" not in done.stdout
    if secret:
        assert secret not in done.stderr + done.stdout
