"""Leaky bucket: Shopify REST (bucket of 40 calls, leaking 2 per second)."""

from __future__ import annotations

from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience._headers import header
from crossdock.runtime.resilience.budget import BudgetBase, Feedback, Permit

SHOPIFY_CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"


class LeakyBucket(BudgetBase):
    """A leaky bucket that learns its fill level and size from a ``used/size`` header.

    Each call adds its cost to the bucket; the bucket drains at `leak_rate` per second; a call
    that would overflow waits. A response header such as ``X-Shopify-Shop-Api-Call-Limit:
    32/40`` raises the local level to what the server counted (other clients share the
    bucket) and sets the size (Plus stores have larger buckets).

    Args:
        name: The destination, e.g. ``shopify:acme``.
        capacity: Bucket size in calls (Shopify REST: 40).
        leak_rate: Calls drained per second (Shopify REST: 2).
        headroom: Calls kept free for other clients of the same bucket.
        limit_header: The ``used/size`` header to adapt to (None to ignore headers).
        clock: The clock (a `ManualClock` in tests).
    """

    def __init__(
        self,
        name: str,
        *,
        capacity: float = 40,
        leak_rate: float = 2.0,
        headroom: float = 0,
        limit_header: str | None = SHOPIFY_CALL_LIMIT_HEADER,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name, clock=clock)
        if capacity <= 0 or leak_rate <= 0 or not 0 <= headroom < capacity:
            raise ValueError("capacity and leak_rate must be positive, 0 <= headroom < capacity")
        self.capacity = float(capacity)
        self.leak_rate = float(leak_rate)
        self.headroom = float(headroom)
        self._limit_header = limit_header
        self._level = 0.0
        self._at = self.clock.monotonic()

    @property
    def level(self) -> float:
        """The bucket's current fill level, in calls."""
        self._drain()
        return self._level

    def _drain(self) -> None:
        now = self.clock.monotonic()
        self._level = max(0.0, self._level - (now - self._at) * self.leak_rate)
        self._at = now

    def _wait_for(self, cost: float) -> float:
        room = self.capacity - self.headroom
        if cost > room:
            raise ValueError(f"a call of cost {cost} can never fit a bucket of {room}")
        overflow = self.level + cost - room
        return overflow / self.leak_rate if overflow > 0 else 0.0

    def _take(self, cost: float) -> None:
        self._level += cost

    def _observe(self, permit: Permit, feedback: Feedback) -> None:
        if not feedback.sent:
            self._drain()
            self._level = max(0.0, self._level - permit.cost)
            return
        if self._limit_header is None:
            return
        used, size = _parse_used_of(header(feedback.headers, self._limit_header))
        if size is not None and size > self.headroom:
            self.capacity = size
        if used is not None:
            self._drain()
            self._level = max(self._level, used)
        if feedback.status == 429:
            self._drain()
            self._level = max(self._level, self.capacity)


def _parse_used_of(value: str | None) -> tuple[float | None, float | None]:
    if not value or "/" not in value:
        return None, None
    used, _, size = value.partition("/")
    try:
        return float(used), float(size)
    except ValueError:
        return None, None
