"""Records written before a change to the record model still verify after it.

`fixtures/chain-69d2abb.jsonl` was written by the record code of commit 69d2abb (before the
`interrupted` status existed): a release of v1 and a deploy of v2 that never finished.
"""

from __future__ import annotations

from pathlib import Path

from releasegate.audit.record import AuditEntry, AuditRecord, content_hash, seal, verify_chain
from releasegate.history import unfinished

FIXTURE = Path(__file__).parent / "fixtures" / "chain-69d2abb.jsonl"


def old_chain() -> list[AuditRecord]:
    return [AuditRecord.model_validate_json(line) for line in FIXTURE.read_text().splitlines()]


def test_a_chain_written_by_earlier_code_verifies_over_the_fields_it_holds() -> None:
    chain = old_chain()
    assert chain and verify_chain(chain) == []
    assert all(content_hash(rec) == rec.hash for rec in chain)
    assert all("actor_proof" not in rec.model_fields_set for rec in chain)


def test_closing_an_old_unfinished_change_as_interrupted_extends_the_chain_intact() -> None:
    chain = old_chain()
    started = unfinished(reversed(chain))
    assert started is not None and started.version == "v2"
    closed = AuditEntry(
        kind="deploy",
        environment="production",
        app="webapp",
        version=started.version,
        artifact=started.artifact,
        status="interrupted",
        actor=started.actor,
        operation_id=started.operation_id,
        reason="interrupted: the deploy of v2 stopped without recording an outcome",
        details={"live": None, "took_effect": False},
    )
    head = chain[-1]
    chain.append(seal(closed, seq=head.seq + 1, prev_hash=head.hash))
    assert verify_chain(chain) == [] and unfinished(reversed(chain)) is None
