"""Input checked at the door, through the real `releasegate` console script: every rule
refuses with exit 2 and one line naming it, before any flow run exists or anything changes.

No Prefect server is needed: nothing gets that far. The configuration's home directory is
never created (no local server started, no audit record written, no release built).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import console
from tests.support.toml import table

RUN_ID = "0b6f9c1e-6a1f-4c3e-9d7a-2f0e5b8c1a11"
TEN_KB = "v" * 10240


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "releasegate.toml"
    lines = table(None, {"home": tmp_path / "home"}) + table("app", {"name": "webapp"})
    lines += table("environments.production", {"url": "http://127.0.0.1:18081"})
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("args", "parameter", "rule"),
    [
        (["deploy", ""], "version", "version"),
        (["deploy", "v1 with space"], "version", "version"),
        (["deploy", "v1\n"], "version", "version"),
        (["deploy", "v1\nv2"], "version", "version"),
        (["deploy", TEN_KB], "version", "version"),
        (["deploy", ".v1"], "version", "version"),
        (["deploy", "v1", "--branch", ""], "branch", "branch"),
        (["deploy", "v1", "--branch", "main..evil"], "branch", "branch"),
        (["deploy", "v1", "--branch", "main\r"], "branch", "branch"),
        (["deploy", "v1", "--commit", "abc def"], "commit", "commit"),
        (["deploy", "v1", "--commit", TEN_KB], "commit", "commit"),
        (["deploy", "v1", "--as", "dave smith"], "actor", "name"),
        (["deploy", "v1", "--as", "dave\n"], "actor", "name"),
        (["rollback", "production", "--reason", ""], "reason", "reason"),
        (["rollback", "production", "--reason", "   "], "reason", "reason"),
        (["rollback", "production", "--reason", "why\nnot"], "reason", "reason"),
        (["rollback", "production", "--reason", TEN_KB], "reason", "reason"),
        (["rollback", "production", "--reason", "ok", "--to", "v1 with space"], "to", "version"),
        (["rollback", "production", "--reason", "ok", "--as", ""], "actor", "name"),
        (["approve", RUN_ID, "--as", ""], "reviewer", "name"),
        (["approve", RUN_ID, "--as", "alice", "--comment", "ok\x1b[31m red"], "comment", "comment"),
        (["approve", RUN_ID, "--as", "alice", "--comment", "ok \u202eevil"], "comment", "comment"),
        (["approve", RUN_ID, "--as", "alice", "--comment", TEN_KB], "comment", "comment"),
    ],
    ids=lambda v: repr(v)[:40] if isinstance(v, list) else None,
)
def test_every_input_rule_refuses_with_exit_2_and_one_line(
    config: Path, args: list[str], parameter: str, rule: str
) -> None:
    done = console.run(*args, "--config", str(config))
    assert done.returncode == 2, done.stderr
    line = console.one_line(done.stderr)
    assert line.startswith(f"error: {parameter}: ") and f"breaks the {rule} rule" in line, line
    assert len(line) < 400  # a 10 KB value is shown cut short, on one line
    assert not (config.parent / "home").exists(), "something ran before the input was checked"


def test_an_environment_name_with_a_space_is_refused_at_the_door(config: Path) -> None:
    done = console.run("rollback", "prod uction", "--reason", "ok", "--config", str(config))
    assert done.returncode == 2
    line = console.one_line(done.stderr)
    assert line.startswith("error: environment: ") and "1-63 letters" in line


def test_a_bad_variable_is_named_with_exit_2_and_no_traceback(config: Path) -> None:
    done = console.run(
        "status",
        "--config",
        str(config),
        RELEASEGATE_ENVIRONMENTS__PRODUCTION__WAIT_TIMER="soon",
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "RELEASEGATE_ENVIRONMENTS__PRODUCTION__WAIT_TIMER" in done.stderr
    assert "environments.production.wait_timer" in done.stderr and "not a duration" in done.stderr
