"""Quarantine through the real flows and CLI: a version rolled back from production stays
out of it (deploy refused, default rollback never picks it) until a person releases it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from releasegate.flows.deploy import deploy
from tests.flows.conftest import serving


def test_a_rolled_back_version_is_quarantined_until_released(make_setup, tmp_path: Path) -> None:
    setup = make_setup()
    prod = setup.urls["production"]
    deploy(version="v1", actor="dave")
    deploy(version="v2", actor="dave")
    code, out = setup.cli("rollback", "production", "--reason", "v2 leaks memory", "--as", "carol")
    assert code == 0 and serving(prod) == "v1", out

    # The report: a second "rollback to previous" put v2 back. Now it has nowhere to go.
    code, out = setup.cli("rollback", "production", "--reason", "again", "--as", "carol")
    assert code == 2 and "not quarantined (v2 are)" in out and serving(prod) == "v1"

    code, out = setup.cli("quarantine", "list", "--json")
    held = json.loads(out)
    assert code == 0 and [(q["environment"], q["version"]) for q in held] == [("production", "v2")]
    assert held[0]["by"] == "carol (claimed)" and "v2 leaks memory" in held[0]["reason"]
    rollback_run = setup.records("rollback")[0].flow_run_id
    assert held[0]["rollback_run"] == rollback_run

    # The pipeline refuses to promote it again, naming the rollback that quarantined it.
    code, out = setup.cli("deploy", "v2", "--actor", "dave")
    flat = " ".join(out.split())
    assert code == 3 and "quarantine" in flat and rollback_run in flat, out
    assert "releasegate quarantine release production v2" in flat and serving(prod) == "v1"

    # An explicit rollback to it must say so.
    code, out = setup.cli("rollback", "production", "--to", "v2", "--reason", "x", "--as", "carol")
    assert code == 3 and "--release-quarantine" in out and serving(prod) == "v1"

    # A newer commit of v2 is another artifact: not affected.
    newer = tmp_path / "newer"
    shutil.copytree(setup.load().app.source, newer)
    with (newer / "app.py").open("a") as source:
        source.write("\n# the leak fixed\n")
    fixed = make_setup(app={"source": str(newer)}, name="fixed.toml", urls=setup.urls)
    code, out = fixed.cli("deploy", "v2", "--actor", "dave")
    assert code == 0 and serving(prod) == "v2", out

    # Releasing ends it, recorded with the reason.
    code, out = setup.cli("quarantine", "release", "production", "v2", "--reason", "fixed upstream")
    assert code == 0 and "released v2" in out
    code, out = setup.cli("quarantine", "list")
    assert code == 0 and "Nothing is quarantined" in out
    code, out = setup.cli("quarantine", "release", "production", "v2", "--reason", "again")
    assert code == 2 and "not quarantined" in out
    code, out = setup.cli("history", "--all", "--json")
    kinds = [
        (h["kind"], h["status"], h["version"]) for h in json.loads(out) if h["kind"] == "quarantine"
    ]
    assert kinds[:2] == [("quarantine", "released", "v2"), ("quarantine", "quarantined", "v2")]
    code, out = setup.cli("audit", "verify")
    assert code == 0, out
