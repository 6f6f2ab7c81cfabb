"""The shape of the code, enforced: layers import downwards only, the policy loads no I/O,
adapters load only when configured, one error hierarchy, small modules.

Layers, top to bottom: entry points (cli, demo, serving, views, review, status) -> flows
-> tasks -> wiring -> core (config, policy, ...) -> adapters (prefect_server among them:
wiring finds the witness's server through it) -> models. See
docs/architecture.md.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from releasegate.errors import Blocked, ConfigError, Failed, ReleasegateError, UsageError
from tests.support.modules import REPO, modules
from tests.support.toml import table

MODULES = modules()

LAYERS: list[tuple[str, tuple[str, ...]]] = [  # top first
    ("entry", ("releasegate.cli", "releasegate.demo", "releasegate.serving", "releasegate.views",
               "releasegate.timeline", "releasegate.ics", "releasegate.review",
               "releasegate.status", "releasegate.request", "releasegate.receiver",
               "releasegate.provision", "releasegate.warm_start", "releasegate.handoff",
               "releasegate.report_page", "releasegate.charts", "releasegate.metrics")),
    ("flows", ("releasegate.flows",)),
    ("tasks", ("releasegate.tasks",)),
    ("wiring", ("releasegate.wiring",)),
    ("core", ("releasegate.config", "releasegate.policy", "releasegate.history",
              "releasegate.approval", "releasegate.resume_form", "releasegate.trigger",
              "releasegate.variables", "releasegate.report")),
    ("adapters", ("releasegate.targets", "releasegate.audit", "releasegate.sources",
                  "releasegate.notifiers",
                  "releasegate.signing", "releasegate.processes", "releasegate.liveness",
                  "releasegate.prefect_server", "releasegate.prompt_retries")),
    ("models", ("releasegate.errors", "releasegate.release", "releasegate.vocabulary",
                "releasegate.duration", "releasegate.redaction", "releasegate.secret",
                "releasegate.failpoints", "releasegate.deployment_names", "releasegate")),
]  # fmt: skip

IMPLEMENTATIONS = {
    "releasegate.audit.file",
    "releasegate.audit.s3",
    "releasegate.targets.local.target",
    "releasegate.targets.local.bundle",
    "releasegate.targets.kubernetes.target",
    "releasegate.targets.kubernetes.builder",
    "releasegate.sources.jsonstatus",
    "releasegate.notifiers.apprise_urls",
    "releasegate.sources.smoke",
    "releasegate.signing.keygen",
    "releasegate.signing.inprocess",
    "releasegate.audit.prefect_witness",
}
"""Adapters chosen by configuration: only releasegate.wiring opens them."""
BESIDE_WIRING = {
    ("releasegate.cli.admin", "releasegate.targets.local.target"),  # `down`: stop local processes
    ("releasegate.review", "releasegate.signing.keygen"),  # a reviewer signs with their own key
    ("releasegate.request", "releasegate.signing.keygen"),  # an actor signs their own request
}

HEAVY = ("prefect", "httpx", "boto3", "botocore", "kubernetes", "rich", "fcntl", "subprocess")
STORES = ("releasegate.audit.file", "releasegate.audit.s3", "releasegate.audit.store",
          "releasegate.audit.chainstore", "releasegate.audit.prefect_witness")  # fmt: skip


def layer(name: str) -> int:
    """The rank of a module's layer: 0 is the top (entry points)."""
    matches = [
        (len(prefix), rank)
        for rank, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if name == prefix or (name.startswith(prefix + ".") and prefix != "releasegate")
    ]
    assert matches, f"{name} belongs to no layer: add it to LAYERS (and docs/architecture.md)"
    return max(matches)[1]


def own(name: str) -> set[str]:
    return {i for i in MODULES[name].imports if i.startswith("releasegate")}


def test_every_module_has_a_layer_and_imports_only_downwards() -> None:
    upward = [
        f"{name} ({LAYERS[layer(name)][0]}) imports {target} ({LAYERS[layer(target)][0]})"
        for name in MODULES
        for target in own(name)
        if target in MODULES and layer(target) < layer(name)
    ]
    assert upward == []


def test_only_wiring_opens_adapters() -> None:
    def family(name: str) -> str:
        return ".".join(name.split(".")[:3])

    opened = [
        f"{name} imports {target}"
        for name in MODULES
        for target in own(name) & IMPLEMENTATIONS
        if name != "releasegate.wiring"
        and family(name) != family(target)
        and (name, target) not in BESIDE_WIRING
    ]
    assert opened == []


def test_the_prefect_layer_prints_no_tables() -> None:
    for name, module in MODULES.items():
        if name.startswith(("releasegate.flows", "releasegate.tasks")):
            found = {i for i in module.imports if i.split(".")[0] == "rich"}
            found |= {
                i for i in module.imports if i.startswith(("releasegate.views", "releasegate.cli"))
            }
            assert not found, f"{name} imports {sorted(found)}"


def test_no_import_loops() -> None:
    graph = {n: {t for t in MODULES[n].top_level if t in MODULES and t != n} for n in MODULES}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            pytest.fail("import loop: " + " -> ".join([*path[path.index(name) :], name]))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in graph:
        visit(name, [])


def loaded_by(code: str, *argv: str, cwd: Path) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code`, with no Prefect
    server to talk to (`releasegate status` asks one for runs waiting, if one is up)."""
    script = code + "\nimport json, sys\nprint('\\nMODULES=' + json.dumps(sorted(sys.modules)))"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = subprocess.run(
        [sys.executable, "-c", script, *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return set(json.loads(done.stdout.rsplit("MODULES=", 1)[1]))


def test_policy_loads_no_io(tmp_path: Path) -> None:
    policy = sorted(n for n in MODULES if n.startswith("releasegate.policy"))
    assert len(policy) >= 5  # the package and its modules
    loaded = loaded_by("\n".join(f"import {n}" for n in policy), cwd=tmp_path)
    assert set(policy) <= loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or m in STORES)
    assert heavy == []
    assert "releasegate.config" not in loaded and "releasegate.wiring" not in loaded


def test_the_audit_record_loads_without_any_store(tmp_path: Path) -> None:
    loaded = loaded_by("import releasegate.audit.record", cwd=tmp_path)
    assert not loaded & set(STORES) and "fcntl" not in loaded and "boto3" not in loaded


RUN_CLI = """
import sys
from releasegate.cli import main
sys.argv = ["releasegate", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
"""


def test_cli_with_a_local_configuration_loads_no_kubernetes_client(tmp_path: Path) -> None:
    config = tmp_path / "releasegate.toml"
    lines = table(None, {"home": tmp_path / "home"}) + table("app", {"name": "webapp"})
    for env, port in (("staging", 18080), ("production", 18081)):
        lines += table(f"environments.{env}", {"url": f"http://127.0.0.1:{port}"})
    config.write_text("\n".join(lines) + "\n")
    status = loaded_by(RUN_CLI, "status", "--config", str(config), cwd=tmp_path)
    assert "releasegate.cli" in status and "releasegate.targets.local.target" in status
    for absent in ("kubernetes", "boto3", "prefect", "releasegate.targets.kubernetes.target"):
        assert absent not in status, f"`releasegate status` (local target) loaded {absent}"
    helped = loaded_by(RUN_CLI, "--help", cwd=tmp_path)
    for absent in ("kubernetes", "boto3", "prefect", "httpx", "releasegate.config"):
        assert absent not in helped, f"`releasegate --help` loaded {absent}"


def test_every_error_derives_from_the_four_exit_codes() -> None:
    bases = (ConfigError, UsageError, Blocked, Failed)
    found = []
    for name in MODULES:
        if name.startswith("releasegate.targets.local.proxy"):
            continue  # the proxy runs as its own program (its argv parsing at import is fine)
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == name:
                found.append(obj)
    strays = [f"{e.__module__}.{e.__qualname__}" for e in found
              if not issubclass(e, bases) and e is not ReleasegateError]  # fmt: skip
    assert strays == []
    assert {e.exit_code for e in found if e is not ReleasegateError} == {1, 2, 3}
    assert len(found) >= 12  # the hierarchy as built: a shrinking count means errors escaped it


def test_no_module_is_over_400_lines() -> None:
    over = {
        str(m.path.relative_to(REPO))
        for m in MODULES.values()
        if len(m.path.read_text().splitlines()) > 400
    }
    assert over == set()


def test_each_source_file_is_imported_under_one_name_only() -> None:
    """flows/ and tasks/ are releasegate.flows/.tasks: never also top-level packages."""
    assert "flows" not in sys.modules and "tasks" not in sys.modules
    by_file: dict[str, list[str]] = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(REPO) and ".venv" not in Path(file).parts:
            by_file.setdefault(str(Path(file).resolve()), []).append(name)
    assert {f: n for f, n in by_file.items() if len(n) > 1} == {}


def test_no_module_imports_flows_or_tasks_as_top_level_packages() -> None:
    sources = [*MODULES.values()]
    offenders = [
        m.name for m in sources if {i.split(".")[0] for i in m.imports} & {"flows", "tasks"}
    ]
    assert offenders == []
