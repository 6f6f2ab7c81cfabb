"""The real `releasegate` console script in a subprocess: where exit codes, stderr and the
absence of tracebacks are what a test checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("releasegate")


def run(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """`releasegate ARGS`, waited for; `env` adds variables to this process's own."""
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
        check=False,
    )


def start(*args: str, **env: str) -> subprocess.Popen[str]:
    """`releasegate ARGS` in the background (stop it with `finish`)."""
    return subprocess.Popen(
        [str(SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    """Wait for a background `releasegate` (killed if it overruns): exit code, stdout, stderr."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"releasegate did not finish within {timeout}s:\n{err}") from None
    return proc.returncode, out, err


def one_line(stderr: str) -> str:
    """The last line a failed command printed; asserts no traceback came with it."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    return lines[-1]
