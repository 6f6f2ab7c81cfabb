"""SSH signatures over approval decisions (`ssh-keygen -Y sign/verify`, as git uses).

A reviewer signs the canonical text of one `DecisionPayload` with their SSH key, in the
namespace `releasegate`; we verify it against an OpenSSH `allowed_signers` file that maps
reviewer names to keys. Every refusal carries a stable code (`RefusalCode`) and words for
people, so the approval policy and the audit trail can say exactly why a decision was void.

Canonical message, version 1 (UTF-8, `\\n` line ends, a final `\\n`, nothing else)::

    releasegate-approval-v1
    decision: approve
    reviewer: alice
    flow-run-id: 0b6f9c1e-...
    environment: production
    app: webapp
    version: 1.4.2
    digest: sha256:<64 hex>
    comment: looks good\\nship it

- Fields appear exactly once, in this order, as `key: value`. An empty comment is the
  line `comment:` (no trailing space).
- Every field but the comment is restricted to a small ASCII alphabet (see the patterns
  below), so no field can contain a newline, a separator or invisible characters.
- The comment is free text, escaped so that it stays on one line and shows what it holds:
  `\\` -> `\\\\`, newline/CR/tab -> `\\n`/`\\r`/`\\t`, other C0/C1 controls and DEL ->
  `\\xHH`, and line/paragraph separators, bidi controls, BOM and lone surrogates ->
  `\\uHHHH`; trailing spaces -> `\\x20` (editors strip them). The escaped set is a fixed
  list, not a Unicode category, so the message never changes with the Python version:
  a stored signature must re-verify years later (`releasegate audit verify`).
- Changing this format invalidates every stored signature: add `-v2` instead.

The message binds decision, reviewer, run, environment, app, version and digest, so a
signature replayed from another run, for another digest, with the decision flipped or
the comment edited no longer matches (`bad-signature`). The namespace is bound by the
SSHSIG format itself: a signature made for git (`-n git`) is refused (`wrong-namespace`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from releasegate.errors import Failed

log = logging.getLogger(__name__)

NAMESPACE = "releasegate"
MESSAGE_HEADER = "releasegate-approval-v1"

SIGN_TIMEOUT = 120.0
"""Seconds ssh-keygen may take to sign: long enough to type a passphrase or touch a key."""
CHECK_TIMEOUT = 30.0
MAX_SIGNATURE_CHARS = 64 * 1024
"""An ed25519 signature is ~300 characters, RSA-4096 ~1.5k; anything huge is not one."""

_PRINCIPAL = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"
"""A reviewer name as it appears in allowed_signers: no spaces, commas or glob characters."""
_TOKEN = r"^[A-Za-z0-9][A-Za-z0-9._:+@/-]{0,255}$"
_DIGEST = r"^sha256:[0-9a-f]{64}$"

_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_END = "-----END SSH SIGNATURE-----"


class SignatureError(Failed):
    """Signing (or running ssh-keygen at all) failed: no key, wrong passphrase, no agent."""


class RefusalCode(StrEnum):
    """Why a signature does not prove a decision. Stable: stored in audit records."""

    UNSIGNED = "unsigned"
    """No signature at all."""
    MALFORMED = "malformed"
    """Not an armored OpenSSH signature (garbage, truncated, PGP, ...)."""
    NO_ALLOWED_SIGNERS = "no-allowed-signers"
    """The allowed_signers file is missing, unreadable or has no entries."""
    WRONG_NAMESPACE = "wrong-namespace"
    """Signed for another purpose (e.g. `-n git`), not `releasegate`."""
    BAD_SIGNATURE = "bad-signature"
    """Cryptographically invalid for this message: the signed message differs."""
    UNKNOWN_KEY = "unknown-key"
    """A valid signature by a key that no allowed_signers entry lists."""
    WRONG_SIGNER = "wrong-signer"
    """A valid signature by a key that allowed_signers lists for someone else."""
    NOT_ALLOWED = "not-allowed"
    """The signer's entry exists but does not allow this use (namespaces=, validity)."""


class SignatureRefused(Failed):
    """A signature does not prove the decision: `code` (stable) and `reason` (for people).

    Same shape as the approval policy's `Judgement(code, reason)`; hand it over as
    `proof_error=(refused.code, refused.reason)`.
    """

    def __init__(self, code: RefusalCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class DecisionPayload(BaseModel):
    """Exactly what a reviewer's signature covers. See the module docstring for the format."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: Literal["approve", "reject"]
    reviewer: str = Field(pattern=_PRINCIPAL)
    flow_run_id: str = Field(pattern=_TOKEN)
    environment: str = Field(pattern=_TOKEN)
    app: str = Field(pattern=_TOKEN)
    version: str = Field(pattern=_TOKEN)
    digest: str = Field(pattern=_DIGEST)
    comment: str = Field(default="", max_length=4000)

    def lines(self) -> list[str]:
        """The message's lines, header first, without line ends."""
        fields = [
            ("decision", self.decision),
            ("reviewer", self.reviewer),
            ("flow-run-id", self.flow_run_id),
            ("environment", self.environment),
            ("app", self.app),
            ("version", self.version),
            ("digest", self.digest),
            ("comment", _escape(self.comment)),
        ]
        return [MESSAGE_HEADER] + [f"{k}: {v}" if v else f"{k}:" for k, v in fields]

    def message(self) -> bytes:
        """The canonical bytes that get signed."""
        return ("\n".join(self.lines()) + "\n").encode("utf-8")


_NAMED_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Fixed code points (not Unicode categories: those change between Python versions).
_ESCAPED_ABOVE_FF = frozenset(
    [
        *(0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0xFEFF),
        *range(0x202A, 0x202F),  # LRE..RLO bidi embeddings/overrides
        *range(0x2066, 0x206A),  # LRI..PDI bidi isolates
        *range(0xD800, 0xE000),  # lone surrogates: not encodable as UTF-8
    ]
)


def _escape(text: str) -> str:
    """Injective, one-line, printable rendering of free text (the comment)."""
    out: list[str] = []
    for ch in text:
        cp = ord(ch)
        if ch in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[ch])
        elif cp < 0x20 or 0x7F <= cp <= 0x9F:
            out.append(f"\\x{cp:02x}")
        elif cp in _ESCAPED_ABOVE_FF:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(ch)
    escaped = "".join(out)
    stripped = escaped.rstrip(" ")
    return stripped + "\\x20" * (len(escaped) - len(stripped))


class Verified(BaseModel):
    """A signature that proved its decision: who signed, with which key."""

    model_config = ConfigDict(frozen=True)

    signer: str
    fingerprint: str
    """`SHA256:...` of the signing key, as `ssh-keygen -l` prints it."""


# --- signing -----------------------------------------------------------------------------


def sign(message: bytes, *, key: Path | None = None, timeout: float = SIGN_TIMEOUT) -> str:
    """Sign `message` in the `releasegate` namespace; return the armored signature text.

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
            args = ["-Y", "sign", "-U", "-n", NAMESPACE, "-f", str(pub)]
        else:
            args = ["-Y", "sign", "-n", NAMESPACE, "-f", str(_usable_key(key, Path(tmp)))]
        result = _ssh_keygen(args, stdin=message, timeout=timeout)
    if result.returncode != 0:
        what = "the ssh-agent key" if key is None else str(key)
        raise SignatureError(f"ssh-keygen could not sign with {what}: {_stderr(result)}")
    text = result.stdout.decode("ascii", errors="replace").strip() + "\n"
    try:
        _parse(text)
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
        listed = ", ".join(_line_fingerprint(k) for k in keys)
        raise SignatureError(
            f"ssh-agent holds {len(keys)} keys ({listed}); choose one by giving its "
            "public key file (KEY.pub is enough when the private key is in the agent)"
        )
    return keys[0]


def _line_fingerprint(pubkey_line: str) -> str:
    try:
        return _fingerprint(base64.b64decode(pubkey_line.split()[1], validate=True))
    except (IndexError, binascii.Error):
        return "?"


def sign_command(payload: DecisionPayload, key_hint: str) -> str:
    """One shell line that signs `payload` by hand, for the pause description. Never run.

    `printf '%s\\n'` prints each quoted line followed by a newline: exactly `message()`.
    The signature is printed on stdout. `key_hint` may start with `~/`.
    """
    lines = " ".join(shlex.quote(line) for line in payload.lines())
    home, rest = ("~/", key_hint[2:]) if key_hint.startswith("~/") else ("", key_hint)
    key = home + shlex.quote(rest)
    return f"printf '%s\\n' {lines} | ssh-keygen -Y sign -n {NAMESPACE} -f {key}"


# --- verifying ---------------------------------------------------------------------------


def verify_decision(
    payload: DecisionPayload,
    signature: str | None,
    *,
    allowed_signers: Path,
    at: datetime | None = None,
) -> Verified:
    """`verify` with the message and signer taken from `payload` (the usual call)."""
    return verify(
        payload.message(),
        signature,
        signer=payload.reviewer,
        allowed_signers=allowed_signers,
        at=at,
    )


def verify(
    message: bytes,
    signature: str | None,
    *,
    signer: str,
    allowed_signers: Path,
    at: datetime | None = None,
) -> Verified:
    """Prove that `signer`'s key (per `allowed_signers`) signed `message` as `releasegate`.

    `at` checks the allowed_signers validity windows (`valid-after`/`valid-before`) at
    that time instead of now: pass the approval's time when re-verifying old records.
    Raises `SignatureRefused` with the first reason that applies, in this order:
    unsigned, malformed, no-allowed-signers, wrong-namespace, bad-signature, then who
    signed (unknown-key, wrong-signer, not-allowed). Identity is judged only for a
    signature that is cryptographically valid for this message, so a forged blob that
    merely names bob's key is `bad-signature`, never "signed by bob".
    Raises `SignatureError` if ssh-keygen cannot be run at all.
    """
    parsed = _parse(signature)
    _check_allowed_signers(allowed_signers)
    if parsed.namespace != NAMESPACE:
        raise SignatureRefused(
            RefusalCode.WRONG_NAMESPACE,
            f"signed for namespace {parsed.namespace!r}, not {NAMESPACE!r} "
            f"(sign with `ssh-keygen -Y sign -n {NAMESPACE}`)",
        )
    if not _is_principal(signer):
        raise ValueError(f"not a reviewer name: {signer!r}")
    time_opt = [] if at is None else ["-O", f"verify-time={_verify_time(at)}"]
    fingerprint = _fingerprint(parsed.public_key)
    with tempfile.TemporaryDirectory(prefix="releasegate-verify-") as tmp:
        sig_file = Path(tmp) / "decision.sig"
        sig_file.write_text(_armor(parsed.blob))
        check = _ssh_keygen(
            ["-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(sig_file)], stdin=message
        )
        if check.returncode != 0:
            raise SignatureRefused(
                RefusalCode.BAD_SIGNATURE,
                "the signed message does not match this decision (signed for another run, "
                "digest, decision or comment, or altered)",
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
                NAMESPACE,
                *time_opt,
                "-s",
                str(sig_file),
            ],
            stdin=message,
        )
        if good.returncode == 0:
            return Verified(signer=signer, fingerprint=fingerprint)
        found = _ssh_keygen(
            ["-Y", "find-principals", "-f", str(allowed_signers), "-s", str(sig_file), *time_opt],
            stdin=None,
        )
    owners = found.stdout.decode("utf-8", "replace").split() if found.returncode == 0 else []
    # find-principals skips entries outside their validity window; look for those too,
    # so an expired key is reported as such and not as a stranger's.
    out_of_window = not owners
    if out_of_window:
        owners = _listed_principals(allowed_signers, parsed.public_key)
    names = [n for o in owners for n in o.split(",")]
    if not names:
        raise SignatureRefused(
            RefusalCode.UNKNOWN_KEY,
            f"signed with key {fingerprint}, which {allowed_signers} does not list",
        )
    if not any(fnmatchcase(signer, n) for n in names):
        raise SignatureRefused(
            RefusalCode.WRONG_SIGNER,
            f"signed with the key of {', '.join(names)} ({fingerprint}), not of {signer}",
        )
    when = "now" if at is None else at.isoformat()
    raise SignatureRefused(
        RefusalCode.NOT_ALLOWED,
        f"{signer}'s key {fingerprint} is listed in {allowed_signers}, but its entry "
        + (
            f"is not valid {when} (valid-after/valid-before)"
            if out_of_window
            else f"refuses this signature: {_stderr(good)}"
        ),
    )


def fingerprint_of(signature: str) -> str:
    """`SHA256:...` of the key inside `signature`, as claimed; trust it only after `verify`."""
    return _fingerprint(_parse(signature).public_key)


# --- the SSHSIG blob (PROTOCOL.sshsig) ----------------------------------------------------


class _Parsed(BaseModel):
    model_config = ConfigDict(frozen=True)

    blob: bytes
    public_key: bytes
    namespace: str


def _parse(signature: str | None) -> _Parsed:
    """Dearmor and decode an SSHSIG, or refuse it as unsigned/malformed."""
    if signature is None or not signature.strip():
        raise SignatureRefused(RefusalCode.UNSIGNED, "the decision carries no signature")
    if len(signature) > MAX_SIGNATURE_CHARS:
        raise SignatureRefused(RefusalCode.MALFORMED, "far too long to be an SSH signature")
    lines = [ln.strip() for ln in signature.strip().splitlines()]
    if lines[0] != _BEGIN or lines[-1] != _END or len(lines) < 3:
        raise SignatureRefused(
            RefusalCode.MALFORMED,
            f"not an SSH signature: expected text between {_BEGIN} and {_END}",
        )
    try:
        blob = base64.b64decode("".join(lines[1:-1]), validate=True)
        if not blob.startswith(b"SSHSIG"):
            raise ValueError("no SSHSIG magic")
        reader = _Reader(blob[6:])
        if (version := reader.uint32()) != 1:
            raise ValueError(f"unsupported SSHSIG version {version}")
        public_key = reader.string()
        namespace = reader.string().decode("utf-8")
        reader.string()  # reserved
        reader.string()  # hash algorithm: ssh-keygen checks it
        reader.string()  # the signature proper
        if reader.rest:
            raise ValueError("trailing bytes")
        if not public_key:
            raise ValueError("no public key")
    except (binascii.Error, ValueError) as e:  # UnicodeDecodeError is a ValueError
        raise SignatureRefused(RefusalCode.MALFORMED, f"not a valid SSH signature ({e})") from e
    return _Parsed(blob=blob, public_key=public_key, namespace=namespace)


class _Reader:
    """SSH wire format: uint32 big-endian and length-prefixed strings."""

    def __init__(self, data: bytes) -> None:
        self.rest = data

    def uint32(self) -> int:
        if len(self.rest) < 4:
            raise ValueError("truncated")
        value, self.rest = int.from_bytes(self.rest[:4], "big"), self.rest[4:]
        return value

    def string(self) -> bytes:
        n = self.uint32()
        if len(self.rest) < n:
            raise ValueError("truncated")
        value, self.rest = self.rest[:n], self.rest[n:]
        return value


def _armor(blob: bytes) -> str:
    """Canonical armor (70 columns, as ssh-keygen writes): what we hand to ssh-keygen."""
    b64 = base64.b64encode(blob).decode("ascii")
    body = "\n".join(b64[i : i + 70] for i in range(0, len(b64), 70))
    return f"{_BEGIN}\n{body}\n{_END}\n"


def _fingerprint(public_key: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob (what `ssh-keygen -l` prints)."""
    digest = base64.b64encode(hashlib.sha256(public_key).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")


# --- allowed_signers and ssh-keygen --------------------------------------------------------


def _check_allowed_signers(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise SignatureRefused(
            RefusalCode.NO_ALLOWED_SIGNERS,
            f"cannot read allowed_signers file {path}: {e.strerror or e}",
        ) from None
    if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise SignatureRefused(
            RefusalCode.NO_ALLOWED_SIGNERS, f"allowed_signers file {path} lists no keys"
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


def _is_principal(name: str) -> bool:
    return re.fullmatch(_PRINCIPAL, name) is not None


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
