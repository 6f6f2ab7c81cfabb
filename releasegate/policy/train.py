"""Release trains: when a scheduled environment takes what passed upstream. Pure: the
schedule as configured (`schedule = { cron = "0 10 * * 1-4", timezone = "Europe/Berlin" }`);
Prefect's deployment schedule runs it (`serving.specs`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from releasegate.policy.cron_window import Cron
from releasegate.policy.wallclock import Zone


class ReleaseTrain(BaseModel):
    """Promote into this environment at each time the cron expression matches in
    `timezone` (wall-clock time: 10:00 stays 10:00 across DST)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cron: Cron
    timezone: Zone = "UTC"

    def describe(self) -> str:
        return f"{self.cron} ({self.timezone})"
