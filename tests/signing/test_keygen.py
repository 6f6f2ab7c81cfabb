"""SSH-signed approval decisions, against the real ssh-keygen / ssh-agent (no mocks).

The attack suite: each way of passing off a decision nobody signed is refused with its
own stable code. Keys: the committed demo keys (alice, bob) plus keys made per session
(carol: valid but not trusted).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from releasegate.processes import wait_until
from releasegate.signing.keygen import KeygenVerifier, sign
from releasegate.signing.payload import COMMENT_LINE, ISSUED_AT_LINE, NAMESPACE, sign_recipe
from releasegate.signing.sshsig import fingerprint_of
from releasegate.signing.verifier import RefusalCode, SignatureError, SignatureRefused, Verified
from tests.signing.conftest import (
    ALLOWED,
    DEMO,
    OTHER_DIGEST,
    REPO,
    keygen_fingerprint,
    make_key,
    payload,
    refused,
)


def test_the_openssh_tools_are_installed() -> None:
    """The test command installs openssh-client (scripts/system-deps): every test here
    needs it, and fails, never skips, without it."""
    missing = [t for t in ("ssh-keygen", "ssh-agent", "ssh-add") if shutil.which(t) is None]
    assert not missing, f"{missing} missing: `make test` installs openssh-client"


# --- happy paths ------------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_signed_decision_verifies(keys: dict[str, Path], decision: str) -> None:
    p = payload(decision=decision)
    sig = sign(p.message(), key=keys["alice"])
    assert sig.startswith("-----BEGIN SSH SIGNATURE-----\n")
    assert sig.endswith("-----END SSH SIGNATURE-----\n")
    got = KeygenVerifier(ALLOWED).verify_decision(p, sig)
    assert got == Verified(signer="alice", fingerprint=keygen_fingerprint(DEMO / "alice.pub"))
    assert fingerprint_of(sig) == got.fingerprint


def test_verify_takes_message_and_signer(keys: dict[str, Path]) -> None:
    p = payload(reviewer="bob")
    sig = sign(p.message(), key=keys["bob"])
    got = KeygenVerifier(ALLOWED).verify(p.message(), sig, signer="bob", namespace=NAMESPACE)
    assert got.signer == "bob"


def test_signature_pasted_with_crlf_and_indent_still_verifies(keys: dict[str, Path]) -> None:
    p = payload()
    sig = sign(p.message(), key=keys["alice"])
    mangled = "\r\n".join("  " + line for line in sig.splitlines()) + "\r\n\r\n"
    assert KeygenVerifier(ALLOWED).verify_decision(p, mangled).signer == "alice"


def test_world_readable_key_is_signed_from_private_copy(
    keys: dict[str, Path], tmp_path: Path
) -> None:
    """A checkout of the demo keys is 0644 (git keeps no 0600); signing must still work."""
    loose = tmp_path / "alice"
    shutil.copy(keys["alice"], loose)
    loose.chmod(0o644)
    p = payload()
    assert KeygenVerifier(ALLOWED).verify_decision(p, sign(p.message(), key=loose))
    assert (loose.stat().st_mode & 0o777) == 0o644  # we never chmod the user's file


def test_public_key_file_signs_with_private_half_beside_it(keys: dict[str, Path]) -> None:
    p = payload()
    sig = sign(p.message(), key=keys["alice"].with_name("alice.pub"))
    assert KeygenVerifier(ALLOWED).verify_decision(p, sig).signer == "alice"


def test_the_verifier_interface_checks_against_its_allowed_signers(keys: dict[str, Path]) -> None:
    p = payload()
    sig = sign(p.message(), key=keys["alice"])
    assert KeygenVerifier(ALLOWED).verify_decision(p, sig).signer == "alice"
    with pytest.raises(SignatureRefused) as info:
        KeygenVerifier(REPO / "deployments" / "allowed_signers.example").verify_decision(p, sig)
    assert info.value.code == RefusalCode.UNKNOWN_KEY


# --- the attack suite -------------------------------------------------------------------


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
    assert "the signed message does not match this one" in e.reason


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


@pytest.mark.parametrize("signature", [None, "looks good to me"])
def test_no_signature_or_garbage_is_refused_before_ssh_keygen(signature: str | None) -> None:
    code = refused(payload(), signature).code
    assert code in (RefusalCode.UNSIGNED, RefusalCode.MALFORMED)


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


# Both verifiers, asked about a file given as argv[1], with the signature on stdin.
_REFUSED_AS_ANOTHER_USER = """
import sys
from pathlib import Path
from tests.signing.conftest import payload, refused
print(refused(payload(), sys.stdin.read(), Path(sys.argv[1])).code)
"""


def test_unreadable_allowed_signers(keys: dict[str, Path]) -> None:
    """Root reads any file, so under root the verifiers run as `nobody` (setpriv), in a
    folder nobody may enter but not list, on a file nobody may read."""
    p = payload()
    signature = sign(p.message(), key=keys["alice"])
    as_nobody = []
    if os.geteuid() == 0:
        as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
    with tempfile.TemporaryDirectory() as folder:  # tmp_path's parents are root's alone
        Path(folder).chmod(0o711)
        locked = Path(folder) / "allowed_signers"
        shutil.copy(ALLOWED, locked)
        locked.chmod(0)
        verdict = subprocess.run(
            [*as_nobody, sys.executable, "-c", _REFUSED_AS_ANOTHER_USER, str(locked)],
            input=signature, capture_output=True, text=True, cwd=REPO, timeout=60,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "HOME": folder},
        )  # fmt: skip
    assert verdict.returncode == 0, verdict.stderr
    assert verdict.stdout.strip() == RefusalCode.NO_ALLOWED_SIGNERS


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
    assert KeygenVerifier(allowed).verify_decision(p, sig, at=in_window).signer == "alice"
    e = refused(p, sig, allowed)  # now: 2026-11-27 > valid-before
    assert e.code == RefusalCode.NOT_ALLOWED and "valid" in e.reason
    with pytest.raises(SignatureRefused) as info:
        KeygenVerifier(allowed).verify_decision(p, sig, at=datetime(2025, 1, 1, tzinfo=UTC))
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
        KeygenVerifier(ALLOWED).verify_decision(p, sig, at=datetime(2026, 1, 1))


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
    make_key(key, comment="locked", passphrase="correct horse")
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
    assert KeygenVerifier(ALLOWED).verify_decision(p, sig).signer == "alice"


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
    assert KeygenVerifier(ALLOWED).verify_decision(p, sign(p.message(), key=lone))


def test_sign_with_empty_agent(agent: str) -> None:
    with pytest.raises(SignatureError, match="no keys"):
        sign(b"x")


# --- the recipe shown in the Resume form's description ------------------------------------


def followed(
    recipe: str,
    reviewer: str,
    key: Path,
    comment: str,
    decision: str = "approve",
    not_before: str = "",
) -> str:
    """The recipe as a person follows it: their name, decision and key in the variables
    (and a deferral's time, if any), their comment on the heredoc's empty line. Returns
    the script."""
    lines = recipe.split("\n")
    at = lines.index(COMMENT_LINE)
    assert lines[at + 1] == ""  # no comment: the recipe works as shown
    lines[at + 1] = comment
    edits = {"REVIEWER=": reviewer, "DECISION=": decision, "KEY=": str(key)}
    if not_before:
        edits["WHEN="] = not_before
    return "\n".join(
        next((f"{k}{v}" for k, v in edits.items() if line.startswith(k)), line) for line in lines
    )


@pytest.mark.parametrize(
    "comment",
    ["", "checked staging", 'it\'s 100% "fine"; $HOME `id` \\n \\\\ ✓ END', "  indented"],
)
@pytest.mark.parametrize("shell", ["sh", "bash"])
@pytest.mark.parametrize("not_before", ["", "2026-11-27T21:00:00Z"])
def test_the_recipe_signs_exactly_the_decision_with_or_without_a_comment(
    keys: dict[str, Path], comment: str, shell: str, not_before: str
) -> None:
    """One recipe for every reviewer, decision and comment (any the comment rule allows
    but trailing spaces), deferred or not: run in a real shell, it prints the time it
    signed at (for the form's Issued At), then a signature over exactly `message()` with
    that time (and the `not-before:` line only when WHEN is set)."""
    shown = sign_recipe(payload(reviewer="carol", comment="ignored: the recipe takes its own"))
    for reviewer, decision in (("alice", "approve"), ("bob", "reject")):
        script = followed(shown, reviewer, keys[reviewer], comment, decision, not_before)
        before = datetime.now(UTC).replace(microsecond=0)
        out = subprocess.run([shell, "-c", script], capture_output=True, check=True)
        stamp, signature = out.stdout.decode().split("\n", 1)
        assert stamp.startswith(ISSUED_AT_LINE)
        issued_at = datetime.fromisoformat(stamp.removeprefix(ISSUED_AT_LINE))
        assert before <= issued_at <= datetime.now(UTC)  # the time it ran, not the template's
        deferral = {"not_before": not_before} if not_before else {}
        wanted = payload(reviewer=reviewer, decision=decision, comment=comment, **deferral)
        signed = wanted.model_copy(update={"issued_at": issued_at})
        assert KeygenVerifier(ALLOWED).verify_decision(signed, signature).signer == reviewer
        with pytest.raises(SignatureRefused):  # the template's own time is not what was signed
            KeygenVerifier(ALLOWED).verify_decision(wanted, signature)
