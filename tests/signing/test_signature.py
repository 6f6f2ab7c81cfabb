"""SSH-signed approval decisions, against the real ssh-keygen / ssh-agent (no mocks).

The attack suite: each way of passing off a decision nobody signed is refused with its
own stable code. Keys: the committed demo keys (alice, bob) plus keys made per session
(carol: valid but not trusted).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from releasegate.processes import wait_until
from releasegate.signature import (
    NAMESPACE,
    DecisionPayload,
    RefusalCode,
    SignatureError,
    SignatureRefused,
    Verified,
    fingerprint_of,
    sign,
    sign_command,
    verify,
    verify_decision,
)

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "keys"
ALLOWED = DEMO / "allowed_signers"
DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")


@pytest.fixture(autouse=True)
def _no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own agent must not change what these tests sign with."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Private key paths. alice/bob: 0600 copies of the demo keys; carol: untrusted."""
    d = tmp_path_factory.mktemp("keys")
    out: dict[str, Path] = {}
    for name in ("alice", "bob"):
        shutil.copy(DEMO / name, d / name)
        shutil.copy(DEMO / f"{name}.pub", d / f"{name}.pub")
        (d / name).chmod(0o600)
        out[name] = d / name
    _keygen(d / "carol", comment="carol (not trusted)")
    out["carol"] = d / "carol"
    return out


def _keygen(path: Path, *, comment: str, passphrase: str = "") -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", str(path)],
        check=True,
    )


def payload(**changes: str) -> DecisionPayload:
    fields = {
        "decision": "approve",
        "reviewer": "alice",
        "flow_run_id": "0b6f9c1e-6a1f-4c3e-9d7a-2f0e5b8c1a11",
        "environment": "production",
        "app": "webapp",
        "version": "1.4.2",
        "digest": DIGEST,
        "comment": "smoke tests green",
    }
    return DecisionPayload.model_validate({**fields, **changes})


def refused(p: DecisionPayload, signature: str | None, allowed: Path = ALLOWED) -> SignatureRefused:
    with pytest.raises(SignatureRefused) as info:
        verify_decision(p, signature, allowed_signers=allowed)
    return info.value


def keygen_fingerprint(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, check=True)
    return out.stdout.decode().split()[1]


# --- happy paths ------------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_signed_decision_verifies(keys: dict[str, Path], decision: str) -> None:
    p = payload(decision=decision)
    sig = sign(p.message(), key=keys["alice"])
    assert sig.startswith("-----BEGIN SSH SIGNATURE-----\n")
    assert sig.endswith("-----END SSH SIGNATURE-----\n")
    got = verify_decision(p, sig, allowed_signers=ALLOWED)
    assert got == Verified(signer="alice", fingerprint=keygen_fingerprint(DEMO / "alice.pub"))
    assert fingerprint_of(sig) == got.fingerprint


def test_verify_takes_message_and_signer(keys: dict[str, Path]) -> None:
    p = payload(reviewer="bob")
    sig = sign(p.message(), key=keys["bob"])
    got = verify(p.message(), sig, signer="bob", allowed_signers=ALLOWED)
    assert got.signer == "bob"


def test_signature_pasted_with_crlf_and_indent_still_verifies(keys: dict[str, Path]) -> None:
    p = payload()
    sig = sign(p.message(), key=keys["alice"])
    mangled = "\r\n".join("  " + line for line in sig.splitlines()) + "\r\n\r\n"
    assert verify_decision(p, mangled, allowed_signers=ALLOWED).signer == "alice"


def test_world_readable_key_is_signed_from_private_copy(
    keys: dict[str, Path], tmp_path: Path
) -> None:
    """A checkout of the demo keys is 0644 (git keeps no 0600); signing must still work."""
    loose = tmp_path / "alice"
    shutil.copy(keys["alice"], loose)
    loose.chmod(0o644)
    p = payload()
    assert verify_decision(p, sign(p.message(), key=loose), allowed_signers=ALLOWED)
    assert (loose.stat().st_mode & 0o777) == 0o644  # we never chmod the user's file


def test_public_key_file_signs_with_private_half_beside_it(keys: dict[str, Path]) -> None:
    p = payload()
    sig = sign(p.message(), key=keys["alice"].with_name("alice.pub"))
    assert verify_decision(p, sig, allowed_signers=ALLOWED).signer == "alice"


# --- the attack suite -------------------------------------------------------------------


@pytest.mark.parametrize("signature", [None, "", "   \n"])
def test_unsigned_decision(signature: str | None) -> None:
    e = refused(payload(), signature)
    assert e.code == RefusalCode.UNSIGNED == "unsigned"
    assert str(e).startswith("unsigned: ")


def test_key_not_in_allowed_signers(keys: dict[str, Path]) -> None:
    p = payload()
    e = refused(p, sign(p.message(), key=keys["carol"]))
    assert e.code == RefusalCode.UNKNOWN_KEY
    assert keygen_fingerprint(keys["carol"].with_name("carol.pub")) in e.reason


def test_bobs_key_claiming_to_be_alice(keys: dict[str, Path]) -> None:
    p = payload(reviewer="alice")
    e = refused(p, sign(p.message(), key=keys["bob"]))
    assert e.code == RefusalCode.WRONG_SIGNER
    assert "bob" in e.reason and "not of alice" in e.reason


def test_signature_replayed_from_another_run(keys: dict[str, Path]) -> None:
    earlier = payload(flow_run_id="11111111-2222-3333-4444-555555555555")
    sig = sign(earlier.message(), key=keys["alice"])
    e = refused(payload(), sig)
    assert e.code == RefusalCode.BAD_SIGNATURE
    assert "the signed message does not match this decision" in e.reason


def test_signature_for_another_digest(keys: dict[str, Path]) -> None:
    sig = sign(payload(digest=OTHER_DIGEST).message(), key=keys["alice"])
    assert refused(payload(), sig).code == RefusalCode.BAD_SIGNATURE


def test_approve_signature_submitted_as_reject(keys: dict[str, Path]) -> None:
    sig = sign(payload(decision="approve").message(), key=keys["alice"])
    assert refused(payload(decision="reject"), sig).code == RefusalCode.BAD_SIGNATURE


def test_reject_signature_submitted_as_approve(keys: dict[str, Path]) -> None:
    sig = sign(payload(decision="reject").message(), key=keys["alice"])
    assert refused(payload(decision="approve"), sig).code == RefusalCode.BAD_SIGNATURE


def test_comment_changed_after_signing(keys: dict[str, Path]) -> None:
    sig = sign(payload(comment="LGTM").message(), key=keys["alice"])
    assert refused(payload(comment="LGTM, and skip the wait timer"), sig).code == (
        RefusalCode.BAD_SIGNATURE
    )


@pytest.mark.parametrize("field", ["environment", "app", "version"])
def test_signature_for_another_environment_app_or_version(
    keys: dict[str, Path], field: str
) -> None:
    sig = sign(payload(**{field: "other"}).message(), key=keys["alice"])
    assert refused(payload(), sig).code == RefusalCode.BAD_SIGNATURE


def test_wrong_namespace(keys: dict[str, Path], tmp_path: Path) -> None:
    """A valid signature by alice over the very same message, made for git commits."""
    p = payload()
    out = subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-n", "git", "-f", str(keys["alice"])],
        input=p.message(),
        capture_output=True,
        check=True,
    )
    e = refused(p, out.stdout.decode())
    assert e.code == RefusalCode.WRONG_NAMESPACE
    assert "'git'" in e.reason


def _armor(b64: str) -> str:
    return f"-----BEGIN SSH SIGNATURE-----\n{b64}\n-----END SSH SIGNATURE-----\n"


@pytest.mark.parametrize(
    "garbage",
    [
        "looks good to me",
        "-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEE\n-----END PGP SIGNATURE-----\n",
        _armor("not base64 at all!!"),
        _armor("aGVsbG8gd29ybGQ="),  # base64, but not an SSHSIG blob
        _armor("U1NIU0lHAAAAAQAAADM="),  # SSHSIG magic, truncated
        "-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n",
        "x" * 100_000,
    ],
    ids=["text", "pgp", "bad-base64", "not-sshsig", "truncated", "empty-armor", "huge"],
)
def test_garbage_signature(garbage: str) -> None:
    assert refused(payload(), garbage).code == RefusalCode.MALFORMED


def test_truncated_real_signature(keys: dict[str, Path]) -> None:
    p = payload()
    lines = sign(p.message(), key=keys["alice"]).splitlines()
    cut = "\n".join([*lines[:2], lines[-1]]) + "\n"
    assert refused(p, cut).code == RefusalCode.MALFORMED


def test_tampered_signature_bytes(keys: dict[str, Path]) -> None:
    """A well-formed blob naming alice's key whose signature bytes were altered."""
    p = payload()
    lines = sign(p.message(), key=keys["alice"]).splitlines()
    body = lines[-2]
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    e = refused(p, "\n".join([*lines[:-2], flipped, lines[-1]]) + "\n")
    assert e.code == RefusalCode.BAD_SIGNATURE


# --- allowed_signers ----------------------------------------------------------------------


def test_missing_allowed_signers(keys: dict[str, Path], tmp_path: Path) -> None:
    p = payload()
    sig = sign(p.message(), key=keys["alice"])
    assert refused(p, sig, tmp_path / "nope").code == RefusalCode.NO_ALLOWED_SIGNERS
    assert refused(p, sig, tmp_path).code == RefusalCode.NO_ALLOWED_SIGNERS  # a directory
    empty = tmp_path / "allowed_signers"
    empty.write_text("# nobody yet\n\n")
    e = refused(p, sig, empty)
    assert e.code == RefusalCode.NO_ALLOWED_SIGNERS and "lists no keys" in e.reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_allowed_signers(keys: dict[str, Path], tmp_path: Path) -> None:
    p = payload()
    locked = tmp_path / "allowed_signers"
    shutil.copy(ALLOWED, locked)
    locked.chmod(0)
    assert refused(p, sign(p.message(), key=keys["alice"]), locked).code == (
        RefusalCode.NO_ALLOWED_SIGNERS
    )


def _alice_line(options: str) -> str:
    pub = (DEMO / "alice.pub").read_text().split()
    return f"alice {options} {pub[0]} {pub[1]}\n"


def test_entry_restricted_to_another_namespace(keys: dict[str, Path], tmp_path: Path) -> None:
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(_alice_line('namespaces="git"'))
    p = payload()
    e = refused(p, sign(p.message(), key=keys["alice"]), allowed)
    assert e.code == RefusalCode.NOT_ALLOWED


def test_validity_window_checked_at_the_given_time(keys: dict[str, Path], tmp_path: Path) -> None:
    """`at` lets `audit verify` accept an approval signed while a since-retired key was valid."""
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(_alice_line('valid-after="20260101",valid-before="20260601"'))
    p = payload()
    sig = sign(p.message(), key=keys["alice"])
    in_window = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert verify_decision(p, sig, allowed_signers=allowed, at=in_window).signer == "alice"
    e = refused(p, sig, allowed)  # now: 2026-11-27 > valid-before
    assert e.code == RefusalCode.NOT_ALLOWED and "valid" in e.reason
    with pytest.raises(SignatureRefused) as info:
        verify_decision(p, sig, allowed_signers=allowed, at=datetime(2025, 1, 1, tzinfo=UTC))
    assert info.value.code == RefusalCode.NOT_ALLOWED


def test_expired_key_of_someone_else_is_still_wrong_signer(
    keys: dict[str, Path], tmp_path: Path
) -> None:
    bob = (DEMO / "bob.pub").read_text().split()
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(_alice_line("") + f'bob valid-before="20200101" {bob[0]} {bob[1]}\n')
    p = payload(reviewer="alice")
    e = refused(p, sign(p.message(), key=keys["bob"]), allowed)
    assert e.code == RefusalCode.WRONG_SIGNER and "bob" in e.reason


def test_naive_verify_time_is_an_error(keys: dict[str, Path]) -> None:
    p = payload()
    sig = sign(p.message(), key=keys["alice"])
    with pytest.raises(ValueError, match="timezone"):
        verify_decision(p, sig, allowed_signers=ALLOWED, at=datetime(2026, 1, 1))


def test_example_allowed_signers_trusts_nobody(keys: dict[str, Path]) -> None:
    """The placeholders in deployments/allowed_signers.example are invalid on purpose."""
    p = payload()
    example = REPO / "deployments" / "allowed_signers.example"
    assert refused(p, sign(p.message(), key=keys["alice"]), example).code == (
        RefusalCode.UNKNOWN_KEY
    )


def test_demo_keys_are_marked_and_trusted_nowhere_else() -> None:
    demo_keys = {(DEMO / f"{n}.pub").read_text().split()[1] for n in ("alice", "bob")}
    for name in ("alice", "bob"):
        assert (DEMO / f"{name}.pub").read_text().split(maxsplit=2)[2].strip() == (
            f"DEMO ONLY - {name}"
        )
    assert "DEMO ONLY" in (DEMO / "README.md").read_text()
    for path in (REPO / "deployments").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not any(k in text for k in demo_keys), f"{path} trusts a demo key"


# --- signing errors -----------------------------------------------------------------------


def test_sign_with_missing_key(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="not found"):
        sign(b"x", key=tmp_path / "nope")


def test_sign_with_wrong_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "locked"
    _keygen(key, comment="locked", passphrase="correct horse")
    askpass = tmp_path / "askpass"
    askpass.write_text("#!/bin/sh\necho wrong\n")
    askpass.chmod(0o700)
    monkeypatch.setenv("SSH_ASKPASS", str(askpass))
    monkeypatch.setenv("SSH_ASKPASS_REQUIRE", "force")
    with pytest.raises(SignatureError, match="passphrase"):
        sign(b"x", key=key)


def test_sign_without_agent_or_key() -> None:
    with pytest.raises(SignatureError, match="SSH_AUTH_SOCK"):
        sign(b"x")


# --- ssh-agent ----------------------------------------------------------------------------


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private ssh-agent on a temp socket, stopped by its PID afterwards."""
    if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
        pytest.skip("ssh-agent/ssh-add not installed")
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # openssh-client is installed by the project: an agent that does not start fails.
        wait_until(
            lambda: sock.exists() or proc.poll() is not None, timeout=10, what="ssh-agent socket"
        )
        assert sock.exists(), "ssh-agent exited without opening its socket"
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        yield str(sock)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _ssh_add(key: Path) -> None:
    subprocess.run(["ssh-add", "-q", str(key)], check=True, capture_output=True)


def test_sign_with_agent(agent: str, keys: dict[str, Path]) -> None:
    _ssh_add(keys["alice"])
    p = payload()
    sig = sign(p.message())
    assert verify_decision(p, sig, allowed_signers=ALLOWED).signer == "alice"


def test_sign_with_agent_chosen_by_public_key(
    agent: str, keys: dict[str, Path], tmp_path: Path
) -> None:
    """Several keys in the agent: a lone .pub file (no private key beside it) picks one."""
    _ssh_add(keys["alice"])
    _ssh_add(keys["bob"])
    p = payload(reviewer="bob")
    with pytest.raises(SignatureError, match="holds 2 keys"):
        sign(p.message())
    lone = tmp_path / "bob.pub"
    shutil.copy(keys["bob"].with_name("bob.pub"), lone)
    assert verify_decision(p, sign(p.message(), key=lone), allowed_signers=ALLOWED)


def test_sign_with_empty_agent(agent: str) -> None:
    with pytest.raises(SignatureError, match="no keys"):
        sign(b"x")


# --- the canonical message ----------------------------------------------------------------


def test_message_format_is_pinned() -> None:
    """Changing these bytes voids every stored signature: bump the header instead."""
    assert payload().message() == (
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
    assert payload(comment="").message().endswith(b"\ncomment:\n")


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
    )
    assert a.message() == b.message()


@pytest.mark.parametrize("field", ["reviewer", "flow_run_id", "environment", "app", "version"])
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
    assert len(lines) == 10 and lines[-1] == ""  # header + 8 fields + final newline
    assert [ln.split(":")[0] for ln in lines[1:-1]] == [
        "decision",
        "reviewer",
        "flow-run-id",
        "environment",
        "app",
        "version",
        "digest",
        "comment",
    ]
    assert lines[8] == "comment: fine\\ndigest: sha256:" + "cd" * 32 + "\\rdecision: approve"


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


# --- the command shown in the pause description --------------------------------------------


def test_sign_command_produces_a_valid_signature(keys: dict[str, Path]) -> None:
    """Run the shown command in a real shell: it must sign exactly `message()`."""
    p = payload(comment="it's 100% fine; $HOME `id` \\n\nsecond line ✓ \u202e")
    cmd = sign_command(p, str(keys["alice"]))
    assert "\n" not in cmd and f"-n {NAMESPACE}" in cmd
    out = subprocess.run(["sh", "-c", cmd], capture_output=True, check=True)
    assert verify_decision(p, out.stdout.decode(), allowed_signers=ALLOWED).signer == "alice"


def test_sign_command_keeps_tilde_and_quotes_the_rest() -> None:
    assert sign_command(payload(), "~/.ssh/id_ed25519").endswith(
        "ssh-keygen -Y sign -n releasegate -f ~/.ssh/id_ed25519"
    )
    assert sign_command(payload(), "/keys/my key").endswith("-f '/keys/my key'")
