"""The pipeline end to end on a real Prefect server, the local target and real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

from releasegate.errors import Blocked, DeployFailed, UsageError
from releasegate.flows.deploy import deploy
from releasegate.flows.rollback import rollback
from releasegate.wiring import open_store
from tests.flows.conftest import broken_source, serving
from tests.support.people import KEYS, approve_all, proof
from tests.support.traffic import Traffic

SIGNED = {
    "required": 2,
    "from": "release-managers",
    "timeout": "2m",
    "signed": True,
}


def test_v1_then_v2_then_rollback_with_signed_approvals_and_zero_failed_requests(
    make_setup,
) -> None:
    setup = make_setup(
        staging={},
        production={"approvals": SIGNED, "wait_timer": "1s"},
        top={"allowed_signers": str(KEYS / "allowed_signers")},
    )
    prod = setup.urls["production"]
    reviewers = approve_all("v1", "alice", "bob")
    deploy(version="v1", actor="dave", commit="c1", proof=proof("v1", commit="c1"))
    reviewers.join()
    assert serving(prod) == "v1" and serving(setup.urls["staging"]) == "v1"

    with Traffic(prod, max_seconds=120).running() as load:
        reviewers = approve_all("v2", "bob", "alice")
        deploy(version="v2", actor="dave", commit="c2", proof=proof("v2", commit="c2"))
        reviewers.join()
        assert serving(prod) == "v2"
        restored = rollback(environment="production", reason="v2 is slow", actor="carol")
    assert restored == "v1" and serving(prod) == "v1"
    assert load.failures == [] and load.count > 100 and set(load.versions) == {"v1", "v2"}

    code, out = setup.cli("history", "production", "--json")
    assert code == 0
    history = json.loads(out)
    assert [(h["kind"], h["version"], h["status"]) for h in history] == [
        ("rollback", "v1", "succeeded"),
        ("deploy", "v2", "succeeded"),
        ("deploy", "v1", "succeeded"),
    ]
    rollback_rec, v2, v1 = history
    assert rollback_rec["actor"] == "carol" and rollback_rec["reason"] == "v2 is slow"
    assert rollback_rec["previous_version"] == "v2" and rollback_rec["artifact"] == v1["artifact"]
    assert v2["approvers"] == ["bob", "alice"] and v2["actor"] == "dave"
    # The deploy's actor is proven; the rollback's was only typed, and says so.
    assert v2["actor_proof"] == "signed" and rollback_rec["actor_proof"] == "claimed"
    assert v2["approvals"] and all(a["signature"] and a["key_fingerprint"] for a in v2["approvals"])
    assert v2["commit"] == "c2" and v2["artifact"].startswith("sha256:")
    assert all(h["started_at"] and h["finished_at"] for h in history)

    code, out = setup.cli("status", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["production"]["version"] == "v1" and status["staging"]["version"] == "v2"

    code, out = setup.cli("audit", "verify")
    assert code == 0, out

    # What the Prefect UI shows: the environment's history, the smoke checks, a summary.
    history_table = latest_artifact(f"{setup.app}-production-history")
    rows = [(r["kind"], r["version"], r["actor"]) for r in json.loads(history_table.data)]
    assert rows[:3] == [
        ("rollback", "v1", "carol (claimed)"),
        ("deploy", "v2", "dave (signed)"),
        ("deploy", "v1", "dave (signed)"),
    ]
    smoke = latest_artifact(f"{setup.app}-production-smoke")
    assert "v1" in smoke.description and "passed" in smoke.description
    summary = latest_artifact(f"{setup.app}-run-summary")
    assert "rollback production to v1" in summary.data and "v2 is slow" in summary.data


def latest_artifact(key: str):  # type: ignore[no-untyped-def]
    with get_client(sync_client=True) as client:
        found = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[key]))
        )
    assert found, f"no artifact {key}"
    return found[0]


def test_rollback_to_any_version_or_past_run_and_default_skips_current(make_setup) -> None:
    setup = make_setup()
    runs = {}
    for version in ("v1", "v2", "v3"):
        deploy(version=version, actor="dave")
        store = open_store(setup.load())
        runs[version] = next(store.newest("production")).flow_run_id
    prod = setup.urls["production"]

    assert rollback(environment="production", reason="to v1", to="v1") == "v1"
    assert serving(prod) == "v1"
    # By flow-run id: the run that deployed v2.
    assert rollback(environment="production", reason="run", to=runs["v2"]) == "v2"
    assert serving(prod) == "v2"
    # Each rollback quarantined the version it left (v3, then v1): the default has nowhere
    # to go, and going back to v1 must say it releases it.
    with pytest.raises(UsageError, match=r"not quarantined \(v1, v3 are\)"):
        rollback(environment="production", reason="again")
    with pytest.raises(Blocked, match="--release-quarantine"):
        rollback(environment="production", reason="again", to="v1")
    assert rollback(environment="production", reason="v1", to="v1", release_quarantine=True) == "v1"
    with pytest.raises(UsageError, match="no successful deploy of version v9"):
        rollback(environment="production", reason="x", to="v9")


def test_failed_rollout_rolls_back_automatically_and_is_recorded(
    make_setup, tmp_path: Path
) -> None:
    good = make_setup()
    deploy(version="v1", actor="dave")
    broken = make_setup(
        app={"source": str(broken_source(tmp_path, good))}, name="broken.toml", urls=good.urls
    )
    with broken.pinned(), pytest.raises(DeployFailed, match="v2 to production failed"):
        deploy(version="v2", actor="dave")
    assert serving(good.urls["production"]) == "v1"
    newest = list(open_store(good.load()).newest("production"))
    changes = [(r.kind, r.version, r.status) for r in newest if r.kind in ("deploy", "rollback")]
    assert changes[:3] == [
        ("rollback", "v1", "succeeded"),
        ("rollback", "v1", "started"),
        ("deploy", "v2", "failed"),
    ]
    assert "automatic rollback" in (newest[0].reason or "")


def test_unreachable_audit_store_stops_the_run_before_any_change(
    make_setup, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    setup = make_setup(staging={}, top={"audit": str(blocker)})
    code, out = setup.cli("deploy", "v1", "--actor", "dave")
    assert code == 1 and "cannot write the audit record" in out
    with pytest.raises(httpx.ConnectError):
        httpx.get(setup.urls["staging"], timeout=2)
