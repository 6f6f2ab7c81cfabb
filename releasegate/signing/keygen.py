"""Signing and verifying with ssh-keygen (`-Y sign/verify`, as git does), and ssh-agent.

A `Verifier` that runs ssh-keygen with an argument list (never a shell) in the C locale,
one process per check: the reference the in-process verifier (`inprocess`) is tested
against, and its fallback for what it does not check itself (security keys, certificates,
DSA). Signatures are parsed first (`sshsig`), so garbage never reaches it.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from releasegate.signing import sshsig
from releasegate.signing.allowed_signers import AllowedSigners
from releasegate.signing.payload import NAMESPACE
from releasegate.signing.verifier import (
    RefusalCode,
    SignatureError,
    SignatureRefused,
    Verified,
    Verifier,
    identity_refusal,
)

log = logging.getLogger(__name__)

SIGN_TIMEOUT = 120.0
"""Seconds ssh-keygen may take to sign: long enough to type a passphrase or touch a key."""
CHECK_TIMEOUT = 30.0


def sign(
    message: bytes,
    *,
    key: Path | None = None,
    namespace: str = NAMESPACE,
    timeout: float = SIGN_TIMEOUT,
) -> str:
    """Sign `message` in `namespace` (approvals: `releasegate`); return the armored signature.

    `key` is a private key file, or a `.pub` file whose private half is in ssh-agent (or
    next to it). With `key=None` the key comes from ssh-agent (`SSH_AUTH_SOCK`), which must
    hold exactly one key. A private key readable by others (a checkout of the demo keys:
    git does not keep 0600) is signed with from a 0600 copy in a private temp directory.
    A passphrase is asked on the terminal by ssh-keygen itself (or `SSH_ASKPASS`).
    """
    with tempfile.TemporaryDirectory(prefix="releasegate-sign-") as tmp:
        if key is None:
            pub = Path(tmp) / "agent-key.pub"
            pub.write_text(_agent_key() + "\n")
            # -U: the private key is in the agent; never fall back to a file.
            args = ["-Y", "sign", "-U", "-n", namespace, "-f", str(pub)]
        else:
            args = ["-Y", "sign", "-n", namespace, "-f", str(_usable_key(key, Path(tmp)))]
        result = _ssh_keygen(args, stdin=message, timeout=timeout)
    if result.returncode != 0:
        what = "the ssh-agent key" if key is None else str(key)
        raise SignatureError(f"ssh-keygen could not sign with {what}: {_stderr(result)}")
    text = result.stdout.decode("ascii", errors="replace").strip() + "\n"
    try:
        sshsig.parse(text)
    except SignatureRefused as e:  # pragma: no cover - ssh-keygen printed something odd
        raise SignatureError(f"ssh-keygen printed no usable signature: {e.reason}") from e
    return text


def _usable_key(key: Path, tmp: Path) -> Path:
    """`key`, or a 0600 copy of it when ssh-keygen would refuse its permissions."""
    try:
        mode = key.stat().st_mode
        head = key.read_bytes()[:64]
    except FileNotFoundError:
        raise SignatureError(f"key file not found: {key}") from None
    except OSError as e:
        raise SignatureError(f"cannot read key file {key}: {e.strerror}") from None
    is_private = head.lstrip().startswith(b"-----BEGIN")
    if not is_private or not stat.S_IMODE(mode) & 0o077:
        return key
    log.warning(
        "private key %s is readable by others (mode %o); signing with a private copy",
        key,
        stat.S_IMODE(mode),
    )
    copy = tmp / "key"
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.read_bytes())
    pub = key.with_name(key.name + ".pub")
    if pub.is_file():
        shutil.copyfile(pub, tmp / "key.pub")
    return copy


def _agent_key() -> str:
    """The one public key ssh-agent holds, as an OpenSSH public key line."""
    if not os.environ.get("SSH_AUTH_SOCK"):
        raise SignatureError(
            "no ssh-agent: SSH_AUTH_SOCK is not set; run `eval $(ssh-agent)` and "
            "`ssh-add KEY`, or give the key file"
        )
    try:
        result = subprocess.run(
            ["ssh-add", "-L"], capture_output=True, timeout=CHECK_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise SignatureError("ssh-add not found on PATH (OpenSSH client tools)") from None
    except subprocess.TimeoutExpired:
        raise SignatureError("ssh-agent did not answer") from None
    if result.returncode == 1:
        raise SignatureError("ssh-agent holds no keys; `ssh-add KEY` first, or give the key")
    if result.returncode != 0:
        raise SignatureError(f"cannot talk to ssh-agent: {_stderr(result)}")
    keys = [ln for ln in result.stdout.decode("utf-8", "replace").splitlines() if ln.strip()]
    if len(keys) != 1:
        listed = ", ".join(sshsig.line_fingerprint(k) for k in keys)
        raise SignatureError(
            f"ssh-agent holds {len(keys)} keys ({listed}); choose one by giving its "
            "public key file (KEY.pub is enough when the private key is in the agent)"
        )
    return keys[0]


class KeygenVerifier(Verifier):
    """A Verifier: ssh-keygen against one allowed_signers file."""

    def __init__(self, allowed_signers: Path) -> None:
        self.allowed_signers = allowed_signers

    def verify(
        self,
        message: bytes,
        signature: str | None,
        *,
        signer: str,
        namespace: str,
        at: datetime | None = None,
    ) -> Verified:
        """Prove that `signer`'s key (per `allowed_signers`) signed `message` in `namespace`
        (approvals: `releasegate`; requests to deploy or roll back: `releasegate-trigger`).

        `at` checks the allowed_signers validity windows (`valid-after`/`valid-before`) at
        that time instead of now: pass the approval's time when re-verifying old records.
        Raises `SignatureRefused` with the first reason that applies, in this order:
        unsigned, malformed, no-allowed-signers, wrong-namespace, bad-signature, then who
        signed (unknown-key, wrong-signer, not-allowed). Identity is judged only for a
        signature that is cryptographically valid for this message, so a forged blob that
        merely names bob's key is `bad-signature`, never "signed by bob".
        Raises `SignatureError` if ssh-keygen cannot be run at all.
        """
        allowed_signers = self.allowed_signers
        parsed = sshsig.parse(signature)
        AllowedSigners.trusted(allowed_signers)
        sshsig.check_addressed(parsed, signer, namespace)
        time_opt = [] if at is None else ["-O", f"verify-time={_verify_time(at)}"]
        fingerprint = sshsig.fingerprint(parsed.public_key)
        with tempfile.TemporaryDirectory(prefix="releasegate-verify-") as tmp:
            sig_file = Path(tmp) / "decision.sig"
            sig_file.write_text(sshsig.armor(parsed.blob))
            check = _ssh_keygen(
                ["-Y", "check-novalidate", "-n", namespace, "-s", str(sig_file)], stdin=message
            )
            if check.returncode != 0:
                raise SignatureRefused(
                    RefusalCode.BAD_SIGNATURE,
                    "the signed message does not match this one (signed for another run, "
                    "approval round, issue time, digest, decision, comment, version or "
                    "request, or altered)",
                )
            good = _ssh_keygen(
                [
                    "-Y",
                    "verify",
                    "-f",
                    str(allowed_signers),
                    "-I",
                    signer,
                    "-n",
                    namespace,
                    *time_opt,
                    "-s",
                    str(sig_file),
                ],
                stdin=message,
            )
            if good.returncode == 0:
                return Verified(signer=signer, fingerprint=fingerprint)
            found = _ssh_keygen(
                [
                    "-Y",
                    "find-principals",
                    "-f",
                    str(allowed_signers),
                    "-s",
                    str(sig_file),
                    *time_opt,
                ],
                stdin=None,
            )
        owners = found.stdout.decode("utf-8", "replace").split() if found.returncode == 0 else []
        # find-principals skips entries outside their validity window; look for those too,
        # so an expired key is reported as such and not as a stranger's.
        out_of_window = not owners
        if out_of_window:
            owners = _listed_principals(allowed_signers, parsed.public_key)
        when = "now" if at is None else at.isoformat()
        raise identity_refusal(
            [n for o in owners for n in o.split(",")],
            signer,
            fingerprint,
            allowed_signers,
            f"is not valid {when} (valid-after/valid-before)"
            if out_of_window
            else f"refuses this signature: {_stderr(good)}",
        )


def _listed_principals(path: Path, public_key: bytes) -> list[str]:
    """Principals of entries naming this exact key, whatever their options say."""
    wanted = base64.b64encode(public_key).decode("ascii")
    names: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        tokens = line.split()
        if tokens and not tokens[0].startswith("#") and wanted in tokens[1:]:
            names.append(tokens[0])
    return names


def _verify_time(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("`at` must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def _ssh_keygen(
    args: Sequence[str],
    *,
    stdin: bytes | None,
    timeout: float = CHECK_TIMEOUT,
) -> subprocess.CompletedProcess[bytes]:
    """Run ssh-keygen with an argument list (never a shell), in the C locale."""
    env = {**os.environ, "LC_ALL": "C"}
    try:
        return subprocess.run(
            ["ssh-keygen", *args],
            input=stdin if stdin is not None else b"",
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except FileNotFoundError:
        raise SignatureError("ssh-keygen not found on PATH (OpenSSH >= 8.2 needed)") from None
    except subprocess.TimeoutExpired:
        raise SignatureError(f"ssh-keygen did not finish within {timeout:.0f} s") from None


def _stderr(result: subprocess.CompletedProcess[bytes]) -> str:
    """ssh-keygen's complaint, one line, bounded (it never contains key material)."""
    lines = [
        ln.strip()
        for ln in result.stderr.decode("utf-8", "replace").splitlines()
        if ln.strip()
        and not ln.startswith("@@@")
        and ln.strip() != "Signing data on standard input"
    ]
    return ("; ".join(lines) or f"exit status {result.returncode}")[:500]
