"""Audit entries for tests, with sensible defaults."""

from __future__ import annotations

import hashlib
from typing import Any

from releasegate.audit.record import AuditEntry


def make_entry(environment: str = "production", **fields: Any) -> AuditEntry:
    """A successful deploy of webapp 1.0.0 by alice; `fields` override any of it."""
    base: dict[str, Any] = {
        "kind": "deploy",
        "environment": environment,
        "app": "webapp",
        "version": "1.0.0",
        "status": "succeeded",
        "actor": "alice",
    }
    return AuditEntry(**{**base, **fields})


def broken(store: Any, environment: str = "production", **kwargs: Any) -> list[str]:
    """What `store.verify` reports as broken (exit 1), as text."""
    return [f.text for f in store.verify(environment, **kwargs) if f.broken]


def notices(store: Any, environment: str = "production", **kwargs: Any) -> list[str]:
    """What `store.verify` reports without calling the trail broken."""
    return [f.text for f in store.verify(environment, **kwargs) if not f.broken]


def signed_release(version: str, environment: str = "production", n: int = 0) -> list[AuditEntry]:
    """A release as a signed pipeline records it: alice's and bob's signed approvals
    (demo keys, signed in-process), then the deploy that relied on both."""
    from datetime import UTC, datetime

    from releasegate.signing.payload import DecisionPayload
    from tests.support.sshsig import signed_approval

    common: dict[str, Any] = {
        "app": "webapp",
        "version": version,
        "artifact": "sha256:" + hashlib.sha256(version.encode()).hexdigest(),
        "flow_run_id": f"run-{n}-{version}",
    }
    at = datetime.now(UTC)
    approvals = [
        signed_approval(
            DecisionPayload(
                decision="approve",
                reviewer=name,
                environment=environment,
                digest=common["artifact"],
                comment=f"ok {n}",
                pause_key=f"approval-{environment}-{i}",
                issued_at=at,
                **{k: common[k] for k in ("app", "version", "flow_run_id")},
            ),
            at,
        )
        for i, name in enumerate(("alice", "bob"))
    ]
    return [
        *(
            make_entry(
                environment,
                kind="approval",
                status="accepted",
                actor=a.name,
                approvals=[a],
                **common,
            )
            for a in approvals
        ),
        make_entry(
            environment, approvers=["alice", "bob"], approvals=approvals, actor="ci", **common
        ),
    ]
