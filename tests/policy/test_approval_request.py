"""What a paused run shows reviewers beside the Resume form."""

from __future__ import annotations

from releasegate.approval import ApprovalRequest

DIGEST = "sha256:" + "ab" * 32


def request(signed: bool) -> ApprovalRequest:
    return ApprovalRequest(
        flow_run_id="0d6a3c7e-0000-4000-8000-000000000001",
        pause_key="approval-production-0",
        environment="production",
        app="webapp",
        version="v2",
        digest=DIGEST,
        actor="dave",
        signed=signed,
        missing={"release-managers": 1},
        approved_by=["alice"],
        smoke=["PASS http://127.0.0.1:18080/version: status 200"],
        eligible=["bob", "carol"],
    )


def test_description_shows_what_is_approved_and_who_triggered_it() -> None:
    text = request(signed=False).describe()
    for fact in (
        "production",
        "v2",
        DIGEST,
        "dave",
        "1 more from release-managers",
        "alice",
        "PASS http://127.0.0.1:18080/version",
    ):
        assert fact in text
    assert "ssh-keygen" not in text


def test_signed_description_shows_each_reviewers_exact_message_and_command() -> None:
    asked = request(signed=True)
    text = asked.describe()
    for reviewer in ("bob", "carol"):
        message = asked.payload(reviewer, "approve").message().decode().rstrip("\n")
        assert message in text
        assert f"reviewer: {reviewer}" in text
    assert text.count("ssh-keygen -Y sign -n releasegate") == 2
    assert "releasegate approve 0d6a3c7e-0000-4000-8000-000000000001 --as YOUR_NAME --key" in text
