"""`releasegate rollback` through a running `releasegate serve`: when a serving process pins
the same configuration, the terminal asks it to run the rollback (a flow run of its
`rollback/<app>-<environment>` deployment, what a UI quick run creates) and follows that run,
instead of importing Prefect and running the flow itself. The serving process starts the
run from a warm process; a terminal's fresh Python spends seconds importing Prefect first.

Plain HTTP to Prefect's REST API (httpx), no Prefect import: that import is most of a new
process's start-up. The run is the same flow with the same parameters (actor, signed
proof), judged by the run itself, so nothing is proven or refused differently; its failure
comes back as the same error, hence the same exit code.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from releasegate.config import Config
from releasegate.deployment_names import rollback_name
from releasegate.errors import Blocked, ConfigError, DeployFailed, Failed, UsageError
from releasegate.prompt_retries import PromptRetries
from releasegate.signing.trigger import Asked
from releasegate.trigger import TriggerProof
from releasegate.wiring import open_store

TAG = "releasegate-config-"
PICKUP = 15.0
"""Seconds a served runner has to take the run (it polls every 0.5 s; a serving process
told to poll every PREFECT_RUNNER_POLL_FREQUENCY=10 s still makes it)."""
FINAL = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
ERRORS = {cls.__name__: cls for cls in (Blocked, ConfigError, DeployFailed, Failed, UsageError)}


def config_tag(path: Path) -> str:
    """The tag a serving process puts on its deployments: which configuration it pins."""
    return TAG + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]


def served_rollback(api: str, config: Path, app: str, environment: str) -> str | None:
    """The id of the `rollback/<app>-<environment>` deployment served right now (Prefect's
    READY: its runner polled within the last minute) for `config`; None if there is none."""
    name = rollback_name(app, environment)
    try:
        response = httpx.get(f"{api}/deployments/name/{name}", timeout=5)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    deployment = response.json()
    if config_tag(config) not in (deployment.get("tags") or []):
        return None
    return str(deployment["id"]) if deployment.get("status") == "READY" else None


def rollback(
    api: str,
    deployment_id: str,
    asked: Asked,
    actor: str,
    proof: TriggerProof | None,
    timeout: float,
    *,
    release_quarantine: bool = False,
) -> str | None:
    """Run the served rollback `asked` for, as `actor` (with their signed request, if any,
    and `--release-quarantine` when given), and wait for it; its flow-run id when it
    completed. Raises the error the run failed
    with (same class, same exit code).

    None if no runner picked the run up within PICKUP seconds (the serving process has
    just stopped): the run is cancelled, so that it never runs later, and the caller rolls
    back itself.
    """
    parameters: dict[str, Any] = {
        # The environment is frozen into the deployment (rollback_name): not sent.
        "reason": asked.reason,
        "to": asked.version,
        "actor": actor,
        "release_quarantine": release_quarantine,
    }
    if proof is not None:
        parameters["proof"] = proof.model_dump(mode="json")
    # One key for every attempt: a create retried after a lost answer finds the same run.
    body = {"parameters": parameters, "idempotency_key": f"releasegate-handoff-{uuid.uuid4()}"}
    with httpx.Client(base_url=api, timeout=10, transport=PromptRetries()) as client:
        created = _call(client, "POST", f"/deployments/{deployment_id}/create_flow_run", body)
        if created.status_code == 409:  # the deployment's schema refused a parameter
            raise UsageError(f"the served rollback refused its parameters: {created.text}")
        run_id = str(_ok(created).json()["id"])
        started = time.monotonic()
        while True:
            state = _ok(_call(client, "GET", f"/flow_runs/{run_id}")).json()["state"] or {}
            waited = time.monotonic() - started
            if state.get("type") in FINAL:
                break
            if state.get("type") == "SCHEDULED" and waited > PICKUP and _cancel(client, run_id):
                return None
            if waited > timeout:
                raise Failed(f"the served rollback (flow run {run_id}) did not finish in time")
            time.sleep(0.1)
    if state["type"] == "COMPLETED":
        return run_id
    raise _error(run_id, state.get("message") or state["type"])


RETRY_AFTER = (0.5, 1.0, 2.0, 4.0)
"""Seconds between attempts when the Prefect API is busy (429, or a 503 that outlasted the
transport's prompt retries, as a SQLite-backed server answers under load) or unreachable for
a moment; Prefect's own client retries the same."""


def _call(
    client: httpx.Client, method: str, path: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    """`method path`, retried while the server is busy; Failed (one line, no traceback) if
    it stays so. Safe to retry: the create carries an idempotency key, the rest only read."""
    for attempt in range(len(RETRY_AFTER) + 1):
        if attempt:
            time.sleep(RETRY_AFTER[attempt - 1])
        try:
            answer = client.request(method, path, json=body)
        except httpx.TransportError as exc:
            problem = f"{type(exc).__name__}: {exc}"
            continue
        if answer.status_code not in (429, 503):
            return answer
        problem = f"HTTP {answer.status_code}"
    raise Failed(f"the Prefect API did not answer {method} {path}: {problem}")


def _ok(answer: httpx.Response) -> httpx.Response:
    if answer.is_success:
        return answer
    raise Failed(
        f"the Prefect API answered {answer.status_code} to {answer.request.method} "
        f"{answer.request.url.path}"
    )


def _cancel(client: httpx.Client, run_id: str) -> bool:
    """Cancel a run nobody has picked up; False if a runner took it meanwhile."""
    cancelled = {"type": "CANCELLED", "message": "releasegate rollback: no runner took it"}
    answer = _call(client, "POST", f"/flow_runs/{run_id}/set_state", {"state": cancelled})
    return answer.is_success and answer.json().get("status") == "ACCEPT"


def _error(run_id: str, message: str) -> Failed | Blocked | UsageError | ConfigError:
    """The releasegate error a failed run's state message names (`Flow run encountered an
    exception: Blocked: ...`); a Failed for anything else (a crash)."""
    _, _, raised = message.partition("exception: ")
    name, _, text = raised.partition(": ")
    if name in ERRORS:
        return ERRORS[name](text)
    return Failed(f"the served rollback (flow run {run_id}) ended: {message}")


def restored(config: Config, environment: str, run_id: str) -> str:
    """The version the served rollback `run_id` made live, as it recorded it."""
    records = open_store(config).newest(environment)
    done = next(
        (r for r in records if r.flow_run_id == run_id and r.kind == "rollback"),
        None,
    )
    return (done.version if done else None) or "?"
