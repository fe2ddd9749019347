"""Concurrency slots: NetSuite (15 concurrent requests per account on Tier 1)."""

from __future__ import annotations

import math

from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience.budget import BudgetBase, Feedback, Permit


class ConcurrencySlots(BudgetBase):
    """At most `limit` calls in flight; a call waits for a slot to be released.

    A 429 (NetSuite REST when the account's concurrency is exceeded by other integrations)
    pauses the budget for its Retry-After, as every budget does.

    Args:
        name: The destination.
        limit: Slots (NetSuite: 15 plus 10 per SuiteCloud Plus licence, or an allocation).
        clock: The clock.
    """

    def __init__(self, name: str, *, limit: int = 15, clock: Clock | None = None) -> None:
        super().__init__(name, clock=clock)
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.in_use = 0

    def resize(self, limit: int) -> None:
        """Change the number of slots (for example after reading governanceLimits)."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._changed.set()

    def _wait_for(self, cost: float) -> float:
        return 0.0 if self.in_use < self.limit else math.inf

    def _take(self, cost: float) -> None:
        self.in_use += 1

    def _observe(self, permit: Permit, feedback: Feedback) -> None:
        self.in_use = max(0, self.in_use - 1)
