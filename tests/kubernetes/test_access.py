"""Who may do what: the shipped RBAC, admission control, and credentials from an exec plugin.

The emulator's permissions are deployments/kubernetes/rbac.yaml itself, bound in each
test namespace the way the file says. Exec plugins are real processes run by the client.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from releasegate.release import Release
from releasegate.targets.base import TargetError
from tests.kubernetes.conftest import Env, probe
from tests.support.kube import KubeCluster
from tests.support.kube.validation import Denial
from tests.support.registry import Registry


@pytest.fixture
def other_env(
    cluster: KubeCluster, registry: Registry, releases: dict[str, Release]
) -> Iterator[Env]:
    e = Env(cluster, registry, releases)
    yield e
    cluster.drop_namespace(e.namespace)


def test_one_worker_deploys_to_several_namespaces_with_the_shipped_rbac(
    env: Env, other_env: Env
) -> None:
    env.seed("rolling")
    other_env.seed("blue-green")
    # One identity (rbac.yaml's ServiceAccount), one kubeconfig, two namespaces.
    assert env.settings().kubeconfig == other_env.settings().kubeconfig

    env.target("rolling").deploy(env.releases["2.0.0"], probe)
    other_env.target("blue-green").deploy(env.releases["2.0.0"], probe)

    assert env.target("rolling").current().version == "2.0.0"
    assert other_env.target("blue-green").current().version == "2.0.0"


def test_a_call_the_shipped_role_does_not_grant_is_403_naming_what_is_missing(env: Env) -> None:
    env.seed("rolling")
    target = env.target("rolling", deployment="payments")  # not among the Role's resourceNames

    with pytest.raises(TargetError) as failure:
        target.deploy(env.releases["2.0.0"], probe)

    message = str(failure.value)
    assert f"cannot get deployments.apps in namespace '{env.namespace}'" in message
    assert "needs verb 'get' on resource 'deployments' of API group 'apps' for name 'payments'" in (
        message
    )
    assert "rbac.yaml" in message


def test_a_namespace_without_the_role_binding_is_403_saying_so(
    cluster: KubeCluster, env: Env
) -> None:
    cluster.add_namespace("unbound", bind=False)
    try:
        with pytest.raises(TargetError, match="a RoleBinding in this namespace"):
            env.target("rolling", namespace="unbound").current()
    finally:
        cluster.drop_namespace("unbound")


@pytest.mark.parametrize(
    ("denial", "named"),
    [
        (Denial("webhook", "validation.gatekeeper.sh", "[require-team-label] label team is "
                "required", lambda *_: True, code=403), "validation.gatekeeper.sh"),
        (Denial("webhook", "validate.kyverno.svc-fail", "policy disallow-latest: images must "
                "be signed", lambda *_: True, code=400), "validate.kyverno.svc-fail"),
        (Denial("policy", "replica-floor", "spec.replicas must be at least 3",
                lambda *_: True, code=422), "ValidatingAdmissionPolicy 'replica-floor'"),
    ],
)  # fmt: skip
def test_an_admission_denial_is_told_apart_from_rbac_and_not_retried(
    env: Env, denial: Denial, named: str
) -> None:
    env.seed("rolling")
    env.cluster.api.denials.append(denial)

    with pytest.raises(TargetError) as failure:
        env.target("rolling").deploy(env.releases["2.0.0"], probe)

    message = str(failure.value)
    assert "refused by admission control" in message and named in message
    assert "needs verb" not in message
    assert len(env.calls("patch", "deployments")) == 1
    assert env.image("webapp") == env.releases["1.0.0"].artifact


def _plugin(path: Path, script: str) -> Path:
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def _exec(command: str, **env: str) -> dict[str, object]:
    return {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": command,
        "args": ["eks", "get-token", "--cluster-name", "prod"],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "interactiveMode": "Never",
    }


def test_a_missing_exec_plugin_is_named(env: Env, tmp_path: Path) -> None:
    kubeconfig = env.cluster.write_kubeconfig(
        tmp_path / "kubeconfig", None, _exec("aws-cli-not-installed-here")
    )
    with pytest.raises(TargetError, match="exec credential plugin 'aws-cli-not-installed-here' "
                       "was not found"):  # fmt: skip
        env.target("rolling", kubeconfig=kubeconfig).current()


def test_an_expired_sso_login_is_named_not_reported_as_rejected_credentials(
    env: Env, tmp_path: Path
) -> None:
    aws = _plugin(tmp_path / "aws", "#!/bin/sh\necho 'Error when retrieving token from sso: "
                  "Token has expired and refresh failed' >&2\nexit 255\n")  # fmt: skip
    kubeconfig = env.cluster.write_kubeconfig(tmp_path / "kubeconfig", None, _exec(str(aws)))

    with pytest.raises(TargetError) as failure:
        env.target("rolling", kubeconfig=kubeconfig).current()

    assert "exec credential plugin failed" in str(failure.value)
    assert "Token has expired and refresh failed" in str(failure.value)
    assert "aws sso login" in str(failure.value)


def test_a_plugin_failing_when_the_token_is_refreshed_mid_run_is_named(
    env: Env, tmp_path: Path
) -> None:
    env.seed("rolling")
    # The first run gives a token; every later run (a refresh) fails, as when SSO expires.
    aws = _plugin(tmp_path / "aws", """#!/bin/sh
if [ -e "$STATE" ]; then echo 'Token has expired and refresh failed' >&2; exit 255; fi
touch "$STATE"
printf '{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
 "status": {"token": "plugin-token", "expirationTimestamp": "%s"}}' "$EXPIRY"
""")  # fmt: skip
    # Within the client's 5-minute skew margin: it refreshes before every request.
    expiry = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plugin = _exec(str(aws), STATE=str(tmp_path / "ran"), EXPIRY=expiry)
    kubeconfig = env.cluster.write_kubeconfig(tmp_path / "kubeconfig", None, plugin)
    worker = env.cluster.api.tokens["deployer-token"]
    env.cluster.run(lambda e: e.tokens.update({"plugin-token": worker}))
    target = env.target("rolling", kubeconfig=kubeconfig)
    assert target.current().version == "1.0.0"  # the old token still works

    env.cluster.run(lambda e: e.tokens.pop("plugin-token"))  # ...until it expires
    with pytest.raises(TargetError, match=r"exec credential plugin failed.*refresh failed"):
        target.current()


def test_rejected_static_credentials_say_so(env: Env, tmp_path: Path) -> None:
    kubeconfig = env.cluster.write_kubeconfig(tmp_path / "kubeconfig", "a-revoked-token")
    with pytest.raises(TargetError, match="rejected the credentials"):
        env.target("rolling", kubeconfig=kubeconfig).current()


def test_the_shipped_rbac_is_one_cluster_role_bound_per_namespace() -> None:
    # What the emulator enforces is the file itself; this pins its shape for the docs.
    from tests.support.kube.rbac import SHIPPED, Rbac

    rbac = Rbac.load(SHIPPED)
    kinds = [d["kind"] for d in rbac.documents]
    assert kinds.count("ServiceAccount") == 1 and "Role" not in kinds
    bindings = [d for d in rbac.documents if d["kind"] == "RoleBinding"]
    assert {b["roleRef"]["kind"] for b in bindings} == {"ClusterRole"}
    assert len({b["metadata"]["namespace"] for b in bindings}) == len(bindings) >= 2
    assert all(json.dumps(b["subjects"][0]) == json.dumps(bindings[0]["subjects"][0])
               for b in bindings)  # fmt: skip
    assert os.path.exists(SHIPPED)
