"""The default file store: append-only, hash-chained, never rewritten, tamper-evident."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

from releasegate.audit.file import STALE_TMP, FileAuditStore
from releasegate.audit.record import GENESIS, AuditEntry, encode, seal, verify_chain
from releasegate.processes import wait_until
from tests.conftest import REPO
from tests.support.records import broken, make_entry, notices


def entry(version: str) -> AuditEntry:
    return make_entry(version=version)


def test_append_chains_and_reads_newest_first(tmp_path: Path) -> None:
    store = FileAuditStore(tmp_path)
    written = [store.append(entry(f"v{i}")) for i in range(5)]
    assert [r.seq for r in written] == [0, 1, 2, 3, 4]
    assert [r.version for r in store.newest("production")] == ["v4", "v3", "v2", "v1", "v0"]
    assert verify_chain(store.chain("production")) == []
    assert store.environments() == ["production"]


def test_records_are_read_only_and_never_replaced(tmp_path: Path) -> None:
    store = FileAuditStore(tmp_path)
    rec = store.append(entry("v1"))
    path = tmp_path / "production" / "records" / "9999999999999999-0.json"
    assert store.record_path("production", 0) == path
    assert oct(path.stat().st_mode & 0o777) == "0o444"
    assert store._create("production", 0, encode(rec)) is False  # never replaced
    assert path.read_bytes() == encode(rec)


def test_an_edited_record_is_detected(tmp_path: Path) -> None:
    store = FileAuditStore(tmp_path)
    for i in range(3):
        store.append(entry(f"v{i}"))
    path = store.record_path("production", 1)
    data = json.loads(path.read_text())
    data["actor"] = "mallory"
    os.chmod(path, 0o644)
    path.write_text(json.dumps(data))
    problems = verify_chain(store.chain("production"))
    assert len(problems) == 1 and "#1" in problems[0] and "edited" in problems[0]
    assert broken(store) == problems


def test_a_deleted_record_is_detected(tmp_path: Path) -> None:
    store = FileAuditStore(tmp_path)
    for i in range(3):
        store.append(entry(f"v{i}"))
    store.record_path("production", 1).unlink()
    problems = verify_chain(store.chain("production"))
    assert any("missing" in p for p in problems) and any("#2" in p for p in problems)
    assert broken(store) == ["production #1: missing: the record was deleted"]


def _append_many(root: str, worker: int) -> None:
    store = FileAuditStore(Path(root))
    for i in range(20):
        store.append(entry(f"w{worker}-{i}"))


def test_concurrent_writers_do_not_fork_the_chain(tmp_path: Path) -> None:
    with ProcessPoolExecutor(4) as pool:
        list(pool.map(_append_many, [str(tmp_path)] * 4, range(4)))
    chain = list(FileAuditStore(tmp_path).chain("production"))
    assert [r.seq for r in chain] == list(range(80))
    assert verify_chain(chain) == []


def test_unwritable_store_is_a_clear_error(tmp_path: Path) -> None:
    from releasegate.audit.store import AuditUnavailable

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(AuditUnavailable, match="cannot write the audit record"):
        FileAuditStore(blocker).append(entry("v1"))


def test_concurrent_threads_do_not_fork_the_chain(tmp_path: Path) -> None:
    """Threads sharing one store, and threads each with their own (as separate processes)."""
    shared = FileAuditStore(tmp_path)

    def append(worker: int) -> None:
        store = shared if worker % 2 else FileAuditStore(tmp_path)
        for i in range(15):
            store.append(entry(f"t{worker}-{i}"))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(append, range(8)))
    chain = list(FileAuditStore(tmp_path).chain("production"))
    assert [r.seq for r in chain] == list(range(120))
    assert len({r.id for r in chain}) == 120
    assert broken(FileAuditStore(tmp_path)) == []


_KILLED_WRITER = """
import sys
from pathlib import Path
from releasegate.audit.file import FileAuditStore
from tests.support.records import make_entry
store = FileAuditStore(Path(sys.argv[1]))
i = 0
while True:
    store.append(make_entry(version=f"k{sys.argv[2]}-{i}", details={"pad": "x" * 20000}))
    i += 1
"""


def test_kill_9_mid_append_never_leaves_a_half_written_record(tmp_path: Path) -> None:
    """A writer killed at random points: every slot holds a complete record, and the chain
    continues intact after it (leftover temp files are the store's own, ignored)."""
    store = FileAuditStore(tmp_path)
    for round_ in range(6):
        target = (store._head_seq("production") or 0) + 3 + round_
        proc = subprocess.Popen(
            [sys.executable, "-c", _KILLED_WRITER, str(tmp_path), str(round_)], cwd=REPO
        )
        try:
            wait_until(
                lambda t=target: (store._head_seq("production") or 0) >= t,
                timeout=60,
                what="the writer to append",
            )
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert broken(store) == []
    assert store.append(entry("after")).seq == store._head_seq("production")
    assert broken(store) == []


def test_what_a_crashed_writer_left_in_tmp_is_swept_once_it_is_old(tmp_path: Path) -> None:
    FileAuditStore(tmp_path).append(entry("v1"))
    tmp = tmp_path / "production" / ".tmp"
    old, fresh = tmp / "tmpcrashed.json", tmp / "tmpwriting.json"
    for path in (old, fresh):
        path.write_bytes(b'{"half": ')
    an_hour_ago = time.time() - STALE_TMP - 60
    os.utime(old, (an_hour_ago, an_hour_ago))
    FileAuditStore(tmp_path).append(entry("v2"))  # a new process's first append sweeps
    assert not old.exists() and fresh.exists()
    assert broken(FileAuditStore(tmp_path)) == []
    assert not any(".tmp" in n for n in notices(FileAuditStore(tmp_path)))  # its own


def test_an_old_layout_history_is_moved_on_first_use(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Histories written before the shared layout: `<root>/<env>/<seq:012d>.json`."""
    old = tmp_path / "production"
    old.mkdir()
    records, head = [], None
    for i in range(4):
        head = seal(entry(f"v{i}"), seq=i, prev_hash=head.hash if head else GENESIS)
        path = old / f"{i:012d}.json"
        path.write_text(json.dumps(head.model_dump(mode="json"), indent=1, sort_keys=True))
        path.chmod(0o444)
        records.append(head)
    (old / ".lock").touch()
    assert [f.text for f in FileAuditStore(tmp_path).verify("production") if f.broken] == []
    assert all(
        "not an audit record" not in f.text for f in FileAuditStore(tmp_path).verify("production")
    )
    store = FileAuditStore(tmp_path)
    assert store.environments() == ["production"]
    caplog.set_level("WARNING", logger="releasegate.audit")
    assert list(store.newest("production")) == records[::-1]
    assert "moved 4 records of 'production' from the old layout" in caplog.text
    assert sorted(p.name for p in old.iterdir()) == [".lock", "records"]
    assert broken(store) == []
    assert store.append(entry("v4")).prev_hash == records[-1].hash
    assert [r.version for r in FileAuditStore(tmp_path).chain("production")] == [
        "v0",
        "v1",
        "v2",
        "v3",
        "v4",
    ]


def test_a_half_finished_move_is_finished_by_the_next_process(tmp_path: Path) -> None:
    old = tmp_path / "production"
    old.mkdir()
    head = None
    for i in range(3):
        head = seal(entry(f"v{i}"), seq=i, prev_hash=head.hash if head else GENESIS)
        (old / f"{i:012d}.json").write_bytes(encode(head))
    # A crash after linking #0 and #2 into records/ and unlinking #2's old name.
    records = old / "records"
    records.mkdir()
    for i in (0, 2):
        os.link(old / f"{i:012d}.json", FileAuditStore(tmp_path).record_path("production", i))
    (old / "000000000002.json").unlink()
    store = FileAuditStore(tmp_path)
    assert [r.version for r in store.chain("production")] == ["v0", "v1", "v2"]
    assert broken(store) == []
    assert not any(p.name.endswith(".json") for p in old.iterdir())
