"""The canonical message a reviewer signs: pinned bytes, no injection, visible escaping.

Pure: no ssh-keygen needed.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from releasegate.signing.payload import DecisionPayload, DecisionPayloadV1, sign_recipe
from tests.signing.conftest import payload


def test_message_format_is_pinned() -> None:
    """Changing these bytes voids every stored signature: bump the header instead."""
    assert payload().message() == (
        b"releasegate-approval-v2\n"
        b"decision: approve\n"
        b"reviewer: alice\n"
        b"flow-run-id: 0b6f9c1e-6a1f-4c3e-9d7a-2f0e5b8c1a11\n"
        b"pause-key: approval-production-0-120102123456\n"
        b"environment: production\n"
        b"app: webapp\n"
        b"version: 1.4.2\n"
        b"digest: sha256:" + b"ab" * 32 + b"\n"
        b"issued-at: 2026-11-27T12:01:02Z\n"
        b"comment: smoke tests green\n"
    )
    assert payload(comment="").message().endswith(b"\ncomment:\n")


def test_version_1_stays_as_it_was_signed() -> None:
    """Decisions recorded before version 2 re-verify against these bytes (audit verify)."""
    old = DecisionPayloadV1.model_validate(payload().model_dump(exclude={"pause_key", "issued_at"}))
    assert old.message() == (
        b"releasegate-approval-v1\n"
        b"decision: approve\n"
        b"reviewer: alice\n"
        b"flow-run-id: 0b6f9c1e-6a1f-4c3e-9d7a-2f0e5b8c1a11\n"
        b"environment: production\n"
        b"app: webapp\n"
        b"version: 1.4.2\n"
        b"digest: sha256:" + b"ab" * 32 + b"\n"
        b"comment: smoke tests green\n"
    )


def test_the_issue_time_is_signed_in_utc_whole_seconds() -> None:
    local = payload(issued_at="2026-11-27T13:01:02.999+01:00")
    assert local.issued_at == payload().issued_at
    assert b"\nissued-at: 2026-11-27T12:01:02Z\n" in local.message()
    for naive_or_bad in ("2026-11-27T12:01:02", "yesterday", ""):
        with pytest.raises(ValidationError):
            payload(issued_at=naive_or_bad)


def test_field_order_does_not_depend_on_construction() -> None:
    a = payload()
    b = DecisionPayload(
        comment=a.comment,
        digest=a.digest,
        version=a.version,
        app=a.app,
        environment=a.environment,
        flow_run_id=a.flow_run_id,
        reviewer=a.reviewer,
        decision=a.decision,
        issued_at=a.issued_at,
        pause_key=a.pause_key,
    )
    assert a.message() == b.message()


@pytest.mark.parametrize(
    "field", ["reviewer", "flow_run_id", "pause_key", "environment", "app", "version"]
)
@pytest.mark.parametrize(
    "evil", ["x\ndigest: sha256:" + "cd" * 32, "x\r", "x y", "", "x\u2028y", "-x"]
)
def test_identifier_fields_reject_injection(field: str, evil: str) -> None:
    with pytest.raises(ValidationError):
        payload(**{field: evil})


@pytest.mark.parametrize("bad", ["alice,bob", "*", "al?ce", "!bob", '"alice"'])
def test_reviewer_is_a_plain_principal(bad: str) -> None:
    with pytest.raises(ValidationError):
        payload(reviewer=bad)


def test_bad_digest_and_decision_rejected() -> None:
    for changes in ({"digest": "sha256:abc"}, {"digest": "md5:" + "a" * 32}, {"decision": "ok"}):
        with pytest.raises(ValidationError):
            payload(**changes)
    with pytest.raises(ValidationError):
        DecisionPayload.model_validate({**payload().model_dump(), "extra": "x"})


def test_comment_cannot_smuggle_a_field() -> None:
    evil = "fine\ndigest: sha256:" + "cd" * 32 + "\rdecision: approve"
    lines = payload(comment=evil).message().decode().split("\n")
    assert len(lines) == 12 and lines[-1] == ""  # header + 10 fields + final newline
    assert [ln.split(":")[0] for ln in lines[1:-1]] == [
        "decision",
        "reviewer",
        "flow-run-id",
        "pause-key",
        "environment",
        "app",
        "version",
        "digest",
        "issued-at",
        "comment",
    ]
    assert lines[10] == "comment: fine\\ndigest: sha256:" + "cd" * 32 + "\\rdecision: approve"


def test_comment_escaping_is_visible_and_injective() -> None:
    def rendered(comment: str) -> str:
        return payload(comment=comment).lines()[-1]

    assert rendered("a\tb\\c") == "comment: a\\tb\\\\c"
    assert rendered("rtl \u202eevil\u2066") == "comment: rtl \\u202eevil\\u2066"
    assert rendered("nel\x85 ls\u2028 bell\x07 del\x7f") == (
        "comment: nel\\x85 ls\\u2028 bell\\x07 del\\x7f"
    )
    assert rendered("ok  ") == "comment: ok\\x20\\x20"
    assert rendered("héllo ✓ 日本") == "comment: héllo ✓ 日本"
    distinct = ["a\nb", "a\\nb", "a\\\nb", "ok", "ok ", "ok\\x20", "", " ", "\\x20"]
    assert len({payload(comment=c).message() for c in distinct}) == len(distinct)


def test_the_recipe_keeps_tilde_and_quotes_the_rest() -> None:
    assert "KEY=~/.ssh/id_ed25519\n" in sign_recipe(payload())
    assert "KEY='/keys/my key'\n" in sign_recipe(payload(), "/keys/my key")
    assert sign_recipe(payload()).endswith('ssh-keygen -Y sign -n releasegate -f "$KEY"')


def test_the_recipe_signs_the_pause_and_the_time_it_runs_not_the_templates() -> None:
    recipe = sign_recipe(payload())
    assert "2026-11-27T12:01:02Z" not in recipe
    assert '\nAT=$(date -u +%Y-%m-%dT%H:%M:%SZ); echo "issued_at: $AT"\n' in recipe
    assert '"issued-at: $AT"' in recipe and "'pause-key: approval-production-0-" in recipe
    assert "releasegate-approval-v2" in recipe
