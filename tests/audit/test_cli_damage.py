"""The CLI on a damaged store: `audit verify` names what is wrong (exit 1, no traceback);
`history` and `status` keep working past a damaged record."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from releasegate.audit.file import FileAuditStore
from releasegate.cli import app
from tests.conftest import REPO
from tests.support.records import make_entry, signed_release

CONFIG = str(REPO / "deployments" / "releasegate.toml")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileAuditStore:
    store = FileAuditStore(tmp_path / "audit")
    monkeypatch.setenv("RELEASEGATE_AUDIT", str(store.root))
    monkeypatch.setenv("RELEASEGATE_HOME", str(tmp_path))
    for n, version in enumerate(("1.0.0", "1.1.0")):
        for entry in signed_release(version, n=n):
            store.append(entry)
    store.append(make_entry("staging"))
    return store


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--config", CONFIG])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_an_intact_but_unwitnessed_trail_is_not_called_intact(store: FileAuditStore) -> None:
    code, out = cli("audit", "verify")
    assert code == 0, out
    assert "hash chains and signatures intact, tail unwitnessed: production, staging" in out
    assert "UNWITNESSED production: the tail is unwitnessed (no witness configured)" in out


def test_verify_names_damaged_records_and_foreign_files(store: FileAuditStore) -> None:
    newest = store.record_path("production", 5)
    os.chmod(newest, 0o644)
    newest.write_bytes(newest.read_bytes()[:100])
    (store.root / "stray").mkdir()
    (store.root / "production" / "records" / "notes.txt").write_text("x")
    code, out = cli("audit", "verify")
    assert code == 1
    assert f"BROKEN production #5 ({newest}): not a valid audit record" in out
    assert f"NOTICE {store.root / 'stray'}: a folder without records/: ignored" in out
    assert "NOTICE production: records/notes.txt: not an audit record: ignored" in out
    code, out = cli("audit", "verify", "staging")
    assert code == 0, out


def test_verify_names_a_forged_signature(store: FileAuditStore) -> None:
    path = store.record_path("production", 0)
    data = json.loads(path.read_text())
    data["approvals"][0]["comment"] = "edited after signing"
    os.chmod(path, 0o644)
    path.write_text(json.dumps(data))
    code, out = cli("audit", "verify", "production")
    assert code == 1
    assert "production #0" in out and "signature does not verify: bad-signature" in out


def test_history_reads_past_a_damaged_newest_record(
    store: FileAuditStore, caplog: pytest.LogCaptureFixture
) -> None:
    newest = store.record_path("production", 5)
    os.chmod(newest, 0o644)
    newest.write_text("{")
    caplog.set_level(logging.WARNING, logger="releasegate.audit")
    code, out = cli("history", "production", "--json")
    assert code == 0, out
    assert [r["version"] for r in json.loads(out)] == ["1.0.0"]  # 1.1.0's deploy is damaged
    assert "production #5" in caplog.text and "skipped" in caplog.text
