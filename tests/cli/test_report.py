"""`releasegate report`: the figures of a history built for the test, as JSON, a table and a
page; exit codes for what a user can get wrong."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from releasegate.audit.file import FileAuditStore
from releasegate.cli import app
from releasegate.policy.quarantine import QUARANTINE
from tests.support.bulk import write_history
from tests.support.histories import D, History, a_week
from tests.support.toml import table


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    """A config whose production trail is `a_week` ending yesterday; staging has one deploy
    with a commit time."""
    start = datetime.now(UTC).replace(microsecond=0) - 7 * D
    store = FileAuditStore(tmp_path / "audit")
    write_history(store, a_week(start).entries)
    staging = History("staging").change(start, "s1", "v1", committed_at=start - D / 2)
    write_history(store, staging.entries)
    kept = History(QUARANTINE).add(start + 3 * D, "q1", kind="quarantine", status="quarantined",
                                    details={"environment": "production"})  # fmt: skip
    write_history(store, kept.entries)
    lines = table(None, {"home": tmp_path / "home", "audit": tmp_path / "audit"})
    lines += table("app", {"name": "webapp"})
    lines += table("environments.staging", {"url": "http://127.0.0.1:18080"})
    lines += table("environments.production", {"url": "http://127.0.0.1:18081"})
    path = tmp_path / "releasegate.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["report", *args, "--config", str(config)])
    return result.exit_code, result.output


def test_json_has_each_environments_figures_in_promotion_order(trail: Path) -> None:
    code, out = run(trail, "--json")
    assert code == 0, out
    report = json.loads(out)
    staging, production = report["environments"]
    assert staging["environment"] == "staging" and staging["lead_time"]["p50_seconds"] == 43200
    assert (production["deploys"], production["changes"], production["failed_changes"]) == (3, 5, 3)
    assert production["approval_wait"] == {"count": 2, "p50_seconds": 1800, "p90_seconds": 3600}
    assert production["refusals_by_reason"] == {"not-member": 1}
    assert production["recorded"] == {"override": 0, "quarantine": 1}
    assert staging["recorded"] == {"override": 0, "quarantine": 0}


def test_a_shorter_period_leaves_out_what_came_before(trail: Path) -> None:
    code, out = run(trail, "production", "--since", "3d12h", "--json")
    assert code == 0, out
    (production,) = json.loads(out)["environments"]
    # r6 (deployed 3 days ago) and r7 (failed 2 days ago) are in it; r5 (4 days) is not.
    assert (production["deploys"], production["changes"], production["failed_changes"]) == (1, 2, 1)


def test_the_table_says_what_is_missing(trail: Path) -> None:
    code, out = run(trail, "production")
    assert code == 0, out
    assert "production:" in out and "change failure rate" in out
    assert "60% (3 of 5 changes failed or were rolled back)" in out
    assert "(1 more have no commit time)" in out
    assert re.search(r"quarantines\s+│\s+1\b", out), out


def test_the_html_page_is_self_contained(trail: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    code, out = run(trail, "--html", str(page))
    assert code == 0, out
    assert f"report written to {page}" in out
    html = page.read_text()
    assert html.count("<svg") == 8  # four charts for each of two environments
    assert "default-src 'none'" in html
    # Nothing to fetch: no src/href attribute, no url(...) in a style, no script.
    assert not re.search(r"""\b(src|href)\s*=|url\(|<script|@import""", html, re.IGNORECASE)


def test_user_errors_exit_2_and_say_what_is_wrong(trail: Path, tmp_path: Path) -> None:
    code, out = run(trail, "nowhere")
    assert code == 2 and "no environment 'nowhere' (configured: staging, production)" in out
    code, out = run(trail, "--since", "a while")
    assert code == 2 and "--since: 'a while' is not a duration" in out
    code, out = run(trail, "--html", str(tmp_path / "missing" / "report.html"))
    assert code == 2 and "cannot write the report: No such file or directory" in out
    assert "Traceback" not in out


def test_hostile_names_in_the_trail_stay_text_on_the_page() -> None:
    from releasegate.policy.figures import Report, Tally
    from releasegate.policy.observations import Observer
    from releasegate.report_page import page

    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    history = History(hostile)
    history.gate(datetime(2026, 11, 2, tzinfo=UTC), "r1", "before approvals", blocked=(hostile,))
    observer = Observer()
    tally = Tally(hostile, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
    for record in history.records():
        tally.add(observer.feed(record))
    html = page(Report(generated_at=tally.until, since=tally.since, environments=[tally.figures()]))
    assert "<script" not in html and "<img" not in html
    assert html.count("&lt;script&gt;alert(1)") >= 2  # the heading, the blocked gate, the charts
