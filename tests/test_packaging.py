"""Installation: flows/ and tasks/ install as releasegate.flows and releasegate.tasks, never
as top-level packages; every package is listed; prefect.yaml's entrypoints still load."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.support.modules import FOLDERS, REPO, module_name

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_every_package_is_listed_for_setuptools() -> None:
    packages = {
        module_name(init)
        for folder in FOLDERS.values()
        for init in folder.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert set(PYPROJECT["tool"]["setuptools"]["packages"]) == packages


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the sources (no build/ litter in the checkout)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for folder in ("releasegate", "flows", "tasks"):
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
    done = subprocess.run([*pip, "-w", str(out), str(src)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("releasegate-*.whl")
    return built


def test_the_wheel_holds_flows_and_tasks_inside_releasegate(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"releasegate", "releasegate-0.1.0.dist-info"}
    for folder in ("flows", "tasks"):
        for source in (REPO / folder).glob("*.py"):
            assert f"releasegate/{folder}/{source.name}" in names


def test_an_installed_copy_imports_the_flows_by_their_package_names(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import importlib.util, releasegate.flows.deploy as d, releasegate.tasks.gates as g\n"
        "print(d.__file__); print(g.__file__)\n"
        "print(importlib.util.find_spec('flows'), importlib.util.find_spec('tasks'))\n"
    )
    # Run outside the checkout, with the unpacked wheel first on the path (not the sources).
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    deploy_file, gates_file, top_level = done.stdout.splitlines()
    assert Path(deploy_file) == site / "releasegate" / "flows" / "deploy.py"
    assert Path(gates_file) == site / "releasegate" / "tasks" / "gates.py"
    assert top_level == "None None"


def test_prefect_yaml_entrypoints_load_as_a_worker_loads_them(tmp_path: Path) -> None:
    entrypoints = [
        d["entrypoint"] for d in yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    ]
    code = (
        "import sys\n"
        "from prefect.flows import load_flow_from_entrypoint\n"
        "for entrypoint in sys.argv[1:]:\n"
        "    print(load_flow_from_entrypoint(entrypoint, use_placeholder_flow=False).name)\n"
    )
    # A worker's pull step sets the working directory to the checkout (prefect.yaml).
    done = subprocess.run(
        [sys.executable, "-c", code, *entrypoints], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["deploy", "rollback", "rollback", "reconcile"]
