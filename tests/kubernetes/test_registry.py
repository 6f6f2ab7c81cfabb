"""Tag → digest against a real registry (Debian's docker-registry), images pushed without Docker."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from releasegate.targets.base import TargetError
from releasegate.targets.kubernetes.builder import RegistryBuilder
from releasegate.targets.kubernetes.settings import KubernetesSettings
from tests.kubernetes.conftest import Registry


def _builder(registry: Registry, **overrides) -> RegistryBuilder:
    settings = KubernetesSettings(
        namespace="x", deployment="x", container="x", image=registry.image("webapp"),
        registry_insecure=True, **overrides,
    )  # fmt: skip
    return RegistryBuilder("webapp", settings)


def test_tag_resolves_to_the_pushed_digest(registry: Registry) -> None:
    digest = registry.push("webapp", "4.0.0")
    release = _builder(registry).build("4.0.0", commit="abc", branch="main")
    assert release.digest == digest
    assert release.artifact == f"{registry.image('webapp')}@{digest}"
    assert (release.version, release.commit, release.branch) == ("4.0.0", "abc", "main")


def test_missing_tag_fails_the_build_step_clearly(registry: Registry) -> None:
    with pytest.raises(TargetError, match=r"webapp:9\.9\.9 does not exist"):
        _builder(registry).build("9.9.9")


def test_build_command_runs_first_with_per_argument_placeholders(registry: Registry) -> None:
    pusher = str(Path(__file__).parents[1] / "support" / "registry.py")  # any cwd
    command = [sys.executable, pusher, registry.url, "webapp", "{tag}"]
    builder = _builder(registry, build_command=command)
    assert builder.command("5.0.0")[-1] == "5.0.0"
    assert _builder(registry, build_command=["echo", "{image}:{tag}; rm -rf /"]).command("1") == [
        "echo",
        f"{registry.image('webapp')}:1; rm -rf /",  # one argument, no shell to interpret it
    ]

    release = builder.build("5.0.0")  # the tag did not exist before the command pushed it

    assert release.digest.startswith("sha256:")


def test_failing_build_command_is_a_target_error(registry: Registry) -> None:
    builder = _builder(registry, build_command=[sys.executable, "-c", "raise SystemExit('no')"])
    with pytest.raises(TargetError, match=r"failed \(exit 1\): no"):
        builder.build("6.0.0")


@pytest.mark.parametrize("version", ["1.0/../x", "1.0\n", ".hidden", "a" * 129])
def test_invalid_version_cannot_be_a_tag(registry: Registry, version: str) -> None:
    with pytest.raises(TargetError, match="cannot be an image tag"):
        _builder(registry).build(version)


def test_unreachable_registry_is_a_target_error() -> None:
    from releasegate.processes import free_port

    settings = KubernetesSettings(
        namespace="x", deployment="x", container="x", image=f"127.0.0.1:{free_port()}/webapp",
        registry_insecure=True,
    )  # fmt: skip
    with pytest.raises(TargetError, match="cannot reach registry"):
        RegistryBuilder("webapp", settings).build("1.0.0")
