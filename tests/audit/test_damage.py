"""A damaged or foreign file never breaks the tools: verify names it, reading skips it."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from releasegate.audit.file import FileAuditStore
from releasegate.audit.store import CorruptRecord
from releasegate.history import latest
from releasegate.policy.rollback import current_version
from tests.support.records import broken, make_entry, notices


@pytest.fixture
def store(tmp_path: Path) -> FileAuditStore:
    store = FileAuditStore(tmp_path)
    for i in range(5):
        store.append(make_entry(version=f"1.0.{i}"))
    return store


def _replace(path: Path, data: bytes) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(data)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda raw: raw[: len(raw) // 2], "Invalid JSON"),
        (lambda raw: b"", "Invalid JSON"),
        (lambda raw: b'{"hello": "world"}', "Field required"),
        (lambda raw: b"\xff\xfe\x00garbage", "Invalid JSON"),
    ],
    ids=["truncated", "empty", "not-a-record", "binary"],
)
def test_a_damaged_newest_record(
    store: FileAuditStore, caplog: pytest.LogCaptureFixture, damage, reason: str
) -> None:
    path = store.record_path("production", 4)
    _replace(path, damage(path.read_bytes()))
    problems = broken(store)
    assert problems[0].startswith(f"production #4 ({path}): not a valid audit record")
    assert reason in problems[0]
    # history and status read on past it, with a warning naming it.
    caplog.set_level(logging.WARNING, logger="releasegate.audit")
    assert [r.version for r in latest(store.newest("production"), 3)] == ["1.0.3", "1.0.2", "1.0.1"]
    assert current_version(store.newest("production")).version == "1.0.3"
    assert f"production #4 ({path}) is not a valid audit record" in caplog.text
    # Nothing can be chained onto a record nobody can read: a clear error, not a fork.
    with pytest.raises(CorruptRecord, match=r"production #4 .* is not a valid audit record"):
        FileAuditStore(store.root).append(make_entry(version="2.0.0"))


def test_a_damaged_record_in_the_middle(store: FileAuditStore) -> None:
    path = store.record_path("production", 2)
    _replace(path, path.read_bytes()[:-10])
    assert len(broken(store)) == 1  # named once; #3 is checked on its own
    assert [r.seq for r in store.chain("production")] == [0, 1, 3, 4]


def test_a_folder_or_an_unreadable_file_in_a_slot(store: FileAuditStore) -> None:
    path = store.record_path("production", 4)
    path.unlink()
    path.mkdir()
    problems = broken(store)
    assert problems == [
        f"production #4 ({path}): not a valid audit record: cannot be read: Is a directory"
    ]
    assert next(store.newest("production")).seq == 3


def test_a_record_copied_into_another_slot(store: FileAuditStore) -> None:
    one, three = store.record_path("production", 1), store.record_path("production", 3)
    _replace(three, one.read_bytes())
    assert broken(store) == [f"production #3 ({three}): holds production #1"]


def test_foreign_files_and_folders_are_reported_and_ignored(store: FileAuditStore) -> None:
    root = store.root
    (root / "production" / "records" / "notes.txt").write_text("hello")
    (root / "production" / "records" / "subdir").mkdir()
    (root / "production" / "README").write_text("hello")
    (root / "lost+found").mkdir()
    (root / ".snapshot").mkdir()
    (root / "stray.json").write_text("{}")
    assert broken(store) == []
    assert sorted(notices(store))[:3] == [
        "production: README: not an audit record: ignored",
        "production: records/notes.txt: not an audit record: ignored",
        "production: records/subdir/: not an audit record: ignored",
    ]
    assert store.environments() == ["production"]
    assert sorted(f.text for f in store.foreign()) == [
        f"{root / '.snapshot'}: a folder without records/: ignored",
        f"{root / 'lost+found'}: a folder without records/: ignored",
        f"{root / 'stray.json'}: not an environment: ignored",
    ]
    assert [r.seq for r in store.newest("production")] == [4, 3, 2, 1, 0]


def test_edited_json_is_named_even_when_it_still_parses(store: FileAuditStore) -> None:
    path = store.record_path("production", 1)
    data = json.loads(path.read_text())
    data["approvers"] = ["mallory"]
    _replace(path, json.dumps(data).encode())
    problems = broken(store)
    assert len(problems) == 1 and "#1" in problems[0] and "edited" in problems[0]


def test_a_record_named_with_an_absurd_seq_cannot_stall_the_tools(store: FileAuditStore) -> None:
    """A walk crosses a long run of empty slots in one jump instead of reading each."""
    far = store.record_path("production", 10**12)
    far.write_bytes(store.record_path("production", 4).read_bytes())
    problems = broken(store)
    assert problems == [
        f"production #5..#{10**12 - 1}: missing: the record was deleted",
        f"production #{10**12} ({far}): holds production #4",
    ]
    assert [r.seq for r in store.newest("production")] == [4, 3, 2, 1, 0]
    assert store.append(make_entry(version="2.0.0")).seq == 5
