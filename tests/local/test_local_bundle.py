"""LocalBuilder: content-addressed, deterministic, immutable bundles."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from releasegate.targets.base import TargetError
from releasegate.targets.local.bundle import LocalBuilder


def test_same_source_and_version_give_the_same_bundle(builder: LocalBuilder) -> None:
    first = builder.build("1.0.0", commit="abc123", branch="main")
    again = builder.build("1.0.0")
    assert first.digest == again.digest
    assert first.artifact == again.artifact
    assert (first.app, first.version, first.commit, first.branch) == (
        "webapp",
        "1.0.0",
        "abc123",
        "main",
    )
    assert Path(first.artifact).name == first.digest.removeprefix("sha256:")
    assert (Path(first.artifact) / "VERSION").read_text() == "1.0.0\n"


def test_any_change_gives_a_new_digest(builder: LocalBuilder, source: Path) -> None:
    base = builder.build("1.0.0")
    assert builder.build("1.0.1").digest != base.digest
    (source / "app.py").write_text((source / "app.py").read_text() + "\n# changed\n")
    changed = builder.build("1.0.0")
    assert changed.digest != base.digest
    assert Path(base.artifact).is_dir(), "an older bundle is never touched"


def test_caches_dotfiles_and_source_version_are_left_out(
    builder: LocalBuilder, source: Path
) -> None:
    clean = builder.build("1.0.0")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (source / "stale.pyc").write_bytes(b"\0")
    (source / ".env").write_text("SECRET=1\n")
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("ref\n")
    (source / "VERSION").write_text("0.0.0-from-source\n")
    dirty = builder.build("1.0.0")
    assert dirty.digest == clean.digest
    names = {p.name for p in Path(dirty.artifact).rglob("*")}
    assert names == {"app.py", "VERSION"}


def test_bundle_is_read_only(builder: LocalBuilder, source: Path) -> None:
    (source / "static").mkdir()
    (source / "static" / "page.txt").write_text("hello\n")
    bundle = Path(builder.build("1.0.0").artifact)
    for path in [bundle, *bundle.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0, path
    assert (bundle / "static" / "page.txt").read_text() == "hello\n"


def test_missing_source_is_a_target_error(home: Path, tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="not a directory"):
        LocalBuilder(home, "webapp", tmp_path / "nowhere").build("1.0.0")
