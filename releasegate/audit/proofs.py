"""Re-checking, offline, the SSH signature of every approval and every signed request to
deploy or roll back that the audit trail relies on."""

from __future__ import annotations

from releasegate.audit.record import AuditRecord
from releasegate.audit.store import RecordCheck
from releasegate.signing.payload import DecisionPayload
from releasegate.signing.trigger import TRIGGER_NAMESPACE, TriggerPayload
from releasegate.signing.verifier import SignatureError, SignatureRefused, Verifier


def signature_check(verifier: Verifier) -> RecordCheck:
    """A check for `AuditStore.verify`: problems with one record's signatures (approvals,
    and a request to deploy or roll back recorded as signed).

    Only decisions that counted are checked (accepted/rejected approvals, and the approvals
    a deploy relied on): a refused decision was refused because its proof did not hold.
    Each is verified as of the time it was given, so a key retired since still verifies.
    """

    def check(rec: AuditRecord) -> list[str]:
        if rec.kind == "trigger":
            return _request_problems(rec, verifier)
        if rec.kind == "approval" and rec.status not in ("accepted", "rejected"):
            return []
        problems = []
        for approval in rec.approvals:
            if approval.signature is None:
                continue
            where = f"{rec.environment} #{rec.seq} ({rec.id}) {approval.name}"
            try:
                payload = DecisionPayload(
                    decision=approval.decision,
                    reviewer=approval.name,
                    flow_run_id=rec.flow_run_id or "",
                    environment=rec.environment,
                    app=rec.app,
                    version=rec.version or "",
                    digest=rec.artifact or "",
                    comment=approval.comment,
                    not_before=approval.not_before,
                )
                verified = verifier.verify_decision(payload, approval.signature, at=approval.at)
            except (ValueError, SignatureRefused, SignatureError) as exc:
                problems.append(f"{where}: signature does not verify: {exc}")
                continue
            if approval.key_fingerprint and verified.fingerprint != approval.key_fingerprint:
                problems.append(f"{where}: signed by {verified.fingerprint}, recorded otherwise")
        return problems

    return check


def _request_problems(rec: AuditRecord, verifier: Verifier) -> list[str]:
    """A trigger recorded as signed must carry a signature that still proves it: one
    appended by hand by someone who can write to the store, claiming `signed`, does not."""
    if rec.status != "accepted" or rec.actor_proof != "signed":
        return []
    where = f"{rec.environment} #{rec.seq} ({rec.id}) {rec.actor}"
    facts = rec.details
    try:
        payload = TriggerPayload.model_validate(
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
        verifier.verify(
            payload.message(),
            facts.get("signature"),
            signer=rec.actor,
            namespace=TRIGGER_NAMESPACE,
            at=rec.started_at,
        )
    except (ValueError, SignatureRefused, SignatureError) as exc:
        return [f"{where}: request signature does not verify: {exc}"]
    return []
