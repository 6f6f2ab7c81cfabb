"""RegistryBuilder: optionally build and push, then resolve the release's tag to its digest."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime

from releasegate.release import Release
from releasegate.targets.base import TargetError
from releasegate.targets.kubernetes.registry import resolve_digest, valid_tag
from releasegate.targets.kubernetes.settings import KubernetesSettings


class RegistryBuilder:
    """A Release is `image:version` resolved to `image@sha256:...` — never deployed by tag."""

    def __init__(self, app: str, settings: KubernetesSettings) -> None:
        self.app = app
        self.settings = settings

    def build(
        self, version: str, *, commit: str | None = None, branch: str | None = None
    ) -> Release:
        """Run the build command (if any), then resolve the tag; TargetError if it is missing."""
        if not valid_tag(version):
            raise TargetError(f"version {version!r} cannot be an image tag")
        if self.settings.build_command:
            self._run(self.command(version))
        digest = resolve_digest(
            self.settings.image,
            version,
            insecure=self.settings.registry_insecure,
            username=os.environ.get(self.settings.registry_username_env),
            password=os.environ.get(self.settings.registry_password_env),
        )
        return Release(
            app=self.app,
            version=version,
            digest=digest,
            artifact=f"{self.settings.image}@{digest}",
            built_at=datetime.now(UTC),
            commit=commit,
            branch=branch,
        )

    def command(self, tag: str) -> list[str]:
        """The build argv with `{image}`/`{tag}` replaced per argument (never a shell string)."""
        assert self.settings.build_command is not None
        return [
            arg.replace("{image}", self.settings.image).replace("{tag}", tag)
            for arg in self.settings.build_command
        ]

    def _run(self, argv: list[str]) -> None:
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.settings.build_timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise TargetError(f"build command {argv[0]!r} could not run: {e}") from e
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip()[-2000:]
            raise TargetError(f"build command {argv[0]!r} failed (exit {done.returncode}): {tail}")
