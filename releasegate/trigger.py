"""Who triggered a run, and how that is known.

A run is handed its actor's name and, optionally, evidence (`TriggerProof`) that the actor
asked for exactly this run. The evidence proves nothing by itself: the run checks it and
only the outcome of that check decides how the actor is recorded (`Trigger.proof`):

- `signed`: an SSH signature over the request (`signing.trigger.TriggerPayload`), verified
  against allowed_signers in the `releasegate-trigger` namespace, fresh and never used
  before (the audit store remembers every nonce a run has used);
- `claimed`: no evidence: a name typed on the CLI, in the UI or an event;
- `webhook`: the GitHub receiver (`releasegate webhook serve`) attests, with a key derived
  from the webhook secret that the serving process also holds, that a push delivery whose
  signature verified named the pusher for exactly this request (`signing.webhook`); the run
  recomputes the attestation itself, and checks freshness and the nonce as for `signed`.

No parameter ever says which kind a proof is: the evidence given is checked, and only the
outcome of that check is recorded.

The run records a `trigger` record first, in a chain of its own (`TRIGGERS`); its sequence
number is the run's place in the trigger order, carried on every later record of the run.
"""

from __future__ import annotations

import getpass
import os

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from releasegate.errors import UsageError
from releasegate.signing.sshsig import MAX_SIGNATURE_CHARS
from releasegate.vocabulary import NAME_RULE, Nonce, ProofKind

TRIGGERS = "_triggers"
"""The audit chain of trigger records: one per run, across environments, so its sequence
is one order for all of them. No environment can be called this (names start with a
letter or digit)."""


PUSH_TAG = "github-push"
"""The Prefect tag of the runs the webhook receiver creates: pushes in arrival order
(`tasks/push_order.py`)."""


class TriggerProof(BaseModel):
    """Evidence that the actor asked for this run, issued at `issued_at` with a fresh
    `nonce`: either their SSH `signature` over the request (what `releasegate deploy
    --sign` makes), or the webhook receiver's `attestation` that push delivery `delivery`
    named them (what `releasegate webhook serve` makes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issued_at: AwareDatetime = Field(description="When the request was signed")
    nonce: Nonce = Field(description="Random, used once")
    signature: str | None = Field(
        default=None,
        max_length=MAX_SIGNATURE_CHARS,
        description="The actor's SSH signature over the request",
    )
    attestation: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="A webhook receiver's attestation of a verified push",
    )
    delivery: Nonce | None = Field(default=None, description="The push delivery's id")
    """The push delivery's id (`X-GitHub-Delivery`), covered by the attestation."""

    @model_validator(mode="after")
    def _one_kind_of_evidence(self) -> TriggerProof:
        if (self.signature is None) == (self.attestation is None):
            raise ValueError("a proof carries either a signature or an attestation")
        if (self.attestation is None) != (self.delivery is None):
            raise ValueError("an attestation names its delivery, and only an attestation does")
        return self


class Trigger(BaseModel):
    """Who triggered a run and how that is known, as the run established and recorded it."""

    model_config = ConfigDict(frozen=True)

    actor: str
    proof: ProofKind
    seq: int | None = None
    """The sequence number of the run's trigger record: its place in the trigger order."""
    key_fingerprint: str | None = None

    def who(self) -> str:
        """`dave (signed)`, `carol (claimed)`: a name is never shown without its proof."""
        return f"{self.actor} ({self.proof})"


def default_actor() -> str:
    """Who claims to act when nobody says: RELEASEGATE_ACTOR, else the OS user (a claim)."""
    name = os.environ.get("RELEASEGATE_ACTOR") or getpass.getuser()
    try:
        return NAME_RULE.check(name)
    except ValueError as exc:
        raise UsageError(f"RELEASEGATE_ACTOR (or the OS user name): {exc}") from None
