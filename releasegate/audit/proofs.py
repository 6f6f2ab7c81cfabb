"""Re-checking, offline, the SSH signature of every approval and every signed request to
deploy or roll back that the audit trail relies on."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from releasegate.audit.record import ApprovalEntry, AuditRecord
from releasegate.audit.store import RecordCheck
from releasegate.signing.payload import DecisionPayload, DecisionPayloadV1
from releasegate.signing.trigger import TRIGGER_NAMESPACE, TriggerPayload
from releasegate.signing.verifier import SignatureError, SignatureRefused, Verified, Verifier


def signature_check(verifier: Verifier) -> RecordCheck:
    """A check for `AuditStore.verify`: problems with one record's signatures (approvals,
    and a request to deploy or roll back recorded as signed).

    Only decisions that counted are checked (accepted/rejected approvals, and the approvals
    a deploy relied on): a refused decision was refused because its proof did not hold.
    A trigger recorded as signed must carry a signature that still proves it: one appended
    by hand by someone who can write to the store, claiming `signed`, does not.
    Each is verified as of the time it was given, so a key retired since still verifies,
    against the message version it was signed in (`signed_message`).
    """

    def check(rec: AuditRecord) -> list[str]:
        where = f"{rec.environment} #{rec.seq} ({rec.id})"
        if rec.kind == "trigger":
            if rec.status != "accepted" or rec.actor_proof != "signed":
                return []
            return _problems(
                f"{where} {rec.actor}",
                "request signature",
                partial(_request, verifier, rec),
                rec.details.get("key_fingerprint"),
            )
        if rec.kind == "approval" and rec.status not in ("accepted", "rejected"):
            return []
        return [
            problem
            for a in rec.approvals
            if a.signature is not None
            for problem in _problems(
                f"{where} {a.name}",
                "signature",
                partial(_approval, verifier, rec, a),
                a.key_fingerprint,
            )
        ]

    return check


def _problems(
    where: str, what: str, prove: Callable[[], Verified], recorded: str | None
) -> list[str]:
    """What is wrong with the signature `what` at `where`: `prove` raises, or it proves
    another key than the one the record names (`recorded`)."""
    try:
        verified = prove()
    except (ValueError, SignatureRefused, SignatureError) as exc:
        return [f"{where}: {what} does not verify: {exc}"]
    if recorded and verified.fingerprint != recorded:
        return [f"{where}: signed by {verified.fingerprint}, recorded otherwise"]
    return []


def _approval(verifier: Verifier, rec: AuditRecord, approval: ApprovalEntry) -> Verified:
    """Prove the decision an approval in `rec` says its reviewer signed."""
    return verifier.verify_decision(
        signed_message(rec, approval), approval.signature, at=approval.at
    )


def signed_message(rec: AuditRecord, approval: ApprovalEntry) -> DecisionPayloadV1:
    """What `approval`, recorded in `rec`, was signed over: the version 2 message when the
    decision records its pause and issue time, else version 1 (decisions recorded before
    version 2; a run accepts only version 2, so a record claiming version 1 after that was
    written by hand, and its hash chain says whether the trail was edited). Either may
    carry a deferral (`not-before`)."""
    facts: dict[str, object] = {
        "decision": approval.decision,
        "reviewer": approval.name,
        "flow_run_id": rec.flow_run_id or "",
        "environment": rec.environment,
        "app": rec.app,
        "version": rec.version or "",
        "digest": rec.artifact or "",
        "comment": approval.comment,
        "not_before": approval.not_before,
    }
    if approval.pause_key is None and approval.issued_at is None:
        return DecisionPayloadV1.model_validate(facts)
    signed = {"pause_key": approval.pause_key, "issued_at": approval.issued_at}
    return DecisionPayload.model_validate(facts | signed)


def _request(verifier: Verifier, rec: AuditRecord) -> Verified:
    """Prove the request a trigger record says its actor signed."""
    facts = rec.details
    request = TriggerPayload.model_validate(
        {
            "request": facts.get("request"),
            "actor": rec.actor,
            "app": rec.app,
            "environment": facts.get("environment"),
            "version": rec.version,
            "branch": rec.branch,
            "commit": rec.commit,
            "reason": facts.get("reason"),
            "issued_at": facts.get("issued_at"),
            "nonce": facts.get("nonce"),
        }
    )
    return verifier.verify(
        request.message(),
        facts.get("signature"),
        signer=rec.actor,
        namespace=TRIGGER_NAMESPACE,
        at=rec.started_at,
    )
