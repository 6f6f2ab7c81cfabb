"""The one vocabulary: strategy names, canary steps, environment names and URL rules are
checked once, when the configuration loads, naming file, key and reason (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from releasegate import config
from releasegate.cli import app
from releasegate.errors import ConfigError

LOCAL = """
[app]
name = "webapp"
[environments.staging]
url = "http://127.0.0.1:18080"
[environments.production]
requires = "staging"
url = "http://127.0.0.1:18081"
strategy = "canary"
"""

KUBE = """
[app]
name = "webapp"
[environments.production]
target = "kubernetes"
url = "https://webapp.example.com"
strategy = "rolling"
[environments.production.kubernetes]
namespace = "web"
deployment = "web"
container = "app"
service = "web"
image = "ghcr.io/acme/web"
"""


def refused(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = tmp_path / "releasegate.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    return path, str(caught.value)


def test_canary_steps_out_of_order_fail_at_load_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "releasegate.toml"
    path.write_text(LOCAL + "canary_steps = [50, 10, 100]\n")
    result = CliRunner().invoke(app, ["status", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert str(path) in result.output
    assert "environments.production.canary_steps" in result.output
    assert "strictly increasing percentages in 1..100 ending at 100" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("steps", ["[50, 10, 100]", "[10, 50]", "[0, 100]", "[10, 10, 100]", "[]"])
def test_canary_steps_are_one_rule_for_every_target(tmp_path: Path, steps: str) -> None:
    for text, key in (
        (LOCAL + f"canary_steps = {steps}\n", "environments.production.canary_steps"),
        (KUBE + f"canary_steps = {steps}\n", "environments.production.kubernetes.canary_steps"),
    ):
        path, message = refused(tmp_path, text)
        assert str(path) in message and key in message and "ending at 100" in message


def test_good_canary_steps_reach_both_targets(tmp_path: Path) -> None:
    path = tmp_path / "releasegate.toml"
    path.write_text(LOCAL + "canary_steps = [5, 100]\n")
    assert config.load(path).environments["production"].canary_steps == (5, 100)
    path.write_text(KUBE + 'canary_steps = [20, 100]\ncanary_url = "http://canary.example"\n')
    kube = config.load(path).environments["production"].kubernetes
    assert kube is not None and kube.canary_steps == (20, 100)


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.5:8080", "http://0.0.0.0:8080", "https://127.0.0.1:8443", "http://127.0.0.1"],
)
def test_the_local_target_serves_loopback_http_with_a_port(tmp_path: Path, url: str) -> None:
    path, message = refused(tmp_path, LOCAL.replace("http://127.0.0.1:18081", url))
    assert str(path) in message and "environments.production.url" in message
    assert "127.0.0.1 only" in message and url in message


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (("https://webapp.example.com", "ftp://webapp.example.com"), "environments.production.url"),
        (
            ('image = "ghcr.io/acme/web"', 'image = "ghcr.io/acme/web"\npreview_url = "webapp"'),
            "environments.production.kubernetes.preview_url",
        ),
    ],
)
def test_urls_are_http_urls(tmp_path: Path, change: tuple[str, str], key: str) -> None:
    path, message = refused(tmp_path, KUBE.replace(*change))
    assert str(path) in message and key in message and "must be an http(s) URL" in message


@pytest.mark.parametrize("port", ["99999", "abc", "-1", "0"])
def test_a_url_with_an_unusable_port_names_its_key(tmp_path: Path, port: str) -> None:
    # A port is read again later (each environment needs its own URL): an unusable one
    # must be refused here, naming the key, not as a configuration-wide "Port out of range".
    change = ("https://webapp.example.com", f"https://webapp.example.com:{port}")
    path, message = refused(tmp_path, KUBE.replace(*change))
    assert str(path) in message and "environments.production.url" in message
    assert "must be an http(s) URL" in message and "(top level)" not in message


def test_incident_source_url_is_an_http_url(tmp_path: Path) -> None:
    text = LOCAL + 'incidents = { url = "status.example.com" }\n'
    path, message = refused(tmp_path, text)
    assert str(path) in message and "environments.production.incidents.url" in message
    assert "http(s) URL" in message


@pytest.mark.parametrize("name", ["prod/uction", ".hidden", "-x", "a" * 64])
def test_environment_names_are_safe_as_paths_and_keys(tmp_path: Path, name: str) -> None:
    path, message = refused(
        tmp_path,
        LOCAL.replace("[environments.production]", f'["environments"."{name}"]').replace(
            'requires = "staging"', ""
        ),
    )
    assert str(path) in message and "environment name" in message and name in message


@pytest.mark.parametrize(
    ("strategy", "needs"),
    [
        (
            "blue-green",
            r"strategy 'blue-green' needs kubernetes.preview_service, kubernetes.preview_url",
        ),
        ("canary", "strategy 'canary' needs kubernetes.canary_url"),
        ("big-bang", "'rolling', 'blue-green', 'canary' or 'recreate'"),
    ],
)
def test_strategy_names_and_what_each_needs(tmp_path: Path, strategy: str, needs: str) -> None:
    path, message = refused(
        tmp_path, KUBE.replace('strategy = "rolling"', f'strategy = "{strategy}"')
    )
    assert str(path) in message and "environments.production" in message and needs in message


@pytest.mark.parametrize(
    ("audit", "reason"),
    [("s3://", "names no bucket"), ("s3:///prefix", "names no bucket"), ("gs://b/p", "neither")],
)
def test_the_audit_location_is_a_directory_or_an_s3_bucket(
    tmp_path: Path, audit: str, reason: str
) -> None:
    path, message = refused(tmp_path, f'audit = "{audit}"\n' + LOCAL)
    assert str(path) in message and "audit:" in message and reason in message
