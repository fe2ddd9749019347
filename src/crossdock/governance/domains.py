"""The `[domains.<name>]` tables: sync pattern, latency target and error budget per domain."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from crossdock.governance.durations import Duration


class SyncPattern(StrEnum):
    """How a domain's data moves between systems."""

    EVENT = "event"
    BATCH = "batch"
    API_PLUS_RECONCILE = "api-plus-reconcile"


class DomainConfig(BaseModel):
    """One data domain and its service level.

    Attributes:
        pattern: event, batch or api-plus-reconcile.
        latency_target: How fresh the data must be: a change is in every system within this time.
        entities: The canonical entities the domain covers.
        objective_percent: The share of changes that must meet the latency target (the service
            level objective, e.g. 99.0); the error budget is what remains (1.0 %).
        window: The period the objective is measured over.
        schedule: A cron expression for batch runs and reconciliation sweeps, if any.
        description: Free text for operators.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: SyncPattern
    latency_target: Duration
    entities: list[str] = Field(min_length=1)
    objective_percent: float = Field(default=99.0, gt=0, lt=100)
    window: Duration = timedelta(days=30)
    schedule: str | None = None
    description: str = ""

    @field_validator("schedule")
    @classmethod
    def _check_cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"invalid cron expression {value!r}")
        return value

    @field_validator("entities")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        return value

    @property
    def error_budget_percent(self) -> float:
        """The error budget: the share of changes allowed to miss the latency target."""
        return round(100.0 - self.objective_percent, 6)
