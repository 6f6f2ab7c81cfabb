"""One change per environment at a time, across processes and machines.

Each environment has a Prefect global concurrency limit of 1, `releasegate-<app>-<environment>`,
created (and put back to 1, active, if someone changed it) before every use. A change holds
a lease on it from the final gate check to the recorded outcome; deploys, rollbacks and the
automatic rollback inside a deploy's hold all go through it. The lease is renewed in the
background and expires `LEASE_SECONDS` after its holder stops renewing it (the server's
repossessor frees it within `PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS` more).

Who holds the lock is published in a Prefect variable (`releasegate-lock-…`): the lease id,
what the change is, its flow run, actor, and its process (host, boot, PID namespace, PID,
start time). A waiter prints it; a waiter on the same machine releases the lease of a holder
that is provably dead (a `kill -9`, an OOM kill) at once instead of waiting for the lease
to expire. The holder deletes the variable before releasing the lease, so a variable left
behind names a holder that never got to release: the next holder reports it, and the trail
and that holder's flow run are reconciled (tasks/reconcile.py).

The Prefect API is trusted here as everywhere: whoever can write to it can also delete the
limit or release any lease.
"""

from __future__ import annotations

import contextvars
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
from prefect import get_run_logger
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    VariableCreate,
    VariableUpdate,
)
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.client.schemas.responses import ConcurrencyLimitWithLeaseResponse
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict, ValidationError

from releasegate.config import Config
from releasegate.errors import Failed
from releasegate.liveness import ProcessIdentity, provably_dead, this_process
from releasegate.tasks.api import prefect_client

LEASE_SECONDS = 60.0
"""The server's minimum: a holder that dies on another machine blocks its environment for
at most this long, plus the repossessor's loop."""
RENEW_SECONDS = 15.0
"""Renewed four times per lease, so three renewals in a row may fail transiently."""
POLL_SECONDS = 1.0
REMIND_SECONDS = 30.0

STUCK_SECONDS = 2 * LEASE_SECONDS + 30
"""A holder that has not named itself for this long holds no lease a server still knows."""

Say = Callable[[str], None]


def limit_name(app: str, environment: str) -> str:
    return f"releasegate-{app}-{environment}"


def holder_variable(app: str, environment: str) -> str:
    """The variable naming the holder. Variable names allow lowercase letters, digits, '-' and
    '_' only; environment names allow more, so the name carries a hash to stay one-to-one."""
    name = limit_name(app, environment)
    slug = "".join(c if c.isalnum() else "-" for c in name.lower())[:80]
    return f"releasegate-lock-{slug}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"


class Holder(BaseModel):
    """Who holds an environment's lock, as published in its variable."""

    model_config = ConfigDict(frozen=True)

    lease_id: UUID
    purpose: str
    actor: str
    flow_run_id: str | None = None
    flow_run_url: str | None = None
    process: ProcessIdentity
    since: datetime

    def describe(self) -> str:
        run = f"flow run {self.flow_run_id}" if self.flow_run_id else "no flow run"
        return (
            f"{self.purpose} by {self.actor} ({run}, {self.process.describe()}) "
            f"since {self.since:%Y-%m-%d %H:%M:%S} UTC"
        )


@dataclass
class Hold:
    """An environment held by this process for one change."""

    environment: str
    holder: Holder
    abandoned: Holder | None
    """The previous holder, if it never released the lock (it crashed or lost its lease)."""
    lost: str | None = None
    """Why the lease is no longer ours, if it was lost (set by the renewal thread)."""
    _stop: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        """Raise Failed if the lease was lost: another change may be under way."""
        if self.lost:
            raise Failed(f"{self.environment}: no longer holds its lock ({self.lost})")


_HELD: contextvars.ContextVar[tuple[Hold, ...]] = contextvars.ContextVar("held", default=())


class Busy(Failed):
    """The environment is held by a change, and the caller would rather not wait for it."""


def held(environment: str) -> Hold:
    """The hold this run has on `environment`; Failed if it was lost. Changing an environment
    without holding it is a programming error."""
    hold = next((h for h in _HELD.get() if h.environment == environment), None)
    assert hold is not None, f"a change to {environment} outside its lock"
    hold.check()
    return hold


def holder_of(app: str, environment: str) -> Holder | None:
    """Who holds `environment` now, as its holder published it (None: nobody, or unreadable)."""
    with prefect_client() as client:
        return _read_holder(client, holder_variable(app, environment))


def ensure_limits(config: Config) -> None:
    """Create every environment's limit (idempotent): for `releasegate serve` and setup."""
    with prefect_client() as client:
        for environment in config.environments:
            ensure_limit(client, limit_name(config.app.name, environment))


def ensure_limit(client: SyncPrefectClient, name: str) -> None:
    """The limit `name` exists, active, with one slot (put back if someone changed it)."""
    try:
        existing = client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            return
        except ObjectAlreadyExists:  # another run created it meanwhile
            existing = client.read_global_concurrency_limit_by_name(name)
    if existing.limit != 1 or not existing.active:
        client.update_global_concurrency_limit(
            name, GlobalConcurrencyLimitUpdate(limit=1, active=True)
        )


@contextmanager
def hold(
    app: str,
    environment: str,
    purpose: str,
    actor: str,
    say: Say | None = None,
    *,
    wait: bool = True,
) -> Iterator[Hold]:
    """Hold `environment` for one change; wait (saying who holds it) while another does, or
    with `wait=False` raise Busy (naming the holder) instead: never fight a change."""
    say = say or _run_logger_info
    name, variable = limit_name(app, environment), holder_variable(app, environment)
    run_id = flow_run.get_id()
    with prefect_client() as client:
        lease_id = _acquire(client, name, variable, run_id, environment, say, wait)
        try:
            me = Holder(
                lease_id=lease_id,
                purpose=purpose,
                actor=actor,
                flow_run_id=run_id,
                flow_run_url=flow_run.get_flow_run_ui_url() if run_id else None,
                process=this_process(),
                since=datetime.now(UTC),
            )
            previous = _read_holder(client, variable)
            _publish(client, variable, me)
        except BaseException:
            _release(client, lease_id)
            raise
        abandoned = previous if previous and previous.lease_id != lease_id else None
        current = Hold(environment, me, abandoned)
        renewal = threading.Thread(
            target=contextvars.copy_context().run,
            args=(_renew, lease_id, current),
            name=f"releasegate-lease-{environment}",
            daemon=True,
        )
        renewal.start()
        token = _HELD.set((*_HELD.get(), current))
        try:
            yield current
        finally:
            _HELD.reset(token)
            current._stop.set()
            renewal.join(timeout=5)
            _step_down(client, variable, lease_id, say)


def _acquire(
    client: SyncPrefectClient,
    name: str,
    variable: str,
    run_id: str | None,
    env: str,
    say: Say,
    wait: bool = True,
) -> UUID:
    """A lease on `name`; polls while it is held, releasing a provably dead holder's lease."""
    ensure_limit(client, name)
    holder = ConcurrencyLeaseHolder(type="flow_run", id=UUID(run_id)) if run_id else None
    waiting_since, told, told_at = time.monotonic(), None, 0.0
    released: set[UUID] = set()
    while True:
        try:
            response = client.increment_concurrency_slots_with_lease(
                names=[name],
                slots=1,
                mode="concurrency",
                lease_duration=LEASE_SECONDS,
                holder=holder,
            )
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 423:  # 423 Locked: another change holds it
                raise
        else:
            granted = ConcurrencyLimitWithLeaseResponse.model_validate(response.json())
            if not granted.limits:  # strict: never proceed unlocked
                raise Failed(f"the concurrency limit {name} does not exist (deleted meanwhile?)")
            return granted.lease_id
        current = _read_holder(client, variable)
        if current is not None and current.lease_id in released:
            current = None  # stale: whoever holds the lock now has not named itself yet
        if current is not None and provably_dead(current.process):
            say(
                f"{env}: the process holding the lock is gone ({current.describe()}); "
                "releasing its lease"
            )
            _release(client, current.lease_id)
            released.add(current.lease_id)
            continue
        if not wait:
            who = current.describe() if current else "a change that has not named itself yet"
            raise Busy(f"{env} is locked by {who}")
        now = time.monotonic()
        if current != told or now - told_at >= REMIND_SECONDS:
            who = current.describe() if current else "a change that has not named itself yet"
            waited = now - waiting_since
            say(f"{env} is locked by {who}; waiting for it to finish (waited {waited:.0f}s)")
            if current is None and waited > STUCK_SECONDS:
                say(stuck_hint(name))
            told, told_at = current, now
        time.sleep(POLL_SECONDS)
        ensure_limit(client, name)  # put back to 1 if someone raised it while we waited


def stuck_hint(name: str) -> str:
    """What to do about a slot no lease accounts for: a Prefect server that keeps leases in
    memory (its default) and restarted while a change held the lock never frees it."""
    return (
        f"if nothing is changing this environment, its slot is stuck (a Prefect server "
        f"restarted with leases kept in memory?): `prefect gcl inspect {name}` shows it, "
        f"`prefect gcl update {name} --active-slots 0` frees it; run the server with "
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=prefect.server.concurrency.lease_storage."
        "filesystem"
    )


def _renew(lease_id: UUID, current: Hold) -> None:
    """Keep the lease alive until the hold ends; note it in `current.lost` if it is lost."""
    last = time.monotonic()
    with prefect_client() as client:
        while not current._stop.wait(RENEW_SECONDS):
            try:
                client.renew_concurrency_lease(lease_id=lease_id, lease_duration=LEASE_SECONDS)
                last = time.monotonic()
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code == 410:  # Gone: expired and repossessed
                    current.lost = "its lease expired and was taken back by the server"
                    return
            except Exception:  # transient: the lease lasts LEASE_SECONDS since the last renewal
                if time.monotonic() - last >= LEASE_SECONDS:
                    current.lost = f"its lease could not be renewed for {LEASE_SECONDS:.0f}s"
                    return


def _step_down(client: SyncPrefectClient, variable: str, lease_id: UUID, say: Say) -> None:
    """Unpublish, then release: a variable left behind then always names a holder that
    never released. Failures are reported, not raised (the lease expires by itself)."""
    try:
        published = _read_holder(client, variable)
        if published is not None and published.lease_id == lease_id:
            client.delete_variable_by_name(variable)
        _release(client, lease_id)
    except Exception as exc:
        say(f"could not release the lock cleanly ({exc}); it frees itself within a minute")


def _release(client: SyncPrefectClient, lease_id: UUID) -> None:
    client.release_concurrency_slots_with_lease(lease_id=lease_id)


def _publish(client: SyncPrefectClient, variable: str, me: Holder) -> None:
    value: Any = me.model_dump(mode="json")
    try:
        client.create_variable(VariableCreate(name=variable, value=value))
    except ObjectAlreadyExists:
        client.update_variable(VariableUpdate(name=variable, value=value))


def _read_holder(client: SyncPrefectClient, variable: str) -> Holder | None:
    found = client.read_variable_by_name(variable)
    if found is None:
        return None
    try:
        return Holder.model_validate(found.value)
    except ValidationError:
        return None  # not ours to interpret: wait for the lease instead


def _run_logger_info(message: str) -> None:
    get_run_logger().info(message)
