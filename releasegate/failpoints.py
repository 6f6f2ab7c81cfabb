"""Failpoints: named steps of a change where a test can kill the process, as `kill -9` would.

`RELEASEGATE_FAILPOINT=<point>` makes the process send itself SIGKILL when it reaches that
point; without the variable `hit` does nothing. It is read from the process environment
only (never from a flow parameter or the configuration), so only whoever starts the
process can set it. The crash tests use it to stop a real `releasegate deploy` at an exact
step, under load, and then check what the next run makes of the wreck.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "RELEASEGATE_FAILPOINT"
POINTS = (
    "before-switch",  # the new release runs beside the old one, with no traffic yet
    "after-switch",  # traffic has moved; nothing is verified or recorded
    "during-verify",  # the live URL was checked; the verification is not recorded
)


def hit(point: str) -> None:
    """Die here, without any cleanup, if the environment names `point`."""
    assert point in POINTS, f"unknown failpoint {point!r}"
    if os.environ.get(VARIABLE) == point:
        os.kill(os.getpid(), signal.SIGKILL)
