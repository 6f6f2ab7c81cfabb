"""mypy over releasegate, with flows/ and tasks/ under the names they are installed as.

flows/ and tasks/ ship as `releasegate.flows` and `releasegate.tasks` (setuptools
package-dir), but mypy names a module after its path. So each of their files is handed
to mypy with its installed name; everything else comes from [tool.mypy] in pyproject.toml.
Run with the project's interpreter: `.venv/bin/python scripts/typecheck.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mypy import build
from mypy.errors import CompileError
from mypy.main import process_options
from mypy.modulefinder import BuildSource

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {"flows": "releasegate.flows", "tasks": "releasegate.tasks"}


def mapped_sources() -> list[BuildSource]:
    sources = []
    for folder, package in MAPPED.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            stem = "" if path.stem == "__init__" else f".{path.stem}"
            sources.append(BuildSource(str(path), package + stem))
    return sources


def main() -> int:
    sources, options = process_options(
        ["--config-file", str(ROOT / "pyproject.toml"), str(ROOT / "releasegate")]
    )
    lines: list[str] = []
    try:
        result = build.build(sources + mapped_sources(), options)
        lines = result.errors
    except CompileError as exc:
        lines = exc.messages
    for line in lines:
        print(line)
    checked = len(sources) + len(mapped_sources())
    if lines:
        print(f"mypy: {sum(': error:' in ln for ln in lines)} errors in {checked} modules")
        return 1
    print(f"mypy: no issues in {checked} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
