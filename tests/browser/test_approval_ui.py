"""Approving in the Prefect UI, as a release manager does it: open the paused run, read the
Resume form's description, sign with the recipe it shows (run as shown, in a real shell,
with the person's own name, decision, key and comment), paste the time it printed and the
signature, Resume.

- Two reviewers approve through the form, one with a comment and one without, each on
  the first try, and production goes live.
- A refused decision is explained where the person looks next: the form refuses an empty
  signature outright; a signature over another comment (the old trap) is judged by the
  run, and the next form starts with who was refused, why, and how to fix it; the run log
  says the same; the run's approvals artifact lists both attempts.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from playwright.sync_api import Page, expect
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from releasegate import prefect_server, review
from releasegate.approval import ApprovalRequest
from releasegate.flows.deploy import deploy
from releasegate.signing.payload import COMMENT_LINE, ISSUED_AT_LINE
from tests.flows.conftest import Setup, serving
from tests.support.browser import in_a_thread, screenshot_for_docs
from tests.support.people import KEYS, proof
from tests.support.prefect_ui import TIMEOUT_MS, PrefectUI, ResumeForm

LAPTOP_HEIGHT = 900  # the browser's viewport: the description fits on it


def approvals(required: int) -> dict[str, Any]:
    return {"required": required, "from": "release-managers", "timeout": "5m", "signed": True}


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """The demo reviewers' private keys, as ssh-keygen accepts them (0600)."""
    out = {}
    for name in ("alice", "bob"):
        out[name] = tmp_path / name
        shutil.copyfile(KEYS / name, out[name])
        out[name].chmod(0o600)
    return out


def signed_setup(  # type: ignore[no-untyped-def]
    make_setup, required: int, app: str | None = None
) -> Setup:
    return make_setup(
        staging={},
        production={"approvals": approvals(required)},
        top={"allowed_signers": str(KEYS / "allowed_signers")},
        app={"name": app} if app else None,
    )


@dataclass
class Deploying:
    """dave's signed request to deploy v1, running in a worker thread, and the production
    requests it has made so far."""

    result: Future[str]
    app: str
    answered: set[str] = field(default_factory=set)
    flow_run_id: str = ""

    def next_request(self) -> ApprovalRequest:
        """The run's next production request (a pause not seen yet)."""
        found = in_a_thread(
            review.next_request,
            "v1",
            "production",
            self.answered,
            timeout=120,
            unless=self.result.done,
            app=self.app,
        )
        assert found is not None, f"the run ended without asking: {self.result.result()}"
        self.answered.add(found.pause_key)
        self.flow_run_id = found.flow_run_id
        return found


@contextmanager
def deploying(setup: Setup) -> Iterator[Deploying]:
    """A deploy of v1 for the test; if the test fails while it waits, carol rejects it
    (signed), so it ends now instead of at its approval timeout."""
    with ThreadPoolExecutor(1) as pool:
        signed = proof("v1")  # dave's request, signed with his demo key
        run = Deploying(
            pool.submit(setup.call, deploy, version="v1", actor="dave", proof=signed), setup.app
        )
        try:
            yield run
        finally:
            if run.flow_run_id and not run.result.done():
                in_a_thread(
                    review.decide, run.flow_run_id, "carol", reject=True, key=KEYS / "carol"
                )


@dataclass(frozen=True)
class Signed:
    """What the recipe printed: the time it signed at (its first line, for the form's
    Issued At), then the signature."""

    issued_at: str
    signature: str


def sign_as_shown(recipe: str, reviewer: str, key: Path, comment: str = "") -> Signed:
    """The recipe as a person follows it: name and key in its variables, the comment on
    its empty line; run in a real shell. Returns what it prints."""
    lines = recipe.split("\n")
    at = lines.index(COMMENT_LINE)
    lines[at + 1] = comment
    lines = [f"REVIEWER={reviewer}" if line.startswith("REVIEWER=") else line for line in lines]
    lines = [f"KEY={key}" if line.startswith("KEY=") else line for line in lines]
    done = subprocess.run(["sh", "-c", "\n".join(lines)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    stamp, signature = done.stdout.split("\n", 1)
    assert stamp.startswith(ISSUED_AT_LINE), done.stdout
    return Signed(stamp.removeprefix(ISSUED_AT_LINE), signature)


def open_form(prefect: PrefectUI, request: ApprovalRequest) -> ResumeForm:
    """The paused run's Resume form, once its description shows `request` (its state)."""
    prefect.open_run(request.flow_run_id)
    prefect.wait_for_state("Paused")
    form = prefect.open_resume()
    still = ", ".join(f"{n} more from {group}" for group, n in request.missing.items())
    expect(form.description()).to_contain_text(f"Needs: {still}", timeout=TIMEOUT_MS)
    return form


def decide(form: ResumeForm, reviewer: str, signed: Signed, comment: str = "") -> None:
    """Fill in the form as the recipe's output says: time into Issued At, the signature
    into Signature."""
    form.fill("Reviewer", reviewer)
    if comment:
        form.fill("Comment", comment)
    form.fill("Issued At", signed.issued_at)
    form.fill("Signature", signed.signature)


def test_two_reviewers_approve_through_the_resume_form_and_production_goes_live(
    prefect_api: str, make_setup, keys: dict[str, Path], page: Page
) -> None:
    setup = signed_setup(make_setup, required=2, app="webapp")  # as the README's screenshot
    prefect = PrefectUI(page, prefect_server.ui_url())
    with deploying(setup) as run:
        first = run.next_request()
        form = open_form(prefect, first)
        fits_a_laptop_screen(form, first.digest)
        comment = 'checked staging: it\'s fine, "really" \\o/'
        decide(
            form, "alice", sign_as_shown(form.recipe(), "alice", keys["alice"], comment), comment
        )
        assert form.submit().ok

        second = run.next_request()  # alice counted: the run asks for one more
        assert second.approved_by == ["alice"] and second.refused is None
        form = open_form(prefect, second)
        expect(form.description()).to_contain_text("(so far: alice)")
        decide(form, "bob", sign_as_shown(form.recipe(), "bob", keys["bob"]))
        form.description().evaluate("e => e.scrollIntoView({block: 'start'})")
        screenshot_for_docs(page, "approval-in-the-prefect-ui.png")
        assert form.submit().ok
        run.result.result(timeout=180)
    assert serving(setup.urls["production"]) == "v1"
    prefect.wait_for_state("Completed")
    decisions = setup.records("approval")
    assert [(r.approvers[0], r.status) for r in decisions[::-1]] == [
        ("alice", "accepted"),
        ("bob", "accepted"),
    ]
    assert decisions[-1].approvals[0].comment == comment  # as typed, and as signed


def fits_a_laptop_screen(form: ResumeForm, digest: str) -> None:
    """The description fits the 1440x900 viewport, and the digest shows whole: wrapped
    inside the dialog, not cut at its edge; the recipe's lines need no scrolling."""
    described = form.description()
    box = described.bounding_box()
    assert box is not None and box["height"] <= LAPTOP_HEIGHT - 100, box
    shown = described.locator("li", has_text="Digest:")
    assert shown.inner_text().replace(" ", "").endswith(digest.replace("sha256:", ""))
    for code in shown.locator("code").all():
        part = code.bounding_box()
        assert part is not None and part["x"] + part["width"] <= box["x"] + box["width"], part
    recipe = described.locator("pre").first
    assert recipe.evaluate("e => e.scrollWidth <= e.clientWidth")


def test_a_refused_signature_is_explained_in_the_next_form_the_log_and_the_artifact(
    prefect_api: str,
    make_setup,
    keys: dict[str, Path],
    page: Page,
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup = signed_setup(make_setup, required=1)
    prefect = PrefectUI(page, prefect_server.ui_url())
    caplog.set_level(logging.WARNING, logger="prefect")
    with deploying(setup) as run:
        first = run.next_request()
        form = open_form(prefect, first)

        # No signature at all: the form's schema refuses it; nothing reaches the run.
        form.fill("Reviewer", "alice")
        toast = form.submit()
        assert not toast.ok and "signature" in toast.text, toast
        page.reload()
        prefect.wait_for_state("Paused")
        assert in_a_thread(review.request, first.flow_run_id).pause_key == first.pause_key

        # The trap: signed without a comment, then a comment typed in the form.
        form = open_form(prefect, first)
        unsigned_comment = sign_as_shown(form.recipe(), "alice", keys["alice"])
        decide(form, "alice", unsigned_comment, comment="ship it")
        assert form.submit().ok  # Prefect's toast says "resumed" whatever the run decides

        second = run.next_request()
        assert second.refused is not None and second.refused.code == "bad-signature"
        form = open_form(prefect, second)
        explained = (
            "Refused: alice's approve at .* did not count: .* \\(bad-signature\\)\\. To fix: "
            "the signature covers another decision or comment: sign again with the recipe "
            "below, with your name, decision and comment exactly as in the form"
        )
        expect(form.description().locator("blockquote")).to_have_text(re.compile(explained))
        first_line = form.description().locator("blockquote").bounding_box()
        heading = form.description().locator("h3").bounding_box()
        assert first_line and heading and first_line["y"] < heading["y"]  # it comes first

        # Following the fix: signed with the comment, on the first try.
        decide(form, "alice", sign_as_shown(form.recipe(), "alice", keys["alice"], "ship it"))
        form.fill("Comment", "ship it")
        assert form.submit().ok
        run.result.result(timeout=180)
    assert serving(setup.urls["production"]) == "v1"

    logged = [r.getMessage() for r in caplog.records if "refused:" in r.getMessage()]
    assert len(logged) == 1 and "alice's approve" in logged[0], logged
    assert "(bad-signature). To fix: the signature covers another" in logged[0]
    rows = in_a_thread(approvals_artifact, first.flow_run_id)
    assert [(r["reviewer"], r["verdict"], r["comment"]) for r in rows] == [
        ("alice", "REFUSED", "ship it"),
        ("alice", "counts", "ship it"),
    ]
    assert "(bad-signature)" in rows[0]["why"] and rows[1]["why"] == ""


def approvals_artifact(flow_run_id: str) -> list[dict[str, str]]:
    """The rows of the run's approvals table (one artifact, updated in place)."""
    with get_client(sync_client=True) as client:
        made = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)])
            )
        )
    tables = [a for a in made if a.type == "table" and "Approvals of" in (a.description or "")]
    assert len(tables) == 1, [a.description for a in made]
    data = tables[0].data
    return list(json.loads(data) if isinstance(data, str) else data)
