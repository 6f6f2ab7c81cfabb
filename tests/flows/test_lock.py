"""The environment lock itself, on the session's real Prefect server: the limit, the lease,
the published holder, a dead holder's lease released at once, a lost lease noticed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

from releasegate import processes
from releasegate.errors import Failed
from releasegate.liveness import ProcessIdentity, provably_dead, this_process
from releasegate.tasks import lock
from releasegate.tasks.lock import Holder, hold, holder_variable, limit_name


def app() -> str:
    """A fresh app name per test: its own limits and variables on the shared server."""
    return f"lock-{uuid.uuid4().hex[:8]}"


def published(app_name: str, environment: str) -> Holder | None:
    with get_client(sync_client=True) as client:
        found = client.read_variable_by_name(holder_variable(app_name, environment))
    return Holder.model_validate(found.value) if found else None


def test_liveness_proves_death_only_where_it_can() -> None:
    me = this_process()
    assert not provably_dead(me)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    gone = me.model_copy(update={"pid": child.pid})
    assert provably_dead(gone)
    # The same PID running another process (started at another time): the holder is gone.
    assert provably_dead(me.model_copy(update={"started": me.started + 1}))
    # Another machine, another boot, another PID namespace: nothing can be proved.
    for other in ({"boot_id": "another-boot"}, {"pid_namespace": "pid:[1]"}):
        assert not provably_dead(gone.model_copy(update=other))


def test_hold_publishes_the_holder_and_step_down_clears_it() -> None:
    name = app()
    with hold(name, "production", "deploy v9", "dave", say=print) as held:
        seen = published(name, "production")
        assert seen == held.holder and seen.purpose == "deploy v9" and seen.actor == "dave"
        assert seen.process == this_process() and held.abandoned is None
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(limit_name(name, "production"))
        assert (limit.limit, limit.active, limit.active_slots) == (1, True, 1)
    assert published(name, "production") is None
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(limit_name(name, "production"))
    assert limit.active_slots == 0


def test_a_limit_raised_or_disabled_by_hand_is_put_back_to_one() -> None:
    name = app()
    with hold(name, "production", "first", "dave", say=print):
        pass
    limit = limit_name(name, "production")
    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(
            limit, GlobalConcurrencyLimitUpdate(limit=5, active=False)
        )
    with hold(name, "production", "second", "dave", say=print):
        with get_client(sync_client=True) as client:
            now = client.read_global_concurrency_limit_by_name(limit)
        assert (now.limit, now.active) == (1, True)


def test_a_dead_holders_lease_is_released_at_once_and_reported(tmp_path: Path) -> None:
    """A `kill -9`ed holder on this machine does not block its environment for a lease."""
    name = app()
    script = (
        "import sys, time\n"
        "from releasegate.tasks.lock import hold\n"
        f"with hold({name!r}, 'production', 'deploy v7', 'erin', say=print):\n"
        "    print('HELD', flush=True)\n"
        "    time.sleep(600)\n"
    )
    log = tmp_path / "holder.log"
    holder = processes.spawn([sys.executable, "-c", script], log=log, env=dict(os.environ))
    processes.wait_until(
        lambda: "HELD" in log.read_text(), timeout=60, interval=0.2, what="the holder to hold"
    )
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    said: list[str] = []
    with hold(name, "production", "deploy v8", "dave", say=said.append) as held:
        assert held.abandoned is not None and held.abandoned.purpose == "deploy v7"
    assert len(said) == 1 and "the process holding the lock is gone" in said[0]
    assert f"deploy v7 by erin (no flow run, pid {holder.pid} on " in said[0]


def test_a_lost_lease_stops_the_change_before_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the server takes the lease back (the holder was cut off for longer than a lease),
    the holder must not start changing the target: another change may be under way."""
    monkeypatch.setattr(lock, "RENEW_SECONDS", 0.2)
    name = app()
    with hold(name, "production", "deploy v9", "dave", say=print) as held:
        assert lock.held("production") is held
        with get_client(sync_client=True) as client:  # as the repossessor would
            client.release_concurrency_slots_with_lease(held.holder.lease_id)
        processes.wait_until(lambda: held.lost is not None, timeout=10, what="lease noticed lost")
        with pytest.raises(Failed, match="production: no longer holds its lock"):
            lock.held("production")


def test_a_change_outside_the_lock_is_a_programming_error() -> None:
    with pytest.raises(AssertionError, match="a change to production outside its lock"):
        lock.held("production")


def test_another_machines_identity_is_never_taken_for_ours() -> None:
    foreign = ProcessIdentity(
        host="elsewhere", boot_id="b", pid_namespace="pid:[2]", pid=os.getpid(), started=1
    )
    assert not provably_dead(foreign)


def test_the_server_keeps_leases_on_disk_so_a_restart_cannot_strand_a_slot() -> None:
    """Prefect keeps leases in memory by default: a server restarted while a change holds
    the lock forgets the lease but not the occupied slot, and the environment stays locked
    for good (checked by hand on 3.9.1). The server releasegate starts keeps them on disk."""
    name = app()
    with hold(name, "production", "deploy v9", "dave", say=print) as held:
        leases = Path(os.environ["PREFECT_HOME"]) / "prefect" / "concurrency_leases"
        assert (leases / f"{held.holder.lease_id}.json").is_file()


def test_a_slot_held_by_nobody_who_names_itself_gets_a_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lock, "STUCK_SECONDS", 0.0)
    monkeypatch.setattr(lock, "REMIND_SECONDS", 0.0)
    name, said = app(), []
    with get_client(sync_client=True) as client:
        lock.ensure_limit(client, limit_name(name, "production"))
        stuck = client.increment_concurrency_slots_with_lease(
            names=[limit_name(name, "production")], slots=1, mode="concurrency", lease_duration=60
        ).json()["lease_id"]

    def wait_for_it() -> None:
        with hold(name, "production", "deploy v2", "dave", say=said.append):
            pass

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    processes.wait_until(
        lambda: any("--active-slots 0" in s for s in said), timeout=30, what="hint"
    )
    with get_client(sync_client=True) as client:
        client.release_concurrency_slots_with_lease(UUID(stuck))
    waiter.join(timeout=30)
    assert not waiter.is_alive()
    assert "production is locked by a change that has not named itself yet" in said[0]
    assert f"prefect gcl update {limit_name(name, 'production')} --active-slots 0" in said[1]
