"""Local builds: the app's source tree plus a VERSION file, as an immutable bundle.

A bundle lives in `home/releases/<hex>/` where `sha256:<hex>` is its digest: the sha256 of
a canonical manifest (one "<file sha256>  <relative path>" line per file, sorted by path),
so the same source and version always give the same digest and any change a new one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from releasegate.release import Release
from releasegate.targets.base import TargetError


class LocalBuilder:
    """Builds bundles of the app in `source` under `home/releases/`."""

    def __init__(self, home: Path, app: str, source: Path) -> None:
        self.releases = Path(home).resolve() / "releases"
        self.app = app
        self.source = Path(source)

    def build(
        self, version: str, *, commit: str | None = None, branch: str | None = None
    ) -> Release:
        """The bundle of the source at `version`, reusing an identical one if it exists."""
        files = self._collect()
        files["VERSION"] = f"{version}\n".encode()
        manifest = "".join(
            f"{hashlib.sha256(data).hexdigest()}  {path}\n" for path, data in sorted(files.items())
        )
        digest = hashlib.sha256(manifest.encode()).hexdigest()
        bundle = self.releases / digest
        if not bundle.is_dir():
            self._store(bundle, files)
        return Release(
            app=self.app,
            version=version,
            digest=f"sha256:{digest}",
            artifact=str(bundle),
            built_at=datetime.now(UTC),
            commit=commit,
            branch=branch,
        )

    def _collect(self) -> dict[str, bytes]:
        """Relative POSIX path -> content of every file that belongs in a bundle."""
        if not self.source.is_dir():
            raise TargetError(f"the source of {self.app} is not a directory: {self.source}")
        files: dict[str, bytes] = {}
        for dirpath, dirnames, filenames in os.walk(self.source):
            # Pruning in place stops os.walk from descending into caches and dot-directories.
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
            for name in filenames:
                path = Path(dirpath, name)
                rel = path.relative_to(self.source).as_posix()
                if not (name.startswith(".") or name.endswith(".pyc") or rel == "VERSION"):
                    files[rel] = path.read_bytes()  # hash and copy the very same bytes
        return files

    def _store(self, bundle: Path, files: dict[str, bytes]) -> None:
        """Write the bundle read-only into a temporary directory, then rename it in place."""
        self.releases.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.releases, prefix=".build-"))
        try:
            for rel, data in files.items():
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                target.chmod(0o444)
            for directory in sorted(tmp.rglob("*"), reverse=True):
                if directory.is_dir():
                    directory.chmod(0o555)
            tmp.chmod(0o555)
            os.rename(tmp, bundle)
        except OSError as exc:
            _remove(tmp)
            if not bundle.is_dir():  # else a concurrent build of the same digest won the race
                raise TargetError(f"could not store the bundle {bundle}: {exc}") from exc


def _remove(tree: Path) -> None:
    """Delete a (read-only) tree."""
    if not tree.exists():
        return
    for directory in [tree, *tree.rglob("*")]:
        if directory.is_dir():
            directory.chmod(0o755)
    shutil.rmtree(tree)
