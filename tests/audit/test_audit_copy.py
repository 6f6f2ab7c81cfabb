"""`releasegate audit copy SOURCE DESTINATION`: a folder to a bucket and back, verified as it
goes, never onto another history, resumable after `kill -9`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from releasegate.audit.file import FileAuditStore
from releasegate.audit.prefect_witness import PrefectWitness
from releasegate.audit.record import decode, encode, seal
from releasegate.audit.s3 import S3AuditStore
from releasegate.cli import app
from releasegate.processes import wait_until
from tests.conftest import REPO
from tests.support.bulk import write_history
from tests.support.records import broken, make_entry, signed_release

pytestmark = pytest.mark.integration

CONFIG = str(REPO / "deployments" / "releasegate.toml")  # trusts the demo reviewers' keys


@pytest.fixture
def env(tmp_path: Path, seaweedfs: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """S3 credentials through boto3's standard chain; a home of the test's own."""
    values = {**seaweedfs.env(), "RELEASEGATE_HOME": str(tmp_path / "home")}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["audit", "copy", *args, "--config", CONFIG])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def history(store: Any) -> None:
    """production: three signed releases (#0..#8); staging: three records."""
    for n, version in enumerate(("1.0.0", "1.1.0", "1.2.0")):
        for entry in signed_release(version, n=n):
            store.append(entry)
        store.append(make_entry("staging", version=version))


def summary(out: str) -> dict[str, tuple[int, int, int | None, str]]:
    """Per environment: (copied, already there, head, source tail), from --json."""
    data = json.loads(out)
    return {
        e["environment"]: (e["copied"], e["present"], e["head"], e["source_tail"])
        for e in data["environments"]
    }


def test_a_folder_copied_to_a_bucket_and_back_verifies_and_is_witnessed(
    tmp_path: Path,
    env: dict[str, str],
    s3: Any,
    bucket: str,
    prefect_api: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = FileAuditStore(tmp_path / "audit")
    source.witness = PrefectWitness(source.url, api_url=prefect_api)
    history(source)

    code, out, err = cli(str(source.root), f"s3://{bucket}/trail", "--json")
    assert code == 0, err
    assert summary(out) == {
        "production": (9, 0, 8, "witnessed"),
        "staging": (3, 0, 2, "witnessed"),
    }
    copy = S3AuditStore(bucket, "trail", client=s3)
    for name in ("production", "staging"):
        for seq in range(3 if name == "staging" else 9):
            assert copy._read(name, seq) == source._read(name, seq)  # byte for byte
    # The copy is a store of record in its own right: verified, its head witnessed.
    monkeypatch.setenv("RELEASEGATE_AUDIT", f"s3://{bucket}/trail")
    result = CliRunner().invoke(app, ["audit", "verify", "--config", CONFIG])
    assert (result.exit_code, result.stdout) == (0, "audit trail intact: production, staging\n")

    back = tmp_path / "back"
    code, out, err = cli(f"s3://{bucket}/trail", str(back))
    assert code == 0, err
    for column in ("environment", "copied", "already there", "source tail"):
        assert column in out
    assert "production" in out and "witnessed" in out
    assert list(FileAuditStore(back).chain("production")) == list(source.chain("production"))
    assert broken(FileAuditStore(back)) == []


def test_a_destination_holding_another_history_is_refused_before_anything_is_written(
    tmp_path: Path, env: dict[str, str], s3: Any, bucket: str
) -> None:
    source = FileAuditStore(tmp_path / "audit")
    history(source)
    other = S3AuditStore(bucket, "trail", client=s3)
    other.append(make_entry(version="9.9.9"))  # production #0 of another history
    code, _out, err = cli(str(source.root), f"s3://{bucket}/trail")
    assert code == 3, err
    assert (
        f"blocked: s3://{bucket}/trail/production/records/9999999999999999-0.json differs "
        f"from {source.record_path('production', 0)}: the destination holds another history"
    ) in err
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="trail/")["Contents"]
    assert [o["Key"] for o in listed] == ["trail/production/records/9999999999999999-0.json"]

    longer = tmp_path / "longer"  # the destination ran on after the copy: refused too
    code, _, err = cli(str(source.root), str(longer))
    assert code == 0, err
    FileAuditStore(longer).append(make_entry(version="2.0.0"))
    code, _, err = cli(str(source.root), str(longer))
    assert code == 3
    assert f"{longer} already holds production #9, which {source.url} does not have" in err


def test_the_copy_of_a_broken_trail_stops_at_its_first_broken_record(
    tmp_path: Path, env: dict[str, str], bucket: str, s3: Any
) -> None:
    source = FileAuditStore(tmp_path / "audit")
    history(source)
    path = source.record_path("production", 3)
    edited = decode(path.read_bytes()).model_copy(update={"actor": "mallory"})
    os.chmod(path, 0o644)
    path.write_bytes(encode(edited))  # edited, not re-hashed
    code, out, err = cli(str(source.root), f"s3://{bucket}/trail", "--json")
    assert code == 1
    assert f"failed: production #3 ({edited.id}): content does not match its hash" in err
    assert f"copy stopped; #0..#2 of production in s3://{bucket}/trail/" in err
    assert summary(out)["production"] == (3, 0, 2, "broken")
    assert len(s3.list_objects_v2(Bucket=bucket, Prefix="trail/")["Contents"]) == 3

    forged = tmp_path / "forged"  # a re-hashed forgery of an approval: its signature fails
    history(FileAuditStore(forged))
    path = FileAuditStore(forged).record_path("production", 0)
    rec = decode(path.read_bytes())
    approval = rec.approvals[0].model_copy(update={"comment": "ship it anyway"})
    resealed = seal(
        rec.model_copy(update={"approvals": [approval]}), seq=0, prev_hash=rec.prev_hash
    )
    os.chmod(path, 0o644)
    path.write_bytes(encode(resealed))
    code, out, err = cli(str(forged), str(tmp_path / "nowhere"))
    assert code == 1 and "signature does not verify: bad-signature" in err
    assert "copy stopped; nothing of production in" in err


def test_usage_errors(tmp_path: Path, env: dict[str, str]) -> None:
    FileAuditStore(tmp_path / "audit").append(make_entry())
    code, _, err = cli(str(tmp_path / "audit"), str(tmp_path / "audit"))
    assert code == 2 and "SOURCE and DESTINATION are the same store" in err
    code, _, err = cli(str(tmp_path / "audit"), "ftp://host/x")
    assert code == 2 and "DESTINATION: 'ftp://host/x' is neither a directory nor s3://" in err
    code, _, err = cli(str(tmp_path / "empty"), str(tmp_path / "copy"))
    assert code == 2 and "holds no audit records" in err


COPY = """
import sys
from releasegate.cli import main
sys.argv = ["releasegate", "audit", "copy", *sys.argv[1:]]
main()
"""


def test_an_interrupted_copy_resumes(
    tmp_path: Path, env: dict[str, str], s3: Any, bucket: str
) -> None:
    source = FileAuditStore(tmp_path / "audit")
    total = 3000
    write_history(source, (make_entry(version=f"1.0.{i}") for i in range(total)))
    args = [str(source.root), f"s3://{bucket}/trail", "--config", CONFIG, "--json"]
    without_prefect = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    copying = subprocess.Popen(
        [sys.executable, "-c", COPY, *args], env=without_prefect, cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def stored() -> int:
        return int(s3.list_objects_v2(Bucket=bucket, Prefix="trail/")["KeyCount"])

    try:
        wait_until(lambda: stored() >= 50, timeout=60, interval=0.05, what="the copy under way")
    finally:
        os.kill(copying.pid, signal.SIGKILL)
        copying.wait(timeout=30)
    assert copying.returncode == -signal.SIGKILL  # killed mid-copy, not finished
    done_before = S3AuditStore(bucket, "trail", client=s3)._head_seq("production")
    assert done_before is not None and 49 <= done_before < total - 1

    code, out, err = cli(str(source.root), f"s3://{bucket}/trail", "--json")
    assert code == 0, err
    copied, present, head, _ = summary(out)["production"]
    assert (copied + present, head) == (total, total - 1)
    assert present >= done_before + 1 and copied >= 1
    assert broken(S3AuditStore(bucket, "trail", client=s3)) == []
