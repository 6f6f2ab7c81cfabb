"""Records written before a field was added still verify: new fields are absent from older records.

`fixtures/records-before-actor-proof.json` was written by the code before `actor_proof` and
`trigger_seq` existed (a gate, an approval and a deploy, chained)."""

from __future__ import annotations

import json
from pathlib import Path

from releasegate.audit.record import GENESIS, AuditRecord, seal, verify_chain
from tests.support.records import make_entry

FIXTURE = Path(__file__).parent / "fixtures" / "records-before-actor-proof.json"


def test_records_written_before_the_new_fields_still_verify_and_read_as_claims() -> None:
    raw = json.loads(FIXTURE.read_text())
    assert all("actor_proof" not in r and "trigger_seq" not in r for r in raw)
    records = [AuditRecord.model_validate(r) for r in raw]
    assert verify_chain(records) == []
    assert records[-1].who() == "dave (claimed)"  # never shown as proven


def test_a_new_field_is_covered_by_the_hash_once_set() -> None:
    sealed = seal(make_entry(actor_proof="signed", trigger_seq=7), seq=0, prev_hash=GENESIS)
    assert verify_chain([sealed]) == []
    for change in ({"actor_proof": "claimed"}, {"trigger_seq": 1}, {"actor_proof": None}):
        forged = AuditRecord.model_validate({**sealed.model_dump(), **change})
        assert verify_chain([forged]), f"editing {change} went unnoticed"
