"""A deferred decision ("approve now, deploy after 22:00"): its time is a line of the signed
message only when given (every earlier message is unchanged), it is stored only when given
(every earlier record keeps its hash), and `--not-before` reads times as people write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from releasegate.approval import deferral
from releasegate.audit.record import ApprovalEntry, AuditRecord, content_hash, seal
from releasegate.signing.payload import DecisionPayloadV1
from tests.signing.conftest import payload
from tests.support.records import make_entry

BERLIN_WINTER = timezone(timedelta(hours=1))


def test_the_time_is_a_signed_line_of_its_own() -> None:
    plain = payload().message()
    later = payload(not_before=datetime(2026, 11, 27, 22, 0, 30, tzinfo=BERLIN_WINTER))
    assert later.message() == plain.replace(
        b"\nissued-at:", b"\nnot-before: 2026-11-27T21:00:30Z\nissued-at:"
    )
    assert b"not-before" not in plain  # a decision given before deferrals existed: same bytes
    sooner = payload(not_before=datetime(2026, 11, 27, 21, 0, 29, tzinfo=UTC))
    assert sooner.message() != later.message()
    # Version 1 records signed deferrals too, just before the comment: they re-verify.
    v1 = DecisionPayloadV1.model_validate(later.model_dump(exclude={"pause_key", "issued_at"}))
    assert v1.message().endswith(
        b"\nnot-before: 2026-11-27T21:00:30Z\ncomment: smoke tests green\n"
    )


def test_an_undeferred_decision_is_stored_and_hashed_as_before() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    decision = ApprovalEntry(name="alice", decision="approve", at=at)
    stored = decision.model_dump(mode="json")
    assert not {"not_before", "pause_key", "issued_at"} & stored.keys()
    sealed = seal(make_entry(kind="approval", approvals=[decision]), seq=0, prev_hash="0" * 64)
    back = AuditRecord.model_validate_json(sealed.model_dump_json())
    assert content_hash(back) == sealed.hash
    deferred = decision.model_copy(update={"not_before": at + timedelta(hours=9)})
    kept = seal(make_entry(kind="approval", approvals=[deferred]), seq=0, prev_hash="0" * 64)
    again = AuditRecord.model_validate_json(kept.model_dump_json())
    assert again.approvals[0].not_before == at + timedelta(hours=9)
    assert content_hash(again) == kept.hash != sealed.hash


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # 13:00 in Berlin


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("22:00", "Europe/Berlin", datetime(2026, 11, 27, 21, 0, tzinfo=UTC)),  # tonight
        ("09:00", "Europe/Berlin", datetime(2026, 11, 28, 8, 0, tzinfo=UTC)),  # passed: tomorrow
        ("2026-11-30T06:30", "America/New_York", datetime(2026, 11, 30, 11, 30, tzinfo=UTC)),
        ("2026-11-30T06:30Z", "Europe/Berlin", datetime(2026, 11, 30, 6, 30, tzinfo=UTC)),
    ],
)
def test_not_before_as_people_write_it(text: str, tz: str, expected: datetime) -> None:
    assert deferral(text, tz, NOW) == expected


@pytest.mark.parametrize(
    ("text", "tz", "reason"),
    [
        ("22:00", "Mars/Base", "'Mars/Base' is not a known IANA time zone"),
        ("tonight", "UTC", "'tonight' is neither a time like 22:00 nor a date-time"),
        ("25:00", "UTC", "'25:00' is neither"),
    ],
)
def test_not_before_that_cannot_be_read(text: str, tz: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        deferral(text, tz, NOW)
