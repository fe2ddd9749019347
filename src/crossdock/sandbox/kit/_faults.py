"""Fault injection: latency with jitter, errors, outage windows, hanging calls, tighter throttling.

Every random choice is drawn from a generator seeded by ``(seed, request number)``, so the same
seed and the same sequence of requests give the same faults, whatever the timing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class FaultSpec(BaseModel):
    """The faults a simulator injects into its business endpoints (never into ``/_sandbox``).

    Attributes:
        latency_ms: Added delay before every answer.
        jitter_ms: Uniform jitter around ``latency_ms`` (the delay never goes below zero).
        error_rate: Probability that a call gets the system's own error response.
        error_status: The HTTP status of those errors (the simulator gives the body shape).
        outage_s: An outage window starting now; every call fails while it lasts.
        outage_mode: ``"503"`` answers with the system's 503; ``"reset"`` resets the connection.
        hang_rate: Probability that a call never answers (until the client gives up).
        fault_phase: ``"before"`` fails a call before it has any effect; ``"after"`` lets the
            effect happen and then loses the answer (an ambiguous outcome).
        throttle_factor: A fraction of the system's real rate limits to enforce (e.g. 0.25).
        seed: Reseed the fault generator (default: keep the simulator's seed).
    """

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0.0, ge=0)
    jitter_ms: float = Field(default=0.0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_status: int = Field(default=500, ge=400, le=599)
    outage_s: float | None = Field(default=None, ge=0)
    outage_mode: Literal["503", "reset"] = "503"
    hang_rate: float = Field(default=0.0, ge=0, le=1)
    fault_phase: Literal["before", "after"] = "before"
    throttle_factor: float = Field(default=1.0, gt=0, le=1)
    seed: int | None = None


class FaultAction(StrEnum):
    """What the injector decided to do to one call."""

    PASS = "pass"  # noqa: S105 - a fault action, not a password
    ERROR = "error"
    OUTAGE = "outage"
    RESET = "reset"
    HANG = "hang"


@dataclass(frozen=True)
class FaultDecision:
    """The injector's decision for one call: a delay, then an action."""

    delay_s: float
    action: FaultAction
    status: int | None = None


class FaultInjector:
    """Holds the active faults of one simulator and decides, per call, what happens to it."""

    def __init__(self, seed: int, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._seed = seed
        self._monotonic = monotonic
        self._spec = FaultSpec()
        self._outage_until: float | None = None
        self._counter = 0

    @property
    def spec(self) -> FaultSpec:
        """The active fault specification."""
        return self._spec

    @property
    def throttle_factor(self) -> float:
        """The fraction of the real rate limits in force (1.0 when no throttling is injected)."""
        return self._spec.throttle_factor

    def configure(self, spec: FaultSpec) -> None:
        """Replace the active faults; an ``outage_s`` starts its window now."""
        self._spec = spec
        if spec.seed is not None:
            self._seed = spec.seed
            self._counter = 0
        self._outage_until = (
            self._monotonic() + spec.outage_s if spec.outage_s is not None else None
        )

    def clear(self) -> None:
        """Remove every fault (the seed and request counter are kept)."""
        self._spec = FaultSpec()
        self._outage_until = None

    def outage_remaining(self) -> float:
        """Seconds left in the outage window (0 when there is none)."""
        if self._outage_until is None:
            return 0.0
        return max(0.0, self._outage_until - self._monotonic())

    def decide(self) -> FaultDecision:
        """Draw the decision for the next call."""
        self._counter += 1
        rng = random.Random(f"{self._seed}:{self._counter}")
        spec = self._spec
        delay = spec.latency_ms
        if spec.jitter_ms:
            delay += rng.uniform(-spec.jitter_ms, spec.jitter_ms)
        delay_s = max(0.0, delay) / 1000.0
        # Draw every number in a fixed order so that one fault's setting never shifts another's.
        hang_draw, error_draw = rng.random(), rng.random()
        if self.outage_remaining() > 0:
            if spec.outage_mode == "reset":
                return FaultDecision(0.0, FaultAction.RESET)
            return FaultDecision(0.0, FaultAction.OUTAGE, 503)
        if hang_draw < spec.hang_rate:
            return FaultDecision(0.0, FaultAction.HANG)
        if error_draw < spec.error_rate:
            return FaultDecision(delay_s, FaultAction.ERROR, spec.error_status)
        return FaultDecision(delay_s, FaultAction.PASS)

    def describe(self) -> dict[str, Any]:
        """The active faults as JSON-ready data, with the outage time left."""
        data = self._spec.model_dump()
        data["outage_remaining_s"] = round(self.outage_remaining(), 3)
        data["requests_seen"] = self._counter
        return data
