"""What happens when a change does not hold, through the real flows and the real target:
the live URL failing its check after a successful switch (the automatic rollback that moves
traffic back, or not with on_verify_failure = "fail"), nothing earlier to go back to, and a
manual rollback that fails."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from releasegate.errors import DeployFailed
from releasegate.flows.deploy import deploy
from tests.flows.conftest import Setup, broken_behind_the_proxy, serving


def newest_changes(setup: Setup) -> list[tuple[str, str | None, str]]:
    records = [r for r in _newest(setup) if r.kind in ("deploy", "rollback", "verify")]
    return [(r.kind, r.version, r.status) for r in records]


def _newest(setup: Setup) -> list:
    from releasegate.wiring import open_store

    return list(open_store(setup.load()).newest("production"))


def broken_pair(make_setup, tmp_path: Path, name: str, **production: object) -> tuple[Setup, Setup]:
    """A good setup and one building the app broken behind the proxy, on the same URLs,
    home and app name."""
    good = make_setup(app={"name": name}, production=dict(production))
    broken = make_setup(
        app={"name": name, "source": str(broken_behind_the_proxy(tmp_path, good))},
        production=dict(production),
        name="broken.toml",
        urls=good.urls,
    )
    return good, broken


def test_a_live_url_failing_after_the_switch_moves_traffic_back(make_setup, tmp_path: Path) -> None:
    good, broken = broken_pair(make_setup, tmp_path, "verify-back")
    good.call(deploy, version="g1", actor="dave")
    with pytest.raises(DeployFailed, match="verification of production failed"):
        broken.call(deploy, version="g2", actor="dave")
    assert serving(good.urls["production"]) == "g1"
    assert newest_changes(good)[:5] == [
        ("rollback", "g1", "succeeded"),
        ("verify", "g1", "passed"),
        ("rollback", "g1", "started"),
        ("deploy", "g2", "failed"),
        ("verify", "g2", "failed"),  # g2 was live: its rollout had succeeded
    ]
    rolled = _newest(good)[0]
    assert rolled.reason == "automatic rollback: g2 failed in production"
    assert rolled.previous_version == "g2"


def test_on_verify_failure_fail_leaves_the_failed_version_live_and_says_so(
    make_setup, tmp_path: Path
) -> None:
    good, broken = broken_pair(make_setup, tmp_path, "verify-fail", on_verify_failure="fail")
    good.call(deploy, version="f1", actor="dave")
    with pytest.raises(DeployFailed, match="verification of production failed"):
        broken.call(deploy, version="f2", actor="dave")
    assert newest_changes(good)[:2] == [("deploy", "f2", "failed"), ("verify", "f2", "failed")]
    assert good.records("rollback") == []
    # f2 took the traffic and keeps it: the proxy now forwards to instances answering 404.
    assert httpx.get(f"{good.urls['production']}/version", timeout=5).status_code == 404
    code, out = good.cli("status", "--json")
    assert code == 0 and '"f2"' in out


def test_no_earlier_good_version_fails_the_deploy_without_a_rollback(
    make_setup, tmp_path: Path
) -> None:
    _, broken = broken_pair(make_setup, tmp_path, "verify-first")
    with pytest.raises(DeployFailed, match="verification of production failed"):
        broken.call(deploy, version="n1", actor="dave")
    assert newest_changes(broken)[:2] == [("deploy", "n1", "failed"), ("verify", "n1", "failed")]
    assert broken.records("rollback") == []


def test_a_manual_rollback_that_fails_is_recorded_exits_1_and_leaves_the_live_version(
    make_setup,
) -> None:
    setup = make_setup(app={"name": "rollback-fails"}, production={"strategy": "rolling"})
    setup.call(deploy, version="b1", actor="dave")
    setup.call(deploy, version="b2", actor="dave")
    first = setup.records("deploy")[-1]
    assert first.version == "b1" and first.artifact
    # b1's bundle is damaged on disk (a corrupt file): nothing can start it again.
    bundle = setup.home / "releases" / first.artifact.removeprefix("sha256:")
    (bundle / "app.py").chmod(0o644)
    (bundle / "app.py").write_text("raise SystemExit('damaged')\n")
    code, out = setup.cli(
        "rollback", "production", "--to", "b1", "-r", "b2 is slow", "--actor", "carol"
    )
    assert code == 1, out
    assert "rollback of b1 to production failed" in out
    assert serving(setup.urls["production"]) == "b2"
    assert [(r.version, r.status) for r in setup.records("rollback")] == [
        ("b1", "failed"),
        ("b1", "started"),
    ]
