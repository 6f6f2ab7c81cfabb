"""The CLI on a damaged store: `audit verify` names each bad record (exit 1), `history` and
`status` skip it with one warning line on stderr each and keep working; no command prints
a traceback."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
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
    """production: #0..#5 (two signed releases: 1.0.0 at #2, 1.1.0 at #5); staging: #0."""
    store = FileAuditStore(tmp_path / "audit")
    monkeypatch.setenv("RELEASEGATE_AUDIT", str(store.root))
    monkeypatch.setenv("RELEASEGATE_HOME", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_URL")  # and releasegate runs none under this home
    for n, version in enumerate(("1.0.0", "1.1.0")):
        for entry in signed_release(version, n=n):
            store.append(entry)
    store.append(make_entry("staging"))
    return store


def cli(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout, stderr; never a traceback."""
    result = CliRunner().invoke(app, [*args, "--config", CONFIG])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_an_intact_trail_without_a_prefect_server_is_called_unwitnessed_not_intact(
    store: FileAuditStore,
) -> None:
    code, out, err = cli("audit", "verify")
    assert code == 0, err
    assert out == "hash chains and signatures intact, tail unwitnessed: production, staging\n"
    assert (
        "UNWITNESSED production: the tail is unwitnessed: the witness cannot be read (no "
        "Prefect server: PREFECT_API_URL is unset and releasegate runs none under"
    ) in err


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate,
    "empty": lambda path: path.write_bytes(b""),
    "binary": lambda path: path.write_bytes(b"\x00\xff\xfe garbage \x80"),
    "json, not a record": lambda path: path.write_text('{"hello": "world"}'),
    "a list": lambda path: path.write_text("[1, 2, 3]"),
    "a directory": _directory,
}


def damage(store: FileAuditStore, seq: int, how: str) -> Path:
    path = store.record_path("production", seq)
    os.chmod(path, 0o644)
    DAMAGE[how](path)
    return path


@pytest.mark.parametrize("how", DAMAGE)
@pytest.mark.parametrize("seq", [5, 2], ids=["newest", "middle"])
def test_a_damaged_record_is_named_by_verify_and_skipped_by_history(
    store: FileAuditStore, seq: int, how: str
) -> None:
    path = damage(store, seq, how)

    code, out, err = cli("audit", "verify")
    assert code == 1, out + err
    assert f"BROKEN production #{seq} ({path}): not a valid audit record" in err
    assert out == ""
    code, out, err = cli("audit", "verify", "staging")
    assert code == 0, err

    code, out, err = cli("history", "production", "--json")
    assert code == 0, err
    shown = [(r["version"], r["kind"]) for r in json.loads(out)]
    assert shown == [("1.0.0", "deploy")] if seq == 5 else [("1.1.0", "deploy")]
    warned = err.splitlines()
    assert len(warned) == 1, err
    assert warned[0].startswith("warning: audit store ")
    assert f"production #{seq} ({path}) is not a valid audit record" in warned[0]
    assert warned[0].endswith("skipped: run `releasegate audit verify`")


@pytest.mark.parametrize("how", ["truncated", "a directory"])
def test_status_reads_past_a_damaged_newest_record(store: FileAuditStore, how: str) -> None:
    path = damage(store, 5, how)
    code, out, err = cli("status", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["production"]["recorded_version"] == "1.0.0"  # 1.1.0's deploy is damaged
    assert report["production"]["live"] is False  # nothing runs under this home
    assert len(err.splitlines()) == 1 and f"production #5 ({path})" in err, err


def test_foreign_files_and_folders_are_reported_and_ignored(store: FileAuditStore) -> None:
    (store.root / "stray").mkdir()
    (store.root / "notes.txt").write_text("x")
    (store.root / "production" / "records" / "notes.txt").write_text("x")
    (store.root / "production" / "records" / "old").mkdir()
    (store.root / "production" / "backup").mkdir()
    code, out, err = cli("audit", "verify")
    assert code == 0, err
    assert out.startswith("hash chains and signatures intact, tail unwitnessed")
    for notice in (
        f"NOTICE {store.root / 'stray'}: a folder without records/: ignored",
        f"NOTICE {store.root / 'notes.txt'}: not an environment: ignored",
        "NOTICE production: records/notes.txt: not an audit record: ignored",
        "NOTICE production: records/old/: not an audit record: ignored",
        "NOTICE production: backup/: not an audit record: ignored",
    ):
        assert notice in err
    code, out, err = cli("history", "--json")
    assert (code, err) == (0, "")
    assert len(json.loads(out)) == 3


def test_a_record_moved_to_another_slot_is_named(store: FileAuditStore) -> None:
    path = store.record_path("production", 4)
    os.chmod(path, 0o644)
    shutil.copyfile(store.record_path("production", 1), path)
    code, _out, err = cli("audit", "verify", "production")
    assert code == 1
    assert f"BROKEN production #4 ({path}): holds production #1" in err


def test_verify_names_a_forged_signature(store: FileAuditStore) -> None:
    path = store.record_path("production", 0)
    data = json.loads(path.read_text())
    data["approvals"][0]["comment"] = "edited after signing"
    os.chmod(path, 0o644)
    path.write_text(json.dumps(data))
    code, _out, err = cli("audit", "verify", "production")
    assert code == 1
    assert "production #0" in err and "signature does not verify: bad-signature" in err
