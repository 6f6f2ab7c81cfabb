"""Release trains: when a scheduled environment takes what passed upstream. Pure: the
schedule as configured (`schedule = { cron = "0 10 * * 1-4", timezone = "Europe/Berlin" }`);
Prefect's deployment schedule runs it (`releasegate.schedules`)."""

from __future__ import annotations

from datetime import datetime

from cronsim import CronSim, CronSimError
from pydantic import BaseModel, ConfigDict, field_validator

from releasegate.policy.wallclock import Zone


class ReleaseTrain(BaseModel):
    """Promote into this environment at each time the cron expression matches in
    `timezone` (wall-clock time: 10:00 stays 10:00 across DST)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cron: str
    timezone: Zone = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"{value!r} is not a cron expression of 5 fields (minute to weekday)")
        try:
            CronSim(value, datetime(2000, 1, 1))
        except CronSimError as exc:
            raise ValueError(f"{value!r} is not a valid cron expression: {exc}") from None
        return value

    def describe(self) -> str:
        return f"{self.cron} ({self.timezone})"
