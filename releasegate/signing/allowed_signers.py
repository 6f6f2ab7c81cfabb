"""An OpenSSH `allowed_signers` file, read as ssh-keygen 9.2 reads it (`sshsig.c`).

Each line: ``principals [options] keytype base64 [comment]``.

* `principals` is a pattern list (``*`` and ``?`` wildcards, ``!`` negation, commas);
* options: ``cert-authority``, ``namespaces="pattern-list"``, ``valid-after="TIME"``,
  ``valid-before="TIME"`` (TIME: YYYYMMDD[HHMM[SS]], UTC with a ``Z``/``UTC`` suffix, else
  the local time zone, as ssh-keygen reads it; both ends are inclusive);
* a line ssh-keygen cannot read (bad options, unknown key) is skipped, as ssh-keygen does,
  and so are lines whose key type is not checked in-process (they cannot match a key that
  is, and a signature by such a key is handed to ssh-keygen whole).
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from releasegate.signing.sshkeys import PublicKey, Unsupported, decode_key
from releasegate.signing.verifier import RefusalCode, SignatureRefused

_WHITESPACE = " \t"
_TIME = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?$")


@dataclass(frozen=True)
class Entry:
    """One readable line: whose key it is, under which conditions."""

    principals: str
    key: PublicKey
    options_ok: bool
    """False when the options do not parse: ssh-keygen then ignores the whole line."""
    cert_authority: bool = False
    namespaces: str | None = None
    valid_after: int = 0
    valid_before: int = 0

    def allows(self, namespace: str | None, when: int) -> bool:
        """Whether this entry lets its key sign in `namespace` (None: any) at `when`."""
        if not self.options_ok or self.cert_authority:
            return False  # a CA entry vouches for certificates, which ssh-keygen checks
        if (
            namespace is not None
            and self.namespaces is not None
            and match_list(namespace, self.namespaces) != 1
        ):
            return False
        if self.valid_after and when < self.valid_after:
            return False
        return not (self.valid_before and when > self.valid_before)


@dataclass(frozen=True)
class AllowedSigners:
    """The readable entries of one allowed_signers file, in file order."""

    path: Path
    entries: tuple[Entry, ...]
    lines: int
    """Non-blank, non-comment lines (readable or not): zero means the file trusts nobody."""

    @classmethod
    def load(cls, path: Path) -> AllowedSigners:
        """Read `path`. OSError if it cannot be read."""
        text = path.read_bytes().decode("latin-1")  # byte for byte, as ssh-keygen matches
        entries, lines = [], 0
        for line in text.split("\n"):
            stripped = line.rstrip("\r").lstrip(_WHITESPACE)
            if not stripped or stripped.startswith("#"):
                continue
            lines += 1
            entry = _entry(stripped)
            if entry is not None:
                entries.append(entry)
        return cls(path, tuple(entries), lines)

    @classmethod
    def trusted(cls, path: Path) -> AllowedSigners:
        """`load`, refusing (no-allowed-signers) a file that cannot be read or trusts nobody:
        every verifier's first question, asked in the same words."""
        try:
            signers = cls.load(path)
        except OSError as exc:
            raise SignatureRefused(
                RefusalCode.NO_ALLOWED_SIGNERS,
                f"cannot read allowed_signers file {path}: {exc.strerror or exc}",
            ) from None
        if not signers.lines:
            raise SignatureRefused(
                RefusalCode.NO_ALLOWED_SIGNERS, f"allowed_signers file {path} lists no keys"
            )
        return signers

    def allows(self, principal: str, key: PublicKey, namespace: str, when: int) -> bool:
        """`ssh-keygen -Y verify -I principal`: the first entry for `principal` and `key`
        whose options allow the signature wins."""
        return any(
            e.key == key and match_list(principal, e.principals) == 1 and e.allows(namespace, when)
            for e in self.entries
        )

    def principals_of(self, key: PublicKey, when: int) -> str | None:
        """`ssh-keygen -Y find-principals`: the principals of the first entry naming `key`
        that is valid at `when` (namespaces are not considered)."""
        return next(
            (e.principals for e in self.entries if e.key == key and e.allows(None, when)), None
        )

    def listed(self, key: PublicKey) -> list[str]:
        """The principals of every entry naming `key`, whatever its options say."""
        return [e.principals for e in self.entries if e.key == key]


def _entry(line: str) -> Entry | None:
    parts = _principals(line)
    if parts is None:
        return None
    principals, rest = parts
    key = _key(rest)
    options = ""
    if key is None:  # options first, then the key
        end = _past_options(rest)
        if end is None or end >= len(rest):
            return None
        options, rest = rest[:end], rest[end:].lstrip(_WHITESPACE)
        key = _key(rest)
        if key is None:
            return None
    parsed = _options(options)
    if parsed is None:
        return Entry(principals, key, options_ok=False)
    return Entry(principals, key, True, *parsed)


def _principals(line: str) -> tuple[str, str] | None:
    """The first token and the rest, as OpenSSH's `strdelimw` splits them (a quote
    starts a quoted span). None if the line has nothing after the principals."""
    cut = next((i for i, c in enumerate(line) if c in _WHITESPACE or c == '"'), None)
    if cut is None:
        return None
    if line[cut] == '"':
        line = line[:cut] + line[cut + 1 :]
        close = line.find('"', cut)
        if close < 0:
            return None
        token, rest = line[:close], line[close + 1 :]
    else:
        token, rest = line[:cut], line[cut + 1 :]
    return token, rest.lstrip(_WHITESPACE)


def _key(text: str) -> PublicKey | None:
    """`keytype base64 [comment]` at the start of `text`, if it is a key we check."""
    fields = text.split(None, 2)
    if len(fields) < 2 or not fields[0].isascii():
        return None
    try:
        return decode_key(fields[0], fields[1])
    except (ValueError, Unsupported):
        return None


def _past_options(text: str) -> int | None:
    """Where the options end (OpenSSH's `sshkey_advance_past_options`)."""
    quoted, i = False, 0
    while i < len(text) and (quoted or text[i] not in _WHITESPACE):
        if text[i] == "\\" and text[i + 1 : i + 2] == '"':
            i += 1
        elif text[i] == '"':
            quoted = not quoted
        i += 1
    return None if quoted else i


def _options(opts: str) -> tuple[bool, str | None, int, int] | None:
    """(cert-authority, namespaces, valid-after, valid-before), or None if ssh-keygen
    would refuse the options (and with them the line)."""
    ca, namespaces, after, before = False, None, 0, 0
    rest = opts
    while rest:
        low = rest.lower()
        if low.startswith("cert-authority"):
            ca, rest = True, rest[len("cert-authority") :]
        elif low.startswith("namespaces="):
            if namespaces is not None:
                return None
            namespaces, rest = _dequote(rest[len("namespaces=") :])
            if namespaces is None:
                return None
        elif low.startswith(("valid-after=", "valid-before=")):
            name, _, value = rest.partition("=")
            text, rest = _dequote(value)
            stamp = parse_time(text) if text is not None else None
            if stamp is None or (after if name.lower() == "valid-after" else before):
                return None
            after, before = (stamp, before) if name.lower() == "valid-after" else (after, stamp)
        if not rest:
            break
        if rest[0] != "," or len(rest) == 1:
            return None  # an unknown option, or a trailing comma
        rest = rest[1:]
    if after and before and before <= after:
        return None
    return ca, namespaces, after, before


def _dequote(text: str) -> tuple[str | None, str]:
    """A double-quoted value (`\\"` escapes a quote) and what follows it."""
    if not text.startswith('"'):
        return None, text
    out, i = [], 1
    while i < len(text) and text[i] != '"':
        if text[i] == "\\" and text[i + 1 : i + 2] == '"':
            i += 1
        out.append(text[i])
        i += 1
    if i >= len(text):
        return None, text
    return "".join(out), text[i + 1 :]


def parse_time(text: str) -> int | None:
    """Seconds since the epoch for an allowed_signers time, or None if ssh-keygen would
    refuse it. Without a Z/UTC suffix it is local standard time (`mktime`, isdst=0)."""
    utc = text[-1:].upper() == "Z" and len(text) > 1
    if not utc and len(text) > 3 and text[-3:].upper() == "UTC":
        text, utc = text[:-3], True
    elif utc:
        text = text[:-1]
    m = _TIME.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in m.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 61):
        return None
    fields = (year, month, day, hour, minute, second, 0, 0, 0)
    try:
        stamp = calendar.timegm(fields) if utc else int(time.mktime(fields))
    except (OverflowError, ValueError):
        return None
    return stamp if stamp > 0 else None


@lru_cache(maxsize=4096)
def _pattern(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def match_list(name: str, patterns: str) -> int:
    """OpenSSH's `match_pattern_list`: 1 if a pattern matches, -1 if a negated one
    (``!pat``) does, else 0."""
    found = 0
    for sub in patterns.split(","):
        negated = sub.startswith("!")
        sub = sub[1:] if negated else sub
        if len(sub) >= 1023:
            return 0
        if _pattern(sub).fullmatch(name):
            if negated:
                return -1
            found = 1
    return found
