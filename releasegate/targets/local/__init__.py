"""The local target: releases run as processes on 127.0.0.1 behind a per-environment proxy."""

from releasegate.targets.local.bundle import LocalBuilder
from releasegate.targets.local.target import LocalTarget, Strategy, down

__all__ = ["LocalBuilder", "LocalTarget", "Strategy", "down"]
