"""recreate: all old pods stop before new ones start (downtime; for apps that cannot overlap)."""

from __future__ import annotations

from releasegate.targets.kubernetes.rolling import Rolling


class Recreate(Rolling):
    """Same patch as rolling, with the Deployment's own strategy set to Recreate."""

    strategy_type = "Recreate"
