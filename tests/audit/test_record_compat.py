"""Records written by today's code keep verifying, whatever fields the record gains later.

`fixtures/audit-2026-11/` is a file store written by this code (a gate, two signed
approvals, the deploy that relied on them, a rollback). A field added to `AuditEntry` with a
default must not change the hash of a record stored before it existed.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import create_model

from releasegate.audit.file import FileAuditStore
from releasegate.audit.proofs import signature_check
from releasegate.audit.record import AuditRecord, content_hash, verify_chain
from tests.support.records import broken, signed_release
from tests.support.sshsig import DEMO_KEYS, verifier

FIXTURE = Path(__file__).parent / "fixtures" / "audit-2026-11"
RECORDS = sorted(
    (FIXTURE / "production" / "records").glob("*.json"), key=lambda p: -int(p.name[:16])
)

# As the record may look later: new fields with defaults (an actor's proof, a trigger).
FutureRecord: Any = create_model(
    "FutureRecord",
    __base__=AuditRecord,
    actor_proof=(str | None, None),
    trigger=(dict[str, Any], {}),
)


def test_the_fixture_verifies_signatures_included(tmp_path: Path) -> None:
    store = FileAuditStore(shutil.copytree(FIXTURE, tmp_path / "audit"))
    check = signature_check(verifier(DEMO_KEYS / "allowed_signers"))
    assert [r.seq for r in store.chain("production")] == [0, 1, 2, 3, 4]
    assert broken(store, check=check) == []


def test_a_field_added_later_leaves_older_records_verifying() -> None:
    old = [FutureRecord.model_validate_json(p.read_bytes()) for p in RECORDS]
    assert [r.seq for r in old] == [0, 1, 2, 3, 4]
    assert all(r.actor_proof is None and r.trigger == {} for r in old)
    assert verify_chain(old) == []


def test_a_field_the_stored_record_holds_is_hashed() -> None:
    """Only absent fields are left out: a stored value (even the default) is covered."""
    data = RECORDS[0].read_text()
    for added in ('"actor_proof":"signed",', '"actor_proof":null,'):
        rec = FutureRecord.model_validate_json(data.replace('{"id"', "{" + added + '"id"', 1))
        assert content_hash(rec) != rec.hash


def _signed_store(tmp_path: Path) -> FileAuditStore:
    """A store holding one release as today's runs record it: version 2 signatures."""
    store = FileAuditStore(tmp_path / "audit")
    for entry in signed_release("2.0.0"):
        store.append(entry)
    return store


def _rewrite(store: FileAuditStore, seq: int, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit a stored record as someone with write access would, hash recomputed."""
    path = store.record_path("production", seq)
    data = json.loads(path.read_text())
    change(data)
    rec = AuditRecord.model_validate(data)
    data["hash"] = content_hash(rec)
    os.chmod(path, 0o644)
    path.write_text(json.dumps(data))


def test_audit_verify_rechecks_both_message_versions(tmp_path: Path) -> None:
    """The fixture's version 1 signatures and today's version 2 ones, in one trail."""
    store = FileAuditStore(shutil.copytree(FIXTURE, tmp_path / "audit"))
    for entry in signed_release("2.0.0"):
        store.append(entry)
    check = signature_check(verifier(DEMO_KEYS / "allowed_signers"))
    chain = list(store.chain("production"))
    version_2 = {a.pause_key is not None for r in chain for a in r.approvals if a.signature}
    assert version_2 == {False, True}
    assert broken(store, check=check) == []


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"pause_key": None, "issued_at": None}, id="downgraded-to-version-1"),
        pytest.param({"pause_key": "approval-production-9"}, id="another-pause"),
        pytest.param({"issued_at": "2026-11-01T00:00:00Z"}, id="another-time"),
    ],
)
def test_a_rewritten_signed_pause_or_time_is_named(tmp_path: Path, change: dict[str, Any]) -> None:
    """Even with its hash recomputed (the chain link then breaks too), a decision whose
    signed pause or time was rewritten, or dropped to pass as version 1, fails its
    signature check."""
    store = _signed_store(tmp_path)
    alice = store.chain("production").__next__()

    def edit(data: dict[str, Any]) -> None:
        data["approvals"][0].update(change)

    _rewrite(store, alice.seq, edit)
    check = signature_check(verifier(DEMO_KEYS / "allowed_signers"))
    problems = broken(store, check=check)
    assert any(f"#{alice.seq} ({alice.id}) alice: signature does not verify" in p for p in problems)
