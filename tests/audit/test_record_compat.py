"""Records written by today's code keep verifying, whatever fields the record gains later.

`fixtures/audit-2026-11/` is a file store written by this code (a gate, two signed
approvals, the deploy that relied on them, a rollback). A field added to `AuditEntry` with a
default must not change the hash of a record stored before it existed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pydantic import create_model

from releasegate.audit.file import FileAuditStore
from releasegate.audit.proofs import signature_check
from releasegate.audit.record import AuditRecord, content_hash, verify_chain
from tests.support.records import broken
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
