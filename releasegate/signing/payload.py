"""What a reviewer signs: the canonical message of one decision. Pure: no I/O.

A reviewer signs the canonical text of one `DecisionPayload` with their SSH key, in the
namespace `releasegate` (see `keygen`); it is verified against an OpenSSH `allowed_signers`
file that maps reviewer names to keys.

Canonical message, version 2 (UTF-8, `\\n` line ends, a final `\\n`, nothing else)::

    releasegate-approval-v2
    decision: approve
    reviewer: alice
    flow-run-id: 0b6f9c1e-...
    pause-key: approval-production-0-120102123456
    environment: production
    app: webapp
    version: 1.4.2
    digest: sha256:<64 hex>
    not-before: 2026-11-27T21:00:00Z
    issued-at: 2026-11-27T12:01:02Z
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
- `not-before` (UTC, whole seconds) is present only in a deferred decision ("approve now,
  deploy after 22:00"): the line is absent otherwise, so every decision signed without it
  keeps its exact message (version 1 records may hold it too, in the same place before the
  comment). The run does not roll out before that time.
- Changing this format invalidates every stored signature: add `-v3` instead, and keep
  the old version here for `audit verify` (as version 1 is kept: `DecisionPayloadV1`).

The message binds decision, reviewer, run, environment, app, version and digest, so a
signature replayed from another run, for another digest, with the decision flipped or
the comment edited no longer matches (`bad-signature`). Version 2 adds the pause it
answers (each approval round of a run is a new pause, with a new key) and the time the
reviewer signed: a signature copied from the audit trail or the run's inputs cannot answer
a later round, and its own signed time says how old it is (`max_age`). Version 1 lacked
both; a run accepts only version 2, `audit verify` re-checks both. The namespace is bound
by the SSHSIG format itself: a signature made for git (`-n git`) is refused
(`wrong-namespace`).
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from releasegate.vocabulary import NAME_RULE, Decision

NAMESPACE = "releasegate"

PRINCIPAL = f"^{NAME_RULE.regex.pattern}$"
"""A reviewer name as it appears in allowed_signers: no spaces, commas or glob characters."""
_TOKEN = r"^[A-Za-z0-9][A-Za-z0-9._:+@/-]{0,255}$"
_DIGEST = r"^sha256:[0-9a-f]{64}$"


def utc_seconds(moment: datetime) -> str:
    """A time as signed: UTC, whole seconds (`2026-11-27T21:00:00Z`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _whole_seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


IssuedAt = Annotated[AwareDatetime, AfterValidator(_whole_seconds)]
"""A signed issue time: aware, held as it is signed (UTC, whole seconds)."""


class DecisionPayloadV1(BaseModel):
    """The version 1 message (no pause, no issue time): only re-verified by `audit verify`
    for records written before version 2. A run accepts only `DecisionPayload`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    HEADER: ClassVar[str] = "releasegate-approval-v1"

    decision: Decision
    reviewer: str = Field(pattern=PRINCIPAL)
    flow_run_id: str = Field(pattern=_TOKEN)
    environment: str = Field(pattern=_TOKEN)
    app: str = Field(pattern=_TOKEN)
    version: str = Field(pattern=_TOKEN)
    digest: str = Field(pattern=_DIGEST)
    comment: str = Field(default="", max_length=4000)
    not_before: AwareDatetime | None = None
    """A deferred decision takes effect at this time (signed as its own line)."""

    def fields(self) -> list[tuple[str, str]]:
        """The message's fields in order, values as signed."""
        return [
            ("decision", self.decision),
            ("reviewer", self.reviewer),
            ("flow-run-id", self.flow_run_id),
            ("environment", self.environment),
            ("app", self.app),
            ("version", self.version),
            ("digest", self.digest),
            *([("not-before", utc_seconds(self.not_before))] if self.not_before else []),
            ("comment", escape(self.comment)),
        ]

    def lines(self) -> list[str]:
        """The message's lines, header first, without line ends."""
        return _render(self.HEADER, self.fields())

    def message(self) -> bytes:
        """The canonical bytes that get signed."""
        return ("\n".join(self.lines()) + "\n").encode("utf-8")


class DecisionPayload(DecisionPayloadV1):
    """Exactly what a reviewer's signature covers today. See the module docstring."""

    HEADER: ClassVar[str] = "releasegate-approval-v2"

    pause_key: str = Field(pattern=_TOKEN)
    """The pause (approval round) of the run this decision answers."""
    issued_at: IssuedAt
    """When the reviewer signed, by their clock."""

    def fields(self) -> list[tuple[str, str]]:
        # Version 1's fields, the pause after the run and the issue time before the comment.
        *facts, comment = super().fields()
        run, place = facts[:3], facts[3:]
        return [
            *run,
            ("pause-key", self.pause_key),
            *place,
            ("issued-at", utc_seconds(self.issued_at)),
            comment,
        ]


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


def escape(text: str) -> str:
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


def _render(header: str, fields: list[tuple[str, str]]) -> list[str]:
    return [header] + [f"{k}: {v}" if v else f"{k}:" for k, v in fields]


COMMENT_LINE = "IFS= read -r COMMENT <<'END_OF_COMMENT'"
"""The recipe's line before the one the comment goes on (`read -r` keeps it verbatim: the
comment rule allows no newline). One line shorter than `$(cat <<...)`: the form's
description has a height budget (tests/browser/test_approval_ui.py)."""

ISSUED_AT_LINE = "issued_at: "
"""What the recipe prints before the signature: the time to paste into the Resume form's
*Issued At* field (`releasegate approve` submits it itself)."""


def sign_recipe(payload: DecisionPayload, key_hint: str = "~/.ssh/id_ed25519") -> str:
    """A POSIX shell recipe that signs a decision on `payload`'s pause by hand, for any
    reviewer, decision and comment, as of the moment it runs: the Resume form shows one,
    not one per reviewer. Never run by releasegate.

    The person edits the variables at the top; the comment goes between the heredoc's
    markers verbatim (no quoting to get wrong; an empty line is no comment), so whoever
    types a comment in the form and here signs exactly what the run rebuilds. `sed` doubles
    backslashes as `escape` does; the comment rule allows no other escaped character but
    trailing spaces, which `escape` writes as `\\x20` (keep the comment free of them). A
    deferred decision ("approve now, roll out later") sets WHEN as in the form; the
    `not-before:` line is signed only then, as `DecisionPayload.lines` writes it. The shell
    fills in the issue time (UTC, whole seconds) and prints it first (`issued_at: <time>`),
    then the signature. Lines stay under 60 characters, so the dialog shows every one whole.
    """
    header, _, _, run, pause, environment, app, version, digest = payload.lines()[:9]
    key = key_hint if key_hint.startswith("~/") else shlex.quote(key_hint)
    # Two adjacent quoted halves, the second sharing its line with the deferral: a narrow
    # window shows each line whole.
    half = len(digest) - 26
    return "\n".join(
        [
            "REVIEWER=your-name     # exactly as in the form",
            "DECISION=approve       # or reject, as in the form",
            f"KEY={key}",
            "WHEN=                  # the form's *Not before* (or none)",
            "# the form's comment, exactly, on the empty line (or none)",
            COMMENT_LINE,
            "",
            "END_OF_COMMENT",
            "ESCAPED=$(printf %s \"$COMMENT\" | sed 's/\\\\/\\\\\\\\/g')",
            f'AT=$(date -u +%Y-%m-%dT%H:%M:%SZ); echo "{ISSUED_AT_LINE}$AT"',
            f"printf '%s\\n' {header} \\",
            '  "decision: $DECISION" "reviewer: $REVIEWER" \\',
            f"  {shlex.quote(run)} \\",
            f"  {shlex.quote(pause)} \\",
            f"  {' '.join(shlex.quote(fact) for fact in (environment, app, version))} \\",
            f"  '{digest[:half]}'\\",  # a digest is hexadecimal: nothing to quote
            f"'{digest[half:]}' " + '${WHEN:+"not-before: $WHEN"} \\',
            '  "issued-at: $AT" "comment:${ESCAPED:+ }$ESCAPED" |',
            f'  ssh-keygen -Y sign -n {NAMESPACE} -f "$KEY"',
        ]
    )
