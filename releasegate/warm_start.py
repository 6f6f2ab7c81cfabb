"""Flow runs served by `releasegate serve` start in a process that has already imported
everything they need, instead of a fresh interpreter.

Prefect's runner starts every run of a served flow in a new process with multiprocessing's
`spawn` method (`prefect.flow_engine.run_flow_in_subprocess`): a new interpreter that
imports Prefect, releasegate and the flows again, 1.5-2 s on an idle 2-core machine and
several seconds on a busy one, before an on-call rollback even begins. The `forkserver`
method starts the same kind of process (nothing inherited from the serving process's
threads or sockets: it is forked from a single-threaded server process) from a server that
imported those modules once, so a run's process is ready in milliseconds.

Prefect has no setting for the start method; `install` makes its function take the
forkserver context, and nothing else changes: the same function pickles the same call
with the same environment, except that a flow travels by name (`_by_name`).
`tests/flows/test_warm_start.py` fails if Prefect stops asking `multiprocessing` for a
context there.
"""

from __future__ import annotations

import copyreg
import importlib
import multiprocessing
import multiprocessing.context
import pickle
import sys
from types import ModuleType
from typing import Any

from prefect import Flow

PRELOAD = [
    "prefect",
    "prefect.flow_engine",
    "releasegate.flows.deploy",
    "releasegate.flows.rollback",
    "releasegate.flows.promote",
    "releasegate.flows.reconcile",
]
"""Imported once by the fork server; each run's process starts with them loaded. (An
adapter the configuration chooses, such as the Kubernetes client, is imported by the run.)"""


class _ForkServerMultiprocessing(ModuleType):
    """`multiprocessing` as Prefect's flow engine sees it: every context is the fork
    server's (the engine asks for "spawn", the one other method that starts clean)."""

    def __init__(self) -> None:
        super().__init__("multiprocessing")

    def __getattr__(self, name: str) -> Any:
        return getattr(multiprocessing, name)

    @staticmethod
    def get_context(method: str | None = None) -> multiprocessing.context.BaseContext:
        return forkserver()


def forkserver() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _by_name(flow: Flow[..., Any]) -> str | tuple[Any, ...]:
    """Pickle a flow that its module names as that name: the run's process takes the one it
    already imported. (By value, as cloudpickle otherwise sends the function of a decorated
    flow, its string annotations, `from __future__ import annotations`, no longer resolve:
    "`RollbackModel` is not fully defined".)"""
    module, name = flow.fn.__module__, flow.fn.__name__
    if getattr(sys.modules.get(module), name, None) is flow:
        return (named_flow, (module, name))
    return flow.__reduce_ex__(pickle.DEFAULT_PROTOCOL)


def named_flow(module: str, name: str) -> Flow[..., Any]:
    flow = getattr(importlib.import_module(module), name)
    assert isinstance(flow, Flow), f"{module}.{name} is not a flow"
    return flow


def install() -> None:
    """Start this process's served flow runs from the warm fork server (idempotent), and
    start that server now, so that the first run does not wait for its imports either."""
    from multiprocessing import forkserver as server

    from prefect import flow_engine

    if not isinstance(flow_engine.multiprocessing, _ForkServerMultiprocessing):
        flow_engine.multiprocessing = _ForkServerMultiprocessing()
    copyreg.pickle(Flow, _by_name)
    forkserver()
    server.ensure_running()
