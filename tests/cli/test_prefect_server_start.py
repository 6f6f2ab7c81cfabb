"""Two commands started at once on a fresh home (two terminals, the demo and a deploy) get
one Prefect server between them, and `<home>/prefect/server.json` names it: the next
command reuses it and `releasegate down` stops it. (Unlocked, both started one on 4200;
the loser's record could name its dead process and orphan the server that ran.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from releasegate import prefect_server, processes

ENSURE = "import sys, pathlib; from releasegate import prefect_server as p; "
ENSURE += "print(p.ensure(pathlib.Path(sys.argv[1])))"


def servers(home: Path) -> set[int]:
    """The process groups of Prefect servers whose PREFECT_HOME is under `home`."""
    wanted = f"PREFECT_HOME={(home / 'prefect').resolve()}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.add(os.getpgid(int(entry.name)))
        except (OSError, ProcessLookupError):
            continue  # gone meanwhile, or not ours to read
    return found


def test_two_commands_at_once_start_one_server_and_record_it(
    prefect_api: str, tmp_path: Path
) -> None:
    # After the session's server (prefect_api): first starts copy the UI's files into the venv.
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_UI_URL")}
    commands = [
        subprocess.Popen(
            [sys.executable, "-c", ENSURE, str(home)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        said = [command.communicate(timeout=300)[0] for command in commands]
        assert [c.returncode for c in commands] == [0, 0], said
        urls = {text.strip().splitlines()[-1] for text in said}
        assert len(urls) == 1, said
        info = prefect_server.running(home)
        assert info is not None, "server.json names a server that runs"
        assert info["api_url"] in urls
        assert servers(home) == {int(info["pid"])}, "one server, the one on record"
    finally:
        prefect_server.stop(home)
        for group in servers(home):  # an orphan the record did not name
            processes.stop(group)
    assert servers(home) == set()
