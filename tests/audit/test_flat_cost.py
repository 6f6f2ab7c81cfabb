"""Flat cost on the file store, counted in files opened and folders listed (not timed).

Python's audit hooks report every `open` and every directory listing the interpreter makes,
so these counts are what the store really did. Append, newest(20) and previous-good must
open the same files and list nothing whether the history holds 50 or 3,000 records.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from releasegate.audit.file import FileAuditStore
from releasegate.audit.record import AuditEntry
from releasegate.policy.rollback import current_version, previous_good
from tests.support.bulk import write_history
from tests.support.records import broken, make_entry


@dataclass
class Calls:
    opened: list[str] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)


_active: list[Calls] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _active:
        if event == "open":
            _active[-1].opened.append(str(args[0]))
        elif event in ("os.scandir", "os.listdir", "glob.glob"):
            _active[-1].listed.append(str(args[0]))


sys.addaudithook(_hook)  # hooks cannot be removed: it records only inside `counted()`


@contextmanager
def counted() -> Iterator[Calls]:
    calls = Calls()
    _active.append(calls)
    try:
        yield calls
    finally:
        _active.pop()


class Probing(FileAuditStore):
    """The file store, counting its existence checks (stat calls raise no audit event)."""

    probes = 0

    def _occupied(self, environment: str, seq: int) -> bool:
        self.probes += 1
        return super()._occupied(environment, seq)


def cycle(n: int) -> list[AuditEntry]:
    """One release as the pipeline records it; every 7th deploy fails."""
    status = "failed" if n % 7 == 3 else "succeeded"
    return [
        make_entry(kind="gate", status="passed", version=f"1.{n}.0"),
        make_entry(kind="deploy", status="started", version=f"1.{n}.0"),
        make_entry(kind="deploy", status=status, version=f"1.{n}.0"),
    ]


def history(root: Path, releases: int) -> Probing:
    store = Probing(root)
    write_history(store, (e for n in range(releases) for e in cycle(n)))
    return store


def costs(root: Path) -> dict[str, tuple[int, int, int]]:
    """(files opened, folders listed, slots probed) per operation, each on a fresh store."""
    out = {}
    operations = {
        "append (new process)": lambda s: s.append(make_entry(version="9.9.9")),
        "append (head known)": lambda s: s.append(make_entry(version="9.9.10")),
        "newest(20)": lambda s: list(islice(s.newest("production"), 20)),
        "previous good": lambda s: previous_good(
            s.newest("production"), current_version(s.newest("production")).version
        ),
    }
    store = Probing(root)
    for name, operation in operations.items():
        if name != "append (head known)":
            store = Probing(root)  # a new process: nothing cached
        store.probes = 0
        with counted() as calls:
            operation(store)
        # A new process's first append sweeps `<env>/.tmp` of what crashed writers left:
        # that costs what is in it (nothing, normally), never the history.
        history_listed = [path for path in calls.listed if Path(path).name != ".tmp"]
        out[name] = (len(calls.opened), len(history_listed), store.probes)
    return out


def test_append_newest_and_previous_good_cost_the_same_at_any_size(tmp_path: Path) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    history(small, 17)
    history(large, 1000)
    at_small, at_large = costs(small), costs(large)
    assert at_small == at_large
    for name, (_, listed, probes) in at_large.items():
        assert listed == 0, f"{name} listed a folder"
        assert probes <= 4, f"{name} probed {probes} slots"
    assert at_large["newest(20)"][0] == 21  # the head hint + 20 records
    # The temp record (mkstemp + fdopen), the folder (fsync of the link), the new hint ...
    assert at_large["append (head known)"][0] == 4
    # ... and, in a new process, the hint and the head record to chain onto.
    assert at_large["append (new process)"][0] == 6


def test_the_head_is_found_without_a_hint_or_with_a_wrong_one(tmp_path: Path) -> None:
    history(tmp_path, 1000)  # 3,000 records: the head is #2999
    hint = tmp_path / "production" / ".head"
    for text in (None, "", "garbage", "5", "2999", "2998", "999999999"):
        if text is None:
            hint.unlink(missing_ok=True)
        else:
            hint.write_text(text)
        fresh = Probing(tmp_path)
        with counted() as calls:
            newest = next(fresh.newest("production"))
        assert newest.seq == 2999, text
        assert calls.listed == [] and fresh.probes <= 2 * 12 + 4, (text, fresh.probes)
    rec = Probing(tmp_path).append(make_entry(version="after"))
    assert rec.seq == 3000 and hint.read_text() == "3000"


def test_bulk_histories_are_the_stores_own_files(tmp_path: Path) -> None:
    entries = [e for n in range(3) for e in cycle(n)]
    by_store, by_bulk = FileAuditStore(tmp_path / "a"), FileAuditStore(tmp_path / "b")
    for e in entries:
        by_store.append(e)
    write_history(by_bulk, entries)
    for seq in range(len(entries)):
        a, b = by_store.record_path("production", seq), by_bulk.record_path("production", seq)
        assert a.read_bytes() == b.read_bytes()
        assert a.stat().st_mode == b.stat().st_mode
    assert broken(by_bulk) == []


@pytest.mark.parametrize("releases", [400])
def test_verify_reads_each_record_once(tmp_path: Path, releases: int) -> None:
    store = history(tmp_path, releases)
    with counted() as calls:
        assert broken(store) == []
    records = [p for p in calls.opened if "/records/" in p]
    assert len(records) == len(set(records)) == 3 * releases
    assert len(calls.listed) == 2  # the environment's folder and its records/, streamed
