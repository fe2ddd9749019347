"""A leaky bucket, the shape of most SaaS rate limits (Shopify REST calls, GraphQL cost points)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BucketResult:
    """The outcome of one take from a bucket.

    Attributes:
        allowed: Whether the cost fitted.
        used: The bucket's level after the take (unchanged when refused).
        capacity: The bucket size in force (after any injected throttling).
        leak_per_s: How fast the level drains, in force.
        retry_after_s: Seconds until the refused cost would fit (0 when allowed).
    """

    allowed: bool
    used: float
    capacity: float
    leak_per_s: float
    retry_after_s: float

    @property
    def available(self) -> float:
        """Room left in the bucket."""
        return max(0.0, self.capacity - self.used)


class LeakyBucket:
    """A bucket that fills by each call's cost and leaks at a steady rate.

    ``factor`` (from injected throttling) shrinks both the size and the leak rate, so a test can
    make a system's limit tighter without changing its shape.
    """

    def __init__(
        self,
        capacity: float,
        leak_per_s: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity <= 0 or leak_per_s <= 0:
            raise ValueError("a bucket needs a positive capacity and leak rate")
        self.capacity = capacity
        self.leak_per_s = leak_per_s
        self._monotonic = monotonic
        self._level = 0.0
        self._at = monotonic()

    def _drain(self, leak: float) -> None:
        now = self._monotonic()
        self._level = max(0.0, self._level - (now - self._at) * leak)
        self._at = now

    def take(self, cost: float = 1.0, *, factor: float = 1.0) -> BucketResult:
        """Add ``cost`` to the bucket if it fits.

        Args:
            cost: What the call costs (1 per REST call; query cost points for GraphQL).
            factor: The fraction of the real limits in force (0 < factor <= 1).
        """
        capacity = max(1.0, self.capacity * factor)
        leak = self.leak_per_s * factor
        self._drain(leak)
        if self._level + cost <= capacity:
            self._level += cost
            return BucketResult(True, self._level, capacity, leak, 0.0)
        wait = (self._level + cost - capacity) / leak
        return BucketResult(False, self._level, capacity, leak, wait)

    def peek(self, *, factor: float = 1.0) -> BucketResult:
        """The bucket's state now, taking nothing."""
        capacity = max(1.0, self.capacity * factor)
        leak = self.leak_per_s * factor
        self._drain(leak)
        return BucketResult(True, self._level, capacity, leak, 0.0)

    def reset(self) -> None:
        """Empty the bucket."""
        self._level = 0.0
        self._at = self._monotonic()
