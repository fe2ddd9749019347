"""Cost bucket: Shopify GraphQL (points restored per second, query cost reported per response)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience.budget import BudgetBase, Feedback, Permit


class CostBucket(BudgetBase):
    """A bucket of points: a call takes its requested cost up front and is refunded after.

    The response's ``extensions.cost`` (``requestedQueryCost``, ``actualQueryCost``,
    ``throttleStatus{maximumAvailable, currentlyAvailable, restoreRate}``) resets the local
    model: what is available now, the bucket size and the restore rate (which differ by plan).
    A throttled response (``actualQueryCost: null``) refunds nothing.

    Args:
        name: The destination.
        maximum: Bucket size in points (Shopify Standard: 1000 then 2000 by plan).
        restore_rate: Points restored per second (Standard 100, Plus 1000).
        clock: The clock.
    """

    wants_body: ClassVar[bool] = True

    def __init__(
        self,
        name: str,
        *,
        maximum: float = 1000,
        restore_rate: float = 100,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name, clock=clock)
        if maximum <= 0 or restore_rate <= 0:
            raise ValueError("maximum and restore_rate must be positive")
        self.maximum = float(maximum)
        self.restore_rate = float(restore_rate)
        self._available = self.maximum
        self._at = self.clock.monotonic()
        self._in_flight = 0.0

    @property
    def available(self) -> float:
        """Points available now, in the local model."""
        self._restore()
        return self._available

    def _restore(self) -> None:
        now = self.clock.monotonic()
        gained = (now - self._at) * self.restore_rate
        self._available = min(self.maximum, self._available + gained)
        self._at = now

    def _wait_for(self, cost: float) -> float:
        if cost > self.maximum:
            raise ValueError(f"a query of cost {cost} can never fit a bucket of {self.maximum}")
        missing = cost - self.available
        return missing / self.restore_rate if missing > 0 else 0.0

    def _take(self, cost: float) -> None:
        self._available -= cost
        self._in_flight += cost

    def _observe(self, permit: Permit, feedback: Feedback) -> None:
        self._in_flight = max(0.0, self._in_flight - permit.cost)
        self._restore()
        if not feedback.sent:
            self._available = min(self.maximum, self._available + permit.cost)
            return
        cost = _cost_extension(feedback.body)
        status = cost.get("throttleStatus") if cost else None
        if isinstance(status, Mapping):
            self.maximum = float(status.get("maximumAvailable", self.maximum))
            self.restore_rate = float(status.get("restoreRate", self.restore_rate))
            reported = float(status.get("currentlyAvailable", self._available))
            # The report already counts this call; calls still in flight are not yet in it.
            self._available = min(self.maximum, reported - self._in_flight)
        elif cost and cost.get("actualQueryCost") is not None:
            refund = permit.cost - float(cost["actualQueryCost"])
            self._available = min(self.maximum, self._available + refund)


def _cost_extension(body: Any) -> Mapping[str, Any] | None:
    if not isinstance(body, Mapping):
        return None
    extensions = body.get("extensions")
    if not isinstance(extensions, Mapping):
        return None
    cost = extensions.get("cost")
    return cost if isinstance(cost, Mapping) else None
