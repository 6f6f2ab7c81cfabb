"""The run's trigger, established before anything else: who asked for the run and how that is
known, recorded first; the record's sequence number is the run's place in the trigger order.

The proof kind is the outcome of a check made here, never a parameter: no evidence is a
claim; a signature is `signed` only once it verifies against allowed_signers for exactly
this request, an attestation is `webhook` only once it matches this request under the
webhook secret this process holds (RELEASEGATE_WEBHOOK_SECRET); either must be fresh and
unused by any other run. Refused evidence ends the run (exit 3), recorded. A retried
deploy (Prefect's Retry keeps the run id) finds the trigger it recorded the first time and
keeps its place in the order: it reruns that request, every gate and approval included. A
retried run that rolls back is a new act by whoever pressed Retry, whom Prefect does not
name: it takes a new place in the order, recorded as the serving process's claim and
saying so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from releasegate.audit.record import AuditRecord, Status
from releasegate.errors import Blocked
from releasegate.policy.triggers import Refusal, earlier_use, timing
from releasegate.secret import WEBHOOK_SECRET, webhook_secret
from releasegate.signing.payload import utc_seconds
from releasegate.signing.trigger import TRIGGER_NAMESPACE, Asked, TriggerPayload
from releasegate.signing.verifier import SignatureRefused
from releasegate.signing.webhook import attested
from releasegate.tasks.context import RunContext
from releasegate.tasks.push_order import wait_for_earlier_pushes
from releasegate.tasks.rerun import first_trigger
from releasegate.trigger import TRIGGERS, Trigger, TriggerProof, default_actor
from releasegate.vocabulary import ProofKind
from releasegate.wiring import signature_verifier


@task(cache_policy=NO_CACHE)
def establish(
    ctx: RunContext, asked: Asked, actor: str | None, proof: TriggerProof | None
) -> RunContext:
    """Check and record who triggered this run; the context of a run whose trigger is known.

    Raises Blocked (recorded) when the evidence given does not prove the actor.
    """
    if ctx.attempt > 1 and asked.request == "rollback":
        # Whoever pressed Retry is unknown; the parameters name the first attempt's actor.
        name = default_actor()
        again = _record(ctx, asked, name, "claimed", "accepted", note=RETRIED_BY)
        return ctx.triggered(Trigger(actor=name, proof="claimed", seq=again.seq))
    if (first := first_trigger(ctx)) is not None:
        get_run_logger().info("retried run: keeping trigger #%s of its first attempt", first.seq)
        return ctx.triggered(_trigger_of(first))
    name = actor or default_actor()
    if proof is not None and proof.attestation is not None:
        wait_for_earlier_pushes(ctx.store)  # a push takes its place in arrival order
    if proof is None:
        claimed = _record(ctx, asked, name, "claimed", "accepted")
        return ctx.triggered(Trigger(actor=name, proof="claimed", seq=claimed.seq))
    kind: ProofKind = "webhook" if proof.attestation is not None else "signed"
    refusal, fingerprint = _check(ctx, asked, name, proof)
    if refusal is None:
        accepted = _record(ctx, asked, name, kind, "accepted", proof, fingerprint)
        # Two runs may have started on one request at the same moment: the lowest number wins.
        first_use = earlier_use(
            ctx.store.newest(TRIGGERS), proof.nonce, now=_now(), before=accepted.seq
        )
        if first_use is None:
            trigger = Trigger(actor=name, proof=kind, seq=accepted.seq, key_fingerprint=fingerprint)
            return ctx.triggered(trigger)
        refusal = _replayed(first_use)
    _record(ctx, asked, name, "claimed", "refused", proof, refusal=refusal)
    raise Blocked(f"trigger refused: {refusal.code}: {refusal.reason}")


RETRIED_BY = (
    "a Retry of a finished flow run: Prefect records no identity for whoever pressed it; "
    "the actor is the serving process's claim (RELEASEGATE_ACTOR, else its OS user)"
)


def _check(
    ctx: RunContext, asked: Asked, actor: str, proof: TriggerProof
) -> tuple[Refusal | None, str | None]:
    """(None, key fingerprint or None) when `proof` proves that `actor` asked for exactly
    this run."""
    payload = asked.payload(actor, ctx.config.app.name, proof.issued_at, proof.nonce)
    if proof.attestation is not None and proof.delivery is not None:
        refusal, fingerprint = _webhook(payload, proof.delivery, proof.attestation), None
    else:
        refusal, fingerprint = _signature(ctx, payload, proof.signature or "")
    if refusal is not None:
        return refusal, None
    now = _now()
    if (late := timing(proof.issued_at, now)) is not None:
        return late, None
    if (used := earlier_use(ctx.store.newest(TRIGGERS), proof.nonce, now=now)) is not None:
        return _replayed(used), None
    return None, fingerprint


def _signature(
    ctx: RunContext, payload: TriggerPayload, signature: str
) -> tuple[Refusal | None, str | None]:
    """The actor's SSH signature over the request: (None, key fingerprint) when it holds."""
    verifier = signature_verifier(ctx.config)
    if verifier is None:
        reason = "the configuration names no allowed_signers: no signature can be checked"
        return Refusal(code="no-allowed-signers", reason=reason), None
    try:
        verified = verifier.verify(
            payload.message(), signature, signer=payload.actor, namespace=TRIGGER_NAMESPACE
        )
    except SignatureRefused as exc:
        return Refusal(code=str(exc.code), reason=exc.reason), None
    return None, verified.fingerprint


def _webhook(payload: TriggerPayload, delivery: str, given: str) -> Refusal | None:
    """The receiver's attestation that a verified push named the actor for this request."""
    secret = webhook_secret()
    if secret is None:
        return Refusal(
            code="no-webhook-secret",
            reason=f"{WEBHOOK_SECRET} is not set where this run runs: no webhook "
            "attestation can be checked (set it for the worker or `releasegate serve`)",
        )
    if not attested(secret.reveal(), payload, delivery, given):
        return Refusal(
            code="forged",
            reason="the webhook attestation does not match this request: it was not made "
            "by a receiver holding this webhook secret for these parameters",
        )
    return None


def _replayed(first_use: AuditRecord) -> Refusal:
    return Refusal(
        code="replayed",
        reason=f"this request was already used by flow run {first_use.flow_run_id} "
        f"(trigger #{first_use.seq}): a request is good for one run; sign a new one",
    )


def _record(
    ctx: RunContext,
    asked: Asked,
    actor: str,
    kind: ProofKind,
    status: Status,
    proof: TriggerProof | None = None,
    fingerprint: str | None = None,
    refusal: Refusal | None = None,
    note: str | None = None,
) -> AuditRecord:
    details: dict[str, Any] = {
        "request": asked.request,
        "retried": note,
        "environment": asked.environment,
        "reason": asked.reason,
        "refusal": refusal.code if refusal else None,
        "key_fingerprint": fingerprint,
    }
    if proof is not None:
        details |= {
            "issued_at": utc_seconds(proof.issued_at),
            "nonce": proof.nonce,
            "signature": proof.signature,
            "attestation": proof.attestation,
            "delivery": proof.delivery,
        }
    return ctx.record(
        "trigger",
        TRIGGERS,
        status,
        actor=actor,
        actor_proof=kind,
        version=asked.version,
        reason=refusal.reason if refusal else None,
        details={k: v for k, v in details.items() if v is not None},
    )


def _trigger_of(record: AuditRecord) -> Trigger:
    return Trigger(
        actor=record.actor,
        proof=record.actor_proof or "claimed",
        seq=record.seq,
        key_fingerprint=record.details.get("key_fingerprint"),
    )


def _now() -> datetime:
    return datetime.now(UTC)
