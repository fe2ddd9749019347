"""Business Central's operational limits as one budget: requests per sliding window and a cap
on requests in flight (6,000 per 5 minutes and 5 at once, per service principal).

The kit has a window budget and a concurrency budget but no way to combine two, so this one
adds the concurrency cap to `WindowBudget`, which already counts the calls in flight.
"""

from __future__ import annotations

import math

from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience import WindowBudget


class BusinessCentralBudget(WindowBudget):
    """At most `limit` calls per `window` seconds and `max_in_flight` at once.

    A 429 pauses it for the response's ``Retry-After`` (the kit's budgets all do).

    Args:
        name: The destination.
        limit: Calls per window (BC: 6,000 per service principal).
        window: The window in seconds (BC: 300, sliding).
        max_in_flight: Calls at once (BC: 5 processed; more are queued, then refused).
        headroom: Calls per window left for other clients of the same principal.
        clock: The clock.
    """

    def __init__(
        self,
        name: str,
        *,
        limit: int = 6000,
        window: float = 300.0,
        max_in_flight: int = 5,
        headroom: int = 0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            name,
            limit=limit,
            window=window,
            headroom=headroom,
            limit_header=None,
            remaining_header=None,
            reset_header=None,
            clock=clock,
        )
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.max_in_flight = max_in_flight

    @property
    def in_flight(self) -> int:
        """Calls granted and not yet released."""
        return self._in_flight

    def _wait_for(self, cost: float) -> float:
        if self._in_flight >= self.max_in_flight:
            return math.inf  # wait for a release
        return super()._wait_for(cost)
