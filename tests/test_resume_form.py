"""What the Resume form says, without a browser: a refusal first (who, what, how to fix),
then the facts, then one recipe; every way a decision can be refused has a fix.
(The browser tests show it rendered, measured and followed: tests/browser/.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from releasegate.approval import ApprovalRequest, Attempt
from releasegate.resume_form import FIXES, describe
from releasegate.signing.verifier import RefusalCode
from tests.support.modules import REPO

REQUEST = ApprovalRequest(
    flow_run_id="0b6f9c1e-6a1f-4c3e-9d7a-2f0e5b8c1a11",
    pause_key="approval-production-1-120304000000",
    opened_at=datetime(2026, 11, 27, 12, 3, 4, tzinfo=UTC),
    environment="production",
    app="webapp",
    version="v7",
    digest="sha256:" + "0123456789abcdef" * 4,
    actor="dave",
    actor_proof="signed",
    signed=True,
    missing={"release-managers": 1},
    approved_by=["bob"],
    eligible=["alice", "carol"],
)
REFUSED = Attempt(
    at=datetime(2026, 11, 27, 12, 3, 4, tzinfo=UTC),
    reviewer="alice",
    decision="approve",
    status="refused",
    code="bad-signature",
    reason="signature does not match",
    comment="ship it",
)


def test_a_refusal_comes_first_and_says_who_what_and_how_to_fix_it() -> None:
    text = describe(REQUEST.model_copy(update={"refused": REFUSED}))
    first = text.splitlines()[0]
    assert first.startswith("> **Refused:** alice's approve at 12:03:04 UTC did not count: ")
    assert "signature does not match (bad-signature). To fix: " in first
    assert "exactly as in the form" in first
    assert "Refused" not in describe(REQUEST)


def test_facts_first_then_one_recipe_for_every_reviewer() -> None:
    text = describe(REQUEST)
    facts, _, recipe = text.partition("```sh")
    for fact in ("webapp v7 → production", "Digest:", "Runs now:", "Upstream checks:"):
        assert fact in facts
    assert "dave (signed: proven by their SSH key)" in facts
    assert "1 more from release-managers (so far: bob)" in facts
    assert recipe.count("ssh-keygen -Y sign") == 1  # one recipe, not one per reviewer
    assert "alice" not in recipe and "carol" not in recipe
    # It signs this pause, and the time it runs (printed for the form), not a fixed one.
    assert f"'pause-key: {REQUEST.pause_key}'" in recipe
    assert '"issued-at: $AT"' in recipe and "2026-11-27T" not in recipe
    assert "*Issued At*" in facts
    # The digest is whole (in groups a narrow dialog can wrap), never shortened.
    shown = re.search(r"\*\*Digest:\*\* (.*)", facts)
    assert shown and re.sub(r"[` ]", "", shown.group(1)) == REQUEST.digest


def test_unsigned_mode_shows_no_recipe() -> None:
    text = describe(REQUEST.model_copy(update={"signed": False}))
    assert "ssh-keygen" not in text and "releasegate approve" in text


def test_every_way_to_be_refused_has_a_fix() -> None:
    judged = set(
        re.findall(r'code="([a-z-]+)"', (REPO / "releasegate/policy/approvals.py").read_text())
    )
    proved = set(
        re.findall(r'return None, \("([a-z-]+)"', (REPO / "tasks/approvals.py").read_text())
    )
    codes = {str(code) for code in RefusalCode} | judged | proved
    assert codes - set(FIXES) == set()
