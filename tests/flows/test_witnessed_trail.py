"""The witness, end to end: a real flow run's records are witnessed on the Prefect server in
use, and `releasegate audit verify` reads it back. Without PREFECT_API_URL the witness is
the local server releasegate started, or none at all: never a temporary server of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from releasegate.audit.file import FileAuditStore
from releasegate.audit.prefect_witness import PrefectWitness
from releasegate.flows.deploy import deploy
from tests.conftest import REPO


def test_a_runs_records_are_witnessed_and_deleting_the_newest_is_named(
    make_setup: Any, prefect_api: str
) -> None:
    setup = make_setup()
    setup.call(deploy, version="v1", actor="dave")
    store = FileAuditStore(setup.home / "audit")
    newest = next(store.newest("production"))
    head = PrefectWitness(store.url, api_url=prefect_api).newest("production")
    assert head is not None and (head.seq, head.hash) == (newest.seq, newest.hash)
    code, out = setup.cli("audit", "verify")
    assert (code, out) == (0, "audit trail intact: _triggers, production\n")

    store.record_path("production", newest.seq).unlink()
    code, out = setup.cli("audit", "verify")
    assert code == 1 and "Traceback" not in out
    assert f"BROKEN production #{newest.seq}: witnessed ({newest.hash[:12]}…)" in out
    assert "the newest records were deleted or truncated" in out

    shutil.rmtree(setup.home / "audit" / "production")  # the whole history, folder and all
    code, out = setup.cli("audit", "verify")
    assert code == 1 and "Traceback" not in out
    assert f"BROKEN production: the witness saw #{newest.seq} (" in out
    assert "but the store has no records" in out


VERIFY = """
import json, sys
from releasegate.cli import main
sys.argv = ["releasegate", "audit", "verify", "--config", sys.argv[1]]
try:
    main()
except SystemExit as exc:
    code = exc.code
print("\\nRESULT=" + json.dumps({"code": code, "prefect": "prefect" in sys.modules}))
"""


def verify_without_api_url(config: Path) -> tuple[int, bool, str]:
    """`releasegate audit verify` in a new process without PREFECT_API_URL: exit code,
    whether it loaded Prefect at all, and its output."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = subprocess.run(
        [sys.executable, "-c", VERIFY, str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    output, _, result = done.stdout.rpartition("\nRESULT=")
    assert "Traceback" not in done.stderr, done.stderr
    facts = json.loads(result)
    return facts["code"], facts["prefect"], output + done.stderr


def test_without_prefect_api_url_the_witness_is_releasegates_local_server_or_none(
    make_setup: Any, prefect_api: str
) -> None:
    setup = make_setup()
    setup.call(deploy, version="v1", actor="dave")

    code, loaded_prefect, out = verify_without_api_url(setup.path)
    assert code == 0 and not loaded_prefect, out  # no client made, so no server started
    assert "hash chains and signatures intact, tail unwitnessed: _triggers, production" in out
    assert "no Prefect server: PREFECT_API_URL is unset and releasegate runs none" in out

    # The session's server was started by releasegate (`prefect_server.start`): recorded
    # under this home, it is the local server a releasegate command would have started.
    started = Path(os.environ["PREFECT_HOME"]) / "prefect" / "server.json"
    assert json.loads(started.read_text())["api_url"] == prefect_api
    (setup.home / "prefect").mkdir(parents=True, exist_ok=True)
    shutil.copy(started, setup.home / "prefect" / "server.json")
    code, loaded_prefect, out = verify_without_api_url(setup.path)
    assert (code, loaded_prefect) == (0, True), out
    assert "audit trail intact: _triggers, production" in out
